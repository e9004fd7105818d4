"""Gloo's RouteOptions, VirtualHostOptions and WeightedDestinationOptions: field names, JSON shapes, profiles.

One home for two questions about an ``options`` block:

* which fields does Gloo have, and of which JSON shape (strict decoding, :mod:`gloo_nb.translate.unmodelled`);
* which of them does gloo_nb reproduce on Envoy (everything else is declared in ``Translation.unmodelled``).

Sources, transcribed field by field (names in protobuf JSON, i.e. lowerCamelCase, in proto field order):
current Gloo ``projects/gloo/api/v1/route_options.proto`` (``RouteOptions``, ``MaxStreamDuration``),
``virtual_host_options.proto`` (``VirtualHostOptions``), ``weighted_destination_options.proto``; Gloo
v1.3.20 ``projects/gloo/api/v1/options.proto`` (all three messages); nested messages from
``projects/gloo/api/v1/options/{retries,cors,headers,protocol_upgrade,shadowing,stats}/*.proto`` of both.
A field ``since="current"`` is absent from v1.3.20, so Gloo 1.3 refuses it as an unknown field.

**Declaring a modelled option** (for whoever maps another option to Envoy): add its key to
:data:`MODELLED_ROUTE_OPTIONS`, :data:`MODELLED_VIRTUAL_HOST_OPTIONS` or
:data:`MODELLED_WEIGHTED_DESTINATION_OPTIONS`, with the profiles in which gloo_nb models it. Every key not
listed there is reported as not modelled automatically, and ``docs/coverage.md`` follows
(``python -m gloo_nb.translate.coverage``). The route, virtual-host and weighted-destination registries are
built from :mod:`gloo_nb.translate.route_options`' tables. A part of a modelled key that gloo_nb leaves out goes
in :data:`UNMODELLED_NESTED`: it is then declared wherever a resource sets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gloo_nb._types import Profile
from gloo_nb.translate import route_options

__all__ = [
    "MODELLED_ROUTE_OPTIONS",
    "MODELLED_VIRTUAL_HOST_OPTIONS",
    "MODELLED_WEIGHTED_DESTINATION_OPTIONS",
    "ROUTE_OPTIONS",
    "UNMODELLED_NESTED",
    "VIRTUAL_HOST_OPTIONS",
    "WEIGHTED_DESTINATION_OPTIONS",
    "OptionField",
    "NestedGap",
    "OptionMessage",
    "feature_of",
    "is_modelled",
    "nested_gaps",
]

Shape = Literal["message", "string", "bool", "uint32", "float", "duration", "map", "any"]
"""The JSON shape of a field as Gloo's jsonpb reads it (wrappers read like their value; ``any``: not checked)."""


@dataclass(frozen=True, slots=True)
class OptionMessage:
    """A protobuf message of Gloo's options API.

    Attributes:
        proto: Its full protobuf name in current Gloo (golang/protobuf's jsonpb names it so in errors).
        go: Its Go type as Gloo 1.3's gogo jsonpb names it in errors (``v1.RouteOptions``).
        fields: Field JSON name -> field, in proto order. None: the message's fields are not catalogued
            (its content is not checked).
    """

    proto: str
    go: str
    fields: Mapping[str, OptionField] | None = None


@dataclass(frozen=True, slots=True)
class OptionField:
    """One field of an options message.

    Attributes:
        shape: Its JSON shape.
        repeated: A list of ``shape``.
        since: ``1.3`` when Gloo 1.3 has it too; ``current`` when only current Gloo has it.
        message: The message type of a ``message`` field (None: not catalogued).
        feature: A short name for the feature (top-level fields), for ``unmodelled`` entries.
    """

    shape: Shape
    repeated: bool = False
    since: Profile = "1.3"
    message: OptionMessage | None = None
    feature: str = ""


def _msg(shape_of: dict[str, OptionField] | None, proto: str, go: str) -> OptionMessage:
    return OptionMessage(proto, go, shape_of)


def _f(shape: Shape, *, repeated: bool = False, since: Profile = "1.3", message: OptionMessage | None = None,
       feature: str = "") -> OptionField:
    return OptionField(shape, repeated, since, message, feature)


def _opaque(proto: str, go: str) -> OptionMessage:
    return OptionMessage(proto, go, None)


# --- nested messages (options/*/*.proto) -----------------------------------------------------------

