"""A snapshot: the set of resources Gloo translates at one moment."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gloo_nb.models.findings import Skipped
from gloo_nb.models.resources import (
    Gateway,
    KubeEndpoints,
    MatchableHttpGateway,
    MatchableTcpGateway,
    Namespace,
    Pod,
    Resource,
    RouteOption,
    RouteTable,
    Secret,
    Service,
    Settings,
    Upstream,
    UpstreamGroup,
    VirtualHostOption,
    VirtualService,
)


def _sort_key(resource: Resource) -> tuple[str, str]:
    # solo-kit sorts snapshot lists by core.Metadata.Less: namespace, then name.
    return (resource.meta.namespace, resource.meta.name)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The resources of one translation, each list sorted by (namespace, name) as solo-kit does.

    Attributes:
        virtual_services: VirtualServices.
        route_tables: RouteTables.
        gateways: Gateways.
        upstreams: Upstreams.
        settings: The Settings in force (None: Helm defaults apply).
        services: v1 Services.
        endpoints: v1 Endpoints (read by kube EDS, :func:`gloo_nb.translate.eds.kube_endpoints`).
        pods: v1 Pods (read by kube EDS).
        matchable_http_gateways: MatchableHttpGateways (hybrid gateways' delegated HTTP gateways).
        matchable_tcp_gateways: MatchableTcpGateways (hybrid gateways' delegated TCP gateways).
        secrets: v1 Secrets (TLS secrets for sslConfig ``secretRef``s; key material never leaves the model).
        skipped: Documents that were replaced by a later one with the same identity.
        upstream_groups: UpstreamGroups (weighted destinations routes reference by ``upstreamGroup``).
        virtual_host_options: VirtualHostOptions (``optionsConfigRefs`` of virtual hosts name them).
        route_options: RouteOptions (``optionsConfigRefs`` of routes name them).
        namespaces: v1 Namespaces (their labels decide ``watchNamespaceSelectors``; a namespace with
            resources but no Namespace object has unknown labels: files often hold none).
        secrets_unreadable: Why gloo_nb could not read the Secrets (``""``: it could; ``secrets`` is then
            complete). When set, a ``secretRef`` not in ``secrets`` is unknown rather than absent: the
            translation warns instead of reporting Gloo's "SSL secret not found".
    """

    virtual_services: tuple[VirtualService, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    gateways: tuple[Gateway, ...] = ()
    upstreams: tuple[Upstream, ...] = ()
    settings: Settings | None = None
    services: tuple[Service, ...] = ()
    endpoints: tuple[KubeEndpoints, ...] = ()
    pods: tuple[Pod, ...] = ()
    matchable_http_gateways: tuple[MatchableHttpGateway, ...] = ()
    matchable_tcp_gateways: tuple[MatchableTcpGateway, ...] = ()
    secrets: tuple[Secret, ...] = ()
    skipped: tuple[Skipped, ...] = field(default=())
    secrets_unreadable: str = ""
    upstream_groups: tuple[UpstreamGroup, ...] = ()
    virtual_host_options: tuple[VirtualHostOption, ...] = ()
    route_options: tuple[RouteOption, ...] = ()
    namespaces: tuple[Namespace, ...] = ()

    @classmethod
    def from_resources(cls, resources: Iterable[Resource]) -> Snapshot:
        """Build a snapshot; a later resource with the same kind, namespace and name wins.

        Settings: ``gloo-system/default`` when present, otherwise the last Settings read.

        Args:
            resources: Resources in reading order.

        Returns:
            The snapshot, with a ``skipped`` entry for every resource that a later one replaced.
        """
        latest: dict[tuple[str, str, str], Resource] = {}
        skipped: list[Skipped] = []
        for res in resources:
            ident = (res.kind, res.meta.namespace, res.meta.name)
            earlier = latest.pop(ident, None)
            if earlier is not None:
                loc = earlier.meta.location
                skipped.append(Skipped(
                    file=loc.file, document=loc.document, kind=earlier.kind,
                    why=f"replaced by a later document with the same kind, namespace and name "
                        f"({res.meta.location})",
                    namespace=earlier.meta.namespace, name=earlier.meta.name))
            latest[ident] = res
        by_kind: dict[str, list[Resource]] = {}
        for res in latest.values():
            by_kind.setdefault(res.kind, []).append(res)
        for items in by_kind.values():
            items.sort(key=_sort_key)
        settings_list = [s for s in by_kind.get("Settings", []) if isinstance(s, Settings)]
        settings = next((s for s in settings_list
                         if (s.meta.namespace, s.meta.name) == ("gloo-system", "default")),
                        settings_list[-1] if settings_list else None)
        return cls(
            virtual_services=tuple(r for r in by_kind.get("VirtualService", []) if isinstance(r, VirtualService)),
            route_tables=tuple(r for r in by_kind.get("RouteTable", []) if isinstance(r, RouteTable)),
            gateways=tuple(r for r in by_kind.get("Gateway", []) if isinstance(r, Gateway)),
            upstreams=tuple(r for r in by_kind.get("Upstream", []) if isinstance(r, Upstream)),
            settings=settings,
            services=tuple(r for r in by_kind.get("Service", []) if isinstance(r, Service)),
            endpoints=tuple(r for r in by_kind.get("Endpoints", []) if isinstance(r, KubeEndpoints)),
            pods=tuple(r for r in by_kind.get("Pod", []) if isinstance(r, Pod)),
            matchable_http_gateways=tuple(r for r in by_kind.get("MatchableHttpGateway", [])
                                          if isinstance(r, MatchableHttpGateway)),
            matchable_tcp_gateways=tuple(r for r in by_kind.get("MatchableTcpGateway", [])
                                         if isinstance(r, MatchableTcpGateway)),
            secrets=tuple(r for r in by_kind.get("Secret", []) if isinstance(r, Secret)),
            skipped=tuple(skipped),
            upstream_groups=tuple(r for r in by_kind.get("UpstreamGroup", []) if isinstance(r, UpstreamGroup)),
            virtual_host_options=tuple(r for r in by_kind.get("VirtualHostOption", [])
                                       if isinstance(r, VirtualHostOption)),
            route_options=tuple(r for r in by_kind.get("RouteOption", []) if isinstance(r, RouteOption)),
            namespaces=tuple(r for r in by_kind.get("Namespace", []) if isinstance(r, Namespace)),
        )
