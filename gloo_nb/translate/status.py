"""The ``.status`` Gloo writes on Kubernetes objects, and the Proxy object, for each profile.

Sources (read at the versions each profile stands for):

``1.3`` (Gloo v1.3.20, whose ``go.mod`` requires solo-kit v0.13.5):

* solo-kit ``pkg/api/v1/clients/kube/crd/solo.io/v1/types.go``: the CRD wrapper holds
  ``Status core.Status `json:"status"``` and is serialised by the Kubernetes client with
  ``encoding/json``. So the Go struct tags of ``pkg/api/v1/resources/core/status.pb.go`` apply:
  ``state`` (an integer: ``Status_State`` is an ``int32`` without a JSON marshaller), ``reason``,
  ``reported_by`` and ``subresource_statuses`` in **snake_case**, each ``omitempty`` (Pending = 0
  and empty strings are left out). Gloo's own 1.3 docs show exactly this
  (``docs/content/guides/security/tls/server_tls.md``: ``reported_by: gateway``, ``state: 1``,
  ``subresource_statuses: {'*v1.Proxy.gloo-system.gateway-proxy': {reported_by: gloo, state: 1}}``).
* ``projects/gateway/pkg/syncer/setup_syncer.go``: the ``gateway`` reporter writes Gateways,
  VirtualServices and RouteTables; ``projects/gloo/pkg/syncer/setup_syncer.go``: the ``gloo``
  reporter writes Upstreams and Proxies.
* ``projects/gateway/pkg/syncer/translator_syncer.go:propagateProxyStatus``: gateway resources
  carry the Proxy's status under ``fmt.Sprintf("%T.%s", proxy, ref.Key())`` =
  ``*v1.Proxy.<namespace>.<name>``. Upstreams get no subresource statuses
  (``envoy_translator_syncer.go``: ``WriteReports(ctx, allReports, nil)``).
* solo-kit v0.13.5 ``pkg/api/v2/reporter/reporter.go:statusFromReport``: state and reason (see
  :attr:`~gloo_nb.translate.reports.ResourceReport.reason`); no truncation.

``current`` (Gloo main, solo-kit v0.41):

* solo-kit ``pkg/api/shared/status.go:GetJsonPatchData``: the status is written with a JSON patch
  ``replace /status/statuses/<gloo namespace>``, the value marshalled by ``jsonpb`` with
  ``EnumsAsInts = false`` (**state as its name**: ``Accepted``, ``Rejected``, ``Warning``) and
  lowerCamel names (``reportedBy``, ``subresourceStatuses``). A patch over 2048 bytes is not
  applied at all (:func:`status_patch_too_large`). Gloo's docs show
  ``status.statuses.gloo-system: {reportedBy: gloo, state: Accepted, subresourceStatuses:
  {'*v1.Proxy.gateway-proxy_gloo-system': {reportedBy: gloo, state: Accepted}}}``
  (``docs/content/guides/traffic_management/hello_world/_index.md``).
* ``projects/gateway/pkg/syncer/translator_syncer.go:extractCurrentReports``: the subresource
  key is ``*v1.Proxy.`` + ``UpstreamToClusterName(proxy ref)`` = ``*v1.Proxy.<name>_<namespace>``;
  every reporter is ``gloo`` (``defaults.GlooReporter``).
* solo-kit ``pkg/api/v2/reporter/reporter.go:trimStatus``: the reason is cut to 1024 bytes, and
  each subresource status's reason to 512 (half per level).

Gloo writes no ``observedGeneration`` in a resource status (``core.Status`` has no such field);
only the Proxy's source metadata records the generations it was built from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gloo_nb._types import Profile
from gloo_nb.models import ResourceKey, Snapshot
from gloo_nb.translate.gloo_json import action_json, matcher_json
from gloo_nb.translate.proxy import Proxy, ProxyListener, ProxyRoute, ProxyVirtualHost
from gloo_nb.translate.reports import STATE_CODES, ResourceReport
from gloo_nb.translate.translator import GLOO_NAMESPACE, Translation, helm_default_gateway, helm_default_gateways

__all__ = [
    "GATEWAY_REPORTED_KINDS",
    "MAX_PATCH_BYTES",
    "MAX_REASON_BYTES",
    "proxy_manifest",
    "proxy_status",
    "proxy_subresource_key",
    "resource_status",
    "status_entry",
    "status_patch_too_large",
]

GATEWAY_REPORTED_KINDS = frozenset({"Gateway", "VirtualService", "RouteTable"})
"""Kinds the gateway translator reports on; their statuses carry the Proxy's as a subresource."""

MAX_REASON_BYTES = 1024
"""``current``: solo-kit ``reporter.MaxStatusBytes``; subresource reasons get half of it."""

