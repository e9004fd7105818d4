"""The HTTP filter chain Gloo gives every HTTP connection manager, per profile and Settings.

Gloo builds each HCM's ``http_filters`` from every plugin's ``HttpFilters`` (each filter with a stage), sorts
them, and appends the router. Several plugins add their filter to EVERY HCM, with an empty config, whether or
not a route uses it; current Gloo's ``settings.gloo.removeUnusedFilters`` leaves those out where no route needs
them. gloo_nb builds the same list, so that a listener's intent equals what Gloo serves.

Sources (CUR at 8d57572e, and v1.3.20 for the ``1.3`` profile):

* the chain: ``projects/gloo/pkg/translator/network_filters.go`` (``computeHttpFilters``: plugins' filters,
  ``CustomHttpFilters``, ``sortHttpFilters``, then the router at ``AfterStage(RouteStage)`` with the listener's
  ``options.router``); v1.3.20 ``projects/gloo/pkg/translator/http_filters.go`` (``computeHttpFilters``: sorted
  filters, then ``envoy.router`` without config);
* the order: ``projects/gloo/pkg/plugins/staged_filters.go`` (the well-known stages ``FaultStage`` ...
  ``RouteStage``; ``StagedFilterList.Less``: stage, weight, filter name, config type URL, config bytes, index);
  v1.3.20 ``plugins/plugin_interface.go`` (``StagedHttpFilterList.Less``: stage, weight, name, ``String()``);
* the default filters: ``plugins/faultinjection/plugin.go``, ``plugins/cors/plugin.go``,
  ``plugins/local_ratelimit/plugin.go`` (+ ``utils.go GenerateHTTPFilter``), ``plugins/grpcweb/plugin.go``
  (``Init``, ``isDisabled``), ``plugins/transformation/plugin.go`` (``HttpFilters``, early stage when a route
  has ``stagedTransformations.early``), ``plugins/csrf/plugin.go`` (``HttpFilters``, ``translateCsrfConfig``),
  each ``HttpFilters``; v1.3.20's faultinjection, cors, grpcweb and transformation plugins add theirs always;
* Gloo's own golden chain: ``projects/gateway2/setup/testdata/happypath-out.yaml`` (fault, cors,
  local_ratelimit, grpc_web, io.solo.transformation, csrf, router).

Gloo 1.3 served Envoy v2 (``envoy.fault``, ``envoy.cors``, ``envoy.grpc_web``, ``envoy.router``, no config); like
the rest of gloo_nb, the ``1.3`` profile emits the v3 names and empty v3 configs: the profile decides which
filters, not the API version.

Gloo's transformation filter (``io.solo.transformation``) is an envoy-gloo extension that upstream Envoy, and
so the pinned Envoy of the sandbox, does not have: the intent holds it exactly as Gloo serves it (an ``Any``
with its type URL and the config's bytes), :func:`for_pinned_envoy` leaves it out for that Envoy, and
:func:`unpredicted_filters` names the filters whose content gloo_nb does not predict (drift ignores them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.csrf.v3 import csrf_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from envoy.extensions.filters.http.grpc_web.v3 import grpc_web_pb2
from envoy.extensions.filters.http.local_ratelimit.v3 import local_rate_limit_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

from gloo_nb._types import Profile
from gloo_nb.models import Settings, Upstream
from gloo_nb.translate.route_options import CORS_FILTER, FAULT_FILTER

__all__ = [
    "CORS_FILTER",
    "CSRF_FILTER",
    "DFP_STAGE",
    "FAULT_FILTER",
    "GLOO_EXTENSION_TYPES",
    "GRPC_WEB_FILTER",
    "LOCAL_RATELIMIT_FILTER",
    "ROUTER_FILTER",
    "TRANSFORMATION_FILTER",
    "TRANSFORMATION_TYPE",
    "UNMODELLED_OPTION_FILTERS",
    "FilterSettings",
    "LeftOut",
    "StagedFilter",
    "Stage",
    "comparable_filters",
    "filters_needed",
    "for_pinned_envoy",
    "hcm_http_filters",
    "needs_early_transformation",
    "transformation_config",
    "unpredicted_filters",
    "without_filters",
]

LOCAL_RATELIMIT_FILTER = "envoy.filters.http.local_ratelimit"  # local_ratelimit HTTPFilterName
GRPC_WEB_FILTER = "envoy.filters.http.grpc_web"  # wellknown.GRPCWeb
TRANSFORMATION_FILTER = "io.solo.transformation"  # transformation FilterName
CSRF_FILTER = "envoy.filters.http.csrf"  # csrf FilterName
ROUTER_FILTER = "envoy.filters.http.router"  # wellknown.Router
AWS_LAMBDA_FILTER = "io.solo.aws_lambda"  # aws FilterName
GRPC_JSON_TRANSCODER_FILTER = "envoy.filters.http.grpc_json_transcoder"  # wellknown.GRPCJSONTranscoder

# envoy-gloo's FilterTransformations (projects/gloo/api/external/envoy/extensions/transformation/
# transformation.proto, package envoy.api.v2.filter.http): not in xds-protos, so registered below.
TRANSFORMATION_TYPE = "type.googleapis.com/envoy.api.v2.filter.http.FilterTransformations"


def _register_filter_transformations() -> Any:
    # The scalar fields of transformation.proto's FilterTransformations (stage = 2, log_request_response_info = 3,
    # auto_websocket_passthrough = 5), registered in the default pool so that json_format and Any.Unpack read the
    # intent's and a real Gloo's filter alike. ``transformations`` (1, listener-level rules Gloo's open-source
    # plugins never set) is left out: its bytes stay unknown fields.
    pool = descriptor_pool.Default()
    name = TRANSFORMATION_TYPE.rsplit("/", 1)[-1]
    try:
        descriptor = pool.FindMessageTypeByName(name)
    except KeyError:
        f = descriptor_pb2.FieldDescriptorProto
        file = descriptor_pb2.FileDescriptorProto(name="gloo_nb/envoy_gloo/transformation.proto",
                                                  package="envoy.api.v2.filter.http", syntax="proto3")
        msg = file.message_type.add(name="FilterTransformations")
        for field_name, number, kind in (("stage", 2, f.TYPE_UINT32), ("log_request_response_info", 3, f.TYPE_BOOL),
                                         ("auto_websocket_passthrough", 5, f.TYPE_BOOL)):
            msg.field.add(name=field_name, number=number, type=kind, label=f.LABEL_OPTIONAL)
        pool.Add(file)
        descriptor = pool.FindMessageTypeByName(name)
    return message_factory.GetMessageClass(descriptor)


_FilterTransformations = _register_filter_transformations()

GLOO_EXTENSION_TYPES: Mapping[str, str] = {
    TRANSFORMATION_TYPE: "Gloo's transformation filter, an envoy-gloo extension",
}
"""Typed-config type URLs of Gloo's own Envoy extensions, which the pinned (upstream) Envoy cannot load."""