RETRY_BACK_OFF = _msg({"baseInterval": _f("duration"), "maxInterval": _f("duration")},
                      "retries.options.gloo.solo.io.RetryBackOff", "retries.RetryBackOff")
RETRY_POLICY = _msg({
    "retryOn": _f("string"),
    "numRetries": _f("uint32"),
    "perTryTimeout": _f("duration"),
    "retryBackOff": _f("message", since="current", message=RETRY_BACK_OFF),
    "previousPriorities": _f("message", since="current",
                             message=_opaque("retries.options.gloo.solo.io.RetryPolicy.PreviousPriorities",
                                             "retries.RetryPolicy_PreviousPriorities")),
    "retriableStatusCodes": _f("uint32", repeated=True, since="current"),
    "rateLimitedRetryBackOff": _f("message", since="current",
                                  message=_opaque("retries.options.gloo.solo.io.RateLimitedRetryBackOff",
                                                  "retries.RateLimitedRetryBackOff")),
}, "retries.options.gloo.solo.io.RetryPolicy", "retries.RetryPolicy")
CORS_POLICY = _msg({
    "allowOrigin": _f("string", repeated=True),
    "allowOriginRegex": _f("string", repeated=True),
    "allowMethods": _f("string", repeated=True),
    "allowHeaders": _f("string", repeated=True),
    "exposeHeaders": _f("string", repeated=True),
    "maxAge": _f("string"),
    "allowCredentials": _f("bool"),
    "disableForRoute": _f("bool"),
}, "cors.options.gloo.solo.io.CorsPolicy", "cors.CorsPolicy")
_HEADER_VALUE = _msg({"key": _f("string"), "value": _f("string")}, "headers.options.gloo.solo.io.HeaderValue",
                     "headers.HeaderValue")
# Request headers: solo-kit's core.HeaderValueOption in current (oneof header/headerSecretRef, then append;
# api/external/envoy/api/v2/core/base.proto, declaration order) and headers.HeaderValueOption in v1.3.20
# (options/headers/headers.proto: header, append). Response headers: headers.HeaderValueOption in both.
_HEADER_VALUE_OPTION = _msg({
    "header": _f("message", message=_msg({"key": _f("string"), "value": _f("string")},
                                         "solo.io.envoy.api.v2.core.HeaderValue", "headers.HeaderValue")),
    "headerSecretRef": _f("message", since="current", message=_msg({"name": _f("string"), "namespace": _f("string")},
                                                                   "core.solo.io.ResourceRef", "core.ResourceRef")),
    "append": _f("bool"),
}, "solo.io.envoy.api.v2.core.HeaderValueOption", "headers.HeaderValueOption")
_RESPONSE_HEADER_VALUE_OPTION = _msg({"header": _f("message", message=_HEADER_VALUE), "append": _f("bool")},
                                     "headers.options.gloo.solo.io.HeaderValueOption", "headers.HeaderValueOption")
HEADER_MANIPULATION = _msg({
    "requestHeadersToAdd": _f("message", repeated=True, message=_HEADER_VALUE_OPTION),
    "requestHeadersToRemove": _f("string", repeated=True),
    "responseHeadersToAdd": _f("message", repeated=True, message=_RESPONSE_HEADER_VALUE_OPTION),
    "responseHeadersToRemove": _f("string", repeated=True),
}, "headers.options.gloo.solo.io.HeaderManipulation", "headers.HeaderManipulation")
_UPGRADE_SPEC = _msg({"enabled": _f("bool")},
                     "protocol_upgrade.options.gloo.solo.io.ProtocolUpgradeConfig.ProtocolUpgradeSpec",
                     "protocol_upgrade.ProtocolUpgradeConfig_ProtocolUpgradeSpec")
