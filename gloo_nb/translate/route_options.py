"""Route and virtual-host options on Envoy routes, as Gloo's route and virtual-host plugins write them.

The plugins: basicroute, headers, cors, faultinjection, shadowing, metadata, stats and virtualhost.

A route's ``options`` (RouteOptions) and a virtual host's ``options`` (VirtualHostOptions) are kept raw
by the codec (protobuf JSON, lowerCamel). This module writes the part gloo_nb models onto the Envoy
messages exactly as Gloo's plugins write it, and returns Gloo's plugin errors (with Gloo's texts) and the
values it cannot read; it never drops an option silently. The keys it models are listed in
:data:`MODELLED_ROUTE_OPTIONS` and :data:`MODELLED_VHOST_OPTIONS` (feature name and Gloo source per key), from
which ``option_catalogue``'s registries are built: every other key, and the parts of modelled keys this module
leaves out (``option_catalogue.UNMODELLED_NESTED``: secret header values), is declared through the typed
``unmodelled`` channel by ``translate/unmodelled.py``, and fields a profile's Gloo lacks are reported once, by
strict decoding there.

Sources (CUR at 8d57572e, and v1.3.20 for the ``1.3`` profile):

* ``projects/gloo/pkg/plugins/basicroute/plugin.go`` (``ProcessRoute``, ``ProcessVirtualHost``,
  ``convertPolicy``, ``applyHostRewrite``, ``applyUpgrades``);
* ``projects/gloo/pkg/plugins/headers/plugin.go`` (``convertHeaderConfig``) and
  ``pkg/utils/api_conversion/type.go`` (``ToEnvoyHeaderValueOptions``, ``CheckForbiddenCustomHeaders``);
* ``projects/gloo/pkg/plugins/cors/plugin.go`` (``translateCommonUserCorsConfig``, ``mergeCors``,
  ``getCorsResponseHeadersFromPolicy``, ``HttpFilters``);
* ``projects/gloo/pkg/plugins/faultinjection/plugin.go`` (``toEnvoyAbort``, ``toEnvoyDelay``) and
  ``pluginutils/per_filter_config.go`` (``MarkPerFilterConfig``);
* ``projects/gloo/pkg/plugins/shadowing/plugin.go`` (``applyShadowSpec``);
* ``projects/gloo/pkg/plugins/metadata/plugin.go``, ``stats/stats.go``, ``virtualhost/plugin.go``;
* the order of the plugins: ``projects/gloo/pkg/plugins/registry/registry.go`` (faultinjection, basicroute,
  cors, stats, shadowing, headers, virtualhost, metadata);
* how a plugin error is reported: ``projects/gloo/pkg/translator/reporting.go``
  (``reportRoutePluginProcessingError``: ``"%T: %v"``; ``reportVirtualHostPluginProcessingError``:
  ``invalid virtual host [<name>] while processing plugin <name>: <err>``), ``route_config.go`` at v1.3.20
  (``invalid virtual host [<name>]: <err>``; route plugins run only for route actions, and the headers
  plugin also for direct responses).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.extensions.filters.common.fault.v3 import fault_pb2 as common_fault_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from envoy.extensions.retry.priority.previous_priorities.v3 import previous_priorities_config_pb2
from envoy.type.matcher.v3 import regex_pb2
from envoy.type.v3 import percent_pb2
from google.protobuf import any_pb2, struct_pb2

from gloo_nb._types import Profile
from gloo_nb.errors import BadDataError

__all__ = [
    "CORS_FILTER",
    "FAULT_FILTER",
    "MODELLED_ROUTE_OPTIONS",
    "MODELLED_VHOST_OPTIONS",
    "MODELLED_WEIGHTED_DESTINATION_OPTIONS",
    "OptionIssue",
    "apply_route_options",
    "apply_vhost_options",
    "apply_weighted_destination_options",
    "envoy_header_rejections",
    "envoy_route_rejections",
    "envoy_vhost_rejections",
    "parse_go_duration",
    "shallow_merge_options",
]

CORS_FILTER = "envoy.filters.http.cors"  # wellknown.CORS
FAULT_FILTER = "envoy.filters.http.fault"  # wellknown.Fault
PREVIOUS_PRIORITIES = "envoy.retry_priorities.previous_priorities"  # basicroute.PreviousPrioritiesExtensionName
_CORS_RUNTIME_KEY = "gloo.routeplugin.cors"  # cors/plugin.go runtimeKey

# The option keys gloo_nb models: key -> (feature, Gloo source). A key absent here is not modelled.
MODELLED_ROUTE_OPTIONS: Mapping[str, tuple[str, str]] = {
    "headerManipulation": ("header manipulation", "plugins/headers/plugin.go"),
    "retries": ("retries", "plugins/basicroute/plugin.go convertPolicy"),
    "cors": ("CORS", "plugins/cors/plugin.go"),
    "timeout": ("route timeout", "plugins/basicroute/plugin.go applyTimeout"),
    "idleTimeout": ("route idle timeout", "plugins/basicroute/plugin.go applyIdleTimeout"),
    "maxStreamDuration": ("max stream duration", "plugins/basicroute/plugin.go applyMaxStreamDuration"),
    "prefixRewrite": ("prefix rewrite", "plugins/basicroute/plugin.go applyPrefixRewrite"),
    "regexRewrite": ("regex rewrite", "plugins/basicroute/plugin.go applyRegexRewrite"),
    "hostRewrite": ("host rewrite", "plugins/basicroute/plugin.go applyHostRewrite"),
    "autoHostRewrite": ("auto host rewrite", "plugins/basicroute/plugin.go applyHostRewrite"),
    "hostRewriteHeader": ("host rewrite from a header", "plugins/basicroute/plugin.go applyHostRewrite"),
    "hostRewritePathRegex": ("host rewrite from the path", "plugins/basicroute/plugin.go applyHostRewrite"),
    "appendXForwardedHost": ("x-forwarded-host on host rewrite", "plugins/basicroute/plugin.go applyHostRewrite"),
    "upgrades": ("protocol upgrades", "plugins/basicroute/plugin.go applyUpgrades"),
    "faults": ("fault injection", "plugins/faultinjection/plugin.go"),
    "shadowing": ("request mirroring", "plugins/shadowing/plugin.go"),
    "envoyMetadata": ("route metadata", "plugins/metadata/plugin.go"),
}
MODELLED_VHOST_OPTIONS: Mapping[str, tuple[str, str]] = {
    "headerManipulation": ("header manipulation", "plugins/headers/plugin.go"),
    "cors": ("CORS", "plugins/cors/plugin.go"),
    "corsPolicyMergeSettings": ("CORS merge settings", "plugins/cors/plugin.go mergeCors"),
    "retries": ("retries", "plugins/basicroute/plugin.go applyRetriesVhost"),
    "includeRequestAttemptCount": ("x-envoy-attempt-count", "plugins/virtualhost/plugin.go"),
    "includeAttemptCountInResponse": ("x-envoy-attempt-count in responses", "plugins/virtualhost/plugin.go"),
    "stats": ("virtual clusters", "plugins/stats/stats.go"),
}

MODELLED_WEIGHTED_DESTINATION_OPTIONS: Mapping[str, tuple[str, str]] = {
    "headerManipulation": ("header manipulation", "plugins/headers/plugin.go ProcessWeightedDestination"),
}



# Fields the v1.3.20 protos do not have (options.proto, retries.proto, protocol_upgrade.proto; option_catalogue's
# ``since="current"``): the 1.3 profile leaves them out of Envoy. Gloo 1.3 cannot read a resource that sets one,
# which strict decoding reports (translate/unmodelled.py: ``unknown field "<key>" in v1.RouteOptions``): that one
# message is the report, so this module adds no note of its own (one message per problem).

# %T of each plugin in "%T: %v" (reporting.go / route_config.go at v1.3.20): the struct was renamed to
# the unexported ``plugin`` after 1.3 except in cors, which was already ``plugin``.
_PLUGIN_TYPES: dict[Profile, dict[str, str]] = {
    "1.3": {"faultinjection": "*faultinjection.Plugin", "basicroute": "*basicroute.Plugin",
            "cors": "*cors.plugin", "shadowing": "*shadowing.Plugin", "headers": "*headers.Plugin"},
    "current": {"faultinjection": "*faultinjection.plugin", "basicroute": "*basicroute.plugin",
                "cors": "*cors.plugin", "shadowing": "*shadowing.plugin", "headers": "*headers.plugin"},
}
# plugin.Name() of the virtual-host plugins (CUR reportVirtualHostPluginProcessingError).
_VHOST_PLUGIN_NAMES = {"basicroute": "basic_route", "cors": "cors", "stats": "stat", "headers": "headers"}

_HEADER_KEY = re.compile(r"^([a-zA-Z0-9!#$%&'*+.^_`|~-])+$")  # headers/validate.go validHeaderNameRegex
_REQUEST_METHODS = ("CONNECT", "DELETE", "GET", "HEAD", "METHOD_UNSPECIFIED", "OPTIONS", "PATCH", "POST", "PUT",
                    "TRACE")  # envoy core RequestMethod names, sorted as validMethodNames() sorts them


@dataclass(frozen=True, slots=True)
class OptionIssue:
    """A Gloo plugin error, or gloo_nb's note about an option it cannot reproduce.

    Attributes:
        kind: ``error`` for Gloo's own report (a route or virtual-host ProcessingError with Gloo's text);
            ``note`` for a gloo_nb remark (none today: what gloo_nb does not model goes through the
            ``unmodelled`` channel, what a profile lacks through strict decoding); ``unreadable`` for a value
            Gloo's protobuf decoding refuses (gloo_nb leaves the option out).
        message: For an error, the reason exactly as Gloo reports it (the caller adds the level and
            route name); for a note, the whole line.
        field: The option's path, e.g. ``options.retries.retryBackOff``.
    """

    kind: Literal["error", "note", "unreadable"]
    message: str
    field: str


class _Unreadable(BadDataError):
    """A value Gloo's protobuf decoding would refuse; the option is skipped (an ``unreadable`` issue)."""


