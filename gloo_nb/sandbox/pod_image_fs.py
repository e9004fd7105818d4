"""What an emulated container's root filesystem holds, as far as ``kubectl exec`` can see it.

The sandbox runs no image, so a container has no files but these, and everything else is ``No such file or
directory`` as busybox says it:

- the image's top-level directories, a static listing per image family (taken from the images' Dockerfiles:
  docker-library/busybox's rootfs; alpine's minirootfs; the Debian base of ``nginx`` and ``python``;
  ``envoyproxy/envoy``'s Ubuntu base with its ``/docker-entrypoint.sh``; Gloo's images, whose bases are alpine
  (solo-io/envoy-gloo ci/Dockerfile: ``FROM frolvlad/alpine-glibc``; Gloo's control-plane images likewise));
  the directories are empty but for what follows;
- what the kubelet writes into every container: ``/etc/hostname``, ``/etc/hosts`` (pkg/kubelet/kubelet_pods.go
  ``managedHostsFileContent``) and ``/etc/resolv.conf`` (pkg/kubelet/network/dns/dns.go ``GetPodDNS`` for
  ``dnsPolicy: ClusterFirst``);
- ``/proc/uptime`` and ``/proc/loadavg`` (the container's uptime, the machine's load);
- ``/etc/os-release`` for the images that have one (alpine's, Debian's; busybox's image has none);
- in ``nginx`` pods, the files the nginx emulation serves from (:data:`gloo_nb.sandbox.workloads.NGINX_BUILTIN_FILES`).

Volume mounts are laid over this by :class:`gloo_nb.sandbox.pod_exec.ExecTarget`. Standard library only: this
module also runs inside pods' processes.
"""

from __future__ import annotations

import os
import time

__all__ = ["CLUSTER_DNS", "image_family", "image_files", "root_dirs"]

CLUSTER_DNS = "10.96.0.10"
"""The ``nameserver`` pods are given: kubeadm's default ``clusterDNS`` (the 10th address of 10.96.0.0/12). The
sandbox runs no DNS server there: only names the sandbox's commands resolve themselves work."""

_DEBIAN = ("bin", "boot", "dev", "etc", "home", "lib", "lib64", "media", "mnt", "opt", "proc", "root", "run",
           "sbin", "srv", "sys", "tmp", "usr", "var")
_ALPINE = ("bin", "dev", "etc", "home", "lib", "media", "mnt", "opt", "proc", "root", "run", "sbin", "srv", "sys",
           "tmp", "usr", "var")
_ROOTS: dict[str, tuple[str, ...]] = {
    # docker-library/busybox: the glibc rootfs busybox:latest is built from (no sbin, media or run)
    "busybox": ("bin", "dev", "etc", "home", "lib", "lib64", "proc", "root", "sys", "tmp", "usr", "var"),
    "alpine": _ALPINE,
    # nginx's Debian image adds its entrypoint and its drop-in folder (docker-library/nginx Dockerfile)
    "nginx": tuple(sorted((*_DEBIAN, "docker-entrypoint.d", "docker-entrypoint.sh"))),
    "nginx-alpine": tuple(sorted((*_ALPINE, "docker-entrypoint.d", "docker-entrypoint.sh"))),
    "python": _DEBIAN,
    "python-alpine": _ALPINE,
    # envoyproxy/envoy: Ubuntu with /docker-entrypoint.sh (envoy ci/Dockerfile-envoy)
    "envoy": tuple(sorted(("bin", "boot", "dev", "docker-entrypoint.sh", "etc", "home", "lib", "lib32", "lib64",
                           "libx32", "media", "mnt", "opt", "proc", "root", "run", "sbin", "srv", "sys", "tmp",
                           "usr", "var"))),
    "gloo": _ALPINE,
}
_FILES_IN_ROOT = {"docker-entrypoint.sh"}

_DEBIAN_OS_RELEASE = (
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
    'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL="https://www.debian.org/"\n'
    'SUPPORT_URL="https://www.debian.org/support"\nBUG_REPORT_URL="https://bugs.debian.org/"\n')
_ALPINE_DEFAULT = "3.21.0"


def _name_and_tag(image: str) -> tuple[str, str]:
    last = image.rsplit("/", 1)[-1].split("@", 1)[0]
    name, _, tag = last.partition(":")
    return name, tag


def image_family(image: str) -> str:
    """The listing an image gets.

    ``busybox``, ``alpine``, ``nginx[-alpine]``, ``python[-alpine]``, ``envoy``, ``gloo``, or ``""`` for an image
    the sandbox knows nothing of (its root holds only mount points).

    Args:
        image: The container's image, e.g. ``docker.io/library/nginx:1.27-alpine``.

    Returns:
        The family.
    """
    name, tag = _name_and_tag(image)
    if name in ("busybox", "alpine"):
        return name
    if name in ("nginx", "python"):
        return f"{name}-alpine" if "alpine" in tag else name
    if name in ("envoy", "envoy-alpine", "envoy-distroless"):
        return "envoy"
    if name.startswith("gloo") or "solo-io" in image or name in ("gateway", "discovery", "certgen", "kubectl"):
        return "gloo"
    return ""


