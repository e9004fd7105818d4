"""Drift classification on hand-made route rows: every state and its cause."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gloo_nb.analysis import STATES, DriftInputs, drift_frame, drift_rows, route_key

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Row:
    action_summary: str
    match_summary: str = "prefix /foxtrot"
    virtual_host: str = "gloo-system_app"
    order: int = 0
    name: str = ""
    replaced: bool = False
    match: dict = field(default_factory=lambda: {"prefix": "/foxtrot"})


V1 = "foxtrot_gloo-system {version=v1}"
V2 = "foxtrot_gloo-system {version=v2}"
R0, R1 = "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"


NO_FACTS = DriftInputs()


def classify(intent, served, r0, r1, facts=NO_FACTS):
    rows = drift_rows([intent] if intent else [], [served] if served else [],
                      {R0: [r0] if r0 else [], R1: [r1] if r1 else []}, facts)
    assert len(rows) == 1
    return rows[0]


def test_in_sync() -> None:
    row = classify(Row(V1), Row(V1), Row(V1), Row(V1))
    assert (row["state"], row["cause"]) == ("in-sync", "")
    assert row["bySource"] == {"intent": V1, "served": V1, R0: V1, R1: V1}


def test_pending_when_nothing_blocks() -> None:
    row = classify(Row(V2), Row(V1), Row(V1), Row(V1))
    assert row["state"] == "pending"


def test_blocked_names_the_cause() -> None:
    facts = DriftInputs(blocked=True, block_causes=["echo/echo-routes: *v1.Upstream {echo-typo gloo-system} not found"])
    row = classify(Row(V2), Row(V1), Row(V1), Row(V1), facts)
    assert row["state"] == "blocked-by-last-known-good"
    assert row["cause"] == "echo/echo-routes: *v1.Upstream {echo-typo gloo-system} not found"


def test_a_new_route_not_served_yet_is_blocked_too() -> None:
    facts = DriftInputs(blocked=True, block_causes=["x"])
    row = classify(Row(V2), None, None, None, facts)
    assert row["state"] == "blocked-by-last-known-good" and row["bySource"]["served"] is None


def test_replica_lagging_and_rejected() -> None:
    lagging = classify(Row(V2), Row(V2), Row(V2), Row(V1))
    assert lagging["state"] == "replica-lagging" and R1 in lagging["cause"] and R0 not in lagging["cause"]
    facts = DriftInputs(rejected={R1: "rds/listener-__-8080-routes rejected 1 update(s)"})
    rejected = classify(Row(V2), Row(V2), Row(V2), Row(V1), facts)
    assert rejected["state"] == "rejected-by-envoy"
    assert rejected["cause"] == f"{R1}: rds/listener-__-8080-routes rejected 1 update(s)"


def test_replaced_by_fallback_with_the_route_cause() -> None:
    fallback = Row("fallback 404", replaced=True)
    facts = DriftInputs(route_causes={route_key(fallback): "echo/echo-routes: echo-typo not found"})
    row = classify(fallback, fallback, fallback, fallback, facts)
    assert (row["state"], row["cause"]) == ("replaced-by-fallback", "echo/echo-routes: echo-typo not found")


def test_without_the_xds_stream_replicas_are_compared_with_intent() -> None:
    rows = drift_rows([Row(V2)], None, {R0: [Row(V1)]}, DriftInputs())
    assert rows[0]["state"] == "replica-lagging" and "served" not in rows[0]["bySource"]


def test_states_are_the_contract_names() -> None:
    assert set(STATES) == {"in-sync", "pending", "blocked-by-last-known-good", "rejected-by-envoy",
                           "replica-lagging", "replaced-by-fallback", "unmodelled"}


def test_frame_has_one_row_per_route() -> None:
    a, b = Row(V1), Row(V2, match_summary="prefix /echo", match={"prefix": "/echo"}, order=1)
    frame = drift_frame(drift_rows([a, b], [a, b], {R0: [a, b]}, DriftInputs(resources={route_key(a): "f/r"})))
    assert list(frame["match"]) == ["prefix /foxtrot", "prefix /echo"]
    assert list(frame["resource"]) == ["f/r", ""] and set(frame["state"]) == {"in-sync"}