# staged_filters.go WellKnownFilterStage (the same values at v1.3.20's plugin_interface.go).
FAULT_STAGE, CORS_STAGE, WAF_STAGE, AUTHN_STAGE, AUTHZ_STAGE, RATE_LIMIT_STAGE = range(6)
ACCEPTED_STAGE, OUT_AUTH_STAGE, ROUTE_STAGE = range(6, 9)
_BEFORE, _DURING, _AFTER = -1, 0, 1

Stage = tuple[int, int]
"""``(well-known stage, weight)``: Gloo's ``FilterStage{RelativeTo, Weight}``; Before/During/After = -1/0/1."""

_LOCAL_RATELIMIT_STAT_PREFIX = "http_local_ratelimit"  # local_ratelimit HTTPFilterStatPrefix
_LOCAL_RATELIMIT_STAGE = 3  # local_ratelimit CustomStageBeforeAuth
_EARLY_TRANSFORMATION_STAGE = 1  # transformation EarlyStageNumber

DFP_STAGE: Stage = (OUT_AUTH_STAGE, _DURING)  # dynamic_forward_proxy/plugin.go pluginStage

UNMODELLED_OPTION_FILTERS: Mapping[str, tuple[str, ...]] = {
    "gzip": ("envoy.filters.http.compressor",),  # gzip/plugin.go CompressorFilterName
    "buffer": ("envoy.filters.http.buffer",),  # wellknown.Buffer
    "healthCheck": ("envoy.filters.http.health_check",),  # wellknown.HealthCheck
    "csrf": (CSRF_FILTER,),
    "grpcJsonTranscoder": (GRPC_JSON_TRANSCODER_FILTER,),
    "httpLocalRatelimit": (LOCAL_RATELIMIT_FILTER,),
    "extauth": ("envoy.filters.http.ext_authz",),
    "ratelimitServer": ("envoy.filters.http.ratelimit",),
    "wasm": ("envoy.filters.http.wasm",),  # v1.3.20 wasm/plugin.go FilterName
}
"""Listener options (HttpListenerOptions keys) whose filter gloo_nb does not build, and the filters each one adds
(the plugin's ``HttpFilters``): a served listener may hold them (or hold them with another config) where the intent
has them bare or not at all. Every key is declared not modelled where a Gateway sets it (``listener_options``)."""


