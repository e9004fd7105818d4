"""Gloo's Kubernetes EDS plugin: the endpoints Envoy gets for each kube Upstream.

Sources: ``projects/gloo/pkg/plugins/kubernetes/eds.go`` at ``v1.3.20`` (``filterEndpoints``) and at
current main (``computeGlooEndpoints``, ``findPortForService``, ``findFirstPortInEndpointSubsets``,
``processSubsetAddresses``, ``podMap.GetLabelsForIp``), and ``projects/gloo/pkg/translator/endpoints.go``
(``getLbMetadata``: the endpoint's labels become its ``envoy.lb`` metadata, see
:func:`gloo_nb.translate.envoy.endpoints_for`).

For each kube Upstream (the Upstream objects and Gloo's in-memory ``kube-svc:`` upstreams, one per
Service port):

1. Find the Service ``serviceNamespace/serviceName`` and its port equal to ``servicePort``. ``1.3``:
   a Service with exactly one port uses that port whatever ``servicePort`` says. ``current`` (since
   v1.12.0, commit ``81435a2adc``): no matching port means no endpoints at all (Gloo logs
   ``upstream <ns.name>: port <p> not found for service <svc>``).
2. In the Endpoints object of the same name, for every subset, take the endpoint port: for a
   single-port Service the (last) port of the subset whatever its name, otherwise the one named like
   the Service port. A subset without one is skipped.
3. Every *ready* address (``addresses``; ``notReadyAddresses`` are ignored) is an endpoint. When the
   Upstream has a ``kube.selector``, the address's pod must carry those labels (``1.3``:
   ``labels.AreLabelsInWhiteList``, which accepts a pod with no labels at all; ``current``:
   ``SelectorFromSet(...).Matches``), the pod must be found, and the address must have an IP.
4. The endpoint's labels are its pod's labels (all of them).

Identity: Gloo keys endpoints by (ip, port, pod name, pod namespace, upstream), never by IP alone.
The sandbox runs every pod on 127.0.0.1 with its own port, so this matters here.

Pod lookup: by ``targetRef`` (name and namespace) first, then by IP among running pods that are
not on the host network. ``current`` does exactly that (``podMap``). ``1.3``'s ``getPodForIp`` loops
over the pods and returns the first one that matches by name *or* by IP, which on a real cluster is
the same pod (pod IPs are unique) but in the sandbox (every pod on 127.0.0.1) would be whichever pod
comes first; gloo_nb follows the intent (name first) for both profiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from gloo_nb._types import Profile
from gloo_nb.models import KubeEndpoints, Pod, ResourceRef, Service, Upstream
from gloo_nb.models.resources import EndpointSubset, ServicePort
from gloo_nb.models.snapshot import Snapshot
from gloo_nb.translate.envoy import cluster_name, fake_kube_upstreams

__all__ = ["Endpoints", "kube_endpoints", "service_port_for"]

Endpoints = Mapping[str, Sequence[tuple[str, int, Mapping[str, str]]]]
"""Endpoint addresses per Envoy cluster name: ``(ip, port, pod labels)``."""


def service_port_for(upstream: Upstream, services: Iterable[Service],
                     profile: Profile) -> tuple[ServicePort, bool] | None:
    """The Service port a kube Upstream resolves to, as Gloo's EDS finds it.

    Args:
        upstream: A kube Upstream.
        services: The Services.
        profile: ``1.3`` or ``current``.

    Returns:
        ``(port, single_port_service)``, or None when EDS finds no port (no endpoints).
    """
    kube = upstream.kube
    if kube is None:
        return None
    found: ServicePort | None = None
    single = False
    for svc in services:
        if (svc.meta.namespace, svc.meta.name) != (kube.service_namespace, kube.service_name):
            continue
        if profile == "1.3":
            # eds.go@v1.3.20: the only port of a single-port Service is taken first, then replaced
            # by an exact match if there is one.
            if len(svc.ports) == 1:
                single, found = True, svc.ports[0]
            for p in svc.ports:
                if p.port == kube.service_port:
                    return p, single
        else:
            # findPortForService: only an exact match; "single" tells how to read endpoint ports.
            for p in svc.ports:
                if p.port == kube.service_port:
                    return p, len(svc.ports) == 1
    return (found, single) if found is not None else None


def _subset_port(subset: EndpointSubset, single: bool, port: ServicePort) -> int:
    # findFirstPortInEndpointSubsets: despite its name, the *last* qualifying port wins (the Go
    # `break` leaves only the switch).
    found = 0
    for p in subset.ports:
        if single or p.name == port.name:
            found = p.port
    return found


class _PodIndex:
    """``podMap`` of current eds.go: pods by name/namespace, and running pods by IP."""

    def __init__(self, pods: Iterable[Pod]) -> None:
        self.by_name: dict[tuple[str, str], Pod] = {}
        self.by_ip: dict[str, Pod] = {}
        for pod in pods:
            self.by_name[(pod.meta.namespace, pod.meta.name)] = pod
            if pod.phase == "Running" and pod.pod_ip and not pod.host_network:
                self.by_ip[pod.pod_ip] = pod

    def find(self, ip: str, name: str, namespace: str) -> Pod | None:
        if name and namespace:
            pod = self.by_name.get((namespace, name))
            if pod is not None:
                return pod
        return self.by_ip.get(ip) if ip else None


def _selected(selector: Mapping[str, str], labels: Mapping[str, str], profile: Profile) -> bool:
    if profile == "1.3" and not labels:
        # k8s labels.AreLabelsInWhiteList(selector, podLabels) returns true for an empty whitelist.
        return True
    return all(labels.get(k) == v for k, v in selector.items())


def kube_endpoints(upstreams: Iterable[Upstream], services: Sequence[Service], endpoints: Iterable[KubeEndpoints],
                   pods: Iterable[Pod], profile: Profile) -> Endpoints:
    """Compute the endpoints of every kube Upstream, as Gloo's Kubernetes EDS plugin does.

    Gloo's in-memory ``kube-svc:`` upstreams (one per Service port, for ``kube:`` route
    destinations) are added from ``services``; ``upstreams`` need only hold the Upstream objects.

    Args:
        upstreams: Upstreams; those that are not of type ``kube`` are ignored.
        services: v1 Services.
        endpoints: v1 Endpoints objects.
        pods: v1 Pods (for labels and the selector).
        profile: ``1.3`` or ``current``.

    Returns:
        Per Envoy cluster name (``<upstream>_<namespace>``), ``(ip, port, pod labels)`` of each
        endpoint, sorted as Gloo sorts its endpoint names (``ep-<ip as dns>-<port>-...``).
        Upstreams without endpoints have no entry.
    """
    index = _PodIndex(pods)
    by_name: dict[tuple[str, str], list[KubeEndpoints]] = {}
    for eps in endpoints:
        by_name.setdefault((eps.meta.namespace, eps.meta.name), []).append(eps)
    seen: set[str] = set()
    out: dict[str, list[tuple[str, int, Mapping[str, str]]]] = {}
    for up in [*upstreams, *fake_kube_upstreams(services)]:
        kube = up.kube
        name = cluster_name(ResourceRef(up.meta.name, up.meta.namespace))
        if kube is None or name in seen:
            continue
        seen.add(name)
        resolved = service_port_for(up, services, profile)
        if resolved is None:
            continue
        port, single = resolved
        found: dict[tuple[str, int, str, str], Mapping[str, str]] = {}
        for eps in by_name.get((kube.service_namespace, kube.service_name), ()):
            for subset in eps.subsets:
                number = _subset_port(subset, single, port)
                if number == 0:
                    continue  # Gloo warns "port ... not found for service ... in endpoint ..."
                for addr in subset.addresses:
                    pod = index.find(addr.ip, addr.target_name, addr.target_namespace)
                    if kube.selector:
                        if pod is None or not _selected(kube.selector, pod.meta.labels, profile) or not addr.ip:
                            continue
                    key = (addr.ip, number, addr.target_name, addr.target_namespace)
                    found[key] = dict(pod.meta.labels) if pod is not None else {}
        if found:
            out[name] = [(ip, number, labels) for (ip, number, _, _), labels in
                         sorted(found.items(), key=lambda kv: (_endpoint_name(kv[0][0], kv[0][1]), kv[0][3], kv[0][2]))]
    return out


def _endpoint_name(ip: str, port: int) -> str:
    # eds.go: "ep-<dnsname>-<port>-<fnv hash>"; Gloo sorts endpoints by that name. The hash is of
    # the Go struct's %+v (a pointer address in current Gloo), so ties are ordered by pod instead.
    dns = "".join(c if c.isdigit() or "a" <= c <= "z" else "-" for c in ip)
    return f"ep-{dns}-{port}-"


def kube_endpoints_of(snapshot: Snapshot, profile: Profile) -> Endpoints:
    """:func:`kube_endpoints` of everything a snapshot read from Kubernetes holds.

    Args:
        snapshot: Upstreams, Services, Endpoints and Pods as read.
        profile: ``1.3`` or ``current``.

    Returns:
        The endpoints per Envoy cluster name.
    """
    return kube_endpoints(snapshot.upstreams, snapshot.services, snapshot.endpoints, snapshot.pods, profile)