# options/faultinjection/fault.proto (same fields in both profiles).
ROUTE_FAULTS = _msg({
    "abort": _f("message", message=_msg({"percentage": _f("float"), "httpStatus": _f("uint32")},
                                        "fault.options.gloo.solo.io.RouteAbort", "faultinjection.RouteAbort")),
    "delay": _f("message", message=_msg({"percentage": _f("float"), "fixedDelay": _f("duration")},
                                        "fault.options.gloo.solo.io.RouteDelay", "faultinjection.RouteDelay")),
}, "fault.options.gloo.solo.io.RouteFaults", "faultinjection.RouteFaults")
PROTOCOL_UPGRADE = _msg({
    "websocket": _f("message", message=_UPGRADE_SPEC),
    "connect": _f("message", since="current", message=_UPGRADE_SPEC),
    "connectTerminate": _f("message", since="current", message=_UPGRADE_SPEC),
}, "protocol_upgrade.options.gloo.solo.io.ProtocolUpgradeConfig", "protocol_upgrade.ProtocolUpgradeConfig")
ROUTE_SHADOWING = _msg({
    "upstream": _f("message", message=_msg({"name": _f("string"), "namespace": _f("string")},
                                          "core.solo.io.ResourceRef", "core.ResourceRef")),
    "percentage": _f("float"),
    "disableShadowHostSuffixAppend": _f("bool", since="current"),
    "hostRewriteLiteral": _f("string", since="current"),
}, "shadowing.options.gloo.solo.io.RouteShadowing", "shadowing.RouteShadowing")
STATS = _msg({"virtualClusters": _f("message", repeated=True,
                                    message=_opaque("stats.options.gloo.solo.io.VirtualCluster",
                                                    "stats.VirtualCluster"))},
             "stats.options.gloo.solo.io.Stats", "stats.Stats")
MAX_STREAM_DURATION = _msg({"maxStreamDuration": _f("duration"), "grpcTimeoutHeaderMax": _f("duration"),
                            "grpcTimeoutHeaderOffset": _f("duration")},
                           "gloo.solo.io.RouteOptions.MaxStreamDuration", "v1.RouteOptions_MaxStreamDuration")
# external/envoy/type/matcher/v3/regex.proto (current only: both fields using it are absent in v1.3.20).
REGEX_MATCH_AND_SUBSTITUTE = _msg({
    "pattern": _f("message", message=_msg({"googleRe2": _f("message", message=_opaque(
        "solo.io.envoy.type.matcher.v3.RegexMatcher.GoogleRE2", "v3.RegexMatcher_GoogleRE2")), "regex": _f("string")},
        "solo.io.envoy.type.matcher.v3.RegexMatcher", "v3.RegexMatcher")),
    "substitution": _f("string"),
}, "solo.io.envoy.type.matcher.v3.RegexMatchAndSubstitute", "v3.RegexMatchAndSubstitute")


def _ext(name: str, feature: str, *, since: Profile = "1.3") -> OptionField:
    # A Gloo-filter or Enterprise extension: its content is not catalogued (checked for being an object).
    return _f("message", since=since, message=_opaque(name, name.rsplit(".", 1)[-1]), feature=feature)


def _rate_limits(extension: str) -> dict[str, OptionField]:
    # The rate-limit fields of RouteOptions and VirtualHostOptions (Enterprise), alike but for the extension
    # message of the early/regular stages (RateLimitRouteExtension or RateLimitVhostExtension).
    limit = f"rate limiting ({_ENTERPRISE})"
    refs = "ratelimit.options.gloo.solo.io.RateLimitConfigRefs"
    ext = f"ratelimit.options.gloo.solo.io.{extension}"
    return {
        "ratelimitBasic": _ext("ratelimit.options.gloo.solo.io.IngressRateLimit", limit),
        "ratelimitEarly": _ext(ext, limit, since="current"),
        "rateLimitEarlyConfigs": _ext(refs, limit, since="current"),
        "ratelimit": _ext(ext, limit),
        "rateLimitConfigs": _ext(refs, limit, since="current"),
        "ratelimitRegular": _ext(ext, limit, since="current"),
        "rateLimitRegularConfigs": _ext(refs, limit, since="current"),
    }


_ENTERPRISE = "Gloo Enterprise"