def root_dirs(image: str) -> dict[str, bool]:
    """The top-level entries of the image's root: name -> whether it is a directory.

    Args:
        image: The container's image.

    Returns:
        The entries (empty for an unknown image).
    """
    return {n: n not in _FILES_IN_ROOT for n in _ROOTS.get(image_family(image), ())}


def _alpine_version(image: str) -> str:
    _, tag = _name_and_tag(image)
    parts = tag.split(".")
    if len(parts) >= 2 and all(p.isdigit() for p in parts[:2]):
        return ".".join(parts[:3]) if len(parts) >= 3 else f"{parts[0]}.{parts[1]}.0"
    return _ALPINE_DEFAULT


def _hosts(pod: str, pod_ip: str, host_aliases: list[tuple[str, list[str]]], domain: str = "") -> str:
    # pkg/kubelet/kubelet_pods.go managedHostsFileContent ("IP\tHOST.DOMAIN\tHOST" with a subdomain, else
    # "IP\tHOST"), then hostsEntriesFromHostAliases.
    own = f"{pod_ip}\t{pod}.{domain}\t{pod}\n" if domain else f"{pod_ip}\t{pod}\n"
    text = ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
            + own)
    if host_aliases:
        text += "\n# Entries added by HostAliases.\n" + "".join(
            f"{ip}\t{name}\n" for ip, names in host_aliases for name in names)
    return text


def _resolv_conf(namespace: str) -> str:
    # pkg/kubelet/network/dns/dns.go: ClusterFirst searches "<ns>.svc.<domain>", "svc.<domain>", "<domain>"
    # (generateSearchesForDNSClusterFirst), nameserver the clusterDNS, options ndots:5 (defaultDNSOptions).
    return (f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
            f"nameserver {CLUSTER_DNS}\noptions ndots:5\n")


def _loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return f.read()
    except OSError:
        one, five, fifteen = os.getloadavg()
        return f"{one:.2f} {five:.2f} {fifteen:.2f} 1/1 1\n"


def image_files(image: str, pod: str, namespace: str, pod_ip: str, started: float,
                host_aliases: list[tuple[str, list[str]]] | None = None, domain: str = "") -> dict[str, bytes]:
    """The files the container has besides its volumes: container path -> content (read now).

    Args:
        image: The container's image.
        pod: The container's hostname (the pod's name, or its ``spec.hostname``).
        namespace: The pod's namespace (its DNS search path).
        pod_ip: The pod's IP.
        started: When the container started (seconds since the epoch): ``/proc/uptime``.
        host_aliases: The pod's ``hostAliases`` as ``(ip, hostnames)``.
        domain: The pod's domain when it has a ``subdomain`` (``SUB.NS.svc.cluster.local``), else ``""``.

    Returns:
        The files.
    """
    up = max(0.0, time.time() - started)
    files = {
        "/etc/hostname": f"{pod}\n", "/etc/hosts": _hosts(pod, pod_ip, host_aliases or [], domain),
        "/etc/resolv.conf": _resolv_conf(namespace),
        # /proc/uptime: uptime and idle seconds; the idle figure is the uptime times the machine's cores
        "/proc/uptime": f"{up:.2f} {up * (os.cpu_count() or 1):.2f}\n", "/proc/loadavg": _loadavg(),
    }
    family = image_family(image)
    if family in ("alpine", "nginx-alpine", "python-alpine", "gloo"):
        version = _alpine_version(image) if family == "alpine" else _ALPINE_DEFAULT
        short = ".".join(version.split(".")[:2])
        files["/etc/os-release"] = (
            f'NAME="Alpine Linux"\nID=alpine\nVERSION_ID={version}\nPRETTY_NAME="Alpine Linux v{short}"\n'
            'HOME_URL="https://alpinelinux.org/"\nBUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"\n')
    elif family in ("nginx", "python"):
        files["/etc/os-release"] = _DEBIAN_OS_RELEASE
    out = {path: text.encode() for path, text in files.items()}
    if family.startswith("nginx"):
        # The files the nginx emulation reads (workloads.py: its nginx.conf, conf.d/default.conf, mime.types, the
        # welcome pages), so that `cat /etc/nginx/nginx.conf` shows what the pod serves; a mounted ConfigMap over
        # them wins, as it does for the emulation.
        from . import workloads

        out.update(workloads.NGINX_BUILTIN_FILES)
    return out
