"""Upstream options other than TLS -> Envoy cluster fields, and Gloo's per-Upstream errors.

Gloo builds one cluster per Upstream in ``projects/gloo/pkg/translator/clusters.go``
(``computeCluster``: ``initializeCluster`` then every upstream plugin, then ``validateCluster``)
and collects the errors of each step on the Upstream, in that order. This module reproduces the
steps that gloo_nb models, for both profiles (``1.3`` = v1.3.20, ``current`` = main):

* ``initializeCluster``: ``healthChecks`` (``createHealthCheckConfig`` + ``api_conversion/
  health_check.go:ToEnvoyHealthCheck``), ``outlierDetection``, ``preconnectPolicy`` and
  ``dnsRefreshRate`` (current; the latter a ``translator.Warning``), ``circuitBreakers``
  (``getCircuitBreakers``, with Settings' default), ``useHttp2`` (``getHttp2options``),
  ``protocolSelection``, ``ignoreHealthOnHostRemoval`` and ``respectDnsTtl`` (current);
* plugins, in ``plugins/registry/registry.go`` order: ``loadbalancer``, ``upstreamconn``, ``static``
  (host checks; current also endpoint host names), ``grpc``/``grpcjson`` (HTTP/2 for gRPC service
  specs), ``protocoloptions`` (current), ``kubernetes`` (current: the Service must exist;
  :func:`apply_upstream_options` checks it only when given the Services, and the translator does
  not pass them yet, since gloo_nb's inputs often leave Services out);
* ``validateCluster``: a STATIC cluster needs a load assignment; a DNS refresh rate needs a DNS cluster.

The kube plugin's service converters for in-memory ``kube-svc:`` upstreams are here too
(:func:`service_wants_http2`, :func:`service_upstream_config`). What gloo_nb does not reproduce is
returned as notes (field path + why) for the caller to list as findings, never dropped.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from envoy.config.cluster.v3 import circuit_breaker_pb2, cluster_pb2, outlier_detection_pb2
from envoy.config.core.v3 import base_pb2, health_check_pb2, protocol_pb2
from envoy.extensions.http.header_formatters.preserve_case.v3 import preserve_case_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from envoy.type.v3 import http_pb2
from google.protobuf import any_pb2, duration_pb2

from gloo_nb._types import Profile
from gloo_nb.errors import ParseError
from gloo_nb.models import Service, ServicePort, Upstream
from gloo_nb.models.codec import parse_object

HTTP_PROTOCOL_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
"""``typed_extension_protocol_options`` key the current protocoloptions plugin writes."""

H2_ANNOTATION = "gloo.solo.io/h2_service"
"""``serviceconverter/use_http2_annotation_converter.go:GlooH2Annotation``."""

_H2_PORT_PREFIXES = ("grpc", "h2", "http2")
_H2_APP_PROTOCOLS = frozenset({"http2", "grpc", "grpc-web", "kubernetes.io/h2c"})
_MIN_WINDOW, _MAX_WINDOW = 65535, 2147483647  # utils/httpprotocolvalidation
_MIN_STREAMS, _MAX_STREAMS = 1, 2147483647
_PRESERVE_CASE = "envoy.http.stateful_header_formatters.preserve_case"  # httpprotocolhelpers.PreserveCasePlugin
_DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")


@dataclass(slots=True)
class OptionProblems:
    """What converting one Upstream's options found.

    Attributes:
        errors: Gloo's own errors for the Upstream, exact texts, in Gloo's order.
        warnings: Gloo's ``translator.Warning`` problems (current): reported as warnings, the
            cluster is kept.
        notes: ``(field path, text)`` for values gloo_nb cannot convert; the caller lists them as
            findings.
        unmodelled: ``(field path, feature, detail)`` for features gloo_nb does not model; the caller
            declares them (``Translation.unmodelled``), never as problems.
    """

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    unmodelled: list[tuple[str, str, str]] = field(default_factory=list)


def service_wants_http2(service: Service, port: ServicePort, profile: Profile,
                        global_annotations: Mapping[str, str] | None = None) -> bool | None:
    """``useHttp2`` of the upstream Gloo derives from a Service port (``UseHttp2Converter``).

    ``plugins/kubernetes/serviceconverter/use_http2_annotation_converter.go``: the
    ``gloo.solo.io/h2_service`` annotation (``"true"``/``"false"``) wins; then (current only) an
    ``appProtocol`` of ``http2``, ``grpc``, ``grpc-web`` or ``kubernetes.io/h2c``; then a port name
    starting with ``grpc``, ``h2`` or ``http2``. In current, Settings'
    ``upstreamOptions.globalAnnotations`` stand in for a Service without the annotation.

    Args:
        service: The Service.
        port: One of its ports.
        profile: 1.3 knew no appProtocol rule nor global annotations and returned a plain false.
        global_annotations: Settings' ``upstreamOptions.globalAnnotations``.

    Returns:
        True/False, or None when current Gloo leaves the field unset.
    """
    value = service.meta.annotations.get(H2_ANNOTATION)
    if value == "true":
        return True
    if value == "false":
        return False
    value = (global_annotations or {}).get(H2_ANNOTATION) if profile != "1.3" else None
    if value == "true":
        return True
    if value == "false":
        return False
    if profile != "1.3" and port.app_protocol in _H2_APP_PROTOCOLS:
        return True
    if port.name.startswith(_H2_PORT_PREFIXES):
        return True
    return False if profile == "1.3" else None


UPSTREAM_CONFIG_ANNOTATION = "gloo.solo.io/upstream_config"
"""``serviceconverter/general_annotation_converter.go:GlooAnnotationPrefix`` (current)."""
DEEP_MERGE_ANNOTATION = "gloo.solo.io/upstream_config.deep_merge"

# Upstream spec field -> UpstreamOptions attribute, for the annotation merge.
_OPTION_FIELDS = {
    "protocolSelection": "protocol_selection", "initialStreamWindowSize": "initial_stream_window_size",
    "initialConnectionWindowSize": "initial_connection_window_size", "maxConcurrentStreams": "max_concurrent_streams",
    "overrideStreamErrorOnInvalidHttpMessage": "override_stream_error_on_invalid_http_message",
    "ignoreHealthOnHostRemoval": "ignore_health_on_host_removal", "circuitBreakers": "circuit_breakers",
    "connectionConfig": "connection_config", "loadBalancerConfig": "load_balancer_config",
    "healthChecks": "health_checks", "outlierDetection": "outlier_detection", "failover": "failover",
    "dnsRefreshRate": "dns_refresh_rate", "respectDnsTtl": "respect_dns_ttl", "preconnectPolicy": "preconnect_policy",
}


def _deep(src: Any, dst: Any) -> Any:
    # mergo.Merge(src, dst): src (the annotation) keeps what it sets; its unset fields come from dst.
    if isinstance(src, Mapping) and isinstance(dst, Mapping):
        return {**dst, **{k: _deep(v, dst.get(k)) for k, v in src.items()}}
    return src


def service_upstream_config(upstream: Upstream, service: Service,
                            global_annotations: Mapping[str, str] | None = None) -> tuple[Upstream, list[str]]:
    """Apply ``gloo.solo.io/upstream_config`` to a Service's in-memory upstream (current only).

    ``serviceconverter/general_annotation_converter.go``: Settings' ``upstreamOptions.globalAnnotations``
    first, then the Service's own annotations; the JSON is an Upstream spec whose set (non-zero)
    top-level fields replace the upstream's (``gloo.solo.io/upstream_config.deep_merge: "true"``
    merges nested fields instead). A value Gloo cannot unmarshal makes it log the error and leave the
    upstream as it was.

    Args:
        upstream: The in-memory upstream after the HTTP/2 converter.
        service: Its Service.
        global_annotations: Settings' ``upstreamOptions.globalAnnotations``.

    Returns:
        The upstream, and what went wrong (for findings on the Service).
    """
    problems: list[str] = []
    for source in (global_annotations or {}, service.meta.annotations):
        text = source.get(UPSTREAM_CONFIG_ANNOTATION)
        if text is None:
            continue
        deep = source.get(DEEP_MERGE_ANNOTATION) == "true"
        where = "Settings upstreamOptions.globalAnnotations" if source is not service.meta.annotations else \
            "annotation"
        try:
            spec = json.loads(text)
            if not isinstance(spec, dict):
                raise ValueError("not a JSON object")
            parsed = parse_object({"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
                                   "metadata": {"name": upstream.meta.name, "namespace": upstream.meta.namespace},
                                   "spec": spec})
        except (ValueError, ParseError) as err:
            problems.append(f"{where} {UPSTREAM_CONFIG_ANNOTATION}: {err}; Gloo logs \"failed to process service "
                            "options\" and ignores it")
            continue
        if parsed.findings:
            # solo-kit's UnmarshalMap refuses unknown fields: the whole annotation is ignored.
            problems.append(f"{where} {UPSTREAM_CONFIG_ANNOTATION}: "
                            + "; ".join(f.message for f in parsed.findings) + "; Gloo ignores the annotation")
            continue
        given = parsed.resource
        assert isinstance(given, Upstream)
        upstream = _merge(upstream, given, spec, deep, problems, where)
    return upstream, problems


def _merge(dst: Upstream, src: Upstream, spec: Mapping[str, Any], deep: bool, problems: list[str],
           where: str) -> Upstream:
    def unset(key: str) -> bool:
        value = spec.get(key)
        # shallowMergeUpstreams copies only non-zero fields: nil messages/wrappers, empty lists and
        # the zero enum (USE_CONFIGURED_PROTOCOL) are skipped.
        return value is None or value == [] or (key == "protocolSelection" and value in ("USE_CONFIGURED_PROTOCOL", 0))

    changes: dict[str, Any] = {}
    opts: dict[str, Any] = {}
    extra: list[str] = []
    for key in spec:
        if unset(key):
            continue
        if key in _OPTION_FIELDS:
            attr = _OPTION_FIELDS[key]
            new, old = getattr(src.options, attr), getattr(dst.options, attr)
            opts[attr] = _deep(new, old) if deep else new
        elif key == "useHttp2":
            changes["use_http2"] = src.use_http2
        elif key == "sslConfig":
            changes["ssl_config"] = _deep(src.ssl_config, dst.ssl_config) if deep else src.ssl_config
            changes["ssl_secret_ref"] = src.ssl_secret_ref
        elif key in ("discoveryMetadata", "metadata"):
            continue  # never copied (shallowMergeUpstreams skips Metadata and DiscoveryMetadata)
        else:
            # Not merged by gloo_nb for kube-svc upstreams: declared (options.unmodelled), never dropped.
            extra.append(key)
    if src.options.unmodelled or extra:
        opts["unmodelled"] = tuple(dict.fromkeys((*dst.options.unmodelled, *src.options.unmodelled, *extra)))
    if opts:
        changes["options"] = replace(dst.options, **opts)
    return replace(dst, **changes) if changes else dst


# --- value readers: protobuf JSON forms, with a note naming the field on bad input ---------


def _duration(value: Any, path: str, notes: list[tuple[str, str]]) -> duration_pb2.Duration | None:
    if value is None:
        return None
    d = duration_pb2.Duration()
    if isinstance(value, str) and _DURATION.match(value):
        d.FromJsonString(value)
        return d
    if isinstance(value, Mapping) and set(value) <= {"seconds", "nanos"}:
        try:
            d.seconds, d.nanos = int(value.get("seconds", 0)), int(value.get("nanos", 0))
            return d
        except (TypeError, ValueError):
            pass
    notes.append((path, f"expected a duration such as 1.5s, got {value!r}: the value is ignored"))
    return None


def _number(value: Any, path: str, notes: list[tuple[str, str]], *, integer: bool = True,
            low: float = 0, high: float = 2**32 - 1) -> Any:
    # Wrappers (UInt32Value, DoubleValue) may be written as {value: x}.
    if isinstance(value, Mapping) and set(value) <= {"value"}:
        value = value.get("value", 0)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            pass
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
        value = int(value) if ok else value
    if not ok or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        notes.append((path, f"expected {kind} in {low:g}..{high:g}, got {value!r}: the value is ignored"))
        return None
    return value


def _items(block: Mapping[str, Any], key: str, where: str, notes: list[tuple[str, str]]) -> list[Any]:
    value = block.get(key)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    notes.append((f"{where}.{key}", f"expected a list, got {value!r}: ignored"))
    return []


def _flag(value: Any) -> bool:
    if isinstance(value, Mapping):
        value = value.get("value", False)
    return value is True


# --- initializeCluster ------------------------------------------------------------------


def _health_checks(up: Upstream, profile: Profile, problems: OptionProblems) -> list[health_check_pb2.HealthCheck]:
    # clusters.go:createHealthCheckConfig: the first bad entry fails the whole list.
    out = []
    for i, hc in enumerate(up.options.health_checks):
        at = f"spec.healthChecks[{i}]"
        checker = next((k for k in ("httpHealthCheck", "tcpHealthCheck", "grpcHealthCheck", "customHealthCheck")
                        if hc.get(k) is not None), None)
        for name, missing in (("HealthyThreshold", hc.get("healthyThreshold") is None),
                              ("UnhealthyThreshold", hc.get("unhealthyThreshold") is None),
                              ("HealthChecker", checker is None)):
            if missing:
                problems.errors.append(f"The field HealthCheck[{i}].{name} cannot be nil")
                return []
        env = health_check_pb2.HealthCheck()
        notes = problems.notes
        for key, attr in (("timeout", "timeout"), ("interval", "interval"), ("initialJitter", "initial_jitter"),
                          ("intervalJitter", "interval_jitter"), ("noTrafficInterval", "no_traffic_interval"),
                          ("unhealthyInterval", "unhealthy_interval"),
                          ("unhealthyEdgeInterval", "unhealthy_edge_interval"),
                          ("healthyEdgeInterval", "healthy_edge_interval")):
            d = _duration(hc.get(key), f"{at}.{key}", notes)
            if d is not None:
                getattr(env, attr).CopyFrom(d)
        for key, attr in (("healthyThreshold", "healthy_threshold"), ("unhealthyThreshold", "unhealthy_threshold")):
            n = _number(hc.get(key), f"{at}.{key}", notes)
            if n is not None:
                getattr(env, attr).value = n
        pct = _number(hc.get("intervalJitterPercent"), f"{at}.intervalJitterPercent", notes)
        if pct:
            env.interval_jitter_percent = pct
        if hc.get("reuseConnection") is not None:
            env.reuse_connection.value = _flag(hc["reuseConnection"])
        if isinstance(hc.get("eventLogPath"), str):
            env.event_log_path = hc["eventLogPath"]
        env.always_log_health_check_failures = _flag(hc.get("alwaysLogHealthCheckFailures"))
        assert checker is not None  # the nil check above returned otherwise
        body = hc[checker] if isinstance(hc[checker], Mapping) else {}
        where = f"{at}.{checker}"
        if checker == "httpHealthCheck":
            if body.get("method") == "CONNECT" and profile != "1.3":
                problems.errors.append("method CONNECT is not allowed on http health checkers")
                return []
            http = env.http_health_check
            http.SetInParent()
            http.host = str(body.get("host", "") or "")
            http.path = str(body.get("path", "") or "")
            for h in _items(body, "requestHeadersToRemove", where, notes):
                http.request_headers_to_remove.append(str(h))
            for j, rng in enumerate(_items(body, "expectedStatuses", where, notes)):
                start = _number(rng.get("start"), f"{where}.expectedStatuses[{j}].start", notes, low=-(2**63),
                                high=2**63 - 1) if isinstance(rng, Mapping) else None
                end = _number(rng.get("end"), f"{where}.expectedStatuses[{j}].end", notes, low=-(2**63),
                              high=2**63 - 1) if isinstance(rng, Mapping) else None
                http.expected_statuses.add(start=start or 0, end=end or 0)
            method = body.get("method")
            if isinstance(method, str) and method in base_pb2.RequestMethod.keys():
                http.method = base_pb2.RequestMethod.Value(method)
            elif method is not None:
                notes.append((f"{where}.method", f"expected an HTTP method name, got {method!r}: ignored"))
            if _flag(body.get("useHttp2")):
                http.codec_client_type = http_pb2.CodecClientType.HTTP2
            if body.get("serviceName"):
                http.service_name_matcher.prefix = str(body["serviceName"])
            for j, opt in enumerate(_items(body, "requestHeadersToAdd", where, notes)):
                header = opt.get("header") if isinstance(opt, Mapping) else None
                if not isinstance(header, Mapping):
                    problems.unmodelled.append((f"{where}.requestHeadersToAdd[{j}]", "health check headerSecretRef",
                                                "only `header` entries are converted"))
                    continue
                added = http.request_headers_to_add.add()
                added.header.key = str(header.get("key", ""))
                added.header.value = str(header.get("value", ""))
                if opt.get("append") is not None:
                    added.append.value = _flag(opt["append"])
            if body.get("responseAssertions") is not None:
                problems.unmodelled.append((f"{where}.responseAssertions", "Gloo Enterprise's advanced_http checker",
                                            ""))
        elif checker == "tcpHealthCheck":
            tcp = env.tcp_health_check
            tcp.SetInParent()
            send = body.get("send")
            if isinstance(send, Mapping):
                _payload(send, tcp.send)
            for p in _items(body, "receive", where, notes):
                if isinstance(p, Mapping):
                    _payload(p, tcp.receive.add())
        elif checker == "grpcHealthCheck":
            grpc = env.grpc_health_check
            grpc.SetInParent()
            grpc.service_name = str(body.get("serviceName", "") or "")
            grpc.authority = str(body.get("authority", "") or "")
        else:
            problems.unmodelled.append((where, "custom health checkers (Gloo's advanced_http, Gloo Enterprise)",
                                        "the health check is sent without a checker"))
            continue
        out.append(env)
    return out


def _payload(value: Mapping[str, Any], out: health_check_pb2.HealthCheck.Payload) -> None:
    if value.get("text") is not None:
        out.text = str(value["text"])
    elif value.get("binary") is not None:
        out.binary = base64.b64decode(str(value["binary"]))


_OUTLIER_DURATIONS = {"interval": "interval", "baseEjectionTime": "base_ejection_time"}
_OUTLIER_NUMBERS = {
    "consecutive5xx": "consecutive_5xx", "maxEjectionPercent": "max_ejection_percent",
    "enforcingConsecutive5xx": "enforcing_consecutive_5xx", "enforcingSuccessRate": "enforcing_success_rate",
    "successRateMinimumHosts": "success_rate_minimum_hosts",
    "successRateRequestVolume": "success_rate_request_volume",
    "successRateStdevFactor": "success_rate_stdev_factor",
    "consecutiveGatewayFailure": "consecutive_gateway_failure",
    "enforcingConsecutiveGatewayFailure": "enforcing_consecutive_gateway_failure",
    "consecutiveLocalOriginFailure": "consecutive_local_origin_failure",
    "enforcingConsecutiveLocalOriginFailure": "enforcing_consecutive_local_origin_failure",
    "enforcingLocalOriginSuccessRate": "enforcing_local_origin_success_rate",
}


def _outlier_detection(up: Upstream, profile: Profile,
                       problems: OptionProblems) -> outlier_detection_pb2.OutlierDetection | None:
    od = up.options.outlier_detection
    if od is None:
        return None
    if od.get("interval") is None:
        # clusters.go:createOutlierDetectionConfig; v1.3.20 named the field without `.Interval`.
        problems.errors.append("The field OutlierDetection.HealthChecker cannot be nil" if profile == "1.3"
                               else "The field OutlierDetection.HealthChecker.Interval cannot be nil")
        return None
    out = outlier_detection_pb2.OutlierDetection()
    for key, attr in _OUTLIER_DURATIONS.items():
        d = _duration(od.get(key), f"spec.outlierDetection.{key}", problems.notes)
        if d is not None:
            getattr(out, attr).CopyFrom(d)
    for key, attr in _OUTLIER_NUMBERS.items():
        n = _number(od.get(key), f"spec.outlierDetection.{key}", problems.notes)
        if n is not None:
            getattr(out, attr).value = n
    out.split_external_local_origin_errors = _flag(od.get("splitExternalLocalOriginErrors"))
    return out


def _circuit_breakers(up: Upstream, problems: OptionProblems,
                      default: Mapping[str, Any] | None) -> circuit_breaker_pb2.CircuitBreakers | None:
    # clusters.go:getCircuitBreakers: the Upstream's, else Settings' gloo.circuitBreakers (both
    # profiles). trackRemaining is not copied.
    cb = up.options.circuit_breakers
    where = "spec.circuitBreakers"
    if cb is None:
        cb, where = default, "Settings spec.gloo.circuitBreakers"
    if cb is None:
        return None
    out = circuit_breaker_pb2.CircuitBreakers()
    th = out.thresholds.add()
    for key, attr in (("maxConnections", "max_connections"), ("maxPendingRequests", "max_pending_requests"),
                      ("maxRequests", "max_requests"), ("maxRetries", "max_retries")):
        n = _number(cb.get(key), f"{where}.{key}", problems.notes)
        if n is not None:
            getattr(th, attr).value = n
    return out


# --- plugins ----------------------------------------------------------------------------


def _load_balancer(up: Upstream, cluster: cluster_pb2.Cluster, profile: Profile, problems: OptionProblems) -> None:
    # plugins/loadbalancer/plugin.go:ProcessUpstream
    cfg = up.options.load_balancer_config
    if cfg is None:
        return
    notes = problems.notes
    at = "spec.loadBalancerConfig"
    panic = _number(cfg.get("healthyPanicThreshold"), f"{at}.healthyPanicThreshold", notes, integer=False, high=100)
    window = _duration(cfg.get("updateMergeWindow"), f"{at}.updateMergeWindow", notes)
    current = profile != "1.3"
    locality = current and cfg.get("localityWeightedLbConfig") is not None
    close = current and _flag(cfg.get("closeConnectionsOnHostSetChange"))
    if panic is not None or window is not None or locality or close:
        common = cluster.common_lb_config
        common.SetInParent()
        if panic is not None:
            common.healthy_panic_threshold.value = panic
        if window is not None:
            common.update_merge_window.CopyFrom(window)
        if locality:
            common.locality_weighted_lb_config.SetInParent()
        common.close_connections_on_host_set_change = close
    kind = next((k for k in ("roundRobin", "leastRequest", "random", "ringHash", "maglev")
                 if cfg.get(k) is not None), None)
    body = cfg.get(kind) if kind else None
    body = body if isinstance(body, Mapping) else {}
    if kind == "roundRobin":
        cluster.lb_policy = cluster_pb2.Cluster.ROUND_ROBIN
    elif kind == "leastRequest":
        cluster.lb_policy = cluster_pb2.Cluster.LEAST_REQUEST
        count = _number(body.get("choiceCount"), f"{at}.leastRequest.choiceCount", notes)
        if count:
            cluster.least_request_lb_config.choice_count.value = count
    elif kind == "random":
        cluster.lb_policy = cluster_pb2.Cluster.RANDOM
    elif kind == "ringHash":
        cluster.lb_policy = cluster_pb2.Cluster.RING_HASH
        ring = cluster.ring_hash_lb_config
        ring.SetInParent()
        rc = body.get("ringHashConfig")
        rc = rc if isinstance(rc, Mapping) else {}
        for key, attr in (("minimumRingSize", "minimum_ring_size"), ("maximumRingSize", "maximum_ring_size")):
            n = _number(rc.get(key), f"{at}.ringHash.ringHashConfig.{key}", notes, high=2**64 - 1)
            if n:
                getattr(ring, attr).value = n
    elif kind == "maglev":
        cluster.lb_policy = cluster_pb2.Cluster.MAGLEV
    if kind in ("roundRobin", "leastRequest") and body.get("slowStartConfig") is not None:
        problems.unmodelled.append((f"{at}.{kind}.slowStartConfig", "slowStartConfig", ""))
    if current and _flag(cfg.get("useHostnameForHashing")):
        cluster.common_lb_config.consistent_hashing_lb_config.use_hostname_for_hashing = True


def _upstream_conn(up: Upstream, cluster: cluster_pb2.Cluster, profile: Profile, problems: OptionProblems) -> None:
    # plugins/upstreamconn/plugin.go:ProcessUpstream (v1.3.20 had only the first three fields).
    cfg = up.options.connection_config
    if cfg is None:
        return
    notes = problems.notes
    at = "spec.connectionConfig"
    n = _number(cfg.get("maxRequestsPerConnection"), f"{at}.maxRequestsPerConnection", notes)
    if n:
        cluster.max_requests_per_connection.value = n
    d = _duration(cfg.get("connectTimeout"), f"{at}.connectTimeout", notes)
    if d is not None:
        cluster.connect_timeout.CopyFrom(d)
    ka = cfg.get("tcpKeepalive")
    if isinstance(ka, Mapping):
        tcp = cluster.upstream_connection_options.tcp_keepalive
        tcp.SetInParent()
        probes = _number(ka.get("keepaliveProbes"), f"{at}.tcpKeepalive.keepaliveProbes", notes)
        if probes:
            tcp.keepalive_probes.value = probes
        for key, attr in (("keepaliveInterval", "keepalive_interval"), ("keepaliveTime", "keepalive_time")):
            kd = _duration(ka.get(key), f"{at}.tcpKeepalive.{key}", notes)
            if kd is not None:
                # roundToSecond: math.Round(seconds + 0.4999), i.e. rounded up.
                getattr(tcp, attr).value = int(math.floor(kd.ToTimedelta().total_seconds() + 0.4999 + 0.5))
    if profile == "1.3":
        for key in ("perConnectionBufferLimitBytes", "commonHttpProtocolOptions", "http1ProtocolOptions"):
            if cfg.get(key) is not None:
                notes.append((f"{at}.{key}", "Gloo 1.3 has no such field: ignored"))
        return
    limit = _number(cfg.get("perConnectionBufferLimitBytes"), f"{at}.perConnectionBufferLimitBytes", notes)
    if limit is not None:
        cluster.per_connection_buffer_limit_bytes.value = limit
    common = cfg.get("commonHttpProtocolOptions")
    if isinstance(common, Mapping):
        out = cluster.common_http_protocol_options
        out.SetInParent()
        for key, attr in (("idleTimeout", "idle_timeout"), ("maxStreamDuration", "max_stream_duration")):
            cd = _duration(common.get(key), f"{at}.commonHttpProtocolOptions.{key}", notes)
            if cd is not None:
                getattr(out, attr).CopyFrom(cd)
        headers = _number(common.get("maxHeadersCount"), f"{at}.commonHttpProtocolOptions.maxHeadersCount", notes)
        if headers:
            out.max_headers_count.value = headers
        action = common.get("headersWithUnderscoresAction", "ALLOW")
        names = {"ALLOW": 0, "REJECT_REQUEST": 1, "DROP_HEADER": 2}
        if isinstance(action, str) and action in names:
            out.headers_with_underscores_action = names[action]
        elif isinstance(action, int) and not isinstance(action, bool) and action in (0, 1, 2):
            out.headers_with_underscores_action = action
        elif isinstance(action, int) and not isinstance(action, bool):
            # Only an unknown enum number reaches the plugin; %v prints the number.
            problems.errors.append(f"invalid HeadersWithUnderscoresAction {action} in CommonHttpProtocolOptions")
        else:
            notes.append((f"{at}.commonHttpProtocolOptions.headersWithUnderscoresAction",
                          f"expected ALLOW, REJECT_REQUEST or DROP_HEADER, got {action!r}: Gloo cannot read it"))
    h1 = cfg.get("http1ProtocolOptions")
    if isinstance(h1, Mapping):
        cluster.http_protocol_options.CopyFrom(http1_options(h1))


def http1_options(h1: Mapping[str, Any]) -> protocol_pb2.Http1ProtocolOptions:
    """``httpprotocolhelpers.ConvertHttp1``: Gloo's Http1ProtocolOptions -> Envoy's.

    Args:
        h1: ``connectionConfig.http1ProtocolOptions`` as written.

    Returns:
        The Envoy message.
    """
    out = protocol_pb2.Http1ProtocolOptions(enable_trailers=_flag(h1.get("enableTrailers")))
    if h1.get("overrideStreamErrorOnInvalidHttpMessage") is not None:
        out.override_stream_error_on_invalid_http_message.value = _flag(h1["overrideStreamErrorOnInvalidHttpMessage"])
    if _flag(h1.get("properCaseHeaderKeyFormat")):
        out.header_key_format.proper_case_words.SetInParent()
    elif _flag(h1.get("preserveCaseHeaderKeyFormat")):
        fmt = out.header_key_format.stateful_formatter
        fmt.name = _PRESERVE_CASE
        fmt.typed_config.Pack(preserve_case_pb2.PreserveCaseFormatterConfig())
    return out


def _service_spec(up: Upstream, cluster: cluster_pb2.Cluster, profile: Profile, problems: OptionProblems) -> None:
    # plugins/grpc/plugin.go (both profiles): a grpc serviceSpec marks the upstream as gRPC, so the
    # cluster speaks HTTP/2; its services drive Gloo's REST-to-gRPC transcoding (transformation
    # filter, envoy-gloo only). plugins/grpcjson (current): a grpcJsonTranscoder with a descriptor set
    # also makes the cluster HTTP/2 and adds Envoy's gRPC-JSON transcoder filter to the listener.
    spec = up.options.service_spec
    if not spec:
        return
    kind = "spec." + (up.upstream_type or "kube") + ".serviceSpec"
    if "grpc" in spec:
        cluster.http2_protocol_options.SetInParent()
        grpc = spec.get("grpc")
        if isinstance(grpc, Mapping) and grpc.get("grpcServices"):
            problems.unmodelled.append((f"{kind}.grpc", "gRPC transcoding (serviceSpec.grpc)",
                                        "Gloo's transformation filter, envoy-gloo only"))
    elif "grpcJsonTranscoder" in spec and profile == "1.3":
        problems.notes.append((f"{kind}.grpcJsonTranscoder", "Gloo 1.3 has no such field: ignored"))
    elif "grpcJsonTranscoder" in spec:
        body = spec.get("grpcJsonTranscoder")
        if isinstance(body, Mapping) and (body.get("protoDescriptor") or body.get("protoDescriptorBin")
                                          or body.get("protoDescriptorConfigMap")):
            cluster.http2_protocol_options.SetInParent()
        problems.unmodelled.append((f"{kind}.grpcJsonTranscoder",
                                    "gRPC-JSON transcoder (serviceSpec.grpcJsonTranscoder)",
                                    "the filter Gloo adds for this upstream"))
    elif "rest" in spec:
        problems.unmodelled.append((f"{kind}.rest", "REST function routing (serviceSpec.rest)",
                                    "Gloo's transformation filter"))


def _static_hosts(up: Upstream, problems: OptionProblems) -> bool:
    # plugins/static/plugin.go:ProcessUpstream returns at the first bad host (addr checked first);
    # returns whether a load assignment was started before that (validateCluster needs one).
    if up.static is None:
        return True
    started = False
    for host in up.static.hosts:
        if not host.addr:
            problems.errors.append("addr cannot be empty for host")
            return started
        if not host.port:
            problems.errors.append("port cannot be empty for host")
            return started
        started = True
    return started


def _window(value: int | None, what: str, problems: OptionProblems, low: int, high: int) -> bool:
    if value is not None and not low <= value <= high:
        problems.errors.append(f"Invalid {what}: {value}")
        return False
    return True


def _protocol_options(up: Upstream, cluster: cluster_pb2.Cluster, problems: OptionProblems) -> None:
    # plugins/protocoloptions/plugin.go:ProcessUpstream (current only).
    opts = up.options
    if not up.use_http2:
        return
    h1 = (opts.connection_config or {}).get("http1ProtocolOptions")
    downstream = opts.protocol_selection == "USE_DOWNSTREAM_PROTOCOL"
    if not downstream and h1 is not None:
        problems.errors.append("Both HTTP1 and HTTP2 options may only be configured with non-default "
                               "'Upstream_USE_DOWNSTREAM_PROTOCOL' specified for Protocol Selection")
        return
    if not (_window(opts.initial_stream_window_size, "Initial Stream Window Size", problems, _MIN_WINDOW,
                    _MAX_WINDOW)
            and _window(opts.initial_connection_window_size, "Initial Connection Window Size", problems,
                        _MIN_WINDOW, _MAX_WINDOW)
            and _window(opts.max_concurrent_streams, "Max Concurrent Streams Size", problems, _MIN_STREAMS,
                        _MAX_STREAMS)):
        return
    h2 = protocol_pb2.Http2ProtocolOptions()
    if opts.initial_stream_window_size is not None:
        h2.initial_stream_window_size.value = opts.initial_stream_window_size
    if opts.initial_connection_window_size is not None:
        h2.initial_connection_window_size.value = opts.initial_connection_window_size
    if opts.max_concurrent_streams is not None:
        h2.max_concurrent_streams.value = opts.max_concurrent_streams
    if opts.override_stream_error_on_invalid_http_message is not None:
        h2.override_stream_error_on_invalid_http_message.value = opts.override_stream_error_on_invalid_http_message
    hpo = http_protocol_options_pb2.HttpProtocolOptions()
    if downstream:
        cfg = hpo.use_downstream_protocol_config
        cfg.http_protocol_options.CopyFrom(http1_options(h1) if isinstance(h1, Mapping)
                                           else protocol_pb2.Http1ProtocolOptions())
        cfg.http2_protocol_options.CopyFrom(h2)
    else:
        hpo.explicit_http_config.http2_protocol_options.CopyFrom(h2)
    packed = any_pb2.Any()
    packed.Pack(hpo)
    cluster.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS_KEY].CopyFrom(packed)


def _kube_service(up: Upstream, services: Sequence[Service] | None, problems: OptionProblems) -> None:
    # plugins/kubernetes/plugin.go:ProcessUpstream (current): the Service must exist. The ref is
    # printed with the protobuf text String() of core.ResourceRef (name:"..." namespace:"...").
    kube = up.kube
    if kube is None or services is None or up.meta.name.startswith("kube-svc:"):
        return
    if any((s.meta.namespace, s.meta.name) == (kube.service_namespace, kube.service_name) for s in services):
        return
    problems.errors.append(
        f'Upstream name:"{up.meta.name}" namespace:"{up.meta.namespace}" references the service '
        f"'{kube.service_name}' which does not exist in namespace '{kube.service_namespace}'")


def _go_float(value: float) -> str:
    # Go's %v for a float64: shortest representation, no trailing ".0".
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _preconnect(up: Upstream, cluster: cluster_pb2.Cluster, problems: OptionProblems) -> None:
    # clusters.go:getPreconnectPolicy (current). Its second message prints the per-upstream ratio
    # (0 when unset), not the predictive one: Gloo's own slip, copied.
    policy = up.options.preconnect_policy
    if policy is None:
        return
    at = "spec.preconnectPolicy"
    per = _number(policy.get("perUpstreamPreconnectRatio"), f"{at}.perUpstreamPreconnectRatio", problems.notes,
                  integer=False, low=-math.inf, high=math.inf)
    pred = _number(policy.get("predictivePreconnectRatio"), f"{at}.predictivePreconnectRatio", problems.notes,
                   integer=False, low=-math.inf, high=math.inf)
    bad = []
    if per is not None and not 1 <= per <= 3:
        bad.append(f"perupstream must be between 1 and 3 if set, it was: {_go_float(per)}")
    if pred is not None and not 1 <= pred <= 3:
        bad.append(f"predictive must be between 1 and 3 if set, it was: {_go_float(per or 0)}")
    if bad:
        problems.errors.append("invalid preconnect policy: " + "; ".join(bad))
        return
    if per is not None:
        cluster.preconnect_policy.per_upstream_preconnect_ratio.value = per
    if pred is not None:
        cluster.preconnect_policy.predictive_preconnect_ratio.value = pred
    cluster.preconnect_policy.SetInParent()


def _dns_refresh_rate(up: Upstream, cluster: cluster_pb2.Cluster, problems: OptionProblems) -> bool:
    # clusters.go:getDnsRefreshRate (current): below 1ms is a translator.Warning (the cluster is
    # kept, without the rate). %s of the minimum prints the Duration message's protobuf text.
    rate = _duration(up.options.dns_refresh_rate, "spec.dnsRefreshRate", problems.notes)
    if rate is None:
        return False
    if rate.ToNanoseconds() < 1_000_000:
        problems.warnings.append("dnsRefreshRate was set below minimum requirement (nanos:1000000), "
                                 "ignoring configuration")
        return False
    cluster.dns_refresh_rate.CopyFrom(rate)
    return True


def _cluster_type(up: Upstream) -> str:
    # The type plugins leave on the cluster: static -> STATIC, STRICT_DNS with a host name
    # (net.ParseIP fails); kube (and gloo_nb's fallback for other types) -> EDS.
    if up.static is not None:
        return "STRICT_DNS" if any(not _is_ip(h.addr) for h in up.static.hosts) else "STATIC"
    return "EDS"


def _is_ip(addr: str) -> bool:
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        return False
    return True


def _static_endpoint_details(up: Upstream, cluster: cluster_pb2.Cluster) -> None:
    # plugins/static/plugin.go (current): each endpoint carries the host as `hostname` and a
    # health_check_config whose hostname is the first health check's HTTP host, else the address.
    # (v1.3.20 set neither.) The transport-socket-match metadata is TLS's business.
    if up.static is None or not cluster.load_assignment.endpoints:
        return
    first = up.options.health_checks[0] if up.options.health_checks else {}
    http = first.get("httpHealthCheck") if isinstance(first, Mapping) else None
    hc_host = http.get("host") if isinstance(http, Mapping) else None
    endpoints = cluster.load_assignment.endpoints[0].lb_endpoints
    for host, ep in zip(up.static.hosts, endpoints, strict=False):
        ep.endpoint.hostname = host.addr
        ep.endpoint.health_check_config.hostname = hc_host if isinstance(hc_host, str) and hc_host else host.addr


# --- entry points -----------------------------------------------------------------------


def apply_upstream_options(cluster: cluster_pb2.Cluster, upstream: Upstream, profile: Profile,
                           services: Sequence[Service] | None = None, *,
                           default_circuit_breakers: Mapping[str, Any] | None = None) -> OptionProblems:
    """Set the cluster fields Gloo derives from an Upstream's options, and collect its errors.

    Args:
        cluster: The cluster :func:`~gloo_nb.translate.envoy.build_cluster` made (type, endpoints,
            subsets); changed in place.
        upstream: The Upstream.
        profile: ``1.3`` (v1.3.20) or ``current``.
        services: The snapshot's Services; None skips the kube Service check.
        default_circuit_breakers: Settings' ``gloo.circuitBreakers``.

    Returns:
        Gloo's errors for the Upstream (exact texts, Gloo's order) and gloo_nb's notes.
    """
    problems = OptionProblems()
    opts = upstream.options
    current = profile != "1.3"
    # initializeCluster
    checks = _health_checks(upstream, profile, problems)
    if checks:
        cluster.health_checks.extend(checks)
    outlier = _outlier_detection(upstream, profile, problems)
    if outlier is not None:
        cluster.outlier_detection.CopyFrom(outlier)
    dns_rate = False
    if current:
        _preconnect(upstream, cluster, problems)
        dns_rate = _dns_refresh_rate(upstream, cluster, problems)
        if opts.respect_dns_ttl:
            cluster.respect_dns_ttl = True
    breakers = _circuit_breakers(upstream, problems, default_circuit_breakers)
    if breakers is not None:
        cluster.circuit_breakers.CopyFrom(breakers)
    if upstream.use_http2:
        # getHttp2options: both profiles set the (deprecated) cluster field.
        cluster.http2_protocol_options.SetInParent()
    if current:
        if opts.protocol_selection == "USE_DOWNSTREAM_PROTOCOL":
            cluster.protocol_selection = cluster_pb2.Cluster.USE_DOWNSTREAM_PROTOCOL
        cluster.ignore_health_on_host_removal = bool(opts.ignore_health_on_host_removal)
    else:
        for name, value in (("protocolSelection", opts.protocol_selection),
                            ("ignoreHealthOnHostRemoval", opts.ignore_health_on_host_removal),
                            ("initialStreamWindowSize", opts.initial_stream_window_size),
                            ("initialConnectionWindowSize", opts.initial_connection_window_size),
                            ("maxConcurrentStreams", opts.max_concurrent_streams),
                            ("dnsRefreshRate", opts.dns_refresh_rate), ("respectDnsTtl", opts.respect_dns_ttl),
                            ("preconnectPolicy", opts.preconnect_policy)):
            if value is not None:
                problems.notes.append((f"spec.{name}", "Gloo 1.3 has no such field: ignored"))
    # plugins, in registry order
    _load_balancer(upstream, cluster, profile, problems)
    _upstream_conn(upstream, cluster, profile, problems)
    started = _static_hosts(upstream, problems)
    if current:
        _protocol_options(upstream, cluster, problems)
        _kube_service(upstream, services, problems)
    _service_spec(upstream, cluster, profile, problems)
    if current and started:
        _static_endpoint_details(upstream, cluster)
    for name in opts.unmodelled:
        problems.unmodelled.append((f"spec.{name}", name, ""))
    if upstream.upstream_type not in ("", "kube", "static"):
        problems.unmodelled.append((f"spec.{upstream.upstream_type}", f"{upstream.upstream_type} upstreams",
                                    "gloo_nb gives them an EDS cluster without endpoints"))
    if opts.failover is not None:
        problems.unmodelled.append(("spec.failover", "failover",
                                    "a Gloo Enterprise feature (open-source Gloo has no failover plugin)"))
    # validateCluster
    kind = _cluster_type(upstream)
    if upstream.static is not None and not started:
        # The static plugin set STATIC before it stopped. v1.3.20 also printed the whole cluster
        # (`...plugins: %v`) before the cause, which gloo_nb does not reproduce: both profiles get
        # current's text.
        problems.errors.append("cluster was configured improperly by one or more plugins: "
                               "cluster type STATIC specified but LoadAssignment was empty")
    elif dns_rate and kind not in ("STRICT_DNS", "LOGICAL_DNS"):
        problems.errors.append("cluster was configured improperly by one or more plugins: DnsRefreshRate is only "
                               f"valid with STRICT_DNS or LOGICAL_DNS cluster type, found {kind}")
    return problems