@dataclass(frozen=True, slots=True)
class FilterSettings:
    """The Settings fields that shape the default filters (``settings.proto`` ``GlooOptions``).

    Attributes:
        remove_unused_filters: ``gloo.removeUnusedFilters`` (current; absent at v1.3.20).
        disable_grpc_web: ``gloo.disableGrpcWeb``; None when unset (current then follows
            ``removeUnusedFilters``; 1.3 enables gRPC-web).
        log_transformation_request_response_info: ``gloo.logTransformationRequestResponseInfo`` (current).
        auto_websocket_passthrough: ``gloo.enableAutoWebsocketTransformationPassthrough`` (current).
    """

    remove_unused_filters: bool = False
    disable_grpc_web: bool | None = None
    log_transformation_request_response_info: bool = False
    auto_websocket_passthrough: bool = False


@dataclass(frozen=True, slots=True)
class StagedFilter:
    """An HTTP filter and the stage it sorts by (``plugins.StagedHttpFilter``).

    Attributes:
        filter: The Envoy HTTP filter.
        stage: Its stage.
    """

    filter: hcm_pb2.HttpFilter
    stage: Stage


@dataclass(frozen=True, slots=True)
class LeftOut:
    """An HTTP filter the pinned Envoy cannot load, left out of a listener served to it.

    Attributes:
        listener: The listener's name.
        filter: The filter's name (``io.solo.transformation``).
        type_url: Its config's type URL.
        why: Which Gloo extension it is.
    """

    listener: str
    filter: str
    type_url: str
    why: str

    def message(self) -> str:
        """One line naming the filter, the listener and why.

        Returns:
            E.g. ``left out HTTP filter io.solo.transformation of listener listener-::-8080: ...``.
        """
        return (f"left out HTTP filter {self.filter} of listener {self.listener}: the pinned Envoy cannot load "
                f"{self.type_url.rsplit('/', 1)[-1]} ({self.why}); Gloo's own gateway-proxy image loads it")


def _packed(message: Any) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(message)
    return out


def _filter(name: str, config: Any) -> hcm_pb2.HttpFilter:
    out = hcm_pb2.HttpFilter(name=name)
    out.typed_config.CopyFrom(config if isinstance(config, any_pb2.Any) else _packed(config))
    return out


def transformation_config(*, stage: int = 0, log_request_response_info: bool = False,
                          auto_websocket_passthrough: bool = False) -> any_pb2.Any:
    """envoy-gloo's ``FilterTransformations`` as Gloo packs it (proto3: Gloo's empty message is no bytes).

    Args:
        stage: ``Stage`` (1 for the early filter).
        log_request_response_info: ``LogRequestResponseInfo``.
        auto_websocket_passthrough: ``AutoWebsocketPassthrough``.

    Returns:
        The Any Gloo serves.
    """
    msg = _FilterTransformations(stage=stage, log_request_response_info=log_request_response_info,
                                 auto_websocket_passthrough=auto_websocket_passthrough)
    return any_pb2.Any(type_url=TRANSFORMATION_TYPE, value=msg.SerializeToString(deterministic=True))


