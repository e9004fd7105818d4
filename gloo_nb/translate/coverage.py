"""The coverage page: each Gloo field path gloo_nb knows, modelled or declared not modelled, and since which profile.

Generated from the code's own registries, so that the page cannot drift from what gloo_nb does:
:mod:`gloo_nb.translate.option_catalogue` (RouteOptions, VirtualHostOptions, WeightedDestinationOptions and
their nested messages, with the ``MODELLED_*`` registries), :mod:`gloo_nb.translate.listener_options`
(Gateway ``options`` and ``httpConnectionManagerSettings``) and the codec's unmodelled Upstream fields.
``docs/coverage.md`` is this module's output (``python -m gloo_nb.translate.coverage > docs/coverage.md``);
a test checks that the committed page is up to date.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping

from gloo_nb._types import Profile
from gloo_nb.models.codec._fields import UNMODELLED_UPSTREAM_FIELDS
from gloo_nb.translate import http_filters
from gloo_nb.translate import listener_options as lo
from gloo_nb.translate.option_catalogue import (
    ROUTE_OPTIONS,
    UNMODELLED_NESTED,
    VIRTUAL_HOST_OPTIONS,
    WEIGHTED_DESTINATION_OPTIONS,
    NestedGap,
    OptionField,
    OptionMessage,
    feature_of,
    is_modelled,
)

__all__ = ["coverage_markdown", "coverage_rows"]

PROFILES: tuple[Profile, ...] = ("1.3", "current")
# HttpListenerOptions fields of v1.3.20's options.proto (projects/gloo/api/v1/options.proto) among those whose
# filter gloo_nb does not build.
_LISTENER_OPTIONS_13 = frozenset({"gzip", "healthCheck", "wasm"})
MODELLED = "modelled"
DECLARED = "not modelled (declared)"
ABSENT = "absent (unknown field)"


def _status(exists: bool, modelled: bool) -> str:
    if not exists:
        return ABSENT
    return MODELLED if modelled else DECLARED


def _nested(prefix: str, message: OptionMessage | None, since: Profile, statuses: Mapping[Profile, bool],
            gaps: Mapping[str, NestedGap], rel: str) -> Iterator[tuple[str, Profile, dict[Profile, str], str]]:
    # A nested field shares its top-level field's modelled-ness, unless it is one of UNMODELLED_NESTED's parts;
    # it exists in a profile when it and its parents do.
    if message is None or message.fields is None:
        return
    for name, f in message.fields.items():
        nested_since: Profile = "current" if "current" in (since, f.since) else "1.3"
        path, here = f"{prefix}.{name}", f"{rel}.{name}"
        gap = gaps.get(here)
        mine = {p: statuses[p] and (gap is None or p not in gap.profiles) for p in PROFILES}
        yield (path, nested_since, {p: _status(p == "current" or nested_since == "1.3", mine[p]) for p in PROFILES},
               gap.feature if gap is not None else "")
        yield from _nested(path, f.message, nested_since, mine, gaps, here)


def _options_rows(where: str, message: OptionMessage) -> Iterator[tuple[str, Profile, dict[Profile, str], str]]:
    for name, f in (message.fields or {}).items():
        assert isinstance(f, OptionField)
        modelled = {p: is_modelled(message, name, p) for p in PROFILES}
        path = f"{where}.{name}"
        yield (path, f.since, {p: _status(p == "current" or f.since == "1.3", modelled[p]) for p in PROFILES},
               feature_of(message, name))
        gaps = {".".join(s for s in g.path if s != "[]"): g for g in UNMODELLED_NESTED.get(message.proto, ())}
        yield from _nested(path, f.message, f.since, modelled, gaps, name)


def coverage_rows() -> list[tuple[str, str, Profile, dict[Profile, str], str]]:
    """Every field path on the page.

    Returns:
        ``(section, field path, since, status per profile, feature)`` rows, in page order.
    """
    rows: list[tuple[str, str, Profile, dict[Profile, str], str]] = []
    for section, where, message in (
            ("Route options", "routes[].options", ROUTE_OPTIONS),
            ("Virtual host options", "virtualHost.options", VIRTUAL_HOST_OPTIONS),
            ("Weighted destination options", "routeAction.multi.destinations[].options", WEIGHTED_DESTINATION_OPTIONS)):
        for path, first, statuses, feature in _options_rows(where, message):
            rows.append((section, path, first, statuses, feature))
    hcm_section = "Gateway httpGateway.options.httpConnectionManagerSettings"
    since: Profile
    for name in sorted(lo._HCM_13 | lo._HCM_CURRENT_ONLY):
        since = "1.3" if name in lo._HCM_13 else "current"
        rows.append((hcm_section, f"httpConnectionManagerSettings.{name}", since,
                     {p: _status(p == "current" or since == "1.3", True) for p in PROFILES}, ""))
    for name, what in sorted(lo._HCM_UNMODELLED.items()):
        rows.append((hcm_section, f"httpConnectionManagerSettings.{name}", "current",
                     {"1.3": ABSENT, "current": DECLARED}, what))
    for name in sorted(lo._LISTENER_MODELLED):
        since = "1.3" if name in lo._LISTENER_13 else "current"
        rows.append(("Gateway options (ListenerOptions)", f"options.{name}", since,
                     {p: _status(p == "current" or since == "1.3", True) for p in PROFILES}, ""))
    # The HTTP filter chain (gloo_nb.translate.http_filters): the listener options and Settings that shape it.
    filters_section = "HTTP filters (every HCM's default chain)"
    for path, since in (("httpGateway.options.grpcWeb", "1.3"), ("httpGateway.options.router", "current"),
                        ("settings spec.gloo.disableGrpcWeb", "1.3"),
                        ("settings spec.gloo.removeUnusedFilters", "current"),
                        ("settings spec.gloo.logTransformationRequestResponseInfo", "current"),
                        ("settings spec.gloo.enableAutoWebsocketTransformationPassthrough", "current")):
        rows.append((filters_section, path, since,
                     {p: _status(p == "current" or since == "1.3", True) for p in PROFILES}, ""))
    for path, filter_name in (("settings spec.extauth", "envoy.filters.http.ext_authz"),
                              ("settings spec.ratelimitServer", "envoy.filters.http.ratelimit")):
        rows.append((filters_section, path, "1.3", {p: DECLARED for p in PROFILES},
                     f"the default server of every HTTP listener (filter {filter_name})"))
    for name, names in http_filters.UNMODELLED_OPTION_FILTERS.items():
        since = "1.3" if name in _LISTENER_OPTIONS_13 else "current"
        rows.append((filters_section, f"httpGateway.options.{name}", since,
                     {p: _status(p == "current" or since == "1.3", False) for p in PROFILES},
                     f"HTTP listener option {name} (filter {', '.join(names)})"))
    # None of these is in v1.3.20's projects/gloo/api/v1/upstream.proto.
    for name in UNMODELLED_UPSTREAM_FIELDS:
        rows.append(("Upstream", f"spec.{name}", "current", {"1.3": ABSENT, "current": DECLARED}, name))
    rows.append(("Upstream", "spec.failover", "current", {"1.3": ABSENT, "current": DECLARED},
                 "failover (Gloo Enterprise)"))
    return rows


def coverage_markdown() -> str:
    """The page, as Markdown.

    Returns:
        ``docs/coverage.md``'s text: per section a table of field path, since, and the status in each profile.
    """
    lines = [
        "# Coverage: what gloo_nb models of Gloo's fields",
        "",
        "Generated by `python -m gloo_nb.translate.coverage > docs/coverage.md` from gloo_nb's own registries",
        "(`gloo_nb/translate/option_catalogue.py`, `gloo_nb/translate/listener_options.py`,",
        "`gloo_nb/translate/http_filters.py`, the codec's unmodelled Upstream fields); a test fails when this page",
        "is out of date.",
        "",
        f"- **{MODELLED}**: gloo_nb reproduces the field's effect on Envoy in that profile.",
        f"- **{DECLARED}**: Gloo has the field; gloo_nb lists it in `gloo-nb translate --json`'s `unmodelled`",
        "  (and `check`'s `not modelled:` lines) wherever a resource sets it; a route that uses it gets the",
        "  drift state `unmodelled`. A nested field shares its top-level field's status, except the parts of",
        "  modelled fields gloo_nb leaves out (`UNMODELLED_NESTED` in `option_catalogue.py`, e.g. `headerSecretRef`).",
        f"- **{ABSENT}**: that profile's Gloo has no such field; inside `options`, gloo_nb gives Gloo's strict",
        "  decoding error (`unknown field ...`).",
        "- **since**: the first profile whose Gloo has the field (`1.3`: Gloo 1.3 and current).",
        "",
        "`optionsConfigRefs.delegateOptions` (VirtualHostOption/RouteOption resources, current only) are",
        "modelled: their options merge into the resource's as Gloo merges them (`delegate_options.py`), then",
        "follow these tables; their `targetRefs` are declared.",
        "",
        "Features outside these tables that gloo_nb declares when a resource uses them: `destinationSpec`",
        "function destinations (AWS, Azure, gRPC, REST), GraphQL actions, SDS, TLS termination on TCP hosts and",
        "matched HTTP gateways, aggregate listeners, Upstream health-check and service-spec features (see",
        "`gloo_nb/translate/`), and the `targetRefs` of VirtualHostOption/RouteOption resources.",
        "",
    ]
    section = ""
    counts = {MODELLED: 0, DECLARED: 0}
    for sec, path, since, statuses, feature in coverage_rows():
        if sec != section:
            section = sec
            lines += ["", f"## {sec}", "", "| field path | since | 1.3 | current | feature |",
                      "| --- | --- | --- | --- | --- |"]
        lines.append(f"| `{path}` | {since} | {statuses['1.3']} | {statuses['current']} | {feature} |")
        counts[MODELLED if statuses["current"] == MODELLED else DECLARED] += 1
    lines += ["", f"Field paths: {counts[MODELLED]} modelled, {counts[DECLARED]} declared not modelled "
                  "(in the current profile).", ""]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - the page's generator
    sys.stdout.write(coverage_markdown())
