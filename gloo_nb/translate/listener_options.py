"""Gateway options on Envoy listeners: Gloo's hcm, als, tracing and listener plugins.

A Gateway's ``spec.options`` (ListenerOptions) and its HTTP gateway's ``options`` (HttpListenerOptions)
are kept raw by the codec (protobuf JSON, lowerCamel). This module applies the part gloo_nb models to
the Envoy messages and says, as findings, what it does not model; it never drops an option silently.

Sources (CUR at 8d57572e, and v1.3.20 for the ``1.3`` profile):

* ``projects/gloo/pkg/plugins/hcm/plugin.go`` (``ProcessHcmNetworkFilter``; ``copyCoreHcmSettings`` at v1.3.20);
* ``projects/gloo/pkg/plugins/als/{plugin.go,converter.go}`` (``ProcessAccessLogPlugins``, ``copyFileSettings``);
* ``projects/gloo/pkg/plugins/tracing/plugin.go`` (``ProcessHcmNetworkFilter``,
  ``getEnvoyTracingCollectorClusterName``);
* ``projects/gloo/pkg/plugins/listener/plugin.go`` (``ProcessListener``, ``translateSocketOption``);
* the protos ``projects/gloo/api/v1/{listener_options,http_listener_options}.proto``, ``options/hcm/hcm.proto``,
  ``options/als/als.proto``, ``options/tracing/tracing.proto`` (``options.proto`` at v1.3.20).

Problems come back as :class:`OptionProblem`; the proxy translator files them on the Gateway, formatted as Gloo's
proxy validation formats listener reports (``proxy_validation.go``: ``<Level> Error: <Type>. Reason: <reason>``).
"""

from __future__ import annotations

import base64
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.core.v3 import extension_pb2, socket_option_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.config.trace.v3 import http_tracer_pb2, zipkin_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.filters.listener.proxy_protocol.v3 import proxy_protocol_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.formatter.metadata.v3 import metadata_pb2
from envoy.extensions.formatter.req_without_query.v3 import req_without_query_pb2
from google.protobuf import any_pb2, struct_pb2

from gloo_nb._types import Profile
from gloo_nb.models import ResourceRef
from gloo_nb.translate.reports import multierror_text

__all__ = [
    "OptionProblem",
    "apply_hcm_options",
    "apply_listener_options",
    "apply_route_configuration_options",
    "access_logs",
]

FILE_ACCESS_LOG = "envoy.access_loggers.file"
ZIPKIN_TRACER = "envoy.tracers.zipkin"


@dataclass(frozen=True, slots=True)
class OptionProblem:
    """A problem with one option, as Gloo reports it, or gloo_nb's note that it does not model it.

    Attributes:
        severity: ``error`` or ``warning``.
        message: Gloo's text (already formatted with its level), or gloo_nb's note.
        field: The option's path under the Gateway's ``spec``.
        gloo: True for Gloo's own report (it goes on the Gateway's status); False for gloo_nb's notes
            (``not modelled``, a field the profile's Gloo does not have), which are findings only.
        feature: Set (the feature's name) when this is gloo_nb's declaration that it does not model
            ``field``: it goes to ``Translation.unmodelled``, not to the findings.
    """

    severity: Literal["error", "warning"]
    message: str
    field: str
    gloo: bool = True
    feature: str = ""


def not_modelled(field: str, feature: str, detail: str = "") -> OptionProblem:
    """gloo_nb's declaration that it does not reproduce a field's effect on Envoy.

    Args:
        field: The field's path.
        feature: The feature's name.
        detail: What gloo_nb does instead (optional).

    Returns:
        An :class:`OptionProblem` with ``feature`` set, which the proxy translator declares as
        :class:`~gloo_nb.models.Unmodelled` (never a finding).
    """
    return OptionProblem("warning", f"not modelled: {field} ({feature})" + (f": {detail}" if detail else ""),
                         field, gloo=False, feature=feature)


def _not_modelled(field: str, what: str) -> OptionProblem:
    return not_modelled(field, what)


def _not_in_13(field: str) -> OptionProblem:
    return OptionProblem("warning", f"{field} does not exist in Gloo 1.3: gloo_nb ignores it for this profile",
                         field, gloo=False)


def _unreadable(field: str, value: Any, expected: str) -> OptionProblem:
    return OptionProblem("error", f"{field}: {value!r} is not {expected}: Gloo cannot read this Gateway's options",
                         field, gloo=False)