def _any(msg: Any) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(msg)
    return out


_GO_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000}  # Go's time/format.go unitMap
_GO_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration``: the nanoseconds of ``1.5s``, ``100ms``, ``1h30m``, ``-2s``, ``0``.

    Gloo reads a ``google.protobuf.Duration`` from its resources with jsonpb, which parses the string with
    ``time.ParseDuration`` (golang/protobuf ``jsonpb/decode.go``, gogo's at v1.3.20), so Go's grammar and
    Go's int64 range decide what Gloo can read, not protobuf JSON's ``<seconds>s``.

    Args:
        text: The duration text.

    Returns:
        Nanoseconds (negative for a leading ``-``).

    Raises:
        ValueError: With Go's error text (``time: invalid duration "x"``, ``time: missing unit in duration
            "x"``, ``time: unknown unit "u" in duration "x"``); an int64 overflow is an invalid duration.
    """
    quoted = '"' + text + '"'
    s = text
    neg = s[:1] == "-"
    if s[:1] in ("-", "+"):
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0
    while s:
        m = _GO_DURATION_PART.match(s)
        whole, frac, unit = (m.group(1), m.group(2), m.group(3)) if m else ("", None, "")
        if not whole and not frac:
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _GO_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration {quoted}')
        scale = _GO_UNITS[unit]
        value = int(whole or "0") * scale
        if frac:
            # leadingFraction + float64(f) * (float64(unit) / scale), truncated toward zero
            value += int(int(frac[:18]) * (scale / 10 ** len(frac[:18])))
        total += value
        if total > 2**63 - (0 if neg else 1):
            raise ValueError(f"time: invalid duration {quoted}")
        s = s[m.end():] if m else ""
    return -total if neg else total


def _nanos(value: Any, field: str) -> int:
    if not isinstance(value, str):
        raise _Unreadable(f"{field} {value!r} is not a duration string")
    try:
        return parse_go_duration(value)
    except ValueError as exc:
        raise _Unreadable(f"{field} {value!r}: bad Duration: {exc}") from None


def _set_duration(target: Any, value: Any, field: str) -> None:
    target.FromNanoseconds(_nanos(value, field))


def _str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _Unreadable(f"{field} {value!r} is not a string")
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _Unreadable(f"{field} {value!r} is not a boolean")
    return value


def _uint(value: Any, field: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise _Unreadable(f"{field} {value!r} is not a uint32")
    return value


def _float(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Unreadable(f"{field} {value!r} is not a number")
    return float(value)


def _map(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Unreadable(f"{field} {value!r} is not an object")
    return value


def _list(value: Any, field: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise _Unreadable(f"{field} {value!r} is not a list")
    return value


def _percent(value: float) -> percent_pb2.FractionalPercent:
    # internal/common/conversions.go ToEnvoyPercentage: uint32(percentage * 10000) per MILLION; the float32
    # product truncates toward zero.
    # A negative or huge percentage: Go's float->uint32 conversion wraps on amd64 (the low 32 bits of the int64).
    return percent_pb2.FractionalPercent(numerator=int(value * 10000) & 0xFFFFFFFF,
                                         denominator=percent_pb2.FractionalPercent.MILLION)


def _regex(value: str, max_program_size: int | None) -> regex_pb2.RegexMatcher:
    # regexutils.NewRegexWithProgramSize: the google_re2 engine is Envoy's default and its field is deprecated,
    # so it is set only to carry max_program_size (as gloo_nb.translate.envoy._regex does).
    out = regex_pb2.RegexMatcher(regex=value)
    if max_program_size is not None:
        getattr(out, "google_re2").max_program_size.value = max_program_size  # noqa: B009
    return out


def _regex_rewrite(value: Any, field: str, max_program_size: int | None) -> regex_pb2.RegexMatchAndSubstitute:
    # regexutils.ConvertRegexMatchAndSubstitute: pattern.regex and substitution are copied; the regex is not
    # compiled here (Gloo's CUR does not check it either: NewRegex, not NewCheckedRegex).
    spec = _map(value, field)
    pattern = _map(spec.get("pattern") or {}, f"{field}.pattern")
    if pattern.get("googleRe2") is not None:
        # pkg/utils/regexutils/regex.go ConvertRegexMatchAndSubstitute: the pattern's own googleRe2.maxProgramSize
        # wins when the settings have none or a larger one.
        own = _map(pattern["googleRe2"], f"{field}.pattern.googleRe2").get("maxProgramSize")
        if own is not None:
            size = _uint(own, f"{field}.pattern.googleRe2.maxProgramSize")
            if max_program_size is None or size < max_program_size:
                max_program_size = size
    out = regex_pb2.RegexMatchAndSubstitute(substitution=_str(spec.get("substitution", ""), f"{field}.substitution"))
    out.pattern.CopyFrom(_regex(_str(pattern.get("regex", ""), f"{field}.pattern.regex"), max_program_size))
    return out


# --- headers ----------------------------------------------------------------------------------------


SecretLookup = Callable[[str, str], Literal["header", "other", "missing", "unknown"]]
"""``(namespace, name) ->`` what Gloo's secret list holds under that name: a Header secret, another kind, nothing,
or ``unknown`` (gloo_nb may not read Secrets)."""


def _header_value_options(items: Any, field: str, profile: Profile, response: bool,
                          notes: list[OptionIssue],
                          secret_lookup: SecretLookup | None = None) -> list[base_pb2.HeaderValueOption]:
    """``ToEnvoyHeaderValueOptionList`` (request) / ``convertResponseHeaderValueOption`` (response).

    Raises:
        _GlooError: With Gloo's text when the headers plugin refuses a header.
    """
    out: list[base_pb2.HeaderValueOption] = []
    for i, raw in enumerate(_list(items, field)):
        where = f"{field}[{i}]"
        item = _map(raw, where)
        append = base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD
        if item.get("append") is not None and not _bool(item["append"], f"{where}.append"):
            # CUR: append=false -> OVERWRITE_IF_EXISTS_OR_ADD. 1.3 copied the BoolValue into v2's ``append``
            # (default true), which is the same behaviour written with v3's append_action.
            append = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
        header = item.get("header")
        if header is None:
            if not response and item.get("headerSecretRef") is not None:
                if profile == "1.3":
                    # v1.3.20's headers.HeaderValueOption has no headerSecretRef: Gloo 1.3 cannot read the resource
                    # (strict decoding's unknown-field error, translate/unmodelled.py); left out like any
                    # option Gloo cannot read, without a second message.
                    continue
                ref = _map(item["headerSecretRef"], f"{where}.headerSecretRef")
                ns, name = str(ref.get("namespace", "")), str(ref.get("name", ""))
                kind = secret_lookup(ns, name) if secret_lookup is not None else "unknown"
                # api_conversion.ToEnvoyHeaderValueOptions: secrets.Find's error, then the kind check.
                if kind == "missing":
                    raise _GlooError(f"list did not find secret {ns}.{name}")
                if kind == "other":
                    raise _GlooError(f"Secret {ns}.{name} was not a Header secret")
                # Secret values are never read into a prediction: by reference only. The field is declared not
                # modelled through the unmodelled channel (option_catalogue.UNMODELLED_NESTED), not here.
                continue
            if response or profile == "1.3":
                raise _GlooError("header section of header value option cannot be nil")
            raise _GlooError("Unexpected header option type <nil>")
        h = _map(header, f"{where}.header")
        key = _str(h.get("key", ""), f"{where}.header.key")
        value = _str(h.get("value", ""), f"{where}.header.value")
        if profile != "1.3":
            if response:
                if key.startswith(":"):
                    raise _GlooError(f":-prefixed headers cannot be set: '{key}'")
                if key.lower() == "host":
                    raise _GlooError("cannot set Host header in response headers")
            else:
                # api_conversion.validateCustomHeaders
                if key.startswith(":") or key.lower() == "host":
                    raise _GlooError(f": -prefixed or host headers may not be modified. Received '{key}' header")
                if not key:
                    raise _GlooError("empty HTTP header names are not allowed")
                if not _HEADER_KEY.match(key):
                    raise _GlooError(f"'{key}' is an invalid HTTP header key")
        out.append(base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=key, value=value), append_action=append))
    return out


class _GlooError(BadDataError):
    """Gloo's plugin error text."""


