"""View-models of the widgets, on hand-made rows: drift cells, finding effects, weights, try a request."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
import pytest

from gloo_nb.analysis import DriftInputs, DriftRow, SourceCell, drift_rows, route_key
from gloo_nb.analysis import views as v
from gloo_nb.analysis.probe import split
from gloo_nb.translate.envoy import FALLBACK_CLUSTER
from gloo_nb.translate.routes import RouteId

pytestmark = pytest.mark.unit

R0, R1 = "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"
ECHO = "echo/echo-routes"
FOX = "foxtrot/foxtrot-routes"
TYPO = f"{ECHO}: Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {{echo-typo gloo-system}} not found"


def drow(order, match, state, cause="", resource=ECHO, **by_source):
    """A drift row as drift_rows types it, every cell in the route's state (enough for the finding effects)."""
    reference = "served" if "served" in by_source else "intent"
    cells = {src: SourceCell(a, state, cause, replaced=bool(a and a.startswith("fallback")))
             for src, a in by_source.items()}
    return DriftRow(RouteId("vh", match), resource, order, match, state, cause, reference, cells)


@dataclass(frozen=True)
class DriftInput:
    """A route row of one source (the fields drift reads)."""

    order: int
    match_summary: str
    action_summary: str
    replaced: bool = False
    virtual_host: str = "vh"

    @property
    def match(self):
        return {"summary": self.match_summary}


def classified(order, match, intent, served, r0, r1, facts=None):
    """drift_rows on one route: each source's action (None: the source lacks it), served None: not read."""
    def rows(action):
        return [] if action is None else [DriftInput(order, match, action, replaced=action.startswith("fallback"))]

    out = drift_rows(rows(intent), None if served is ... else rows(served), {R0: rows(r0), R1: rows(r1)},
                     facts or DriftInputs())
    assert len(out) == 1
    return out[0]


# --- drift grid ---------------------------------------------------------------------------------


def test_grid_cells_follow_the_reference_and_name_the_rejecting_replica() -> None:
    replaced = DriftInput(4, "prefix /e", "fallback 404", replaced=True)
    rows = [
        classified(0, "prefix /a", "a", "a", "a", "a"),
        classified(1, "prefix /b", "b2", "b1", "b1", "b1", DriftInputs(blocked=True, block_causes=[TYPO])),
        classified(2, "prefix /c", "c2", "c2", "c2", "c1", DriftInputs(rejected={R1: "rejected 2 update(s)"})),
        classified(3, "prefix /d", "d", "d", None, "d"),
        classified(4, "prefix /e", *["fallback 404"] * 4,
                   DriftInputs(route_causes={route_key(replaced): TYPO})),
        classified(5, "prefix /f", "f", None, None, None),
    ]
    g = v.drift_grid(rows)
    assert g.sources == ["served", R0, R1]
    assert g.frame().values.tolist() == [
        ["in-sync", "in-sync", "in-sync"],
        ["blocked-by-last-known-good"] * 3,
        ["in-sync", "in-sync", "rejected-by-envoy"],
        ["in-sync", "replica-lagging", "in-sync"],
        ["replaced-by-fallback"] * 3,
        ["pending"] * 3,
    ]
    # Nothing names the blocked route's resource as a cause: it is a victim, held back, not the culprit.
    assert g.cells[1][1].role == "blocked" and g.cells[1][1].word == "held back"
    assert g.cells[1][1].colour == v.ROLE_COLOURS["blocked"] != v.STATE_COLOURS["in-sync"]
    assert g.cells[2][2].cause == f"{R1}: rejected 2 update(s)"
    assert g.cells[3][1].cause == f"{R0} has (absent), served has d" and g.cells[3][1].action is None
    # Selecting a row shows the route's cause and every source; a cell only its own source.
    row = g.detail(1)
    assert "state: blocked-by-last-known-good - " + TYPO in row and f"{R1}: blocked-by-last-known-good: b1" in row
    cell = g.detail(2, 2)
    assert f"{R1}: rejected-by-envoy: c1 - {R1}: rejected" in cell and R0 not in cell
    assert g.routes[0] == "vh: prefix /a" and g.envoy[0] == "vh #0 prefix /a" and g.intent[1] == "b2"


def test_grid_without_served_or_replicas_uses_the_intent() -> None:
    g = v.drift_grid(drift_rows([DriftInput(0, "prefix /a", "a")], None, {}, DriftInputs()))
    assert g.sources == ["intent"] and g.frame().values.tolist() == [["in-sync"]]
    assert v.drift_grid([]).routes == []