MAX_PATCH_BYTES = 2048
"""``current``: solo-kit ``shared.MaxStatusBytes``: a bigger status patch is not written."""


def _reporter(kind: str, profile: Profile) -> str:
    return "gateway" if profile == "1.3" and kind in GATEWAY_REPORTED_KINDS else "gloo"


def _truncate(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    # Go slices the bytes; a cut rune becomes U+FFFD when the JSON is written.
    return data[:limit].decode(errors="replace")


def status_entry(report: ResourceReport, profile: Profile, *, reporter: str | None = None,
                 subresources: Mapping[str, Mapping[str, Any]] | None = None,
                 reason_limit: int = MAX_REASON_BYTES) -> dict[str, Any]:
    """One solo-kit ``core.Status`` as the profile's Kubernetes client writes it.

    Args:
        report: Gloo's report on the resource.
        profile: ``1.3`` (snake_case keys, integer state) or ``current`` (lowerCamel keys, state name,
            reason truncated to ``reason_limit`` bytes).
        reporter: ``reportedBy``; by default ``gateway`` for gateway resources in ``1.3``, else ``gloo``.
        subresources: Subresource statuses by key, each already in the profile's encoding.
        reason_limit: ``current`` only: the byte limit of the reason (1024 at the top level).

    Returns:
        The status, with unset fields left out as Gloo leaves them out.
    """
    by = reporter or _reporter(report.key.kind, profile)
    reason = report.reason
    out: dict[str, Any] = {}
    if profile == "1.3":
        out["state"] = STATE_CODES[report.state]
        if reason:
            out["reason"] = reason
        out["reported_by"] = by
        if subresources:
            out["subresource_statuses"] = {k: dict(v) for k, v in subresources.items()}
        return out
    out["state"] = report.state
    if reason:
        out["reason"] = _truncate(reason, reason_limit)
    out["reportedBy"] = by
    if subresources:
        out["subresourceStatuses"] = {k: _trim(v, reason_limit // 2) for k, v in subresources.items()}
    return out


def _trim(entry: Mapping[str, Any], limit: int) -> dict[str, Any]:
    out = dict(entry)
    if isinstance(out.get("reason"), str):
        out["reason"] = _truncate(out["reason"], limit)
    subs = out.get("subresourceStatuses")
    if isinstance(subs, Mapping):
        out["subresourceStatuses"] = {k: _trim(v, limit // 2) for k, v in subs.items()}
    return out


def proxy_subresource_key(profile: Profile, namespace: str, name: str) -> str:
    """The key of the Proxy's status in gateway resources' subresource statuses.

    Args:
        profile: ``1.3`` or ``current``.
        namespace: The Proxy's namespace.
        name: The Proxy's name.

    Returns:
        ``*v1.Proxy.<namespace>.<name>`` (1.3) or ``*v1.Proxy.<name>_<namespace>`` (current).
    """
    return f"*v1.Proxy.{namespace}.{name}" if profile == "1.3" else f"*v1.Proxy.{name}_{namespace}"


def proxy_status(report: ResourceReport, profile: Profile, *, namespace: str = GLOO_NAMESPACE) -> dict[str, Any]:
    """The Proxy's ``.status``, as the ``gloo`` reporter writes it.

    Args:
        report: Gloo's report on the Proxy (:attr:`Translation.proxy_report`).
        profile: ``1.3`` or ``current``.
        namespace: The namespace Gloo runs in (the status key in ``current``).

    Returns:
        ``{state, reason, reported_by: gloo}`` (1.3) or ``{statuses: {<namespace>: {...}}}`` (current).
    """
    entry = status_entry(report, profile, reporter="gloo")
    return entry if profile == "1.3" else {"statuses": {namespace: entry}}


def _proxy_entry(proxy: ResourceReport | Mapping[str, Any], profile: Profile, namespace: str) -> dict[str, Any]:
    if isinstance(proxy, ResourceReport):
        return status_entry(proxy, profile, reporter="gloo")
    statuses = proxy.get("statuses")
    if profile != "1.3" and isinstance(statuses, Mapping):
        inner = statuses.get(namespace)
        return dict(inner) if isinstance(inner, Mapping) else {}
    return dict(proxy)


def resource_status(report: ResourceReport, profile: Profile, *,
                    proxy_status: ResourceReport | Mapping[str, Any] | None = None,
                    namespace: str = GLOO_NAMESPACE, proxy_name: str = "gateway-proxy",
                    proxy_reports: Sequence[ResourceReport] = ()) -> dict[str, Any]:
    """The exact ``.status`` Gloo writes on a VirtualService, RouteTable, Gateway or Upstream.

    Args:
        report: Gloo's report on the resource (:attr:`Translation.reports`).
        profile: ``1.3`` or ``current``.
        proxy_status: The Proxy's status, for the subresource statuses of gateway resources: its
            report (:attr:`Translation.proxy_report`), or its ``.status`` as :func:`proxy_status`
            returns it. None: no subresource statuses (1.3 writes them only once Gloo has
            reported on the Proxy). Ignored for Upstreams.
        namespace: The namespace Gloo runs in and writes the Proxy to.
        proxy_name: The Proxy's name, when ``proxy_status`` is a status mapping.
        proxy_reports: Several proxies' reports (each proxy's :attr:`Translation.proxy_report`, in
            Gloo's proxy order), instead of ``proxy_status``: one subresource status per proxy,
            each under its own key. Current Gloo puts every proxy's status on every gateway
            resource its translations report (``translator_syncer.go:extractCurrentReports``;
            Gloo's test "should set status correctly when resources are in both proxies"); v1.3.20
            wrote each proxy's alone, racing (see :func:`~gloo_nb.translate.translator.merge_proxy_reports`),
            and gloo_nb writes them all there too.

    Returns:
        The ``.status`` subtree: ``{state, reason, reported_by, subresource_statuses}`` (1.3) or
        ``{statuses: {<namespace>: {state, reason, reportedBy, subresourceStatuses}}}`` (current).
    """
    subresources: dict[str, Mapping[str, Any]] | None = None
    if proxy_reports and report.key.kind in GATEWAY_REPORTED_KINDS:
        subresources = {proxy_subresource_key(profile, p.key.namespace, p.key.name): _proxy_entry(p, profile, namespace)
                        for p in proxy_reports}
    elif proxy_status is not None and report.key.kind in GATEWAY_REPORTED_KINDS:
        if isinstance(proxy_status, ResourceReport):
            key = proxy_subresource_key(profile, proxy_status.key.namespace, proxy_status.key.name)
        else:
            key = proxy_subresource_key(profile, namespace, proxy_name)
        subresources = {key: _proxy_entry(proxy_status, profile, namespace)}
    entry = status_entry(report, profile, subresources=subresources)
    return entry if profile == "1.3" else {"statuses": {namespace: entry}}


def status_patch_too_large(status: Mapping[str, Any], *, namespace: str = GLOO_NAMESPACE) -> bool:
    """Whether current Gloo would refuse to write a status (its JSON patch exceeds 2048 bytes).

    Gloo then logs ``status patch is too large, will not apply`` and the object keeps its old
    status. The size is computed from Python's compact JSON, which matches Go's ``jsonpb`` output
    except for rare escapes, so values within a few bytes of the limit may be misjudged.

    Args:
        status: A ``current`` status as :func:`resource_status` returns it.
        namespace: The namespace Gloo runs in.

    Returns:
        True when the patch would be too large.
    """
    inner = status.get("statuses", {}).get(namespace, status)
    value = json.dumps(inner, separators=(",", ":"), ensure_ascii=False)
    patch = f'[{{"op": "replace", "path": "/status/statuses/{namespace}", "value": {value}}}]'
    return len(patch.encode()) > MAX_PATCH_BYTES


# --- the Proxy object -----------------------------------------------------------------------


def _generations(snapshot: Snapshot) -> dict[ResourceKey, int]:
    out: dict[ResourceKey, int] = {}
    for group in (snapshot.virtual_services, snapshot.route_tables, snapshot.gateways):
        for res in group:
            out[res.key] = res.meta.generation
    return out


def _sources(keys: tuple[ResourceKey, ...], profile: Profile, generations: Mapping[ResourceKey, int]) -> dict[str, Any]:
    if profile == "1.3":
        # gateway/pkg/translator/config_source.go@v1.3.20: SourceRef{ResourceRef (name, namespace
        # omitempty), kind, observedGeneration} in the `metadata` Struct.
        return {"metadata": {"sources": [
            {**({"name": k.name} if k.name else {}), **({"namespace": k.namespace} if k.namespace else {}),
             "kind": f"*v1.{k.kind}", "observedGeneration": generations.get(k, 0)} for k in keys]}}
    # proxy.proto SourceMetadata (current): int64 is a string in protobuf JSON, zero left out.
    refs = []
    for k in keys:
        ref: dict[str, Any] = {"resourceRef": {"name": k.name, "namespace": k.namespace},
                               "resourceKind": f"*v1.{k.kind}"}
        if generations.get(k, 0):
            ref["observedGeneration"] = str(generations[k])
        refs.append(ref)
    return {"metadataStatic": {"sources": refs}}


def _route(route: ProxyRoute, profile: Profile, generations: Mapping[ResourceKey, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"matchers": [matcher_json(m) for m in route.matchers], **action_json(route)}
    if route.options:
        out["options"] = dict(route.options)
    out.update(_sources(route.sources, profile, generations))
    if route.name:
        out["name"] = route.name
    return out


def _virtual_host(vh: ProxyVirtualHost, profile: Profile, generations: Mapping[ResourceKey, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": vh.name}
    if vh.domains:
        out["domains"] = list(vh.domains)
    if vh.routes:
        out["routes"] = [_route(r, profile, generations) for r in vh.routes]
    if vh.options:
        out["options"] = dict(vh.options)
    out.update(_sources((vh.source,), profile, generations))
    return out


def _listener(ls: ProxyListener, translation: Translation, generations: Mapping[ResourceKey, int]) -> dict[str, Any]:
    profile = translation.profile
    gateway = next((g for g in (*translation.snapshot.gateways, *helm_default_gateways()) if g.key == ls.source),
                   helm_default_gateway())
    http: dict[str, Any] = {}
    if ls.virtual_hosts:
        http["virtualHosts"] = [_virtual_host(vh, profile, generations) for vh in ls.virtual_hosts]
    if ls.options:
        http["options"] = dict(ls.options)
    out: dict[str, Any] = {"name": ls.name, "bindAddress": ls.bind_address}
    if ls.bind_port:
        out["bindPort"] = ls.bind_port
    if ls.matched:
        # proxy.proto HybridListener: matched listeners with their matcher, each HTTP or TCP.
        matched_out = []
        for m in ls.matched:
            entry: dict[str, Any] = {"matcher": dict(m.matcher)} if m.matcher else {}
            if m.kind == "http":
                sub: dict[str, Any] = {}
                if m.virtual_hosts:
                    sub["virtualHosts"] = [_virtual_host(vh, profile, generations) for vh in m.virtual_hosts]
                if m.options:
                    sub["options"] = dict(m.options)
                entry["httpListener"] = sub
            elif m.kind == "tcp" and m.tcp is not None:
                entry["tcpListener"] = {k: v for k, v in (("tcpHosts", [dict(h) for h in m.tcp.hosts]),
                                                          ("options", dict(m.tcp.options))) if v}
            matched_out.append(entry)
        out["hybridListener"] = {"matchedListeners": matched_out}
    elif ls.tcp is not None:
        # proxy.proto TcpListener: the tcpGateway's hosts and options as the gateway copied them.
        tcp: dict[str, Any] = {}
        if ls.tcp.hosts:
            tcp["tcpHosts"] = [dict(h) for h in ls.tcp.hosts]
        if ls.tcp.options:
            tcp["options"] = dict(ls.tcp.options)
        out["tcpListener"] = tcp
    else:
        out["httpListener"] = http
    if ls.ssl_configurations:
        # The VirtualServices' sslConfig blocks as written: secret references and file paths, no keys.
        out["sslConfigurations"] = [dict(c) for c in ls.ssl_configurations]
    if gateway.use_proxy_proto is not None:
        out["useProxyProto"] = gateway.use_proxy_proto
    if gateway.options:
        out["options"] = dict(gateway.options)
    if gateway.route_options:
        out["routeOptions"] = dict(gateway.route_options)
    out.update(_sources((ls.source,), profile, generations))
    return out


def proxy_manifest(translation: Translation, *, namespace: str | None = None) -> dict[str, Any]:
    """The ``gloo.solo.io/v1`` Proxy object the gateway writes to Kubernetes, with Gloo's status.

    ``1.3`` persists it (``gloo-system/gateway-proxy``, label ``created_by: gateway``); its
    listeners, virtual hosts and routes carry their sources in ``metadata``. Current Gloo keeps
    the Proxy in memory unless ``settings.gateway.persistProxySpec`` is true; when persisted it is
    labelled ``created_by: gloo-gateway``, sources are in ``metadataStatic``, and the status is
    namespaced. The spec is the Proxy after last-accepted reconciliation (:attr:`Translation.proxy`).

    Args:
        translation: The translation.
        namespace: The Gloo namespace (status key in ``current``); the Proxy's own by default.

    Returns:
        ``{apiVersion, kind, metadata, spec: {listeners}, status}``.
    """
    proxy: Proxy = translation.proxy
    profile = translation.profile
    generations = _generations(translation.snapshot)
    report = translation.proxy_report or ResourceReport(proxy.key)
    label = "gateway" if profile == "1.3" else "gloo-gateway"
    listeners = [_listener(ls, translation, generations) for ls in proxy.listeners]
    return {
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Proxy",
        "metadata": {"name": proxy.name, "namespace": proxy.namespace, "labels": {"created_by": label}},
        "spec": {"listeners": listeners} if listeners else {},
        "status": proxy_status(report, profile, namespace=namespace or proxy.namespace),
    }