ROUTE_OPTIONS = _msg({
    "transformations": _ext("transformation.options.gloo.solo.io.Transformations",
                            "transformations (Gloo's transformation filter)"),
    "faults": _f("message", message=ROUTE_FAULTS, feature="fault injection"),
    "prefixRewrite": _f("string", feature="prefix rewrite"),
    "timeout": _f("duration", feature="route timeout"),
    "retries": _f("message", message=RETRY_POLICY, feature="retries"),
    "extensions": _ext("gloo.solo.io.Extensions", "extensions (Gloo plugins by name)"),
    "tracing": _ext("tracing.options.gloo.solo.io.RouteTracingSettings", "route tracing"),
    "shadowing": _f("message", message=ROUTE_SHADOWING, feature="request shadowing"),
    "headerManipulation": _f("message", message=HEADER_MANIPULATION, feature="header manipulation"),
    "hostRewrite": _f("string", feature="host rewrite"),
    "autoHostRewrite": _f("bool", feature="auto host rewrite"),
    "hostRewritePathRegex": _f("message", since="current", message=REGEX_MATCH_AND_SUBSTITUTE,
                               feature="host rewrite from the path"),
    "hostRewriteHeader": _f("string", since="current", feature="host rewrite from a header"),
    "appendXForwardedHost": _f("bool", since="current", feature="append x-forwarded-host"),
    "cors": _f("message", message=CORS_POLICY, feature="CORS"),
    "lbHash": _ext("lbhash.options.gloo.solo.io.RouteActionHashConfig", "load-balancer hash policy"),
    "upgrades": _f("message", repeated=True, message=PROTOCOL_UPGRADE, feature="protocol upgrades"),
    **_rate_limits("RateLimitRouteExtension"),
    "waf": _ext("waf.options.gloo.solo.io.Settings", f"WAF ({_ENTERPRISE})"),
    "jwt": _ext("jwt.options.gloo.solo.io.RouteExtension", f"JWT ({_ENTERPRISE})"),
    "jwtStaged": _ext("jwt.options.gloo.solo.io.JwtStagedRouteExtension", f"JWT ({_ENTERPRISE})", since="current"),
    "jwtProvidersStaged": _ext("jwt.options.gloo.solo.io.JwtStagedRouteProvidersExtension",
                               f"JWT ({_ENTERPRISE})", since="current"),
    "rbac": _ext("rbac.options.gloo.solo.io.ExtensionSettings", f"RBAC ({_ENTERPRISE})"),
    "extauth": _ext("enterprise.gloo.solo.io.ExtAuthExtension", f"external auth ({_ENTERPRISE})"),
    "dlp": _ext("dlp.options.gloo.solo.io.Config", f"DLP ({_ENTERPRISE})"),
    "bufferPerRoute": _ext("solo.io.envoy.extensions.filters.http.buffer.v3.BufferPerRoute", "buffer filter",
                           since="current"),
    "csrf": _ext("solo.io.envoy.extensions.filters.http.csrf.v3.CsrfPolicy", "CSRF filter", since="current"),
    "stagedTransformations": _ext("transformation.options.gloo.solo.io.TransformationStages",
                                  "staged transformations (Gloo's transformation filter)", since="current"),
    "envoyMetadata": _f("map", since="current", feature="Envoy route metadata"),
    "regexRewrite": _f("message", since="current", message=REGEX_MATCH_AND_SUBSTITUTE, feature="regex rewrite"),
    "maxStreamDuration": _f("message", since="current", message=MAX_STREAM_DURATION, feature="max stream duration"),
    "idleTimeout": _f("duration", since="current", feature="route idle timeout"),
    "extProcEarly": _ext("extproc.options.gloo.solo.io.RouteSettings", f"ext_proc ({_ENTERPRISE})", since="current"),
    "extProc": _ext("extproc.options.gloo.solo.io.RouteSettings", f"ext_proc ({_ENTERPRISE})", since="current"),
    "extProcLate": _ext("extproc.options.gloo.solo.io.RouteSettings", f"ext_proc ({_ENTERPRISE})", since="current"),
    "ai": _ext("ai.options.gloo.solo.io.RouteSettings", f"AI gateway ({_ENTERPRISE})", since="current"),
}, "gloo.solo.io.RouteOptions", "v1.RouteOptions")
"""``RouteOptions`` (route ``options``, RouteOption ``spec.options``)."""