def test_legend_covers_every_state_with_distinct_colours() -> None:
    states = [s for s, _, _ in v.legend()]
    assert states[-1] == "absent" and set(states) == set(v.STATE_COLOURS)
    assert len({c for _, c, _ in v.legend()}) == len(states)


# --- invalid routes -----------------------------------------------------------------------------


def findings(*rows):
    cols = ["team", "resource", "kind", "severity", "message", "origin", "originKind", "layer", "field"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], columns=cols)


MSG = TYPO.split(": ", 1)[1]
TYPO_FINDING = ("echo", "gloo-system/app", "VirtualService", "warning", MSG, ECHO, "RouteTable", "gloo", "")


def test_blocked_effect_names_every_route_the_finding_holds_back_including_other_teams() -> None:
    drift = [drow(0, "prefix /echo, stage=canary", "blocked-by-last-known-good", TYPO, intent="x", served="y"),
             drow(1, "prefix /echo", "in-sync", intent="e", served="e"),
             drow(3, "prefix /foxtrot", "blocked-by-last-known-good", TYPO, resource=FOX, intent="f2", served="f1")]
    out = v.invalid_routes_frame(findings(TYPO_FINDING), drift)
    assert out[["team", "route", "routeResource", "effect"]].values.tolist() == [
        ["echo", "echo: prefix /echo, stage=canary", ECHO, "blocked change"],
        ["echo", "foxtrot: prefix /foxtrot", FOX, "blocked change"],
    ]
    # Who causes it beside who is hurt: echo's finding, foxtrot's route.
    assert out[["causeTeam", "affectedTeam"]].values.tolist() == [["echo", "echo"], ["echo", "foxtrot"]]
    assert list(out.columns) == list(v.INVALID_COLUMNS)


def test_replaced_effect_carries_the_fallback_status() -> None:
    drift = [drow(0, "prefix /echo", "replaced-by-fallback", TYPO, intent="fallback 418", served="fallback 418")]
    out = v.invalid_routes_frame(findings(TYPO_FINDING), drift)
    assert out["effect"].tolist() == ["fallback 418"]


def routes(*rows):
    cols = ["source", "virtualHost", "order", "match", "resource", "actionJson"]
    frame = pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], columns=cols)
    # A route's identity is its virtual host and match JSON (RouteId); "prefix /x" stands for {"prefix": "/x"}.
    frame["matchJson"] = [dict([m.split(" ", 1)]) for m in frame["match"]]
    return frame


def test_missing_cluster_dropped_and_none() -> None:
    frame = routes(("served", "vh", 0, "prefix /echo", ECHO, {"cluster": "echo-typo_gloo-system"}),
                   ("served", "vh", 1, "prefix /ok", ECHO, {"cluster": "echo_gloo-system"}),
                   ("served", "vh", 2, "prefix /r", ECHO, {"cluster": FALLBACK_CLUSTER}),
                   ("intent", "vh", 0, "prefix /echo", ECHO, {"cluster": "missing-in-intent-only"}))
    mismatch = ("foxtrot", "foxtrot/rt", "RouteTable", "warning", "required prefix: /foxtrot, path: /x: invalid route: "
                "route table matchers must begin with the prefix of their parent route's matcher", "foxtrot/rt",
                "RouteTable", "gateway", "")
    other = ("gloo-system", "gloo-system/up", "Upstream", "error", "port 8080 not found", "gloo-system/up",
             "Upstream", "gloo", "")
    out = v.invalid_routes_frame(findings(TYPO_FINDING, mismatch, other), [], frame, ["echo_gloo-system"])
    # The served source is the reference: only its missing cluster counts; the fallback cluster always exists.
    assert out[["origin", "route", "effect"]].values.tolist() == [
        [ECHO, "echo: prefix /echo", "503 missing cluster"],
        ["foxtrot/rt", "", "dropped"],
        ["gloo-system/up", "", "none"],
    ]
    # Without the clusters, rule 3 cannot apply.
    assert v.invalid_routes_frame(findings(TYPO_FINDING), [], frame)["effect"].tolist() == ["none"]