def _headers(hm: Mapping[str, Any], field: str, profile: Profile, out: Any, notes: list[OptionIssue],
             secret_lookup: SecretLookup | None = None) -> None:
    # headers/plugin.go convertHeaderConfig; the four fields are assigned (replacing what cors may have added
    # to a direct response: headers runs after cors).
    request_add = _header_value_options(hm.get("requestHeadersToAdd") or [], f"{field}.requestHeadersToAdd",
                                        profile, False, notes, secret_lookup)
    response_add = _header_value_options(hm.get("responseHeadersToAdd") or [], f"{field}.responseHeadersToAdd",
                                         profile, True, notes)
    request_remove = [_str(v, f"{field}.requestHeadersToRemove") for v in
                      _list(hm.get("requestHeadersToRemove") or [], f"{field}.requestHeadersToRemove")]
    response_remove = [_str(v, f"{field}.responseHeadersToRemove") for v in
                       _list(hm.get("responseHeadersToRemove") or [], f"{field}.responseHeadersToRemove")]
    for name, values in (("request_headers_to_add", request_add), ("response_headers_to_add", response_add),
                         ("request_headers_to_remove", request_remove),
                         ("response_headers_to_remove", response_remove)):
        target = getattr(out, name)
        del target[:]
        target.extend(values)


# --- retries ------------------------------------------------------------------------------------------


def _retry_policy(policy: Mapping[str, Any], field: str, profile: Profile,
                  notes: list[OptionIssue]) -> rc_pb2.RetryPolicy:
    # basicroute convertPolicy (CUR) / convertPolicy at v1.3.20 (retryOn, numRetries, perTryTimeout only).
    out = rc_pb2.RetryPolicy(retry_on=_str(policy.get("retryOn", ""), f"{field}.retryOn"))
    num = _uint(policy.get("numRetries", 0), f"{field}.numRetries")
    out.num_retries.value = num or 1  # "numRetries == 0 -> 1"
    if policy.get("perTryTimeout") is not None:
        _set_duration(out.per_try_timeout, policy["perTryTimeout"], f"{field}.perTryTimeout")
    if profile == "1.3":
        # v1.3.20's RetryPolicy ends here; its other keys are strict decoding's unknown fields.
        return out
    out.retriable_status_codes.extend(_uint(c, f"{field}.retriableStatusCodes") for c in
                                      _list(policy.get("retriableStatusCodes") or [], f"{field}.retriableStatusCodes"))
    prev = policy.get("previousPriorities")
    if prev is not None:
        prev = _map(prev, f"{field}.previousPriorities")
        freq = prev.get("updateFrequency")
        cfg = previous_priorities_config_pb2.PreviousPrioritiesConfig(
            update_frequency=_uint(freq, f"{field}.previousPriorities.updateFrequency") if freq is not None else 1)
        out.retry_priority.name = PREVIOUS_PRIORITIES
        out.retry_priority.typed_config.CopyFrom(_any(cfg))
    rl = policy.get("rateLimitedRetryBackOff")
    if rl is not None:
        rl = _map(rl, f"{field}.rateLimitedRetryBackOff")
        rlb = out.rate_limited_retry_back_off
        rlb.SetInParent()
        if rl.get("maxInterval") is not None:
            _set_duration(rlb.max_interval, rl["maxInterval"], f"{field}.rateLimitedRetryBackOff.maxInterval")
        for j, rh in enumerate(_list(rl.get("resetHeaders") or [], f"{field}.rateLimitedRetryBackOff.resetHeaders")):
            rh = _map(rh, f"{field}.rateLimitedRetryBackOff.resetHeaders[{j}]")
            # convertResetHeaderFormat: anything but UNIX_TIMESTAMP is SECONDS.
            unix = rh.get("format") == "UNIX_TIMESTAMP"
            fmt = rc_pb2.RetryPolicy.UNIX_TIMESTAMP if unix else rc_pb2.RetryPolicy.SECONDS
            name = _str(rh.get("name", ""), f"{field}.rateLimitedRetryBackOff.resetHeaders[{j}].name")
            rlb.reset_headers.add(name=name, format=fmt)
    backoff = policy.get("retryBackOff")
    if backoff is not None:
        backoff = _map(backoff, f"{field}.retryBackOff")
        base = backoff.get("baseInterval")
        mx = backoff.get("maxInterval")
        base_ns = _nanos(base, f"{field}.retryBackOff.baseInterval") if base is not None else None
        max_ns = _nanos(mx, f"{field}.retryBackOff.maxInterval") if mx is not None else None
        base_ms = None if base_ns is None else int(base_ns / 1_000_000)  # Duration.Milliseconds truncates
        max_ms = None if max_ns is None else int(max_ns / 1_000_000)
        if base_ms is not None and max_ms is not None and base_ms > max_ms:
            raise _GlooError(f"base interval: {base_ms} is > max interval: {max_ms}")
        if max_ns is not None and base_ns is None:
            raise _GlooError("max interval was defined, but the base interval was not")
        rb = out.retry_back_off
        rb.SetInParent()
        if base_ns is not None:
            if base_ms is not None and base_ms <= 0:
                raise _GlooError(f"base interval for retry backoff was <= than 0 | you provided: {base_ms}")
            rb.base_interval.FromNanoseconds(base_ns)
        if max_ns is not None:
            if max_ms is not None and max_ms <= 0:
                raise _GlooError(f"max interval for retry backoff was <= than 0 | you provided: {max_ms}")
            rb.max_interval.FromNanoseconds(max_ns)
    return out