VIRTUAL_HOST_OPTIONS = _msg({
    "extensions": _ext("gloo.solo.io.Extensions", "extensions (Gloo plugins by name)"),
    "retries": _f("message", message=RETRY_POLICY, feature="retries"),
    "stats": _f("message", message=STATS, feature="virtual clusters (stats)"),
    "headerManipulation": _f("message", message=HEADER_MANIPULATION, feature="header manipulation"),
    "cors": _f("message", message=CORS_POLICY, feature="CORS"),
    "transformations": _ext("transformation.options.gloo.solo.io.Transformations",
                            "transformations (Gloo's transformation filter)"),
    **_rate_limits("RateLimitVhostExtension"),
    "waf": _ext("waf.options.gloo.solo.io.Settings", f"WAF ({_ENTERPRISE})"),
    "jwt": _ext("jwt.options.gloo.solo.io.VhostExtension", f"JWT ({_ENTERPRISE})"),
    "jwtStaged": _ext("jwt.options.gloo.solo.io.JwtStagedVhostExtension", f"JWT ({_ENTERPRISE})", since="current"),
    "rbac": _ext("rbac.options.gloo.solo.io.ExtensionSettings", f"RBAC ({_ENTERPRISE})"),
    "extauth": _ext("enterprise.gloo.solo.io.ExtAuthExtension", f"external auth ({_ENTERPRISE})"),
    "dlp": _ext("dlp.options.gloo.solo.io.Config", f"DLP ({_ENTERPRISE})"),
    "bufferPerRoute": _ext("solo.io.envoy.extensions.filters.http.buffer.v3.BufferPerRoute", "buffer filter",
                           since="current"),
    "csrf": _ext("solo.io.envoy.extensions.filters.http.csrf.v3.CsrfPolicy", "CSRF filter", since="current"),
    "includeRequestAttemptCount": _f("bool", since="current", feature="x-envoy-attempt-count on requests"),
    "includeAttemptCountInResponse": _f("bool", since="current", feature="x-envoy-attempt-count on responses"),
    "stagedTransformations": _ext("transformation.options.gloo.solo.io.TransformationStages",
                                  "staged transformations (Gloo's transformation filter)", since="current"),
    "extProcEarly": _ext("extproc.options.gloo.solo.io.RouteSettings", f"ext_proc ({_ENTERPRISE})", since="current"),
    "extProc": _ext("extproc.options.gloo.solo.io.RouteSettings", f"ext_proc ({_ENTERPRISE})", since="current"),
    "extProcLate": _ext("extproc.options.gloo.solo.io.RouteSettings", f"ext_proc ({_ENTERPRISE})", since="current"),
    "corsPolicyMergeSettings": _ext("cors.options.gloo.solo.io.CorsPolicyMergeSettings", "CORS policy merge settings",
                                    since="current"),
}, "gloo.solo.io.VirtualHostOptions", "v1.VirtualHostOptions")
"""``VirtualHostOptions`` (``virtualHost.options``, VirtualHostOption ``spec.options``)."""

WEIGHTED_DESTINATION_OPTIONS = _msg({
    "headerManipulation": _f("message", message=HEADER_MANIPULATION, feature="header manipulation"),
    "transformations": _ext("transformation.options.gloo.solo.io.Transformations",
                            "transformations (Gloo's transformation filter)"),
    "extensions": _ext("gloo.solo.io.Extensions", "extensions (Gloo plugins by name)"),
    "extauth": _ext("enterprise.gloo.solo.io.ExtAuthExtension", f"external auth ({_ENTERPRISE})"),
    "bufferPerRoute": _ext("solo.io.envoy.extensions.filters.http.buffer.v3.BufferPerRoute", "buffer filter",
                           since="current"),
    "csrf": _ext("solo.io.envoy.extensions.filters.http.csrf.v3.CsrfPolicy", "CSRF filter", since="current"),
    "stagedTransformations": _ext("transformation.options.gloo.solo.io.TransformationStages",
                                  "staged transformations (Gloo's transformation filter)", since="current"),
}, "gloo.solo.io.WeightedDestinationOptions", "v1.WeightedDestinationOptions")
"""``WeightedDestinationOptions`` (``multi.destinations[].options``)."""

_BOTH: frozenset[Profile] = frozenset({"1.3", "current"})

# The keys route_options.py reproduces on Envoy (its tables name the Gloo plugin of each); fields a
# profile's protos lack are refused by strict decoding before this registry is asked.
MODELLED_ROUTE_OPTIONS: dict[str, frozenset[Profile]] = dict.fromkeys(route_options.MODELLED_ROUTE_OPTIONS, _BOTH)
"""RouteOptions keys gloo_nb reproduces on Envoy, with the profiles it reproduces them in."""

MODELLED_VIRTUAL_HOST_OPTIONS: dict[str, frozenset[Profile]] = dict.fromkeys(route_options.MODELLED_VHOST_OPTIONS,
                                                                             _BOTH)
"""VirtualHostOptions keys gloo_nb reproduces on Envoy."""

MODELLED_WEIGHTED_DESTINATION_OPTIONS: dict[str, frozenset[Profile]] = dict.fromkeys(
    route_options.MODELLED_WEIGHTED_DESTINATION_OPTIONS, _BOTH)
