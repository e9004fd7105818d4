"""The inspection in analysis: one collect(source) over the source interface, typed drift rows as the JSON view."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gloo_nb.analysis import DriftRow
from gloo_nb.analysis.inspection import Inspection, collect
from gloo_nb.app.manifests import read_manifests
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import ParseResult
from gloo_nb.translate import Translation, Translator
from gloo_nb.xds.admin import TypeStats, XdsStats
from gloo_nb.xds.decode import ServedSnapshot
from gloo_nb.xds.protos import TYPE_ROUTE

pytestmark = pytest.mark.unit

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"
BASE = ["echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "foxtrot-v2.yaml", "echo-v2.yaml",
        "foxtrot-v1.yaml", "vs.yaml"]
GOOD = [*BASE, "rt-echo-2.yaml", "rt-foxtrot-3.yaml"]
TYPO = [*BASE, "rt-echo-3.yaml", "rt-foxtrot-4.yaml"]
R0, R1 = "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"


def _snapshot(files: list[str]) -> Snapshot:
    return Snapshot.from_resources(read_manifests([str(SEED / f) for f in files]).resources)


def _served(t: Translation) -> ServedSnapshot:
    e = t.envoy
    return ServedSnapshot(list(e.listeners), list(e.route_configurations), list(e.clusters), list(e.endpoints),
                          versions={TYPE_ROUTE: "7"})


@dataclass
class FakeSource:
    """A third InspectionSource: what a live connection and a bundle implement, held in memory."""

    translation: Translation
    served: ServedSnapshot | None
    applied: dict[str, ServedSnapshot]
    stats: dict[str, XdsStats] = field(default_factory=dict)
    timeouts: list[float] = field(default_factory=list)
    unavailable: str = ""

    def intent(self) -> tuple[Translation, ParseResult]:
        return self.translation, ParseResult([], [], [])

    def served_now(self, timeout: float) -> ServedSnapshot | None:
        self.timeouts.append(timeout)
        return self.served

    def served_unavailable(self) -> str:
        return self.unavailable

    def applied_now(self) -> tuple[dict[str, ServedSnapshot], dict[str, XdsStats]]:
        return self.applied, self.stats


def test_a_source_that_could_not_read_what_is_served_says_why_in_the_text_and_the_document() -> None:
    good = Translator("1.3").translate(_snapshot(GOOD))
    why = "Gloo's control plane is down (no ready pod behind Service gloo-system/gloo)"
    inspection = collect(FakeSource(good, None, {R0: _served(good)}, unavailable=why))
    assert inspection.served_unavailable == why
    assert f"Served: not read ({why})" in inspection.text()
    assert inspection.document()["servedUnavailable"] == why
    assert {r["source"] for r in inspection.document()["routes"]} == {"intent", R0}
    # Read: no reason kept, whatever the source says.
    read = collect(FakeSource(good, _served(good), {R0: _served(good)}, unavailable=why))
    assert read.served_unavailable == "" and "servedUnavailable" not in read.document()


def test_collect_reads_any_source_and_the_drift_rows_are_typed_with_the_json_contract_as_their_view() -> None:
    tr = Translator("1.3")
    good = tr.translate(_snapshot(GOOD))
    typo = tr.translate(_snapshot(TYPO))
    assert typo.push.decision == "keep-last-good"
    stats = XdsStats(connected=True, cds=TypeStats(), lds=TypeStats(),
                     rds={"listener-__-8080-routes": TypeStats(update_rejected=2, version_text="6")}, eds={})
    source = FakeSource(typo, _served(good), {R0: _served(good), R1: _served(good)}, {R1: stats})
    inspection = collect(source, timeout=3.0)
    assert isinstance(inspection, Inspection) and source.timeouts == [3.0]
    fox = next(d for d in inspection.drift if d.match == "prefix /foxtrot")
    assert isinstance(fox, DriftRow) and fox.state == "blocked-by-last-known-good"
    assert fox.resource == "foxtrot/foxtrot-routes" and fox.reference == "served"
    assert {src: c.state for src, c in fox.cells.items()} == dict.fromkeys(["intent", "served", R0, R1],
                                                                            "blocked-by-last-known-good")
    assert fox.cause.startswith("echo/echo-routes: ")
    # The inspect --json row is a view of the typed row (unchanged keys), and the row reads like it.
    doc = inspection.document()["drift"]
    row = next(d for d in doc if d["route"]["match"] == "prefix /foxtrot")
    assert set(row) == {"resource", "route", "state", "cause", "bySource"}
    assert row == fox.as_json() == dict(fox) and json.loads(json.dumps(row)) == row
    assert row["bySource"] == fox.by_source and set(row["route"]) == {"virtualHost", "order", "match"}
    # The rejection text names the subscription, the count and the version the replica kept.
    assert "rds/listener-__-8080-routes rejected 2 update(s), still at version 6" in str(
        collect(FakeSource(good, _served(good), {R1: _served(typo)}, {R1: stats})).drift)


def test_an_inspection_without_served_compares_replicas_with_the_intent() -> None:
    t = Translator("1.3").translate(_snapshot(GOOD))
    inspection = collect(FakeSource(t, None, {R0: _served(t)}))
    assert {d.reference for d in inspection.drift} == {"intent"}
    assert all(d.state == "in-sync" and set(d.cells) == {"intent", R0} for d in inspection.drift)