# --- cors ---------------------------------------------------------------------------------------------


def _cors_policy(c: Mapping[str, Any], field: str, max_program_size: int | None) -> cors_pb2.CorsPolicy:
    # cors/plugin.go translateCommonUserCorsConfig.
    origins = [_str(v, f"{field}.allowOrigin") for v in _list(c.get("allowOrigin") or [], f"{field}.allowOrigin")]
    regexes = [_str(v, f"{field}.allowOriginRegex")
               for v in _list(c.get("allowOriginRegex") or [], f"{field}.allowOriginRegex")]
    if not origins and not regexes:
        raise _GlooError("must provide at least one of AllowOrigin or AllowOriginRegex")
    out = cors_pb2.CorsPolicy()
    for o in origins:
        out.allow_origin_string_match.add(exact=o)
    for r in regexes:
        # NewCheckedRegex compiles with Go's regexp (RE2 syntax).
        problem = _go_regexp_error(r)
        if problem:
            raise _GlooError(problem)
        out.allow_origin_string_match.add().safe_regex.CopyFrom(_regex(r, max_program_size))
    for key, attr in (("allowMethods", "allow_methods"), ("allowHeaders", "allow_headers"),
                      ("exposeHeaders", "expose_headers")):
        setattr(out, attr, ",".join(_str(v, f"{field}.{key}") for v in _list(c.get(key) or [], f"{field}.{key}")))
    out.max_age = _str(c.get("maxAge", ""), f"{field}.maxAge")
    if c.get("allowCredentials") is not None and _bool(c["allowCredentials"], f"{field}.allowCredentials"):
        out.allow_credentials.value = True
    return out


def _merge_cors(settings: Mapping[str, Any], vh: Mapping[str, Any], route: Mapping[str, Any]) -> Mapping[str, Any]:
    # cors/plugin.go mergeCors: the route's policy, with exposeHeaders unioned (deduplicated, vhost first)
    # when the merge setting is UNION and both set them.
    out = dict(route)
    if vh.get("exposeHeaders") and route.get("exposeHeaders") and settings.get("exposeHeaders") == "UNION":
        seen: list[Any] = []
        for h in [*vh["exposeHeaders"], *route["exposeHeaders"]]:
            if h not in seen:
                seen.append(h)
        out["exposeHeaders"] = seen
    return out


def _cors_direct_response_headers(c: Mapping[str, Any]) -> list[base_pb2.HeaderValueOption]:
    # cors/plugin.go getCorsResponseHeadersFromPolicy: Go ranges over a map to build the origin list, so the
    # order of several origins is random in Gloo; gloo_nb keeps the written order (deduplicated).
    origins: list[str] = []
    for o in [*(c.get("allowOrigin") or []), *(c.get("allowOriginRegex") or [])]:
        if o not in origins:
            origins.append(str(o))
    pairs = [("Access-Control-Allow-Origin", ",".join(origins)),
             ("Access-Control-Allow-Methods", ",".join(map(str, c.get("allowMethods") or []))),
             ("Access-Control-Allow-Headers", ",".join(map(str, c.get("allowHeaders") or []))),
             ("Access-Control-Expose-Headers", ",".join(map(str, c.get("exposeHeaders") or []))),
             ("Access-Control-Max-Age", str(c.get("maxAge") or "")),
             ("Access-Control-Allow-Credentials", "true" if c.get("allowCredentials") is True else "false")]
    return [base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=k, value=v)) for k, v in pairs]


# --- faults and shadowing -------------------------------------------------------------------------------


def _fault(faults: Mapping[str, Any], field: str, profile: Profile) -> fault_pb2.HTTPFault | None:
    # faultinjection toEnvoyAbort / toEnvoyDelay (CUR validates; 1.3 copied the values unchecked).
    abort, delay = faults.get("abort"), faults.get("delay")
    out = fault_pb2.HTTPFault()
    if abort is not None:
        abort = _map(abort, f"{field}.abort")
        status = _uint(abort.get("httpStatus", 0), f"{field}.abort.httpStatus")
        if profile != "1.3" and not 200 <= status < 600:
            raise _GlooError(f"invalid abort status code '{status}', must be in range of [200,600)")
        out.abort.percentage.CopyFrom(_percent(_float(abort.get("percentage", 0), f"{field}.abort.percentage")))
        out.abort.http_status = status
    if delay is not None:
        delay = _map(delay, f"{field}.delay")
        fixed = delay.get("fixedDelay")
        nanos = _nanos(fixed, f"{field}.delay.fixedDelay") if fixed is not None else 0
        if profile != "1.3" and nanos < 1_000_000_000:
            # GetFixedDelay().GetSeconds() <= 0; Go prints the Duration message with %v.
            shown = "<nil>" if fixed is None else _go_duration(nanos)
            raise _GlooError(f"invalid delay duration '{shown}', must be greater than 0")
        d = common_fault_pb2.FaultDelay()
        d.percentage.CopyFrom(_percent(_float(delay.get("percentage", 0), f"{field}.delay.percentage")))
        if fixed is not None:
            d.fixed_delay.FromNanoseconds(nanos)
        out.delay.CopyFrom(d)
    if abort is None and delay is None:
        return None
    return out


def _go_duration(nanos: int) -> str:
    # %v of a *durationpb.Duration (prototext): "seconds:1 nanos:5" without zero fields.
    seconds, rest = divmod(nanos, 1_000_000_000)
    parts = [f"seconds:{seconds}"] if seconds else []
    if rest:
        parts.append(f"nanos:{rest}")
    return " ".join(parts)


def _shadow(spec: Mapping[str, Any], field: str, profile: Profile, ra: rc_pb2.RouteAction,
            cluster_of: Callable[[str, str], str]) -> None:
    # shadowing/plugin.go applyShadowSpec (v3 request_mirror_policies; 1.3's v2 request_mirror_policy is the
    # same single policy).
    upstream = spec.get("upstream")
    if upstream is None:
        raise _GlooError("invalid plugin spec: must specify an upstream ref")
    upstream = _map(upstream, f"{field}.upstream")
    pct = _float(spec.get("percentage", 0), f"{field}.percentage")
    if pct < 0 or pct > 100:
        raise _GlooError(f"shadow percentage must be between 0 and 100, received {_go_float(pct)}")
    del ra.request_mirror_policies[:]
    policy = ra.request_mirror_policies.add(
        cluster=cluster_of(str(upstream.get("name", "")), str(upstream.get("namespace", ""))))
    policy.runtime_fraction.default_value.CopyFrom(_percent(pct))
    if profile != "1.3":
        if spec.get("disableShadowHostSuffixAppend") is not None:
            policy.disable_shadow_host_suffix_append = _bool(spec["disableShadowHostSuffixAppend"],
                                                             f"{field}.disableShadowHostSuffixAppend")
        if spec.get("hostRewriteLiteral") is not None:
            policy.host_rewrite_literal = _str(spec["hostRewriteLiteral"], f"{field}.hostRewriteLiteral")