def _csrf_default() -> csrf_pb2.CsrfPolicy:
    # csrf/plugin.go translateCsrfConfig(nil): filterEnabled {defaultValue {}} (0%: "If we supply a nil
    # DefaultValue here, envoy will replace that with 100%"), no shadow, no additional origins.
    out = csrf_pb2.CsrfPolicy()
    out.filter_enabled.default_value.SetInParent()
    return out


def filters_needed(route_configurations: Iterable[Any], virtual_hosts: Iterable[Any]) -> frozenset[str]:
    """The filters some virtual host, route or weighted destination of one HTTP listener uses.

    What marks Gloo's ``filterRequiredForListener``: the fault and CORS per-filter configs gloo_nb writes (read
    from the Envoy route configurations), CORS policies even where Gloo then fails to translate them, and options
    gloo_nb does not model but whose presence Gloo counts (transformations and staged transformations, ``csrf``,
    ``ratelimit.localRatelimit``).

    Args:
        route_configurations: The listener's Envoy RouteConfigurations.
        virtual_hosts: Its Gloo virtual hosts (``ProxyVirtualHost``, raw options).

    Returns:
        Filter names.
    """
    used: set[str] = set()
    for rc in route_configurations:
        for vh in rc.virtual_hosts:
            used.update(vh.typed_per_filter_config)
            for r in vh.routes:
                if r.typed_per_filter_config:
                    used.update(r.typed_per_filter_config)
                if r.HasField("route") and r.route.HasField("weighted_clusters"):
                    for cw in r.route.weighted_clusters.clusters:
                        if cw.typed_per_filter_config:
                            used.update(cw.typed_per_filter_config)
    for vh in virtual_hosts:
        _options_need(vh.options, used)
        if vh.options.get("cors") is not None:
            # cors/plugin.go ProcessVirtualHost marks the listener before translating the policy (even a bad one).
            used.add(CORS_FILTER)
        for route in vh.routes:
            if route.options:
                _options_need(route.options, used)
                if route.options.get("cors") is not None and route.route_action is not None:
                    # ProcessRoute marks it for route actions (direct responses get headers instead), before
                    # translating the policy.
                    used.add(CORS_FILTER)
            action = route.route_action
            if action is not None and action.multi:
                for wd in action.multi:
                    if wd.options:
                        _options_need(wd.options, used)
    return frozenset(used)


def _options_need(options: Mapping[str, Any], used: set[str]) -> None:
    # transformation/plugin.go ProcessVirtualHost/ProcessRoute/ProcessWeightedDestination (ConvertTransformation is
    # non-nil when either is set); csrf/plugin.go (the three); local_ratelimit/plugin.go (vhost and route).
    if options.get("transformations") is not None or options.get("stagedTransformations") is not None:
        used.add(TRANSFORMATION_FILTER)
    if options.get("csrf") is not None:
        used.add(CSRF_FILTER)
    rl = options.get("ratelimit")
    if isinstance(rl, Mapping) and rl.get("localRatelimit") is not None:
        used.add(LOCAL_RATELIMIT_FILTER)


def needs_early_transformation(virtual_hosts: Iterable[Any]) -> bool:
    """Whether some option has ``stagedTransformations.early`` (Gloo's ``RequireEarlyTransformation``).

    Args:
        virtual_hosts: Gloo virtual hosts (``ProxyVirtualHost``).

    Returns:
        True when one does.
    """
    def early(options: Mapping[str, Any]) -> bool:
        staged = options.get("stagedTransformations")
        return isinstance(staged, Mapping) and staged.get("early") is not None

    for vh in virtual_hosts:
        if early(vh.options):
            return True
        for route in vh.routes:
            if route.options and early(route.options):
                return True
            action = route.route_action
            if action is not None and action.multi and any(wd.options and early(wd.options) for wd in action.multi):
                return True
    return False