def test_filter_sort() -> None:
    frame = pd.DataFrame({"team": ["b", "a", "b"], "severity": ["error", "warning", "warning"], "n": [1, 2, 3]})
    assert v.filter_sort(frame, filters={"team": "b"})["n"].tolist() == [1, 3]
    assert v.filter_sort(frame, filters={"team": None, "severity": "warning"})["n"].tolist() == [2, 3]
    assert v.filter_sort(frame, sort_by="team")["n"].tolist() == [2, 1, 3]  # stable
    assert v.filter_sort(frame, sort_by="n", ascending=False)["n"].tolist() == [3, 2, 1]
    with pytest.raises(KeyError, match="no column 'owner'"):
        v.filter_sort(frame, filters={"owner": "a"})


# --- weights ------------------------------------------------------------------------------------


def wc(*entries, total=None):
    clusters = [{"name": n, "weight": w, "metadataMatch": {"filterMetadata": {"envoy.lb": {"version": ver}}}}
                for n, ver, w in entries]
    body = {"clusters": clusters, **({"totalWeight": total} if total else {})}
    return {"weightedClusters": body}


V1, V2 = "fox {version=v1}", "fox {version=v2}"


def test_destination_shares() -> None:
    assert v.destination_shares(wc(("fox", "v1", 90), ("fox", "v2", 10))) == {V1: 0.9, V2: 0.1}
    assert v.destination_shares(wc(("fox", "v1", 1), ("fox", "v2", 1), total=4)) == {V1: 0.25, V2: 0.25}
    assert v.destination_shares({"cluster": "fox"}) == {"fox": 1.0}
    assert v.destination_shares({"directResponse": {"status": 404}}) == {}
    assert v.destination_shares(wc(("fox", "v1", 0), ("fox", "v2", 0))) == {V1: 0.0, V2: 0.0}


def test_answer_destination() -> None:
    assert v.answer_destination("200 version:v1", [V1, V2]) == V1
    assert v.answer_destination("200 version:v2", [V1, V2]) == V2
    assert v.answer_destination("404 Gloo Gateway has invalid configuration", [V1, V2]).startswith("404")
    assert v.answer_destination("200 hello", [V1, V2]) == "200 hello"
    assert v.answer_destination("200 v1 v2", [V1, V2]) == "200 v1 v2"  # ambiguous: left as it is


def test_answer_destination_reads_hyphenated_and_named_answers() -> None:
    """The seed's http-echo answers ``version:foxtrot-v1``: it names subset ``v1`` (issue 16: it was a row apart)."""
    assert v.answer_destination("200 version:foxtrot-v1", [V1, V2]) == V1
    assert v.answer_destination("200 version:foxtrot-v2", [V1, V2]) == V2
    assert v.answer_destination("200 version:foxtrot-v10", [V1, V2]) == "200 version:foxtrot-v10"
    assert v.answer_destination("503 v1", [V1, V2]) == "503 v1"  # an error is no destination's answer
    # without subsets: the words of the cluster name that the other destinations lack
    a, b = "echo-v1_gloo-system", "echo-v2_gloo-system"
    assert v.answer_destination("200 version:echo-v2", [a, b]) == b
    assert v.answer_destination("200 echo", [a, b]) == "200 echo"
    # a subset value with a hyphen needs all its words
    c, d = "fox {version=fox-v1}", "fox {version=fox-v2}"
    assert v.answer_destination("200 fox-v1", [c, d]) == c
    # an explicit map wins
    assert v.answer_destination("200 hello", [V1, V2], {"200 hello": V2}) == V2


def test_weights_frame_maps_answers_onto_destinations() -> None:
    frame = routes(("served", "vh", 3, "prefix /foxtrot", FOX, wc(("fox", "v1", 50), ("fox", "v2", 50))))

    @dataclass
    class Probe:
        shares: list = field(default_factory=list)

    observed = {"vh #3 prefix /foxtrot": Probe(split(["200 version:foxtrot-v1"] * 10 + ["200 version:foxtrot-v2"] * 9
                                                     + ["200 hello"]))}
    table = v.weights_table(v.weights_frame(frame, observed), "vh #3 prefix /foxtrot")
    assert table.loc[V1, "observed"] == 50.0
    assert table.loc[V2, "observed"] == 45.0
    assert table.loc["unmatched: 200 hello", "observed"] == 5.0
    assert list(table.index) == [V1, V2, "unmatched: 200 hello"]
    assert math.isnan(table.loc["unmatched: 200 hello", "served"])
    shown = v.weights_table(v.weights_frame(frame, observed), "vh #3 prefix /foxtrot", blank="-")
    assert shown.loc["unmatched: 200 hello"].tolist() == ["-", 5.0]  # no configured share: "-", not NaN