def _go_float(value: float) -> str:
    # %v of a float32: shortest representation, integers without a decimal point.
    return str(int(value)) if value == int(value) else repr(value)


# --- route --------------------------------------------------------------------------------------------


ActionKind = Literal["route", "direct_response", "redirect"]


def apply_route_options(options: Mapping[str, Any], env: rc_pb2.Route, action: ActionKind, profile: Profile, *,
                        vhost_options: Mapping[str, Any] | None = None, max_program_size: int | None = None,
                        cluster_of: Callable[[str, str], str] | None = None,
                        secret_lookup: SecretLookup | None = None) -> list[OptionIssue]:
    """Write a route's options onto its Envoy route as Gloo's route plugins do, in Gloo's plugin order.

    Args:
        options: The route's merged ``options`` (RouteOptions, raw protobuf JSON).
        env: The Envoy route, its action already set by the route translator.
        action: Which Gloo action the route has.
        profile: Gloo profile.
        vhost_options: The virtual host's ``options`` (for the CORS merge).
        max_program_size: ``settings.gloo.regexMaxProgramSize``.
        cluster_of: ``(name, namespace) -> cluster name`` for shadowing.
        secret_lookup: What a ``headerSecretRef`` names (:data:`SecretLookup`); unknown when not given.

    Returns:
        Gloo's plugin errors (``kind="error"``, message ``"<%T>: <err>"``) and gloo_nb's notes.
    """
    issues: list[OptionIssue] = []
    if not options:
        return issues
    if not isinstance(options, Mapping):
        return [OptionIssue("unreadable", f"options {options!r} is not an object: gloo_nb cannot read this route's "
                                    "options", "options")]
    types = _PLUGIN_TYPES[profile]
    if profile == "1.3":
        # route_config.go at v1.3.20: route plugins run for route actions only; the headers plugin also runs
        # for direct responses; nothing runs for redirects.
        if action == "redirect":
            return issues
    cluster_of = cluster_of or (lambda name, ns: f"{name}_{ns}" if ns else name)

    def run(plugin: str, body: Callable[[], None]) -> None:
        try:
            body()
        except _GlooError as exc:
            issues.append(OptionIssue("error", f"{types[plugin]}: {exc}", "options"))
        except _Unreadable as exc:
            issues.append(OptionIssue("unreadable", f"{exc}: Gloo cannot read this route's options; gloo_nb leaves the "
                                              "option out", str(exc).split(" ", 1)[0]))

    is_route = action == "route"
    if profile != "1.3" or is_route:
        run("faultinjection", lambda: _route_faults(options, env, profile))
        if is_route:
            run("basicroute", lambda: _basicroute(options, env.route, profile, issues, max_program_size))
        run("cors", lambda: _route_cors(options, env, action, profile, vhost_options or {}, max_program_size))
        run("shadowing", lambda: _route_shadowing(options, env, action, profile, cluster_of))
    if options.get("headerManipulation") is not None:
        run("headers", lambda: _headers(_map(options["headerManipulation"], "options.headerManipulation"),
                                        "options.headerManipulation", profile, env, issues, secret_lookup))
    if profile != "1.3" and options.get("envoyMetadata"):
        # metadata/plugin.go: map<string, Struct> -> filter_metadata.
        try:
            md = _map(options["envoyMetadata"], "options.envoyMetadata")
            for key, value in md.items():
                s = struct_pb2.Struct()
                s.update(dict(_map(value, f"options.envoyMetadata.{key}")))
                env.metadata.filter_metadata[key].CopyFrom(s)
        except _Unreadable as exc:
            issues.append(OptionIssue("unreadable", f"{exc}: Gloo cannot read this route's options",
                                      "options.envoyMetadata"))
    return issues


def _route_faults(options: Mapping[str, Any], env: rc_pb2.Route, profile: Profile) -> None:
    faults = options.get("faults")
    if faults is None or not env.HasField("route"):
        return  # ModifyPerFilterConfig: only route actions
    cfg = _fault(_map(faults, "options.faults"), "options.faults", profile)
    if cfg is None:
        return
    ra = env.route
    # MarkPerFilterConfig: one config per weighted cluster for multi/upstream groups, on the route for a single
    # destination, none for clusterHeader and dynamicForwardProxy.
    if ra.HasField("weighted_clusters"):
        for cw in ra.weighted_clusters.clusters:
            cw.typed_per_filter_config[FAULT_FILTER].CopyFrom(_any(cfg))
    elif ra.cluster:
        env.typed_per_filter_config[FAULT_FILTER].CopyFrom(_any(cfg))


def _basicroute(options: Mapping[str, Any], ra: rc_pb2.RouteAction, profile: Profile, issues: list[OptionIssue],
                max_program_size: int | None) -> None:
    # basicroute ProcessRoute: prefixRewrite, regexRewrite, timeout, idleTimeout, maxStreamDuration, retries,
    # host rewrite, upgrades; the first error stops the plugin.
    if options.get("prefixRewrite") is not None:
        ra.prefix_rewrite = _str(options["prefixRewrite"], "options.prefixRewrite")
    if profile != "1.3" and options.get("regexRewrite") is not None:
        ra.regex_rewrite.CopyFrom(_regex_rewrite(options["regexRewrite"], "options.regexRewrite", max_program_size))
    if options.get("timeout") is not None:
        _set_duration(ra.timeout, options["timeout"], "options.timeout")
    if profile != "1.3":
        if options.get("idleTimeout") is not None:
            _set_duration(ra.idle_timeout, options["idleTimeout"], "options.idleTimeout")
        if options.get("maxStreamDuration") is not None:
            msd = _map(options["maxStreamDuration"], "options.maxStreamDuration")
            out = ra.max_stream_duration
            out.SetInParent()
            for key, attr in (("maxStreamDuration", "max_stream_duration"),
                              ("grpcTimeoutHeaderMax", "grpc_timeout_header_max"),
                              ("grpcTimeoutHeaderOffset", "grpc_timeout_header_offset")):
                if msd.get(key) is not None:
                    _set_duration(getattr(out, attr), msd[key], f"options.maxStreamDuration.{key}")
    if options.get("retries") is not None:
        ra.retry_policy.CopyFrom(_retry_policy(_map(options["retries"], "options.retries"), "options.retries",
                                               profile, issues))
    _host_rewrite(options, ra, profile, issues, max_program_size)
    if options.get("upgrades") is not None:
        _upgrades(_list(options["upgrades"], "options.upgrades"), ra, profile, issues)


