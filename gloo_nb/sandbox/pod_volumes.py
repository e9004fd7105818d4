"""Pod volumes as the node's kubelet mounts them: Secret, ConfigMap and emptyDir volumes become directories.

A pod's container is a local process (:mod:`gloo_nb.sandbox.workloads`), not a container with its own mount
namespace, so a volume cannot appear at its ``mountPath``. Instead every volume is a directory under the pod's
state directory (``<pod dir>/volumes/<volume name>``) and each container is told where its ``volumeMounts`` land
(``--mount`` pairs): an emulated image opens ``/etc/nginx/tls/tls.crt`` through that table.

What is modelled, after Kubernetes' kubelet (pkg/volume/secret/secret.go and pkg/volume/configmap/configmap.go
``SetUpAt`` / ``MakePayload``):

- ``secret.secretName`` / ``configMap.name``, ``items`` (``key``, ``path``, ``mode``), ``defaultMode``,
  ``optional``; ``data`` and ``binaryData`` (ConfigMap) are written as files, one per key.
- A missing Secret or ConfigMap that is not ``optional`` keeps the pod's containers in ``ContainerCreating``;
  the kubelet records ``FailedMount`` with the operation executor's wording
  (pkg/volume/util/operationexecutor/operation_generator.go ``GenerateMountVolumeFunc``: ``MountVolume.SetUp
  failed for volume "x" : secret "y" not found``, the NotFound error of
  pkg/kubelet/util/manager/watch_based_manager.go whose group resource is the singular ``secret`` /
  ``configmap``) and retries.
- An ``items`` key missing from the object fails the same way (``references non-existent secret key: k``,
  ``configmap references non-existent config key: k``) unless the volume is ``optional``.
- ``emptyDir``: an empty directory.
- ``volumeMounts[].subPath``: the mount is that file or folder of the volume.

Differences, on purpose: files are written ``mode & 0o700`` (``0600`` for the default ``0644``) in ``0700``
folders, since every container runs as the sandbox's own user and the state directory must not leak keys to
other users of the machine; Kubernetes' ``..data`` symlink swap is replaced by one atomic rename per file.
A Secret or ConfigMap that changes later is written again on the pod's next sync (the kubelet syncs a
namespace's pods when one of its Secrets or ConfigMaps changes), as the kubelet refreshes volumes; an object
deleted after the mount leaves the files as they were, as on a node. Other volume types (``hostPath``,
``persistentVolumeClaim``, ``projected``, ``downwardAPI``...) are not modelled: they mount as an empty
directory and :func:`mount_volumes` reports them so the kubelet can say so in an Event.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gloo_nb.errors import BadDataError
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.store import Store

__all__ = ["MountResult", "VolumeError", "container_mounts", "mount_volumes"]

_DEFAULT_MODE = 0o644  # corev1 SecretVolumeSourceDefaultMode / ConfigMapVolumeSourceDefaultMode
_HANDLED = ("secret", "configMap", "emptyDir")


class VolumeError(BadDataError):
    """A volume that cannot be set up now; the message is what the kubelet's ``FailedMount`` event says."""


@dataclass(slots=True)
class MountResult:
    """What :func:`mount_volumes` did for one pod.

    Attributes:
        errors: ``FailedMount`` messages, one per volume that could not be set up (the pod must wait).
        not_modelled: Volume names whose type the sandbox does not model (mounted as empty directories).
        mounted: Names of the volumes that are in place.
    """

    errors: list[str] = field(default_factory=list)
    not_modelled: list[str] = field(default_factory=list)
    mounted: list[str] = field(default_factory=list)


def _volume_dir(root: Path, name: str) -> Path:
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise VolumeError(f"invalid volume name {name!r}")
    path = root / name
    if not path.resolve().is_relative_to(root.resolve()):
        raise VolumeError(f"volume {name!r} leaves {root}")
    return path


def _clean_relative(path: str, what: str) -> str:
    """A relative path inside a volume (``items[].path``, ``subPath``): no absolute path, no ``..`` element."""
    # pkg/apis/core/validation validateLocalDescendingPath: must be relative and not contain '..'
    if not path or path.startswith("/") or ".." in path.split("/") or "\0" in path:
        raise VolumeError(f"{what} {path!r} must be a relative path without '..'")
    return posixpath.normpath(path)


