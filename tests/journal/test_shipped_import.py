"""The shipped logs of the seed incident (``gloo_nb.seed_incident_logs()``) import into the incident notebook 04 shows,
and every reader of journals reads the import: the summary, the frames and the time-travel widget."""

from __future__ import annotations

from pathlib import Path

import pytest

import gloo_nb
from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.widgets.timeline import TimeTravel, TimeTravelView

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    logs = gloo_nb.seed_incident_logs()
    out = tmp_path_factory.mktemp("import") / "journal"
    summary = gloo_nb.import_journal([logs / "audit.jsonl.gz"], out,
                                     access_logs=[str(p) for p in sorted((logs / "access").glob("*.log.gz"))],
                                     gloo_version="1.3")
    assert summary.gaps == [] and len(summary.access_logs) == 2
    assert {node for node, _, _ in summary.access_logs.values()} == {"gateway-proxy-0.gloo-system",
                                                                     "gateway-proxy-1.gloo-system"}
    return out


def test_the_shipped_logs_tell_the_seed_incident(imported: Path) -> None:
    doc = gloo_nb.incident_summary(load_timeline(imported)).document()
    [incident] = doc["incidents"]
    assert [(c["resource"], c["actor"]) for c in incident["startedBy"]] == [("echo/echo-routes", "echo-dev")]
    assert [(c["resource"], c["actor"]) for c in incident["fix"]] == [("gloo-system/default", "ops")]
    [blocked] = doc["blocked"]
    assert (blocked["team"], blocked["blockedBy"]) == ("foxtrot", ["echo"]) and 2.0 < blocked["seconds"] < 3.5
    [foxtrot] = [c for c in doc["changes"] if c["resource"] == "foxtrot/foxtrot-routes" and c["actor"] ==
                 "foxtrot-dev"]
    assert foxtrot["seenAfterSeconds"] is not None and foxtrot["servedAfterSeconds"] is None
    assert doc["imported"][0]["served"] == "unknown"


def test_time_travel_reads_an_import(imported: Path) -> None:
    timeline = load_timeline(imported)
    model = TimeTravel(timeline)
    moment = model.at(model.first_blocked())
    assert moment.blocked and "imported from audit logs" in " ".join(moment.header)
    assert "foxtrot's change to foxtrot/foxtrot-routes is NOT served" in moment.headline.text
    html = TimeTravelView(timeline)._repr_mimebundle_()["text/html"]
    assert "imported from audit logs" in html


def test_the_observed_split_shows_foxtrot_moving_to_v2(imported: Path) -> None:
    weights = load_timeline(imported).weights_frame()
    foxtrot = weights[(weights["source"] == "observed") & weights["route"].str.endswith("prefix /foxtrot")]
    assert set(foxtrot["destination"]) == {"foxtrot_gloo-system {version=v1}", "foxtrot_gloo-system {version=v2}"}
    first, last = foxtrot.iloc[0], foxtrot.iloc[-1]
    assert first["destination"].endswith("{version=v1}") and last["destination"].endswith("{version=v2}")


def test_an_import_joins_the_fleet_dataset_under_its_cluster(tmp_path: Path) -> None:
    from gloo_nb.app import fleet

    logs = gloo_nb.seed_incident_logs()
    out = tmp_path / "imported"
    gloo_nb.import_journal([logs / "audit.jsonl.gz"], out, gloo_version="1.3", cluster="prod-eu-1")
    dataset = tmp_path / "fleet"
    written = fleet.export([out], dataset)  # the cluster's name comes from the journal
    assert written.cluster == "prod-eu-1"
    fleet.export([gloo_nb.seed_incident_journal()], dataset, cluster="seed-recorded")
    rows = fleet.query(dataset, sql="SELECT cluster, team, count(*) AS n FROM blocked GROUP BY ALL ORDER BY cluster")
    assert [tuple(r) for r in rows[["cluster", "team", "n"]].itertuples(index=False)] == [
        ("prod-eu-1", "foxtrot", 1), ("seed-recorded", "foxtrot", 1)]