def _host_rewrite(options: Mapping[str, Any], ra: rc_pb2.RouteAction, profile: Profile, issues: list[OptionIssue],
                  max_program_size: int | None) -> None:
    keys = ("hostRewrite", "autoHostRewrite") if profile == "1.3" else (
        "hostRewrite", "autoHostRewrite", "hostRewriteHeader", "hostRewritePathRegex")
    present = [k for k in keys if options.get(k) is not None]
    if not present:
        return
    if len(present) > 1:
        # A oneof: protobuf JSON decoding refuses two members; gloo_nb applies none of them.
        issues.append(OptionIssue("unreadable", f"options sets {' and '.join(present)}, members of one oneof "
                                          "(hostRewriteType): Gloo cannot read this route's options; gloo_nb applies "
                                          "none", "options." + present[1]))
        return
    key = present[0]
    value = options[key]
    if key == "hostRewrite":
        ra.host_rewrite_literal = _str(value, "options.hostRewrite")
    elif key == "autoHostRewrite":
        ra.auto_host_rewrite.value = _bool(value, "options.autoHostRewrite")
    elif key == "hostRewriteHeader":
        header = _str(value, "options.hostRewriteHeader")
        if not header:
            raise _GlooError("empty HTTP header names are not allowed")
        if not _HEADER_KEY.match(header):
            raise _GlooError(f"'{header}' is an invalid HTTP header key")
        ra.host_rewrite_header = header
    else:
        ra.host_rewrite_path_regex.CopyFrom(_regex_rewrite(value, "options.hostRewritePathRegex", max_program_size))
    if profile != "1.3" and options.get("appendXForwardedHost") is not None:
        ra.append_x_forwarded_host = _bool(options["appendXForwardedHost"], "options.appendXForwardedHost")


def _upgrades(upgrades: Sequence[Any], ra: rc_pb2.RouteAction, profile: Profile, issues: list[OptionIssue]) -> None:
    # basicroute applyUpgrades + upgradeconfig.ValidateRouteUpgradeConfigs (a multierror of duplicates).
    del ra.upgrade_configs[:]
    for i, raw in enumerate(upgrades):
        u = _map(raw, f"options.upgrades[{i}]")
        if profile == "1.3" and u.get("websocket") is None and any(u.get(k) is not None
                                                                   for k in ("connect", "connectTerminate")):
            # v1.3.20's ProtocolUpgradeConfig has only websocket (strict decoding reports the unknown field).
            continue
        kinds = ("websocket",) if profile == "1.3" else ("websocket", "connect", "connectTerminate")
        kind = next((k for k in kinds if u.get(k) is not None), None)
        if kind is None:
            raise _GlooError("unimplemented upgrade type: <nil>")
        cfg = ra.upgrade_configs.add(upgrade_type="websocket" if kind == "websocket" else "CONNECT")
        spec = _map(u[kind], f"options.upgrades[{i}].{kind}")
        if spec.get("enabled") is not None:
            cfg.enabled.value = _bool(spec["enabled"], f"options.upgrades[{i}].{kind}.enabled")
        if kind == "connectTerminate":
            cfg.connect_config.SetInParent()
    seen: set[str] = set()
    errors: list[str] = []
    for cfg in ra.upgrade_configs:
        if cfg.upgrade_type in seen:
            errors.append(f"upgrade config {cfg.upgrade_type} is not unique")
        seen.add(cfg.upgrade_type)
    if errors:
        raise _GlooError(_multierror(errors))


def _multierror(errors: Sequence[str]) -> str:
    # hashicorp/go-multierror ListFormatFunc.
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t* ".join(errors)
    return f"{len(errors)} errors occurred:\n\t* {points}\n\n"


def _route_cors(options: Mapping[str, Any], env: rc_pb2.Route, action: ActionKind, profile: Profile,
                vhost_options: Mapping[str, Any], max_program_size: int | None) -> None:
    c = options.get("cors")
    if c is None:
        return
    c = _map(c, "options.cors")
    merge = vhost_options.get("corsPolicyMergeSettings") if profile != "1.3" else None
    if isinstance(merge, Mapping) and isinstance(vhost_options.get("cors"), Mapping):
        c = _merge_cors(merge, vhost_options["cors"], c)
    if action == "direct_response" and profile != "1.3":
        if not c.get("disableForRoute"):
            env.response_headers_to_add.extend(_cors_direct_response_headers(c))
        return
    if action != "route":
        raise _GlooError("cannot use cors plugin on non-Route_Route route actions")
    policy = _cors_policy(c, "options.cors", max_program_size)
    if c.get("disableForRoute") is not None and _bool(c["disableForRoute"], "options.cors.disableForRoute"):
        # translateRouteSpecificCorsConfig
        policy.filter_enabled.default_value.CopyFrom(
            percent_pb2.FractionalPercent(numerator=0, denominator=percent_pb2.FractionalPercent.HUNDRED))
        policy.filter_enabled.runtime_key = _CORS_RUNTIME_KEY
    # CUR: typed_per_filter_config; 1.3 wrote the same policy to the v2 RouteAction.cors, which v3 Envoy only
    # reads from typed_per_filter_config.
    env.typed_per_filter_config[CORS_FILTER].CopyFrom(_any(policy))


def _route_shadowing(options: Mapping[str, Any], env: rc_pb2.Route, action: ActionKind, profile: Profile,
                     cluster_of: Callable[[str, str], str]) -> None:
    spec = options.get("shadowing")
    if spec is None:
        return
    if action != "route":
        raise _GlooError("cannot use shadowing plugin on non-Route_Route route actions")
    _shadow(_map(spec, "options.shadowing"), "options.shadowing", profile, env.route, cluster_of)


# --- weighted destinations ----------------------------------------------------------------------------------


def apply_weighted_destination_options(options: Mapping[str, Any], out: rc_pb2.WeightedCluster.ClusterWeight,
                                       field: str, profile: Profile, *,
                                       secret_lookup: SecretLookup | None = None) -> list[OptionIssue]:
    """A weighted destination's ``options`` on its cluster weight, as Gloo's weighted-destination plugins write them.

    ``headers.ProcessWeightedDestination`` (both profiles). Errors are route errors with the plugin's text alone
    (``reportWeightedDestinationPluginProcessingError`` CUR; ``route_config.go`` at v1.3.20).

    Args:
        options: The WeightedDestination's ``options`` (raw protobuf JSON).
        out: The Envoy cluster weight.
        field: The options' path, for notes (e.g. ``routeAction.multi.destinations[1].options``).
        profile: Gloo profile.
        secret_lookup: What a ``headerSecretRef`` names.

    Returns:
        Gloo's errors (``kind="error"``, the plugin's text) and gloo_nb's notes.
    """
    issues: list[OptionIssue] = []
    hm = options.get("headerManipulation") if isinstance(options, Mapping) else None
    if hm is None:
        return issues
    try:
        _headers(_map(hm, f"{field}.headerManipulation"), f"{field}.headerManipulation", profile, out, issues,
                 secret_lookup)
    except _GlooError as exc:
        issues.append(OptionIssue("error", str(exc), field))
    except _Unreadable as exc:
        issues.append(OptionIssue("unreadable", f"{exc}: Gloo cannot read this destination's options",
                                  str(exc).split(" ", 1)[0]))
    return issues


# --- virtual host -------------------------------------------------------------------------------------