def _any(message: Any) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(message)
    return out


_DURATION = re.compile(r"^(\d+)(?:\.(\d{1,9}))?s$")


def _duration(value: Any, field: str, problems: list[OptionProblem]) -> tuple[int, int] | None:
    # Protobuf JSON Duration: "<seconds>[.<fraction>]s" (only non-negative values are meaningful here).
    if not isinstance(value, str) or not _DURATION.match(value):
        problems.append(_unreadable(field, value, "a protobuf Duration such as '15s'"))
        return None
    match = _DURATION.match(value)
    assert match is not None
    seconds = int(match.group(1))
    nanos = int((match.group(2) or "").ljust(9, "0")) if match.group(2) else 0
    return seconds, nanos


def _set_duration(target: Any, value: Any, field: str, problems: list[OptionProblem]) -> None:
    parsed = _duration(value, field, problems)
    if parsed is not None:
        target.seconds, target.nanos = parsed


def _uint(value: Any, field: str, problems: list[OptionProblem]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        problems.append(_unreadable(field, value, "an unsigned integer"))
        return None
    return int(value)


def _bool(value: Any, field: str, problems: list[OptionProblem]) -> bool | None:
    if not isinstance(value, bool):
        problems.append(_unreadable(field, value, "a boolean"))
        return None
    return value


def _enum(value: Any, names: Sequence[str], field: str, problems: list[OptionProblem]) -> int | None:
    # Protobuf JSON accepts an enum's name or its number.
    if isinstance(value, str) and value in names:
        return names.index(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return value
    problems.append(_unreadable(field, value, "one of " + ", ".join(names)))
    return None


# --- httpConnectionManagerSettings (hcm plugin) -------------------------------------------------

# hcm.proto field -> (profile-1.3 has it).  Fields handled below; anything else is "not modelled".
_HCM_13 = frozenset({
    "skipXffAppend", "via", "xffNumTrustedHops", "useRemoteAddress", "generateRequestId", "proxy100Continue",
    "streamIdleTimeout", "idleTimeout", "maxRequestHeadersKb", "requestTimeout", "drainTimeout",
    "delayedCloseTimeout", "serverName", "acceptHttp10", "defaultHostForHttp10", "tracing",
    "forwardClientCertDetails", "setCurrentClientCertDetails", "preserveExternalRequestId", "upgrades",
})
_HCM_CURRENT_ONLY = frozenset({
    "appendXForwardedPort", "requestHeadersTimeout", "serverHeaderTransformation", "pathWithEscapedSlashesAction",
    "codecType", "mergeSlashes", "normalizePath", "maxConnectionDuration", "maxStreamDuration", "maxHeadersCount",
    "maxRequestsPerConnection", "headersWithUnderscoresAction", "stripAnyHostPort", "allowChunkedLength",
    "enableTrailers", "properCaseHeaderKeyFormat",
})
_HCM_UNMODELLED = {
    "preserveCaseHeaderKeyFormat": "the preserve_case stateful header formatter",
    "internalAddressConfig": "internal address CIDR ranges",
    "uuidRequestIdConfig": "the UUID request ID extension",
    "http2ProtocolOptions": "HTTP/2 window sizes and stream limits",
    "earlyHeaderManipulation": "early header mutation",
}

# Gloo's enums and Envoy's share their names and numbers (the plugin casts one into the other).
_SERVER_HEADER = ("OVERWRITE", "APPEND_IF_ABSENT", "PASS_THROUGH")
_ESCAPED_SLASHES = ("IMPLEMENTATION_SPECIFIC_DEFAULT", "KEEP_UNCHANGED", "REJECT_REQUEST", "UNESCAPE_AND_REDIRECT",
                    "UNESCAPE_AND_FORWARD")
_CODEC = ("AUTO", "HTTP1", "HTTP2")
_UNDERSCORES = ("ALLOW", "REJECT_CLIENT_REQUEST", "DROP_HEADER")
_CLIENT_CERT = ("SANITIZE", "FORWARD_ONLY", "APPEND_FORWARD", "SANITIZE_SET", "ALWAYS_FORWARD_ONLY")

UpstreamExists = Callable[[ResourceRef], bool]

# HttpListenerOptions keys whose effect is on the HTTP filter chain, built by gloo_nb.translate.http_filters:
# grpcWeb (grpcweb/plugin.go isDisabled) and router (network_filters.go computeHttpFilters, current only).
_FILTER_OPTIONS = frozenset({"grpcWeb", "router"})


def apply_hcm_options(hcm: hcm_pb2.HttpConnectionManager, http_options: Mapping[str, Any],
                      listener_options: Mapping[str, Any], profile: Profile, upstream_exists: UpstreamExists,
                      *, path: str = "httpGateway.options") -> list[OptionProblem]:
    """Apply a Gateway's HTTP options and access logging to one HTTP connection manager.

    Gloo's hcm plugin runs on every HCM, options or not: it always adds the websocket upgrade unless one is
    configured, and (current) sets ``normalize_path`` true unless configured. The als plugin copies the
    Gateway's ``options.accessLoggingService`` to the HCM; the tracing plugin sets ``tracing``.

    Args:
        hcm: The HCM, changed in place.
        http_options: The HTTP gateway's ``options`` (HttpListenerOptions).
        listener_options: The Gateway's ``options`` (ListenerOptions), for ``accessLoggingService``.
        profile: ``1.3`` or ``current``.
        upstream_exists: Whether an upstream is in Gloo's snapshot (tracing collectors).
        path: Where ``http_options`` sit under ``spec`` (for messages).

    Returns:
        Gloo's listener errors and warnings, and gloo_nb's notes on options it does not model.
    """
    problems: list[OptionProblem] = []
    for key in http_options:
        if key == "dynamicForwardProxy":
            # Modelled in gloo_nb.translate.dynamic_forward_proxy (current Gloo's plugin; not in 1.3's API).
            if profile == "1.3":
                problems.append(_not_in_13(f"spec.{path}.{key}"))
        elif key in _FILTER_OPTIONS and not (profile == "1.3" and key == "router"):
            pass  # modelled with the HTTP filters (gloo_nb.translate.http_filters)
        elif key == "router":
            problems.append(_not_in_13(f"spec.{path}.{key}"))  # options/router/router.proto is current Gloo's
        elif key != "httpConnectionManagerSettings":
            problems.append(_not_modelled(f"spec.{path}.{key}", f"HTTP listener option {key}"))
    settings = http_options.get("httpConnectionManagerSettings") or {}
    where = f"spec.{path}.httpConnectionManagerSettings"
    if not isinstance(settings, Mapping):
        problems.append(_unreadable(where, settings, "an object"))
        settings = {}
    gloo_errors = _hcm_settings(hcm, settings, profile, where, problems)
    tracing = settings.get("tracing")
    if tracing is not None:
        gloo_errors += _tracing(hcm, tracing, profile, f"{where}.tracing", upstream_exists, problems)
    als = listener_options.get("accessLoggingService")
    if als is not None:
        logs = access_logs(als, profile, "spec.options.accessLoggingService", problems)
        hcm.access_log.extend(logs)
    level = "Listener" if profile == "1.3" else "HttpListener"
    for severity, text in gloo_errors:
        kind = "ProcessingError" if severity == "error" else "InvalidDestinationWarning"
        word = "Error" if severity == "error" else "Warning"
        problems.append(OptionProblem(severity, f"{level} {word}: {kind}. Reason: {text}", where))
    return problems


def _hcm_settings(hcm: hcm_pb2.HttpConnectionManager, s: Mapping[str, Any], profile: Profile, where: str,
                  problems: list[OptionProblem]) -> list[tuple[Literal["error", "warning"], str]]:
    gloo: list[tuple[Literal["error", "warning"], str]] = []
    for key in s:
        if key in _HCM_UNMODELLED:
            problems.append(_not_modelled(f"{where}.{key}", _HCM_UNMODELLED[key]))
        elif profile == "1.3" and key in _HCM_CURRENT_ONLY:
            problems.append(_not_in_13(f"{where}.{key}"))
        elif key not in _HCM_13 and key not in _HCM_CURRENT_ONLY:
            # Not a field of hcm.proto's HttpConnectionManagerSettings (a typo, or a newer Gloo's field).
            known = sorted(_HCM_13 | _HCM_CURRENT_ONLY | set(_HCM_UNMODELLED))
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.8)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(OptionProblem("warning", f"unknown field {where}.{key}: not an "
                                                     f"HttpConnectionManagerSettings field{hint}",
                                          f"{where}.{key}", gloo=False))

    def has(key: str) -> bool:
        return s.get(key) is not None and (profile != "1.3" or key in _HCM_13)

    def f(key: str) -> str:
        return f"{where}.{key}"

    if has("useRemoteAddress") and (v := _bool(s["useRemoteAddress"], f("useRemoteAddress"), problems)) is not None:
        hcm.use_remote_address.value = v
    if has("appendXForwardedPort") and _bool(s["appendXForwardedPort"], f("appendXForwardedPort"), problems):
        hcm.append_x_forwarded_port = True
    if has("xffNumTrustedHops") and (n := _uint(s["xffNumTrustedHops"], f("xffNumTrustedHops"), problems)):
        hcm.xff_num_trusted_hops = n
    if has("skipXffAppend") and _bool(s["skipXffAppend"], f("skipXffAppend"), problems):
        hcm.skip_xff_append = True
    if has("via"):
        hcm.via = str(s["via"])
    if has("generateRequestId") and (v := _bool(s["generateRequestId"], f("generateRequestId"), problems)) is not None:
        hcm.generate_request_id.value = v
    if has("proxy100Continue") and _bool(s["proxy100Continue"], f("proxy100Continue"), problems):
        hcm.proxy_100_continue = True
    for key, target in (("streamIdleTimeout", hcm.stream_idle_timeout), ("requestTimeout", hcm.request_timeout),
                        ("requestHeadersTimeout", hcm.request_headers_timeout),
                        ("drainTimeout", hcm.drain_timeout), ("delayedCloseTimeout", hcm.delayed_close_timeout)):
        if has(key):
            _set_duration(target, s[key], f(key), problems)
    if has("maxRequestHeadersKb") and (n := _uint(s["maxRequestHeadersKb"], f("maxRequestHeadersKb"),
                                                  problems)) is not None:
        hcm.max_request_headers_kb.value = n
    if has("serverName"):
        hcm.server_name = str(s["serverName"])
    if has("preserveExternalRequestId") and _bool(s["preserveExternalRequestId"], f("preserveExternalRequestId"),
                                                  problems):
        hcm.preserve_external_request_id = True
    if has("serverHeaderTransformation"):
        e = _enum(s["serverHeaderTransformation"], _SERVER_HEADER, f("serverHeaderTransformation"), problems)
        if e is not None:
            hcm.server_header_transformation = e
    if has("pathWithEscapedSlashesAction"):
        e = _enum(s["pathWithEscapedSlashesAction"], _ESCAPED_SLASHES, f("pathWithEscapedSlashesAction"), problems)
        if e is not None:
            hcm.path_with_escaped_slashes_action = e
    if has("codecType"):
        e = _enum(s["codecType"], _CODEC, f("codecType"), problems)
        if e is not None:
            hcm.codec_type = e
    if has("mergeSlashes") and _bool(s["mergeSlashes"], f("mergeSlashes"), problems):
        hcm.merge_slashes = True
    if has("normalizePath") and (v := _bool(s["normalizePath"], f("normalizePath"), problems)) is not None:
        # CUR: "default to true as per RFC 3986" unless set; gloo_nb's HCM already carries the default.
        hcm.normalize_path.value = v

    h1 = hcm.http_protocol_options
    if has("acceptHttp10") and _bool(s["acceptHttp10"], f("acceptHttp10"), problems):
        h1.accept_http_10 = True
        if s.get("defaultHostForHttp10") is not None:
            h1.default_host_for_http_10 = str(s["defaultHostForHttp10"])
    if has("properCaseHeaderKeyFormat") and _bool(s["properCaseHeaderKeyFormat"], f("properCaseHeaderKeyFormat"),
                                                  problems):
        h1.header_key_format.proper_case_words.SetInParent()
    if has("allowChunkedLength") and _bool(s["allowChunkedLength"], f("allowChunkedLength"), problems):
        h1.allow_chunked_length = True
    if has("enableTrailers") and _bool(s["enableTrailers"], f("enableTrailers"), problems):
        h1.enable_trailers = True

    common = hcm.common_http_protocol_options
    for key, target in (("idleTimeout", common.idle_timeout), ("maxConnectionDuration", common.max_connection_duration),
                        ("maxStreamDuration", common.max_stream_duration)):
        if has(key):
            _set_duration(target, s[key], f(key), problems)
    for key, wrapper in (("maxHeadersCount", common.max_headers_count),
                         ("maxRequestsPerConnection", common.max_requests_per_connection)):
        if has(key) and (n := _uint(s[key], f(key), problems)) is not None:
            wrapper.value = n
    if has("headersWithUnderscoresAction"):
        e = _enum(s["headersWithUnderscoresAction"], _UNDERSCORES, f("headersWithUnderscoresAction"), problems)
        if e:  # ALLOW (0) is Envoy's default: the plugin leaves the options alone
            common.headers_with_underscores_action = e
    if has("stripAnyHostPort") and _bool(s["stripAnyHostPort"], f("stripAnyHostPort"), problems):
        hcm.strip_any_host_port = True

    gloo += _upgrades(hcm, s.get("upgrades") or (), profile, f("upgrades"), problems)

    if has("forwardClientCertDetails"):
        e = _enum(s["forwardClientCertDetails"], _CLIENT_CERT, f("forwardClientCertDetails"), problems)
        if e is not None:
            hcm.forward_client_cert_details = e
            details = s.get("setCurrentClientCertDetails")
            # Only APPEND_FORWARD and SANITIZE_SET take the details (plugin.go shouldConfigureClientCertDetails).
            if _CLIENT_CERT[e] in ("APPEND_FORWARD", "SANITIZE_SET") and isinstance(details, Mapping):
                cur = hcm.set_current_client_cert_details
                if details.get("subject") is not None:
                    cur.subject.value = bool(details["subject"])
                cur.cert = bool(details.get("cert"))
                cur.chain = bool(details.get("chain"))
                cur.dns = bool(details.get("dns"))
                cur.uri = bool(details.get("uri"))
    return gloo


def _upgrades(hcm: hcm_pb2.HttpConnectionManager, upgrades: Any, profile: Profile, where: str,
              problems: list[OptionProblem]) -> list[tuple[Literal["error", "warning"], str]]:
    # plugin.go: each configured upgrade in order, then websocket (enabled unset) unless one was configured;
    # upgradeconfig.ValidateHCMUpgradeConfigs refuses duplicates.
    gloo: list[tuple[Literal["error", "warning"], str]] = []
    websocket = False
    seen: list[str] = []
    for i, cfg in enumerate(upgrades if isinstance(upgrades, Sequence) else ()):
        kinds = {"websocket": "websocket", "connect": "CONNECT"} if profile != "1.3" else {"websocket": "websocket"}
        if profile != "1.3" and isinstance(cfg, Mapping) and "connectTerminate" in cfg:
            # plugin.go returns at once: the HCM keeps the upgrades built so far, without the websocket default.
            gloo.append(("error", "connect_terminate is not supported at HCM level; use 'connect' at HCM level and "
                                  "'connect_terminate' at route level"))
            return gloo
        kind = next((k for k in cfg if k in kinds), None) if isinstance(cfg, Mapping) else None
        if kind is None:
            problems.append(_not_modelled(f"{where}[{i}]", "an upgrade type other than websocket/connect"))
            continue
        upgrade = hcm.upgrade_configs.add(upgrade_type=kinds[kind])
        enabled = cfg[kind].get("enabled") if isinstance(cfg[kind], Mapping) else None
        if enabled is not None:
            upgrade.enabled.value = bool(enabled)
        websocket = websocket or kind == "websocket"
        seen.append(kinds[kind])
    if not websocket:
        hcm.upgrade_configs.add(upgrade_type="websocket")
    dups = [k for i, k in enumerate(seen) if k in seen[:i]]
    if dups:
        gloo.append(("error", multierror_text([f"upgrade config {k} is not unique" for k in dups])))
    return gloo


# --- tracing (tracing plugin) ---------------------------------------------------------------------


def _percent(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 100.0


def _tracing(hcm: hcm_pb2.HttpConnectionManager, t: Any, profile: Profile, where: str,
             upstream_exists: UpstreamExists,
             problems: list[OptionProblem]) -> list[tuple[Literal["error", "warning"], str]]:
    if not isinstance(t, Mapping):
        problems.append(_unreadable(where, t, "an object"))
        return []
    out = hcm_pb2.HttpConnectionManager.Tracing()
    # requestHeadersForTags: 1.3 emitted Envoy v2's request_headers_for_tags, which v3 replaced with
    # custom_tags of request headers, the shape current Gloo emits; gloo_nb emits v3 for both profiles.
    for header in t.get("requestHeadersForTags") or ():
        tag = out.custom_tags.add(tag=str(header))
        tag.request_header.name = str(header)
    if profile != "1.3":
        for env in t.get("environmentVariablesForTags") or ():
            tag = out.custom_tags.add(tag=str(env.get("tag", "")))
            tag.environment.name = str(env.get("name", ""))
            tag.environment.default_value = str(env.get("defaultValue", ""))
        for lit in t.get("literalsForTags") or ():
            out.custom_tags.add(tag=str(lit.get("tag", ""))).literal.value = str(lit.get("value", ""))
    for key in ("environmentVariablesForTags", "literalsForTags", "spawnUpstreamSpan", "zipkinConfig",
                "datadogConfig", "openTelemetryConfig", "openCensusConfig"):
        if profile == "1.3" and key in t:
            problems.append(_not_in_13(f"{where}.{key}"))
    if profile != "1.3" and "metadataForTags" in t:
        problems.append(_not_modelled(f"{where}.metadataForTags", "metadata custom tags"))
    if t.get("verbose"):
        out.verbose = True
    raw_pct = t.get("tracePercentages")
    pct: Mapping[str, Any] = raw_pct if isinstance(raw_pct, Mapping) else {}
    out.client_sampling.value = _percent(pct.get("clientSamplePercentage"))
    out.random_sampling.value = _percent(pct.get("randomSamplePercentage"))
    out.overall_sampling.value = _percent(pct.get("overallSamplePercentage"))
    if profile == "1.3":
        # v1.3.20 set OperationName INGRESS, Envoy v3's default (the field is gone).
        hcm.tracing.CopyFrom(out)
        return []
    out.spawn_upstream_span.value = bool(t.get("spawnUpstreamSpan"))
    providers = [k for k in ("zipkinConfig", "datadogConfig", "openTelemetryConfig", "openCensusConfig") if k in t]
    if providers:
        key = providers[0]
        cfg = t[key] if isinstance(t[key], Mapping) else {}
        cluster = cfg.get("clusterName")
        ref = cfg.get("collectorUpstreamRef")
        if isinstance(ref, Mapping):
            upstream = ResourceRef(str(ref.get("name", "")), str(ref.get("namespace", "")))
            if not upstream_exists(upstream):
                # getEnvoyTracingCollectorClusterName -> NewUpstreamNotFoundErr, a warning ConfigurationError:
                # the plugin returns before setting out.Tracing, so the HCM has no tracing at all.
                return [("warning", f"*v1.Upstream {{ {upstream.namespace}.{upstream.name} }} not found")]
            cluster = f"{upstream.name}_{upstream.namespace}" if upstream.namespace else upstream.name
        if key != "zipkinConfig":
            problems.append(_not_modelled(f"{where}.{key}", "tracing providers other than Zipkin"))
        else:
            zipkin = zipkin_pb2.ZipkinConfig(collector_cluster=str(cluster or ""),
                                             collector_endpoint=str(cfg.get("collectorEndpoint", "")))
            version = cfg.get("collectorEndpointVersion")
            names = ("DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE", "HTTP_JSON", "HTTP_PROTO")
            if version is not None:
                v = _enum(version, names, f"{where}.zipkinConfig.collectorEndpointVersion", problems)
                if v is not None:
                    zipkin.collector_endpoint_version = v
            if cfg.get("traceId128bit"):
                zipkin.trace_id_128bit = True
            if cfg.get("sharedSpanContext") is not None:
                zipkin.shared_span_context.value = bool(cfg["sharedSpanContext"])
            out.provider.CopyFrom(http_tracer_pb2.Tracing.Http(name=ZIPKIN_TRACER, typed_config=_any(zipkin)))
    hcm.tracing.CopyFrom(out)
    return []


# --- access logging (als plugin) ------------------------------------------------------------------


def _formatters() -> list[extension_pb2.TypedExtensionConfig]:
    # converter.go getFormatterExtensions (CUR): every file sink format carries these two.
    return [
        extension_pb2.TypedExtensionConfig(name="envoy.formatter.req_without_query",
                                           typed_config=_any(req_without_query_pb2.ReqWithoutQuery())),
        extension_pb2.TypedExtensionConfig(name="envoy.formatter.metadata", typed_config=_any(metadata_pb2.Metadata())),
    ]


def access_logs(als: Any, profile: Profile, where: str, problems: list[OptionProblem]) -> list[accesslog_pb2.AccessLog]:
    """Envoy access logs for an ``accessLoggingService`` (``ProcessAccessLogPlugins``): file sinks only.

    Args:
        als: The ``AccessLoggingService`` value.
        profile: ``1.3`` or ``current``.
        where: Its path, for messages.
        problems: Notes on what is not modelled are appended here.

    Returns:
        One ``envoy.access_loggers.file`` AccessLog per file sink, in order.
    """
    out: list[accesslog_pb2.AccessLog] = []
    if not isinstance(als, Mapping):
        problems.append(_unreadable(where, als, "an object"))
        return out
    for i, log in enumerate(als.get("accessLog") or ()):
        path = f"{where}.accessLog[{i}]"
        if not isinstance(log, Mapping):
            problems.append(_unreadable(path, log, "an object"))
            continue
        if "filter" in log:
            problems.append(_not_modelled(f"{path}.filter", "access log filters"))
        sink = log.get("fileSink")
        if sink is None:
            other = next((k for k in log if k != "filter"), "outputDestination")
            problems.append(_not_modelled(f"{path}.{other}", "access log sinks other than files"))
            continue
        cfg = file_pb2.FileAccessLog(path=str(sink.get("path", "")))
        if "stringFormat" in sink:
            text = str(sink["stringFormat"] or "")
            # CUR sets a format only for a non-empty string (Envoy's default format otherwise);
            # v1.3.20 set the v2 `format` string as given, and an empty one meant Envoy's default too.
            if text:
                cfg.log_format.text_format_source.inline_string = text
                if profile != "1.3":
                    cfg.log_format.formatters.extend(_formatters())
        elif "jsonFormat" in sink:
            fmt = sink["jsonFormat"]
            if isinstance(fmt, Mapping):
                s = struct_pb2.Struct()
                s.update(dict(fmt))
                cfg.log_format.json_format.CopyFrom(s)
                if profile != "1.3":
                    cfg.log_format.formatters.extend(_formatters())
        out.append(accesslog_pb2.AccessLog(name=FILE_ACCESS_LOG, typed_config=_any(cfg)))
    return out


# --- ListenerOptions on the Envoy listener (listener plugin) ------------------------------------------

_LISTENER_13 = frozenset({"accessLoggingService"})
_LISTENER_MODELLED = frozenset({"accessLoggingService", "perConnectionBufferLimitBytes", "socketOptions",
                                "connectionBalanceConfig", "proxyProtocol", "listenerAccessLoggingService"})
PROXY_PROTOCOL_FILTER = "envoy.filters.listener.proxy_protocol"
_SOCKET_STATES = ("STATE_PREBIND", "STATE_BOUND", "STATE_LISTENING")


def apply_listener_options(listener: listener_pb2.Listener, options: Mapping[str, Any],
                           profile: Profile, *, use_proxy_proto: bool | None = None) -> list[OptionProblem]:
    """Apply a Gateway's ``options`` (ListenerOptions) to its Envoy listener (listener plugin).

    ``accessLoggingService`` is not set here: the als plugin puts it on each HCM (or TCP proxy).

    Args:
        listener: The Envoy listener, changed in place.
        options: The Gateway's ``spec.options``.
        profile: ``1.3`` (ListenerOptions had only ``accessLoggingService`` and ``extensions``) or ``current``.
        use_proxy_proto: The Gateway's ``useProxyProto``.

    Returns:
        Gloo's errors and gloo_nb's notes.
    """
    problems: list[OptionProblem] = []
    for key in options:
        where = f"spec.options.{key}"
        if profile == "1.3" and key not in _LISTENER_13 and key != "extensions":
            problems.append(_not_in_13(where))
        elif key not in _LISTENER_MODELLED:
            problems.append(_not_modelled(where, f"listener option {key}"))
    problems += _proxy_protocol(listener, options if profile != "1.3" else {}, use_proxy_proto)
    if profile == "1.3":
        return problems
    limit = options.get("perConnectionBufferLimitBytes")
    if limit is not None and (n := _uint(limit, "spec.options.perConnectionBufferLimitBytes", problems)):
        listener.per_connection_buffer_limit_bytes.value = n
    sockets = options.get("socketOptions")
    if sockets is not None:
        for i, so in enumerate(sockets if isinstance(sockets, Sequence) else ()):
            where = f"spec.options.socketOptions[{i}]"
            if not isinstance(so, Mapping):
                problems.append(_unreadable(where, so, "an object"))
                continue
            out = listener.socket_options.add(description=str(so.get("description", "")),
                                              level=int(so.get("level", 0)), name=int(so.get("name", 0)))
            # translateSocketState: anything but BOUND or LISTENING is PREBIND.
            state = so.get("state")
            out.state = (_SOCKET_STATES.index(state) if state in _SOCKET_STATES
                         else state if state in (0, 1, 2) else socket_option_pb2.SocketOption.STATE_PREBIND)
            if "intValue" in so:
                out.int_value = int(so["intValue"])
            elif "bufValue" in so:
                out.buf_value = base64.b64decode(str(so["bufValue"]))
    listener_als = options.get("listenerAccessLoggingService")
    if listener_als is not None:
        # als/plugin.go ProcessListener: listener-level access logs, same conversion as the HCM's.
        listener.access_log.extend(access_logs(listener_als, profile, "spec.options.listenerAccessLoggingService",
                                               problems))
    balance = options.get("connectionBalanceConfig")
    if balance is not None:
        if isinstance(balance, Mapping) and balance.get("exactBalance") is not None:
            listener.connection_balance_config.exact_balance.SetInParent()
        else:
            problems.append(OptionProblem(
                "error", "Listener Error: ProcessingError. Reason: connection balancer does not specify balancer type",
                "spec.options.connectionBalanceConfig"))
    return problems


def _proxy_protocol(listener: listener_pb2.Listener, options: Mapping[str, Any],
                    use_proxy_proto: bool | None) -> list[OptionProblem]:
    # plugins/proxyprotocol/plugin.go: useProxyProto or options.proxyProtocol adds the proxy_protocol
    # listener filter (with proxyProtocol's TLV rules). v1.3.20 set Envoy v2's FilterChain.use_proxy_proto
    # instead; v3 dropped that field for this very listener filter, which gloo_nb emits for both profiles.
    pp = options.get("proxyProtocol")
    if not use_proxy_proto and pp is None:
        return []
    if isinstance(pp, Mapping) and pp.get("allowRequestsWithoutProxyProtocol"):
        # UsesEnterpriseOnlyFeatures: enterprise_warning.GetErrorForEnterpriseOnlyExtensions(["proxy_protocol"]).
        return [OptionProblem("error", "Listener Error: ProcessingError. Reason: Could not load configuration for "
                                       "the following Enterprise features: [proxy_protocol]",
                              "spec.options.proxyProtocol.allowRequestsWithoutProxyProtocol")]
    config = proxy_protocol_pb2.ProxyProtocol()
    for rule in (pp or {}).get("rules") or () if isinstance(pp, Mapping) else ():
        out = config.rules.add(tlv_type=int(rule.get("tlvType", 0)))
        present = rule.get("onTlvPresent")
        if isinstance(present, Mapping):
            out.on_tlv_present.metadata_namespace = str(present.get("metadataNamespace", ""))
            out.on_tlv_present.key = str(present.get("key", ""))
    listener.listener_filters.add(name=PROXY_PROTOCOL_FILTER).typed_config.Pack(config)
    return []


def apply_route_configuration_options(rc: route_pb2.RouteConfiguration, options: Mapping[str, Any],
                                      profile: Profile) -> list[OptionProblem]:
    """A Gateway's ``routeOptions`` on its RouteConfiguration (``route_config.go:ComputeRouteConfiguration``).

    Args:
        rc: The RouteConfiguration, changed in place.
        options: ``spec.routeOptions`` (RouteConfigurationOptions).
        profile: ``1.3`` had no ``routeOptions``.

    Returns:
        gloo_nb's notes.
    """
    problems: list[OptionProblem] = []
    if profile == "1.3":
        return [_not_in_13(f"spec.routeOptions.{key}") for key in options]
    for key in options:
        if key not in ("maxDirectResponseBodySizeBytes", "mostSpecificHeaderMutationsWins"):
            problems.append(_not_modelled(f"spec.routeOptions.{key}", "a route configuration option"))
    size = options.get("maxDirectResponseBodySizeBytes")
    if size is not None and (n := _uint(size, "spec.routeOptions.maxDirectResponseBodySizeBytes", problems)):
        rc.max_direct_response_body_size_bytes.value = n
    wins = options.get("mostSpecificHeaderMutationsWins")
    if wins is not None and (v := _bool(wins, "spec.routeOptions.mostSpecificHeaderMutationsWins", problems)):
        rc.most_specific_header_mutations_wins = v
    return problems