"""WeightedDestinationOptions keys gloo_nb reproduces on Envoy."""



@dataclass(frozen=True, slots=True)
class NestedGap:
    """A part of a modelled options field that gloo_nb leaves out of Envoy: declared wherever it is set.

    Attributes:
        path: JSON names below the options block; ``[]`` steps into every item of a list.
        profiles: The profiles whose Gloo has the field (elsewhere strict decoding refuses it).
        feature: The feature's name for ``unmodelled`` entries.
        detail: What gloo_nb does instead.
    """

    path: tuple[str, ...]
    profiles: frozenset[Profile]
    feature: str
    detail: str


# headers/plugin.go via api_conversion.ToEnvoyHeaderValueOptions puts the Secret's key/value pairs into the route;
# gloo_nb checks the Secret exists and is a header secret (Gloo's errors) but never reads secret values into a
# prediction (route_options._header_value_options).
_HEADER_SECRET_GAP = NestedGap(("headerManipulation", "requestHeadersToAdd", "[]", "headerSecretRef"),
                               frozenset({"current"}), "request headers from a Secret (headerSecretRef)",
                               "gloo_nb does not put secret values into the predicted routes")

UNMODELLED_NESTED: dict[str, tuple[NestedGap, ...]] = {
    ROUTE_OPTIONS.proto: (_HEADER_SECRET_GAP,),
    VIRTUAL_HOST_OPTIONS.proto: (_HEADER_SECRET_GAP,),
    WEIGHTED_DESTINATION_OPTIONS.proto: (_HEADER_SECRET_GAP,),
}
"""Per options message (full proto name), the parts of modelled fields gloo_nb does not reproduce."""


def nested_gaps(message: OptionMessage, options: Mapping[str, Any],
                profile: Profile) -> list[tuple[str, NestedGap]]:
    """The :data:`UNMODELLED_NESTED` parts an options block sets, under modelled top-level fields.

    Args:
        message: The block's message.
        options: The block as written.
        profile: The behaviour profile.

    Returns:
        ``(path relative to the block, gap)`` per occurrence, list items by index
        (``headerManipulation.requestHeadersToAdd[0].headerSecretRef``).
    """
    out: list[tuple[str, NestedGap]] = []
    for gap in UNMODELLED_NESTED.get(message.proto, ()):
        if profile not in gap.profiles or not is_modelled(message, gap.path[0], profile):
            continue  # not modelled at all: the top-level key is declared instead
        level: list[tuple[str, Any]] = [("", options)]
        for step in gap.path:
            nxt: list[tuple[str, Any]] = []
            for at, value in level:
                if step == "[]":
                    if isinstance(value, list):
                        nxt += [(f"{at}[{i}]", v) for i, v in enumerate(value)]
                elif isinstance(value, Mapping) and value.get(step) is not None:
                    nxt.append((f"{at}.{step}" if at else step, value[step]))
            level = nxt
        out += [(at, gap) for at, _ in level]
    return out


_MODELLED: dict[str, dict[str, frozenset[Profile]]] = {
    ROUTE_OPTIONS.proto: MODELLED_ROUTE_OPTIONS,
    VIRTUAL_HOST_OPTIONS.proto: MODELLED_VIRTUAL_HOST_OPTIONS,
    WEIGHTED_DESTINATION_OPTIONS.proto: MODELLED_WEIGHTED_DESTINATION_OPTIONS,
}


def is_modelled(message: OptionMessage, key: str, profile: Profile) -> bool:
    """Whether gloo_nb reproduces one top-level options field on Envoy in a profile.

    Args:
        message: :data:`ROUTE_OPTIONS`, :data:`VIRTUAL_HOST_OPTIONS` or :data:`WEIGHTED_DESTINATION_OPTIONS`.
        key: The field's JSON name.
        profile: The behaviour profile.

    Returns:
        True when declared in the message's ``MODELLED_*`` registry for ``profile``.
    """
    return profile in _MODELLED.get(message.proto, {}).get(key, frozenset())


def feature_of(message: OptionMessage, key: str) -> str:
    """The feature name of a top-level options field (the key itself when not catalogued).

    Args:
        message: The options message.
        key: The field's JSON name.

    Returns:
        A short name for ``unmodelled`` entries.
    """
    f = (message.fields or {}).get(key)
    return f.feature if f is not None and f.feature else key