def apply_vhost_options(options: Mapping[str, Any], out: rc_pb2.VirtualHost, name: str, profile: Profile, *,
                        max_program_size: int | None = None,
                        secret_lookup: SecretLookup | None = None) -> list[OptionIssue]:
    """Write a virtual host's options onto its Envoy virtual host as Gloo's virtual-host plugins do.

    Args:
        options: ``virtualHost.options`` (VirtualHostOptions, raw protobuf JSON).
        out: The Envoy virtual host (routes already built).
        name: The Envoy virtual host name (Gloo reports errors with the sanitized name).
        profile: Gloo profile.
        max_program_size: ``settings.gloo.regexMaxProgramSize``.
        secret_lookup: What a ``headerSecretRef`` names (:data:`SecretLookup`); unknown when not given.

    Returns:
        Gloo's virtual-host errors (``kind="error"``, the whole reason as Gloo writes it) and gloo_nb's notes.
    """
    issues: list[OptionIssue] = []
    if not options:
        return issues
    if not isinstance(options, Mapping):
        return [OptionIssue("unreadable", f"virtualHost.options {options!r} is not an object: gloo_nb cannot read it",
                            "options")]
    def run(plugin: str, body: Callable[[], None], extra: str = "") -> None:
        try:
            body()
        except _GlooError as exc:
            text = f"{extra}\n{exc}" if extra and profile != "1.3" else str(exc)
            if profile == "1.3":
                issues.append(OptionIssue("error", f"invalid virtual host [{name}]: {text}", "options"))
            else:
                issues.append(OptionIssue("error", f"invalid virtual host [{name}] while processing plugin "
                                                   f"{_VHOST_PLUGIN_NAMES[plugin]}: {text}", "options"))
        except _Unreadable as exc:
            issues.append(OptionIssue("unreadable", f"{exc}: Gloo cannot read this virtual host's options; gloo_nb "
                                                    "leaves the option out", str(exc).split(" ", 1)[0]))

    def retries() -> None:
        # basicroute.applyRetriesVhost runs whenever options are set; nil retries leave no policy.
        if options.get("retries") is not None:
            out.retry_policy.CopyFrom(_retry_policy(_map(options["retries"], "virtualHost.options.retries"),
                                                    "virtualHost.options.retries", profile, issues))

    def cors() -> None:
        c = options.get("cors")
        if c is not None:
            # DisableForRoute on a virtual host is only logged by Gloo (a warning in its log, not a report).
            out.typed_per_filter_config[CORS_FILTER].CopyFrom(
                _any(_cors_policy(_map(c, "virtualHost.options.cors"), "virtualHost.options.cors", max_program_size)))

    def stats() -> None:
        s = options.get("stats")
        if s is not None:
            out.virtual_clusters.extend(_virtual_clusters(_map(s, "virtualHost.options.stats"), max_program_size))

    def headers() -> None:
        hm = options.get("headerManipulation")
        if hm is not None:
            _headers(_map(hm, "virtualHost.options.headerManipulation"), "virtualHost.options.headerManipulation",
                     profile, out, issues, secret_lookup)

    run("basicroute", retries)
    run("cors", cors, extra="invalid cors config")
    run("stats", stats)
    run("headers", headers)
    if profile != "1.3":
        # virtualhost/plugin.go: BoolValues copied when set.
        try:
            for key, attr in (("includeRequestAttemptCount", "include_request_attempt_count"),
                              ("includeAttemptCountInResponse", "include_attempt_count_in_response")):
                if options.get(key) is not None:
                    setattr(out, attr, _bool(options[key], f"virtualHost.options.{key}"))
        except _Unreadable as exc:
            issues.append(OptionIssue("unreadable", f"{exc}: Gloo cannot read this virtual host's options", "options"))
    return issues


def _virtual_clusters(stats: Mapping[str, Any], max_program_size: int | None) -> list[rc_pb2.VirtualCluster]:
    # stats/stats.go convertVirtualClusters.
    out: list[rc_pb2.VirtualCluster] = []
    for i, raw in enumerate(_list(stats.get("virtualClusters") or [], "virtualHost.options.stats.virtualClusters")):
        vc = _map(raw, f"virtualHost.options.stats.virtualClusters[{i}]")
        name = _str(vc.get("name", ""), f"virtualHost.options.stats.virtualClusters[{i}].name")
        if not name:
            raise _GlooError(f"failed to process virtual cluster [{name}]: name is required")
        pattern = _str(vc.get("pattern", ""), f"virtualHost.options.stats.virtualClusters[{i}].pattern")
        if not pattern:
            raise _GlooError(f"failed to process virtual cluster [{name}]: pattern is required")
        method = _str(vc.get("method", ""), f"virtualHost.options.stats.virtualClusters[{i}].method")
        if method and method.upper() not in _REQUEST_METHODS:
            raise _GlooError(f"failed to process virtual cluster [{name}]: invalid method name [{method}]. Allowed "
                             f"values: {','.join(_REQUEST_METHODS)}")
        # utils.SanitizeForEnvoy: dots become underscores.
        cluster = rc_pb2.VirtualCluster(name=name.replace(".", "_"))
        h = cluster.headers.add(name=":path")
        h.safe_regex_match.CopyFrom(_regex(pattern, max_program_size))
        if method:
            cluster.headers.add(name=":method").exact_match = method.upper()
        out.append(cluster)
    return out


# --- merging (delegation) ----------------------------------------------------------------------------------

# Protobuf oneofs of RouteOptions / VirtualHostOptions (route_options.proto, virtual_host_options.proto; v1.3.20's
# options.proto has host_rewrite_type with hostRewrite and autoHostRewrite): ShallowMerge sees one Go field per
# oneof, so a child that sets any member keeps its member and takes none of the parent's.
ROUTE_ONEOFS: tuple[frozenset[str], ...] = (
    frozenset({"hostRewrite", "autoHostRewrite", "hostRewritePathRegex", "hostRewriteHeader"}),
    frozenset({"ratelimitEarly", "rateLimitEarlyConfigs"}),
    frozenset({"ratelimit", "rateLimitConfigs"}),
    frozenset({"ratelimitRegular", "rateLimitRegularConfigs"}),
    frozenset({"jwt", "jwtStaged", "jwtProvidersStaged"}),
)
VHOST_ONEOFS: tuple[frozenset[str], ...] = (
    frozenset({"ratelimitEarly", "rateLimitEarlyConfigs"}),
    frozenset({"ratelimit", "rateLimitConfigs"}),
    frozenset({"ratelimitRegular", "rateLimitRegularConfigs"}),
    frozenset({"jwt", "jwtStaged"}),
)
# Top-level map fields: a map is "empty" for isEmptyValue when it has no entries (messages never are).
_MAP_FIELDS = frozenset({"envoyMetadata"})


def _go_empty(key: str, value: Any, profile: Profile = "current") -> bool:
    # utils/merge.go isEmptyValue over the Go struct: nil pointers (unset messages and wrappers) and
    # zero-length slices and maps are empty; a set message is not, even when all its fields are zero.
    if value is None:
        return True
    if profile == "1.3" and key == "timeout" and isinstance(value, str) and _go_zero(value):
        # v1.3.20's gogo RouteOptions.Timeout is a *time.Duration (stdduration): isEmptyValue follows the pointer
        # to an int64, so a zero timeout is empty there and the parent's is taken.
        return True
    if isinstance(value, list):
        return not value
    if key in _MAP_FIELDS and isinstance(value, Mapping):
        return not value
    return False


def _go_zero(value: str) -> bool:
    try:
        return parse_go_duration(value) == 0
    except ValueError:
        return False