def test_weights_frame_per_source_and_observed() -> None:
    frame = routes(("intent", "vh", 3, "prefix /foxtrot", FOX, wc(("fox", "v1", 0), ("fox", "v2", 100))),
                   ("served", "vh", 3, "prefix /foxtrot", FOX, wc(("fox", "v1", 100), ("fox", "v2", 0))),
                   (R0, "vh", 3, "prefix /foxtrot", FOX, {"cluster": "fox", "metadataMatch": {"filterMetadata": {
                       "envoy.lb": {"version": "v1"}}}}),
                   ("served", "vh", 0, "prefix /other", FOX, {"cluster": "other"}))

    @dataclass
    class Probe:
        shares: list = field(default_factory=list)

    observed = {"vh #3 prefix /foxtrot": Probe(split(["200 version:v1"] * 30 + ["503 upstream"] * 2))}
    out = v.weights_frame(frame, observed)
    assert v.weight_routes(frame) == ["vh #3 prefix /foxtrot"]  # single-cluster-only routes are not listed
    table = v.weights_table(out, "vh #3 prefix /foxtrot")
    assert list(table.columns) == ["intent", "served", R0, "observed"]
    assert table.loc[V1].tolist() == [0.0, 100.0, 100.0, round(3000 / 32, 1)]
    assert table.loc[V2].tolist() == [100.0, 0.0, 0.0, 0.0]
    assert table.loc["unmatched: 503 upstream", "observed"] == round(200 / 32, 1)
    obs = out[(out["source"] == "observed") & (out["destination"] == V1)].iloc[0]
    assert obs["low"] < obs["share"] < obs["high"]
    assert math.isnan(out[out["source"] == "served"].iloc[0]["low"])
    assert len(v.weights_frame(routes())) == 0


# --- try a request ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    source: str
    order: int
    match: dict
    action_summary: str
    route_configuration: str = "listener-::-8080-routes"
    virtual_host: str = "gloo-system_app"
    domains: tuple = ("*",)
    name: str = ""
    action: dict = field(default_factory=dict)
    match_summary: str = ""


def test_try_request_first_match_per_source() -> None:
    canary = {"prefix": "/echo", "headers": [{"name": "stage", "exactMatch": "canary"}]}
    rows = [Row("intent", 0, canary, "echo v2", match_summary="prefix /echo, stage=canary"),
            Row("intent", 1, {"prefix": "/echo"}, "echo v1", match_summary="prefix /echo"),
            Row("served", 0, {"prefix": "/echo"}, "echo v1", match_summary="prefix /echo")]
    out = v.try_request(rows, {"path": "/echo/x", "headers": {"stage": "canary"}})
    assert out[["source", "order", "match", "action"]].values.tolist() == [
        ["intent", 0, "prefix /echo, stage=canary", "echo v2"], ["served", 0, "prefix /echo", "echo v1"]]
    plain = v.try_request(rows, {"path": "/echo"})
    assert plain["action"].tolist() == ["echo v1", "echo v1"]
    missing = v.try_request(rows, {"path": "/nope"})
    assert missing[["order", "match", "action"]].values.tolist() == [[-1, "no match", "404 (no route)"]] * 2


def test_parse_header_lines() -> None:
    assert v.parse_header_lines("Host: example.com\n\nstage=canary\nX-Empty:\n") == {
        "host": "example.com", "stage": "canary", "x-empty": ""}
    with pytest.raises(ValueError, match="name: value"):
        v.parse_header_lines("no separator here")
    with pytest.raises(ValueError):
        v.parse_header_lines(": value")


def test_a_replaced_route_with_a_lagging_replica_stays_replaced_in_cells_and_effects() -> None:
    key = route_key(DriftInput(0, "prefix /echo", "fallback 404"))
    row = classified(0, "prefix /echo", "fallback 404", "fallback 404", "fallback 404", "echo v2",
                     DriftInputs(resources={key: ECHO}))
    assert row.state == "replica-lagging" and row.reference_cell.replaced
    g = v.drift_grid([row])
    assert g.frame().values.tolist() == [["replaced-by-fallback", "replaced-by-fallback", "replica-lagging"]]
    assert g.cells[0][0].cause == "Gloo replaced the invalid route by its fallback response"
    out = v.invalid_routes_frame(findings(TYPO_FINDING), [row])
    assert out[["route", "effect", "role"]].values.tolist() == [["echo: prefix /echo", "fallback 404", "replaced"]]