def _grpc_web_disabled(profile: Profile, settings: FilterSettings, http_options: Mapping[str, Any]) -> bool:
    # grpcweb/plugin.go isDisabled: the listener's grpcWeb.disable when the listener has a grpcWeb block, else the
    # plugin's default from Init: disableGrpcWeb when set, else (current) removeUnusedFilters, (v1.3.20) false.
    grpc_web = http_options.get("grpcWeb")
    if isinstance(grpc_web, Mapping):
        return _bool_value(grpc_web.get("disable")) is True
    if settings.disable_grpc_web is not None:
        return settings.disable_grpc_web
    return settings.remove_unused_filters if profile != "1.3" else False


def _router(profile: Profile, http_options: Mapping[str, Any]) -> router_pb2.Router:
    # network_filters.go computeHttpFilters: options.router.suppressEnvoyHeaders and dynamicStats (current only).
    out = router_pb2.Router()
    router = http_options.get("router") if profile != "1.3" else None
    if isinstance(router, Mapping):
        if _bool_value(router.get("suppressEnvoyHeaders")):
            out.suppress_envoy_headers = True
        dynamic = _bool_value(router.get("dynamicStats"))
        if dynamic is not None:
            out.dynamic_stats.value = dynamic
    return out


def _bool_value(value: Any) -> bool | None:
    # A google.protobuf.BoolValue as the codec reads wrappers: a bool, or {value: bool}.
    if isinstance(value, Mapping):
        value = value.get("value", False)
    return value if isinstance(value, bool) else None


def _sort_key(item: tuple[int, StagedFilter]) -> tuple[int, int, str, str, bytes, int]:
    # staged_filters.go StagedFilterList.Less: stage, weight, name, type URL, config bytes, then the index.
    index, staged = item
    cfg = staged.filter.typed_config
    return (staged.stage[0], staged.stage[1], staged.filter.name, cfg.type_url, cfg.value, index)


def hcm_http_filters(profile: Profile, settings: FilterSettings, http_options: Mapping[str, Any],
                     needed: frozenset[str], *, early_transformation: bool = False,
                     extra: Sequence[StagedFilter] = ()) -> list[hcm_pb2.HttpFilter]:
    """The ``http_filters`` Gloo gives one HTTP listener's HCM, router last.

    Args:
        profile: ``1.3`` or ``current``.
        settings: The Settings' filter knobs.
        http_options: The HTTP listener's ``options`` (HttpListenerOptions), raw.
        needed: :func:`filters_needed` for the listener.
        early_transformation: Gloo's ``RequireEarlyTransformation`` (a route so far has an early stage).
        extra: Filters of other plugins, with their stages (the dynamic forward proxy's).

    Returns:
        The sorted filters, then the router.
    """
    staged: list[StagedFilter] = []
    if profile == "1.3":
        # v1.3.20: faultinjection, cors and transformation always; grpcweb unless disabled.
        staged.append(StagedFilter(_filter(FAULT_FILTER, fault_pb2.HTTPFault()), (FAULT_STAGE, _DURING)))
        staged.append(StagedFilter(_filter(CORS_FILTER, cors_pb2.Cors()), (CORS_STAGE, _DURING)))
        if not _grpc_web_disabled(profile, settings, http_options):
            staged.append(StagedFilter(_filter(GRPC_WEB_FILTER, grpc_web_pb2.GrpcWeb()), (AUTHZ_STAGE, _AFTER)))
        staged.append(StagedFilter(_filter(TRANSFORMATION_FILTER, transformation_config()), (AUTHZ_STAGE, _AFTER)))
    else:
        unused_out = settings.remove_unused_filters
        if not unused_out or FAULT_FILTER in needed:
            staged.append(StagedFilter(_filter(FAULT_FILTER, fault_pb2.HTTPFault()), (FAULT_STAGE, _DURING)))
        if not unused_out or CORS_FILTER in needed:
            staged.append(StagedFilter(_filter(CORS_FILTER, cors_pb2.Cors()), (CORS_STAGE, _DURING)))
        # local_ratelimit HttpFilters: kept when used or when the listener's httpLocalRatelimit has a token bucket
        # (whose config gloo_nb does not model: unpredicted_filters names the filter then).
        rl = http_options.get("httpLocalRatelimit")
        bucket = isinstance(rl, Mapping) and rl.get("defaultLimit") is not None
        if not unused_out or LOCAL_RATELIMIT_FILTER in needed or bucket:
            cfg = local_rate_limit_pb2.LocalRateLimit(stat_prefix=_LOCAL_RATELIMIT_STAT_PREFIX,
                                                      stage=_LOCAL_RATELIMIT_STAGE)
            staged.append(StagedFilter(_filter(LOCAL_RATELIMIT_FILTER, cfg), (AUTHN_STAGE, _BEFORE)))
        if not _grpc_web_disabled(profile, settings, http_options):
            staged.append(StagedFilter(_filter(GRPC_WEB_FILTER, grpc_web_pb2.GrpcWeb()), (AUTHZ_STAGE, _AFTER)))
        if not unused_out or TRANSFORMATION_FILTER in needed:
            log = settings.log_transformation_request_response_info
            ws = settings.auto_websocket_passthrough
            if early_transformation:
                staged.append(StagedFilter(_filter(TRANSFORMATION_FILTER, transformation_config(
                    stage=_EARLY_TRANSFORMATION_STAGE, log_request_response_info=log, auto_websocket_passthrough=ws)),
                    (FAULT_STAGE, _AFTER)))
            staged.append(StagedFilter(_filter(TRANSFORMATION_FILTER, transformation_config(
                log_request_response_info=log, auto_websocket_passthrough=ws)), (AUTHZ_STAGE, _AFTER)))
        # csrf HttpFilters: kept when used or when the listener sets csrf (that config is not modelled: the
        # default is built and unpredicted_filters names the filter).
        if not unused_out or CSRF_FILTER in needed or http_options.get("csrf") is not None:
            staged.append(StagedFilter(_filter(CSRF_FILTER, _csrf_default()), (ROUTE_STAGE, _DURING)))
    staged.extend(extra)
    ordered = [s.filter for _, s in sorted(enumerate(staged), key=_sort_key)]
    ordered.append(_filter(ROUTER_FILTER, _router(profile, http_options)))
    return ordered


