"""TCP listeners: a ``tcpGateway``'s hosts -> Envoy filter chains with a TCP proxy (Gloo's tcp plugin).

Sources: ``projects/gloo/pkg/plugins/tcp/plugin.go`` (``CreateTcpFilterChains``, ``tcpProxyFilters``,
``computeTcpFilterChain``), ``projects/gloo/pkg/translator/filter_chain.go``
(``tcpFilterChainTranslator.ComputeFilterChains``, ``reportCreateTcpFilterChainsError``),
``projects/gloo/pkg/translator/route_config.go`` (``ValidateTcpRouteDestinations``) and
``projects/gloo/pkg/plugins/tls_inspector/plugin.go`` at CUR; ``plugins/tcp/plugin.go`` and
``translator/listener.go`` at v1.3.20 for the ``1.3`` profile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.extensions.filters.listener.tls_inspector.v3 import tls_inspector_pb2
from envoy.extensions.filters.network.sni_cluster.v3 import sni_cluster_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

from gloo_nb._types import Profile
from gloo_nb.errors import BadDataError
from gloo_nb.models import ResourceRef
from gloo_nb.models.resources import UpstreamGroup
from gloo_nb.translate.listener_options import OptionProblem, access_logs, apply_listener_options, not_modelled
from gloo_nb.translate.proxy import ProxyListener
from gloo_nb.translate.upstream_groups import find_upstream_group, group_destinations

__all__ = ["DEFAULT_TCP_STAT_PREFIX", "add_tls_inspector", "tcp_filter_chains", "tcp_listener"]

DEFAULT_TCP_STAT_PREFIX = "tcp"
TCP_PROXY_FILTER = "envoy.filters.network.tcp_proxy"
SNI_CLUSTER_FILTER = "envoy.filters.network.sni_cluster"
TLS_INSPECTOR = "envoy.filters.listener.tls_inspector"

UpstreamExists = Callable[[ResourceRef], bool]


class _HostProblem(BadDataError):  # noqa: N818 - an outcome for one host (bad data), caught per host
    """Why one TCP host got no filter chain; ``warning`` for a missing upstream (a warning ConfigurationError)."""

    def __init__(self, text: str, *, warning: bool) -> None:
        super().__init__(text)
        self.text = text
        self.warning = warning


def _ref(dest: Any) -> ResourceRef | None:
    # usconversion.DestinationToUpstreamRef: upstream refs as written, kube refs to Gloo's in-memory
    # kube-svc upstream; consul destinations are not modelled (None).
    if not isinstance(dest, Mapping):
        return None
    up = dest.get("upstream")
    if isinstance(up, Mapping):
        return ResourceRef(str(up.get("name", "")), str(up.get("namespace", "")))
    kube = dest.get("kube")
    if isinstance(kube, Mapping) and isinstance(kube.get("ref"), Mapping):
        ns = str(kube["ref"].get("namespace", ""))
        return ResourceRef(f"kube-svc:{ns}-{kube['ref'].get('name', '')}-{kube.get('port', 0)}", ns)
    return None


def _cluster(ref: ResourceRef) -> str:
    return f"{ref.name}_{ref.namespace}" if ref.namespace else ref.name


def _not_found(ref: ResourceRef, profile: Profile, kind: str = "Upstream") -> str:
    if profile == "1.3":
        return f"*v1.{kind} {{{ref.name} {ref.namespace}}} not found"
    return f"*v1.{kind} {{ {ref.namespace}.{ref.name} }} not found"


def _proxy_filter(host: Mapping[str, Any], options: Mapping[str, Any], stat_prefix: str, profile: Profile,
                  exists: UpstreamExists, logs: Sequence[Any],
                  upstream_groups: Sequence[UpstreamGroup] = ()) -> list[listener_components_pb2.Filter]:
    cfg = tcp_proxy_pb2.TcpProxy(stat_prefix=stat_prefix)
    settings = options.get("tcpProxySettings")
    if isinstance(settings, Mapping):
        if settings.get("maxConnectAttempts") is not None:
            cfg.max_connect_attempts.value = int(settings["maxConnectAttempts"])
        idle = settings.get("idleTimeout")
        if isinstance(idle, str) and idle.endswith("s"):
            cfg.idle_timeout.FromNanoseconds(int(float(idle[:-1]) * 1e9))
    action = host.get("destination")
    action = action if isinstance(action, Mapping) else {}
    filters: list[listener_components_pb2.Filter] = []
    if "single" in action:
        ref = _ref(action["single"])
        if ref is None:
            raise _HostProblem("unknown upstream destination type", warning=False)
        if not exists(ref):
            raise _HostProblem(_not_found(ref, profile), warning=True)
        cfg.cluster = _cluster(ref)
    elif "multi" in action:
        dests = (action["multi"] or {}).get("destinations") or ()
        if not dests:
            # translatorutil.NoDestinationSpecifiedError
            raise _HostProblem("must specify at least one weighted destination for multi destination routes",
                               warning=False)
        for wd in dests:
            ref = _ref(wd.get("destination"))
            if ref is None:
                raise _HostProblem("unknown upstream destination type", warning=False)
            if not exists(ref):
                # validateMultiDestination wraps the first missing one.
                raise _HostProblem(f"invalid destination in weighted destination list: {_not_found(ref, profile)}",
                                   warning=True)
        for wd in dests:
            ref = _ref(wd.get("destination"))
            assert ref is not None
            weight = wd.get("weight")
            cfg.weighted_clusters.clusters.add(name=_cluster(ref), weight=int(weight or 0))
    elif "upstreamGroup" in action:
        _group_clusters(action["upstreamGroup"], cfg, profile, exists, upstream_groups)
    elif "forwardSniClusterName" in action and profile != "1.3":
        # An empty cluster, overwritten by the SNI cluster filter placed before the TCP proxy.
        cfg.cluster = ""
        sni = listener_components_pb2.Filter(name=SNI_CLUSTER_FILTER)
        sni.typed_config.Pack(sni_cluster_pb2.SniCluster())
        filters.append(sni)
    else:
        # NoDestinationTypeError prints the host with %v (proto text); gloo_nb names it.
        raise _HostProblem(f"no destination type was specified for tcp host name:\"{host.get('name', '')}\"",
                           warning=False)
    cfg.access_log.extend(logs)
    proxy = listener_components_pb2.Filter(name=TCP_PROXY_FILTER)
    proxy.typed_config.Pack(cfg)
    filters.append(proxy)
    return filters


def _group_clusters(raw: Any, cfg: tcp_proxy_pb2.TcpProxy, profile: Profile, exists: UpstreamExists,
                    upstream_groups: Sequence[UpstreamGroup]) -> None:
    # plugins/tcp/plugin.go (v1.3.20 and main), case TcpHost_TcpAction_UpstreamGroup, after
    # ValidateTcpRouteDestinations -> validateUpstreamGroup: the group's destinations as weighted clusters
    # (convertToWeightedCluster), exactly as an inline multi.
    group = raw if isinstance(raw, Mapping) else {}
    ref = ResourceRef(str(group.get("name", "")), str(group.get("namespace", "")))
    ug = find_upstream_group(upstream_groups, ref, profile)
    if ug is None:
        raise _HostProblem(_not_found(ref, profile, "UpstreamGroup"), warning=True)
    dests = group_destinations(ug, profile)
    if not dests:
        raise _HostProblem("must specify at least one weighted destination for multi destination routes",
                           warning=False)
    refs = []
    for wd in dests:
        d = wd.destination
        up = d.upstream if d.upstream is not None else (
            ResourceRef(f"kube-svc:{d.kube.ref.namespace}-{d.kube.ref.name}-{d.kube.port}", d.kube.ref.namespace)
            if d.kube is not None else None)
        if up is None:
            raise _HostProblem("unknown upstream destination type", warning=False)
        if not exists(up):
            raise _HostProblem(f"invalid destination in weighted destination list: {_not_found(up, profile)}",
                               warning=True)
        refs.append((up, wd.weight or 0))
    for up, weight in refs:
        cfg.weighted_clusters.clusters.add(name=_cluster(up), weight=weight)


def tcp_filter_chains(listener_name: str, hosts: Sequence[Mapping[str, Any]], options: Mapping[str, Any],
                      listener_options: Mapping[str, Any], profile: Profile, exists: UpstreamExists,
                      default_sni: Sequence[str] = (), upstream_groups: Sequence[UpstreamGroup] = ()
                      ) -> tuple[list[listener_components_pb2.FilterChain], bool, list[OptionProblem]]:
    """The filter chains of one TCP listener (a ``tcpGateway`` or a hybrid gateway's matched TCP gateway).

    One filter chain per TCP host, in order: its TCP proxy (``stat_prefix`` ``tcp``, the tcpProxySettings,
    the Gateway's file access logs in current Gloo), ``sni_cluster`` first for ``forwardSniClusterName``, and
    ``server_names`` for TLS passthrough hosts (``sslConfig.sniDomains`` without secrets), else a hybrid
    matcher's ``sslConfig.sniDomains`` (``filter_chain.go``: the default ssl config fills empty server names).

    Current Gloo: one failing host makes ``CreateTcpFilterChains`` return an error, and
    ``ComputeFilterChains`` then drops every chain of that plugin (``continue``), so the listener gets no
    filter chain from it; a missing upstream is a TcpHost warning (``listener <name>: TcpHost error: <err>``),
    other problems TcpListener errors. Gloo 1.3 only logged a failing host and skipped its chain (no report).

    Args:
        listener_name: The Envoy listener's name (for messages).
        hosts: ``tcpHosts``, raw.
        options: TcpListenerOptions, raw.
        listener_options: The Gateway's ListenerOptions (access logging).
        profile: ``1.3`` or ``current``.
        exists: Whether an upstream is in Gloo's snapshot.
        default_sni: A hybrid matcher's SNI domains.
        upstream_groups: The snapshot's UpstreamGroups (``upstreamGroup`` destinations).

    Returns:
        The chains, whether a ``tls_inspector`` is needed (an ``sslConfig`` or SNI forwarding,
        ``tls_inspector/plugin.go``), and the problems.
    """
    problems: list[OptionProblem] = []
    for key in options:
        if key != "tcpProxySettings":
            problems.append(not_modelled(f"tcpGateway.options.{key}", f"TCP listener option {key}"))
    settings = options.get("tcpProxySettings")
    if isinstance(settings, Mapping):
        for key in settings:
            if key not in ("maxConnectAttempts", "idleTimeout"):
                problems.append(not_modelled(f"tcpGateway.options.tcpProxySettings.{key}",
                                             f"TCP proxy setting {key}"))
    logs: list[Any] = []
    als = listener_options.get("accessLoggingService")
    if als is not None and profile != "1.3":
        logs = access_logs(als, profile, "spec.options.accessLoggingService", problems)
    chains: list[listener_components_pb2.FilterChain] = []
    failed = False
    inspector = False
    for i, host in enumerate(hosts):
        ssl = host.get("sslConfig")
        action = host.get("destination") if isinstance(host.get("destination"), Mapping) else {}
        if ssl is not None or (profile != "1.3" and "forwardSniClusterName" in (action or {})):
            inspector = True
        try:
            filters = _proxy_filter(host, options, DEFAULT_TCP_STAT_PREFIX, profile, exists, logs, upstream_groups)
        except _HostProblem as problem:
            failed = True
            if profile == "1.3":
                # plugins/tcp/plugin.go@v1.3.20 logs "could not compute tcp proxy filter" and skips the host;
                # nothing reaches a status, so gloo_nb says it as a finding of its own.
                problems.append(OptionProblem(
                    "warning", f"Gloo 1.3 skips this TCP host (logged, not reported): {problem.text}",
                    f"tcpGateway.tcpHosts[{i}]", gloo=False))
                continue
            if problem.warning:
                text = f"listener {listener_name}: TcpHost error: {problem.text}"
                # filter_chain.go getWarningType switches on *DestinationNotFoundError, but CUR's
                # NewUpstreamNotFoundErr returns a *BaseConfigurationError, so the type is UnknownWarning
                # (Gloo's docs show InvalidDestinationWarning, from releases before that change).
                problems.append(OptionProblem("warning", f"TcpHost Warning: UnknownWarning. Reason: {text}",
                                              f"tcpGateway.tcpHosts[{i}]"))
            else:
                problems.append(OptionProblem(
                    "error", f"TcpListener Error: ProcessingError. Reason: listener {listener_name}: {problem.text}",
                    f"tcpGateway.tcpHosts[{i}]"))
            continue
        chain = listener_components_pb2.FilterChain(filters=filters)
        sni: list[str] = []
        if isinstance(ssl, Mapping):
            sni = [str(d) for d in ssl.get("sniDomains") or ()]
            if any(k in ssl for k in ("secretRef", "sslFiles", "sds")):
                # TLS termination on TCP hosts is the TLS work's (filter chains with transport sockets).
                where = f"tcpGateway.tcpHosts[{i}].sslConfig"
                problems.append(not_modelled(where, "TLS termination on TCP hosts",
                                             "gloo_nb emits no filter chain for this host"))
                continue
        sni = sni or list(default_sni)
        if sni:
            chain.filter_chain_match.server_names.extend(sni)
        chains.append(chain)
    if failed and profile != "1.3":
        chains = []
    return chains, inspector, problems


def _socket_listener(name: str, address: str, port: int) -> listener_pb2.Listener:
    out = listener_pb2.Listener(name=name)
    out.address.socket_address.address = address
    out.address.socket_address.port_value = port
    return out


def add_tls_inspector(listener: listener_pb2.Listener) -> None:
    """Add the ``envoy.filters.listener.tls_inspector`` listener filter (``tls_inspector/plugin.go``).

    Args:
        listener: The listener, changed in place.
    """
    lf = listener.listener_filters.add(name=TLS_INSPECTOR)
    lf.typed_config.Pack(tls_inspector_pb2.TlsInspector())


def tcp_listener(listener: ProxyListener, profile: Profile, exists: UpstreamExists,
                 upstream_groups: Sequence[UpstreamGroup] = ()) -> tuple[listener_pb2.Listener | None,
                                                                       list[OptionProblem]]:
    """The Envoy listener of a Proxy TCP listener, and the problems Gloo reports on its Gateway.

    See :func:`tcp_filter_chains`; a listener without filter chains is not emitted.

    Args:
        listener: The Proxy listener (its ``tcp`` is set).
        profile: ``1.3`` or ``current``.
        exists: Whether an upstream is in Gloo's snapshot.
        upstream_groups: The snapshot's UpstreamGroups.

    Returns:
        The Envoy listener (None when it has no filter chain) and the problems.
    """
    assert listener.tcp is not None
    chains, inspector, problems = tcp_filter_chains(listener.name, listener.tcp.hosts, listener.tcp.options,
                                                    listener.listener_options, profile, exists,
                                                    upstream_groups=upstream_groups)
    problems = [p if p.gloo else OptionProblem(p.severity, p.message.replace(": tcpGateway.", ": spec.tcpGateway."),
                                               "spec." + p.field if p.field.startswith("tcpGateway") else p.field,
                                               gloo=False, feature=p.feature) for p in problems]
    if not chains:
        return None, problems
    out = _socket_listener(listener.name, listener.bind_address, listener.bind_port)
    out.filter_chains.extend(chains)
    if inspector:
        add_tls_inspector(out)
    problems += apply_listener_options(out, listener.listener_options, profile,
                                       use_proxy_proto=listener.use_proxy_proto)
    return out, problems