def _payload(volume: dict[str, Any], obj: dict[str, Any] | None, secret: bool) -> dict[str, tuple[bytes, int]]:
    """The files of a Secret or ConfigMap volume, ``relative path -> (content, mode)``.

    Follows pkg/volume/secret/secret.go and pkg/volume/configmap/configmap.go ``MakePayload``.
    """
    source = volume["secret" if secret else "configMap"] or {}
    default_mode = source.get("defaultMode", _DEFAULT_MODE)
    optional = bool(source.get("optional"))
    data: dict[str, bytes] = {}
    if obj is not None:
        for key, value in (obj.get("data") or {}).items():
            if secret:
                try:
                    data[key] = base64.b64decode(str(value), validate=True)
                except (binascii.Error, ValueError):
                    raise VolumeError(f"secret key {key!r} is not valid base64") from None
            else:
                data[key] = str(value).encode()
        if not secret:
            for key, value in (obj.get("binaryData") or {}).items():
                try:
                    data[key] = base64.b64decode(str(value), validate=True)
                except (binascii.Error, ValueError):
                    raise VolumeError(f"configmap binaryData key {key!r} is not valid base64") from None
    items = source.get("items") or []
    if not items:
        return {_clean_relative(k, "key"): (v, int(default_mode)) for k, v in data.items()}
    out: dict[str, tuple[bytes, int]] = {}
    for item in items:
        key = str(item.get("key", ""))
        if key not in data:
            if optional:
                continue
            raise VolumeError(f"references non-existent secret key: {key}" if secret
                              else f"configmap references non-existent config key: {key}")
        out[_clean_relative(str(item.get("path", key)), "items path")] = (data[key], int(item.get("mode",
                                                                                               default_mode)))
    return out


def _write_files(directory: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """Write a volume's files (only those that changed, each by an atomic rename); remove files no longer there."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    wanted: set[Path] = set()
    for rel, (content, mode) in files.items():
        target = directory / rel
        if not target.resolve().is_relative_to(directory.resolve()):
            raise VolumeError(f"{rel!r} leaves the volume")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        wanted.add(target)
        perm = (mode & 0o700) or 0o600
        try:
            if target.read_bytes() == content and (target.stat().st_mode & 0o777) == perm:
                continue
        except OSError:
            pass
        tmp = target.with_name(f".{target.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        os.chmod(tmp, perm)
        os.replace(tmp, target)
    for path in sorted(directory.rglob("*"), reverse=True):
        if path.is_file() and path not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            with contextlib.suppress(OSError):
                path.rmdir()


def mount_volumes(store: Store, pod: dict[str, Any], root: Path, mounted: set[str]) -> MountResult:
    """Set up (or refresh) every volume of a pod under ``root``.

    Args:
        store: Where Secrets and ConfigMaps are read.
        pod: The pod object.
        root: The pod's volumes folder (``<pod dir>/volumes``).
        mounted: Names of volumes set up earlier for this pod: a source deleted since keeps its files.

    Returns:
        What was mounted, what failed (``FailedMount`` messages) and what is not modelled.
    """
    result = MountResult()
    ns = pod["metadata"]["namespace"]
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    for volume in pod.get("spec", {}).get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        name = str(volume.get("name", ""))
        try:
            directory = _volume_dir(root, name)
            kind_key = next((k for k in _HANDLED if k in volume), None)
            if kind_key is None:
                directory.mkdir(exist_ok=True, mode=0o700)
                result.not_modelled.append(name)
                result.mounted.append(name)
                continue
            if kind_key == "emptyDir":
                directory.mkdir(exist_ok=True, mode=0o700)
                result.mounted.append(name)
                continue
            secret = kind_key == "secret"
            source = volume[kind_key] or {}
            ref = str(source.get("secretName" if secret else "name", ""))
            obj = store.find(kinds.SECRET if secret else kinds.CONFIGMAP, ns, ref)
            if obj is None:
                if name in mounted:
                    result.mounted.append(name)  # deleted after the mount: the files stay, as on a node
                    continue
                if not source.get("optional"):
                    raise VolumeError(f'{"secret" if secret else "configmap"} "{ref}" not found')
            _write_files(directory, _payload(volume, obj, secret))
            result.mounted.append(name)
        except VolumeError as exc:
            result.errors.append(f'MountVolume.SetUp failed for volume "{name}" : {exc}')
        except (OSError, TypeError, ValueError, AttributeError) as exc:
            # an object stored before the API validated volumes, or a file in the way: the pod waits, and says why
            result.errors.append(f'MountVolume.SetUp failed for volume "{name}" : {type(exc).__name__}: {exc}')
    return result


def container_mounts(cspec: dict[str, Any], pod: dict[str, Any], root: Path) -> list[tuple[str, Path]]:
    """Where a container's ``volumeMounts`` land: ``(mountPath, host path)``, in declaration order.

    Args:
        cspec: The container spec.
        pod: The pod object (its ``spec.volumes`` name the mounts' volumes).
        root: The pod's volumes folder.

    Returns:
        The mount table (mounts of volumes the pod does not declare are left out: the API refuses them).

    Raises:
        VolumeError: A mount's ``mountPath`` is not absolute or its ``subPath`` leaves the volume.
    """
    declared = {v.get("name") for v in pod.get("spec", {}).get("volumes") or [] if isinstance(v, dict)}
    out: list[tuple[str, Path]] = []
    for mount in cspec.get("volumeMounts") or []:
        if not isinstance(mount, dict) or mount.get("name") not in declared:
            continue
        path = str(mount.get("mountPath", ""))
        if not path.startswith("/"):
            raise VolumeError(f"mountPath {path!r} must be absolute")
        host = _volume_dir(root, str(mount["name"]))
        if mount.get("subPath"):
            host = host / _clean_relative(str(mount["subPath"]), "subPath")
        out.append((posixpath.normpath(path), host))
    return out