def unpredicted_filters(http_options: Iterable[Mapping[str, Any]], upstreams: Iterable[Upstream] = (),
                        settings: Settings | None = None) -> frozenset[str]:
    """Filters whose presence or config gloo_nb does not predict for these HTTP listeners.

    A listener option gloo_nb does not model (declared in ``unmodelled`` where a Gateway sets it) may add a
    filter, or change the config of a default one; ``customHttpFilters`` add filters by name. Upstreams of kinds
    gloo_nb does not model add theirs: AWS Lambda (aws/plugin.go: ``io.solo.aws_lambda`` and a transformation
    filter of its own stage), gRPC and REST service specs (grpc/plugin.go and grpcjson/plugin.go: the gRPC-JSON
    transcoder; rest: transformations). Settings' ``extauth`` and ``ratelimitServer`` are every listener's default
    servers (their ext_authz and ratelimit filters). Listener drift leaves these filters out of the comparison
    between intent and served.

    Args:
        http_options: Every HTTP listener's ``options`` (HttpListenerOptions), raw.
        upstreams: The snapshot's Upstreams.
        settings: The Settings in force, or None.

    Returns:
        Filter names.
    """
    out: set[str] = set()
    if settings is not None and settings.extauth is not None:
        out.update(UNMODELLED_OPTION_FILTERS["extauth"])
    if settings is not None and settings.ratelimit_server is not None:
        out.update(UNMODELLED_OPTION_FILTERS["ratelimitServer"])
    for upstream in upstreams:
        if upstream.upstream_type == "aws":
            out.update((AWS_LAMBDA_FILTER, TRANSFORMATION_FILTER))
        spec = upstream.options.service_spec
        if isinstance(spec, Mapping):
            if spec.get("grpc") is not None or spec.get("grpcJsonTranscoder") is not None:
                out.add(GRPC_JSON_TRANSCODER_FILTER)
            if spec.get("rest") is not None:
                out.add(TRANSFORMATION_FILTER)
    for options in http_options:
        for key, names in UNMODELLED_OPTION_FILTERS.items():
            if options.get(key) is not None:
                out.update(names)
        for custom in options.get("customHttpFilters") or ():
            if isinstance(custom, Mapping) and isinstance(custom.get("name"), str):
                out.add(custom["name"])
    return frozenset(out)