def shallow_merge_options(child: Mapping[str, Any], parent: Mapping[str, Any],
                          oneofs: Sequence[frozenset[str]] = ROUTE_ONEOFS,
                          profile: Profile = "current") -> Mapping[str, Any]:
    """Gloo's ``ShallowMergeRouteOptions(dst=child, src=parent)`` on raw protobuf JSON options.

    ``projects/gloo/pkg/utils/merge.go`` (CUR) and ``mergeRoutePlugins`` in
    ``projects/gateway/pkg/translator/merge_route_plugins.go`` (v1.3.20) behave alike: each top-level field
    (a oneof counting as one field) of the child that is empty in Go's sense (unset, or an empty list or map)
    takes the parent's value when the parent's is not empty; nothing is merged below the top level.

    Args:
        child: The child route's options (dst).
        parent: The parent route's options (src).
        oneofs: The oneof groups of the message (:data:`ROUTE_ONEOFS` or :data:`VHOST_ONEOFS`).
        profile: Gloo profile (1.3's gogo structs make a zero ``timeout`` empty).

    Returns:
        The merged options (``child`` itself when nothing was taken from the parent).
    """
    if not parent:
        return child
    if not child:
        return parent
    group_of = {k: g for g in oneofs for k in g}
    merged = dict(child)
    changed = False
    for key, value in parent.items():
        if _go_empty(key, value, profile):
            continue
        group = group_of.get(key)
        if group is not None:
            if any(not _go_empty(k, child.get(k), profile) for k in group):
                continue  # the child's oneof is set
        elif not _go_empty(key, child.get(key), profile):
            continue
        merged[key] = value
        changed = True
    return merged if changed else child


# --- what Envoy refuses although Gloo passes it ---------------------------------------------------------------

# RE2 has no look-around and no back-references; Python's re has both, so they are refused explicitly.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]")


def _re2_problem(pattern: str) -> str | None:
    if _NOT_RE2.search(pattern):
        return "look-around or back-reference (RE2 has neither)"
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None


def _go_regexp_error(pattern: str) -> str | None:
    """Go's ``regexp.Compile`` error text for the common cases; Python's ``re`` stands in for the rest.

    Go (regexp/syntax): look-around is ``invalid or unsupported Perl syntax: `(?=```, an unclosed group is
    ``missing closing ): `<regex>```; other failures get Python's explanation after Go's prefix.
    """
    m = re.search(r"\(\?<?[=!]", pattern)
    if m:
        return f"error parsing regexp: invalid or unsupported Perl syntax: `{m.group(0)}`"
    try:
        re.compile(pattern)
    except re.error as exc:
        if "missing )" in str(exc):
            return f"error parsing regexp: missing closing ): `{pattern}`"
        if "nothing to repeat" in str(exc) and exc.pos is not None:
            # Go names the operator alone (ErrMissingRepeatArgument with the operator text).
            op = re.match(r"\*\??|\+\??|\?\??|\{\d*,?\d*\}\??", pattern[exc.pos:])
            return f"error parsing regexp: missing argument to repetition operator: `{op.group(0) if op else ''}`"
        if "unterminated character set" in str(exc):
            return f"error parsing regexp: missing closing ]: `{pattern[exc.pos or 0:]}`"
        return f"error parsing regexp: {exc}: `{pattern}`"
    return None


def _header_rejections(owner: Any, where: str) -> list[str]:
    # Envoy's HeaderParser: ":-prefixed or host headers may not be modified" / "... may not be removed"; the
    # HeaderValue proto requires a non-empty key.
    out: list[str] = []
    for name in ("request_headers_to_add", "response_headers_to_add"):
        for h in getattr(owner, name):
            key = h.header.key
            if not key:
                out.append(f"{where}: an empty header key (HeaderValue.key must have at least 1 character)")
            elif key.startswith(":") or key.lower() == "host":
                out.append(f"{where}: header {key!r} (:-prefixed or host headers may not be modified)")
    for name in ("request_headers_to_remove", "response_headers_to_remove"):
        for key in getattr(owner, name):
            if key.startswith(":") or key.lower() == "host":
                out.append(f"{where}: removing {key!r} (:-prefixed or host headers may not be removed)")
    return out


def _negative_durations(msg: Any, path: str) -> list[str]:
    out: list[str] = []
    for fd, value in msg.ListFields():
        if fd.message_type is None or fd.message_type.GetOptions().map_entry:
            continue  # scalars; maps (typed_per_filter_config, filter_metadata) hold Anys and Structs only
        values = value if fd.is_repeated else [value]
        for v in values:
            if fd.message_type.full_name == "google.protobuf.Duration":
                if v.seconds < 0 or v.nanos < 0:
                    out.append(f"{path}.{fd.name}: a negative duration (Invalid duration: Expected positive duration)")
            elif fd.message_type.full_name != "google.protobuf.Any":
                out.extend(_negative_durations(v, f"{path}.{fd.name}"))
    return out


def envoy_header_rejections(owner: Any) -> list[str]:
    """What real Envoy refuses in the header manipulation of a route, virtual host or weighted cluster.

    Args:
        owner: The Envoy message with ``request_headers_to_add`` and the three other header lists.

    Returns:
        One line per refusal.
    """
    return _header_rejections(owner, "headers")


def envoy_route_rejections(env: rc_pb2.Route) -> list[str]:
    """What real Envoy refuses in a route that Gloo's plugins wrote without complaint.

    Measured with ``envoy --mode validate`` on the pinned Envoy (``tests/translate/test_route_options_envoy.py``):
    negative durations, a rate-limited retry back-off without reset headers, regexes RE2 cannot compile (Gloo CUR
    does not check ``regexRewrite``/``hostRewritePathRegex``), 1.3's unchecked fault values, and header
    manipulation on ``:``-prefixed or ``host`` headers.

    Args:
        env: The Envoy route.

    Returns:
        One line per refusal (empty when Envoy accepts the route as far as gloo_nb knows).
    """
    out = _header_rejections(env, "route") + _negative_durations(env, "route")
    if env.HasField("route"):
        ra = env.route
        if ra.HasField("retry_policy") and ra.retry_policy.HasField("rate_limited_retry_back_off") \
                and not ra.retry_policy.rate_limited_retry_back_off.reset_headers:
            out.append("route.retry_policy.rate_limited_retry_back_off: no reset_headers (value must contain at least "
                       "1 item(s))")
        for field, rx in (("regex_rewrite", ra.regex_rewrite), ("host_rewrite_path_regex", ra.host_rewrite_path_regex)):
            if ra.HasField(field):
                problem = _re2_problem(rx.pattern.regex)
                if problem:
                    out.append(f"route.{field}: regex {rx.pattern.regex!r} ({problem})")
        for cw in ra.weighted_clusters.clusters:
            out += _fault_rejections(cw.typed_per_filter_config, f"weighted cluster {cw.name}")
    out += _fault_rejections(env.typed_per_filter_config, "route")
    return out


def _fault_rejections(configs: Any, where: str) -> list[str]:
    if FAULT_FILTER not in configs:
        return []
    cfg = fault_pb2.HTTPFault()
    configs[FAULT_FILTER].Unpack(cfg)
    out: list[str] = []
    if cfg.HasField("abort") and not 200 <= cfg.abort.http_status < 600:
        out.append(f"{where} fault abort: http_status {cfg.abort.http_status} (value must be inside range [200, 600))")
    if cfg.HasField("delay") and cfg.delay.WhichOneof("fault_delay_secifier") is None:
        out.append(f"{where} fault delay: no fixed_delay (fault_delay_secifier is required)")
    return out


def envoy_vhost_rejections(vh: rc_pb2.VirtualHost) -> list[str]:
    """What real Envoy refuses in a virtual host's own fields (not its routes) that Gloo wrote.

    Args:
        vh: The Envoy virtual host.

    Returns:
        One line per refusal.
    """
    out = _header_rejections(vh, "virtual host")
    if vh.HasField("retry_policy"):
        out += _negative_durations(vh.retry_policy, "virtual host.retry_policy")
    for vc in vh.virtual_clusters:
        for h in vc.headers:
            if h.HasField("safe_regex_match"):
                problem = _re2_problem(h.safe_regex_match.regex)
                if problem:
                    out.append(f"virtual cluster {vc.name}: regex {h.safe_regex_match.regex!r} ({problem})")
    return out
