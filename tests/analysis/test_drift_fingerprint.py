"""Drift compares a replica with served in full (fingerprint), the intent with served by routing only."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from envoy.config.route.v3 import route_components_pb2, route_pb2

from gloo_nb.analysis import DriftInputs, drift_rows
from gloo_nb.analysis.drift import differing_settings, differs
from gloo_nb.translate.routes import route_rows, row_from_json, row_json

pytestmark = pytest.mark.unit

V1 = "foxtrot_gloo-system {version=v1}"
V2 = "foxtrot_gloo-system {version=v2}"
R0, R1 = "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"
OLD = {"route.cluster": "aa", "route.retryPolicy": "01", "requestHeadersToAdd": "0a"}
NEW = {"route.cluster": "aa", "route.retryPolicy": "02", "requestHeadersToAdd": "0b"}


@dataclass(frozen=True)
class Row:
    action_summary: str = V1
    fingerprint: str = ""
    settings: dict = field(default_factory=dict)
    opaque: tuple = ()
    match_summary: str = "prefix /foxtrot"
    virtual_host: str = "gloo-system_app"
    order: int = 0
    name: str = ""
    replaced: bool = False
    match: dict = field(default_factory=lambda: {"prefix": "/foxtrot"})


def old() -> Row:
    return Row(fingerprint="f-old", settings=OLD)


def new() -> Row:
    return Row(fingerprint="f-new", settings=NEW)


def classify(intent, served, r0, r1, facts=DriftInputs()):  # noqa: B008 - an immutable default
    rows = drift_rows([intent] if intent else [], None if served is False else ([served] if served else []),
                      {R0: [r0] if r0 else [], R1: [r1] if r1 else []}, facts)
    assert len(rows) == 1
    return rows[0]


def test_a_replica_with_the_served_destination_but_old_options_is_lagging() -> None:
    row = classify(new(), new(), old(), new())
    assert row.state == "replica-lagging"
    assert row.cause == (f"{R0} not yet at the served configuration (same destination; other route settings differ: "
                         "requestHeadersToAdd, route.retryPolicy)")
    assert row.by_source == {"intent": V1, "served": V1, R0: V1, R1: V1}  # the action summaries alone agree
    assert (row.cells[R0].state, row.cells[R1].state, row.cells["served"].state, row.cells["intent"].state) == (
        "replica-lagging", "in-sync", "in-sync", "in-sync")
    assert row.cells[R0].cause == (f"{R0} routes to {V1} as served does, but other route settings differ "
                                   "(requestHeadersToAdd, route.retryPolicy)")


def test_a_replica_that_rejected_updates_is_rejected_by_envoy() -> None:
    facts = DriftInputs(rejected={R0: "rds/listener-__-8080-routes rejected 1 update(s), still at version 3"})
    row = classify(new(), new(), old(), new(), facts)
    assert row.state == "rejected-by-envoy" and row.cells[R0].state == "rejected-by-envoy"
    assert row.cells[R1].state == "in-sync"


def test_the_intent_is_compared_by_routing_only() -> None:
    """The intent is gloo_nb's prediction: its options may not be Gloo's, which must not make drift."""
    row = classify(old(), new(), new(), new())
    assert (row.state, row.cause) == ("in-sync", "")
    # Without served, replicas are compared with the intent, by routing only too.
    row = classify(old(), False, new(), old())
    assert row.reference == "intent" and row.state == "in-sync"
    assert {c.state for c in row.cells.values()} == {"in-sync"}


def test_a_routing_difference_keeps_its_own_state_and_cause() -> None:
    row = classify(Row(V2, "f-new", NEW), Row(V2, "f-new", NEW), Row(V1, "f-old", OLD), Row(V2, "f-new", NEW))
    assert row.state == "replica-lagging" and row.cause == f"{R0} not yet at the served configuration"
    assert row.cells[R0].cause == f"{R0} has {V1}, served has {V2}"
    row = classify(Row(V2), Row(V1, "f-old", OLD), Row(V1, "f-new", NEW), Row(V1, "f-old", OLD))
    assert row.state == "pending"
    assert row.cells[R0].state == "replica-lagging" and row.cells[R1].state == "pending"


def test_rows_without_a_fingerprint_compare_by_their_action_summary() -> None:
    """Journals written before fingerprints: rows stay comparable, as they were."""
    row = classify(Row(), Row(), old(), Row())
    assert row.state == "in-sync"
    assert not differs(Row(), old(), full=True) and differs(Row(V2), old(), full=True)
    assert differs(None, old(), full=True) and not differs(None, None, full=True)
    assert differing_settings(old(), new()) == ["requestHeadersToAdd", "route.retryPolicy"]


def test_only_fingerprints_without_field_digests_still_say_settings_differ() -> None:
    row = classify(Row(), Row(fingerprint="b"), Row(fingerprint="a"), Row(fingerprint="b"))
    assert row.state == "replica-lagging"
    assert row.cause == f"{R0} not yet at the served configuration (same destination; other route settings differ)"


def test_undecodable_configuration_is_unmodelled_and_named() -> None:
    gloo = "type.googleapis.com/io.solo.transformation.RouteTransformations"
    row = classify(Row(), Row(fingerprint="a", opaque=(gloo,)), Row(fingerprint="a", opaque=(gloo,)),
                   Row(fingerprint="a", opaque=(gloo,)))
    assert row.state == "unmodelled"
    assert row.cause == f"routing in sync; served and applied compared without the insides of: {gloo}"
    facts = DriftInputs(unmodelled={row.id: "transformations"})
    row = classify(Row(), Row(fingerprint="a", opaque=(gloo,)), Row(fingerprint="a", opaque=(gloo,)), None, facts)
    assert row.state == "replica-lagging"  # replica 1 lacks the route: that is said first


def _rows(source: str, retries: int) -> list:
    rc = route_pb2.RouteConfiguration(name="listener-::-8080-routes")
    vh = rc.virtual_hosts.add(name="gloo-system_app", domains=["*"])
    r = vh.routes.add()
    r.match.prefix = "/foxtrot"
    r.route.cluster = "foxtrot_gloo-system"
    r.route.retry_policy.num_retries.value = retries
    plain = vh.routes.add(match=route_components_pb2.RouteMatch(prefix="/"))
    plain.route.cluster = "echo_gloo-system"
    return route_rows([rc], source)


def test_the_journal_rows_carry_the_same_rule() -> None:
    """The timeline's moments (``inspection_at``) read rows back from the journal: the full comparison holds."""
    served = [row_from_json("served", row_json(r)) for r in _rows("served", 3)]
    r0 = [row_from_json(R0, row_json(r)) for r in _rows(R0, 2)]
    r1 = [row_from_json(R1, row_json(r)) for r in _rows(R1, 3)]
    intent = _rows("intent", 5)  # a prediction with other retries: routing alike, no drift from it
    rows = {d.match: d for d in drift_rows(intent, served, {R0: r0, R1: r1}, DriftInputs())}
    assert rows["prefix /foxtrot"].state == "replica-lagging"
    assert rows["prefix /foxtrot"].cause == (f"{R0} not yet at the served configuration (same destination; other "
                                             "route settings differ: route.retryPolicy)")
    assert rows["prefix /"].state == "in-sync"


def test_a_renamed_route_names_its_name() -> None:
    """The name is in the fingerprint but not in the per-field digests (the row carries it)."""
    row = classify(Row(), Row(fingerprint="b", settings=OLD, name="vh-route-0-a-matcher-0"),
                   Row(fingerprint="a", settings=OLD, name="vh-route-0-b-matcher-0"),
                   Row(fingerprint="b", settings=OLD, name="vh-route-0-a-matcher-0"))
    assert row.state == "replica-lagging" and row.cause.endswith("other route settings differ: name)")