def _hcm_filters(listener: listener_pb2.Listener) -> Iterable[tuple[Any, hcm_pb2.HttpConnectionManager]]:
    for chain in listener.filter_chains:
        for flt in chain.filters:
            if flt.typed_config.type_url.endswith(".HttpConnectionManager"):
                hcm = hcm_pb2.HttpConnectionManager()
                flt.typed_config.Unpack(hcm)
                yield flt, hcm


def for_pinned_envoy(listener: listener_pb2.Listener) -> tuple[listener_pb2.Listener, list[LeftOut]]:
    """The listener without the HTTP filters the pinned Envoy cannot load (Gloo's own extensions).

    Args:
        listener: A listener as Gloo serves it.

    Returns:
        The listener to serve to the pinned Envoy (the same object when nothing is left out) and what was left
        out (once per listener and filter).
    """
    if not any(f.typed_config.type_url in GLOO_EXTENSION_TYPES for _, hcm in _hcm_filters(listener)
               for f in hcm.http_filters):
        return listener, []
    out = listener_pb2.Listener()
    out.CopyFrom(listener)
    left: dict[str, LeftOut] = {}
    for flt, hcm in _hcm_filters(out):
        keep = []
        for f in hcm.http_filters:
            why = GLOO_EXTENSION_TYPES.get(f.typed_config.type_url)
            if why is None:
                keep.append(f)
            else:
                left.setdefault(f.name, LeftOut(listener.name, f.name, f.typed_config.type_url, why))
        del hcm.http_filters[:]
        hcm.http_filters.extend(keep)
        flt.typed_config.Pack(hcm)
    return out, list(left.values())


def comparable_filters(intent: listener_pb2.Listener, served: listener_pb2.Listener | None,
                       unpredicted: frozenset[str] = frozenset()) -> listener_pb2.Listener:
    """The intended listener as drift compares it with the served one.

    Rules: a filter of Gloo's own extensions (:data:`GLOO_EXTENSION_TYPES`) that the served listener lacks is
    not a difference (the sandbox serves the pinned Envoy without it: :func:`for_pinned_envoy`); where served
    has it, it is compared. Filters named in ``unpredicted`` are left out (their presence and config depend on
    options gloo_nb does not model). The served listener gets the same ``unpredicted`` treatment through
    :func:`without_filters`.

    Args:
        intent: The intended listener.
        served: The served listener with the same name (None when absent).
        unpredicted: :func:`unpredicted_filters`.

    Returns:
        A copy of ``intent`` with those filters left out (``intent`` itself when nothing is).
    """
    served_names = set()
    if served is not None:
        served_names = {f.name for _, hcm in _hcm_filters(served) for f in hcm.http_filters}

    def drop(f: hcm_pb2.HttpFilter) -> bool:
        return f.name in unpredicted or (f.typed_config.type_url in GLOO_EXTENSION_TYPES
                                         and f.name not in served_names)

    return _filtered(intent, drop)


def without_filters(listener: listener_pb2.Listener, names: frozenset[str]) -> listener_pb2.Listener:
    """The listener without the HTTP filters named ``names`` (``listener`` itself when it has none).

    Args:
        listener: A listener.
        names: Filter names.

    Returns:
        The listener, or a copy without them.
    """
    return _filtered(listener, lambda f: f.name in names) if names else listener


def _filtered(listener: listener_pb2.Listener, drop: Any) -> listener_pb2.Listener:
    if not any(drop(f) for _, hcm in _hcm_filters(listener) for f in hcm.http_filters):
        return listener
    out = listener_pb2.Listener()
    out.CopyFrom(listener)
    for flt, hcm in _hcm_filters(out):
        keep = [f for f in hcm.http_filters if not drop(f)]
        del hcm.http_filters[:]
        hcm.http_filters.extend(keep)
        flt.typed_config.Pack(hcm)
    return out
