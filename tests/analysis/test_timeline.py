"""Post-incident analysis on the seed incident's journal: blocked rows, change delays, summary, state at t, plot.

The journal is built deterministically the way the recorder writes one (``gloo_nb.journal.schema``): the seed's
manifests as kube.events in the scenario's order, the served configuration from Gloo 1.3's own stateful
translator (its ``served`` is what Gloo pushes, last known good included) with route rows from
``gloo_nb.xds.decode.route_rows`` (the recorder's decoder), the statuses Gloo writes, and each replica's polls a
few hundred milliseconds after each served update. When ``data/journals/seed-incident/`` exists (recorded from the
sandbox), the same assertions run on it.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from google.protobuf.json_format import MessageToDict
from matplotlib.backends.backend_agg import FigureCanvasAgg

from gloo_nb.analysis.incident import incident_summary, timeline_figure
from gloo_nb.analysis.timeline import TYPE_ROUTE, Timeline, load_timeline
from gloo_nb.app.manifests import read_documents
from gloo_nb.app.notebook import INCIDENT, REVERT, SEED, SETTINGS_PATCH, STEP4
from gloo_nb.journal import JournalWriter, parse_time
from gloo_nb.journal.schema import (
    KUBE_EVENT,
    KUBE_SOURCE,
    RECORDER_SOURCE,
    RECORDER_START,
    RECORDER_STOP,
    REPLICA_POLL,
    XDS_CONTENT,
    XDS_SOURCE,
    XDS_UPDATE,
    replica_source,
)
from gloo_nb.models.codec import parse_objects
from gloo_nb.models.defaults import helm_default_gateway_manifest, helm_default_settings_manifest
from gloo_nb.models.snapshot import Snapshot
from gloo_nb.translate import Translator
from gloo_nb.translate.envoy import EnvoyResources
from gloo_nb.translate.status import resource_status
from gloo_nb.xds.decode import fallback_label, route_rows

pytestmark = pytest.mark.unit

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / "data" / "journals" / "seed-incident"
T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
NODES = ("gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system")
TYPES = {
    "listeners": "type.googleapis.com/envoy.config.listener.v3.Listener",
    "route_configurations": TYPE_ROUTE,
    "clusters": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
}
ACTORS = {"echo": "echo-dev", "foxtrot": "foxtrot-dev", "gloo-system": "platform-admin"}
STATUS_KINDS = {"VirtualService", "RouteTable", "Gateway", "Upstream"}
CAUSE = "echo/echo-routes"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _ident(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return (obj["kind"], meta.get("namespace", ""), meta["name"])


def _merge_patch(target: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge_patch(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


class SeedRecorder:
    """Plays the seed incident the way the sandbox and the recorder would, writing the journal as it goes."""

    def __init__(self, out: Path) -> None:
        self.journal = JournalWriter(out)
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.gloo = Translator("1.3")
        self.rv = 100
        self.served_digest: dict[str, str] = {}
        self.applied: dict[str, dict[str, str]] = {}
        self.contents: set[str] = set()

    def close(self, t: float) -> None:
        self.journal.append(RECORDER_STOP, {"reason": "stop()"}, source=RECORDER_SOURCE, time=at(t))
        self.journal.close()

    def start(self, t: float, initial: Iterable[dict[str, Any]]) -> None:
        self.journal.append(RECORDER_START, {
            "profile": "1.3", "namespace": "gloo-system", "replicas": list(NODES), "gatewayUrl": "http://127.0.0.1:1",
            "xds": "127.0.0.1:2", "kinds": ["VirtualService", "RouteTable", "Gateway", "Upstream", "Settings",
                                            "Service", "Pod"],
            "connection": {"sandbox": "/tmp/x", "context": None, "asUser": None, "asGroup": None}},
            source=RECORDER_SOURCE, time=at(t))
        for obj in initial:
            self._store(obj)
            self._kube(t, "INITIAL", self.objects[_ident(obj)], actor=None, spec=False)
        self.sync(t)

    def _store(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        self.rv += 1
        stored = copy.deepcopy(dict(obj))
        old = self.objects.get(_ident(stored))
        if old is not None and "status" in old:
            stored["status"] = old["status"]
        stored["metadata"] = {**stored["metadata"], "resourceVersion": str(self.rv),
                              "generation": (old or {}).get("metadata", {}).get("generation", 0) + 1}
        self.objects[_ident(stored)] = stored
        return stored

    def _kube(self, t: float, etype: str, obj: Mapping[str, Any], *, actor: str | None, spec: bool,
              status: bool = False) -> None:
        kind, ns, name = _ident(obj)
        self.journal.append(KUBE_EVENT, {
            "type": etype, "kind": kind, "namespace": ns, "name": name,
            "resourceVersion": obj["metadata"]["resourceVersion"], "generation": obj["metadata"]["generation"],
            "object": obj, "specChanged": spec, "statusChanged": status, "patch": None if etype != "MODIFIED" else [],
            "actor": {"user": actor, "groups": [], "via": "audit" if actor else "unknown", "manager": None}},
            source=KUBE_SOURCE, time=at(t))

    def change(self, t: float, obj: Mapping[str, Any]) -> None:
        etype = "MODIFIED" if _ident(obj) in self.objects else "ADDED"
        stored = self._store(obj)
        self._kube(t, etype, stored, actor=ACTORS[_ident(obj)[1]], spec=True)
        self.sync(t)

    def patch_settings(self, t: float, patch: Mapping[str, Any]) -> None:
        ident = ("Settings", "gloo-system", "default")
        self.change(t, _merge_patch(self.objects[ident], patch))

    def sync(self, t: float) -> None:
        """The control plane's pass after a change: statuses, then the served update, then the replicas' polls."""
        parsed = parse_objects([o for o in self.objects.values() if o["kind"] != "Deployment"])
        translation = self.gloo.translate(Snapshot.from_resources(parsed.resources))
        for report in translation.reports:
            if report.key.kind not in STATUS_KINDS:
                continue
            ident = (report.key.kind, report.key.namespace, report.key.name)
            status = resource_status(report, "1.3", proxy_status=translation.proxy_report)
            if self.objects[ident].get("status") != status:
                self.rv += 1
                obj = copy.deepcopy(self.objects[ident])
                obj["status"] = status
                obj["metadata"]["resourceVersion"] = str(self.rv)
                self.objects[ident] = obj
                self._kube(t + 0.05, "MODIFIED", obj, actor="gloo", spec=False, status=True)
        if translation.served is not None:
            self.serve(t + 0.1, translation.served)

    def serve(self, t: float, served: EnvoyResources) -> None:
        changed = False
        for field, type_url in TYPES.items():
            messages = list(getattr(served, field))
            digest = hashlib.sha256(b"".join(m.SerializeToString(deterministic=True) for m in messages)).hexdigest()
            if self.served_digest.get(type_url) == digest:
                continue
            changed = True
            self.served_digest[type_url] = digest
            self._content(t, type_url, digest, messages, served)
            self.journal.append(XDS_UPDATE, {"typeUrl": type_url, "version": digest[:12], "nonce": str(self.rv),
                                             "digest": digest, "names": [m.name for m in messages],
                                             "accepted": True}, source=XDS_SOURCE, time=at(t))
        if changed:
            for n, node in enumerate(NODES):
                self.poll(t + 0.3 + 0.2 * n, node)

    def _content(self, t: float, type_url: str, digest: str, messages: list[Any], served: EnvoyResources) -> None:
        if digest in self.contents:
            return
        self.contents.add(digest)
        data: dict[str, Any] = {"digest": digest, "typeUrl": type_url,
                                "resources": [MessageToDict(m) for m in messages]}
        if type_url == TYPE_ROUTE:
            rows = route_rows(messages, "served", fallback_body=fallback_label(served.listeners))
            data["routes"] = [{"routeConfiguration": r.route_configuration, "virtualHost": r.virtual_host,
                               "order": r.order, "name": r.name, "match": r.match, "action": r.action,
                               "matchSummary": r.match_summary, "actionSummary": r.action_summary} for r in rows]
        self.journal.append(XDS_CONTENT, data, source=XDS_SOURCE, time=at(t))

    def poll(self, t: float, node: str) -> None:
        versions = {type_url: self.served_digest[type_url][:12] for type_url in TYPES.values()}
        self.journal.append(REPLICA_POLL, {"node": node, "versions": versions,
                                           "rejected": dict.fromkeys(TYPES.values(), 0),
                                           "routeDigest": self.served_digest[TYPE_ROUTE], "reachable": True},
                            source=replica_source(node), time=at(t))


def docs(*files: str) -> list[dict[str, Any]]:
    return [d for f in files for d in read_documents(SEED / f) if isinstance(d, dict)]


MOMENTS = {"rt-echo-3": 10.0, "rt-foxtrot-4": 20.0, "settings": 40.0, "revert": 60.0, "stop": 70.0}


def write_seed_journal(out: Path) -> Path:
    """The seed incident (steps 1-4 listed at start, then rt-echo-3, rt-foxtrot-4, the settings patch, the revert)."""
    rec = SeedRecorder(out)
    initial = [helm_default_settings_manifest(profile="1.3"), helm_default_gateway_manifest(), *docs(*STEP4)]
    rec.start(0.0, [d for d in initial if d["kind"] not in ("Namespace", "Deployment")])
    for name, doc in zip(INCIDENT, (MOMENTS["rt-echo-3"], MOMENTS["rt-foxtrot-4"]), strict=True):
        for d in docs(name):
            rec.change(doc, d)
    for patch in docs(SETTINGS_PATCH):
        rec.patch_settings(MOMENTS["settings"], patch)
    for d in docs(*REVERT):
        rec.change(MOMENTS["revert"], d)
    rec.close(MOMENTS["stop"])
    return out


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Timeline:
    return load_timeline(write_seed_journal(tmp_path_factory.mktemp("journal") / "seed"))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Timeline:
    """The seed incident recorded now on a Gloo 1.3 sandbox by the repo's script (so the shipped journal's
    assertions stay honest)."""
    script = REPO / "scripts" / "record_seed_incident.py"
    spec = importlib.util.spec_from_file_location("record_seed_incident_for_timeline", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    root = tmp_path_factory.mktemp("live")
    done = module.record_seed_incident(root / "journal", state_dir=root / "sb", pods=False)
    assert done.recorder_errors == []
    return load_timeline(root / "journal")


SOURCES = ["built", "recorded", "live"]


@pytest.fixture(params=SOURCES)
def timeline(request: pytest.FixtureRequest, seed: Timeline) -> Timeline:
    if request.param == "built":
        return seed
    if request.param == "recorded":
        return load_timeline(RECORDED)
    return request.getfixturevalue("live")


def change_time(tl: Timeline, resource: str, pred: Callable[[Any], bool] = lambda c: True) -> datetime:
    """The last change of ``resource`` up to the settings patch (a recording also holds steps 1 to 4)."""
    patch = next(c.time for c in tl.changes if c.kind == "Settings" and c.type == "MODIFIED")
    return [c.time for c in tl.changes if c.ref == resource and pred(c) and c.time <= patch][-1]


def next_change(tl: Timeline, t: datetime) -> datetime:
    return next(c.time for c in tl.changes if c.time > t)


def served_after(tl: Timeline, t: datetime) -> datetime:
    frame = tl.served_versions()
    return next(x.to_pydatetime() for x in frame[frame["typeUrl"] == TYPE_ROUTE]["time"] if x.to_pydatetime() >= t)


# --- the seed incident ------------------------------------------------------------------------------------------


def test_foxtrot_is_blocked_by_echos_typo_until_the_settings_patch_is_served(timeline: Timeline) -> None:
    foxtrot_change = change_time(timeline, "foxtrot/foxtrot-routes")
    patch = change_time(timeline, "gloo-system/default", lambda c: c.kind == "Settings")
    rows = timeline.blocked
    assert [b.team for b in rows] == ["foxtrot"], rows
    (row,) = rows
    assert row.resource == "foxtrot/foxtrot-routes"
    assert row.start == foxtrot_change == row.pending_since
    assert row.end == served_after(timeline, patch)
    assert row.cause.startswith(f"{CAUSE}: ") and "echo-typo" in row.cause
    assert all(c.ref == CAUSE for c in row.causes)
    # What foxtrot wanted and did not get: its 0/100 weights.
    assert any("prefix /foxtrot" in r and "foxtrot_gloo-system {version=v2} 100" in r for r in row.routes), row.routes


def test_no_blocked_row_for_echo_the_cause(timeline: Timeline) -> None:
    assert not [b for b in timeline.blocked if b.team == "echo"]
    (episode,) = timeline.episodes
    assert [c.ref for c in episode.started_by] == [CAUSE]
    assert [c.kind for c in episode.ended_by] == ["Settings"]


def test_changes_are_served_and_applied_with_their_delays(seed: Timeline) -> None:
    frame = seed.changes_frame().set_index("resource")
    assert list(seed.changes_frame()["resource"]) == ["echo/echo-routes", "foxtrot/foxtrot-routes",
                                                      "gloo-system/default", "echo/echo-routes"]
    fox = frame.loc["foxtrot/foxtrot-routes"]
    assert fox["actor"] == "foxtrot-dev"
    # Served with the first update after the settings patch (40.1 s), applied by the second replica at 40.6 s.
    assert fox["servedAfterSeconds"] == pytest.approx(MOMENTS["settings"] + 0.1 - MOMENTS["rt-foxtrot-4"])
    assert fox["appliedAfterSeconds"] == pytest.approx(MOMENTS["settings"] + 0.6 - MOMENTS["rt-foxtrot-4"])
    settings = frame.loc["gloo-system/default"]
    assert settings["actor"] == "platform-admin"
    assert settings["servedAfterSeconds"] == pytest.approx(0.1)
    assert settings["appliedAfterSeconds"] == pytest.approx(0.6)
    typo, revert = seed.changes_frame()[seed.changes_frame()["resource"] == "echo/echo-routes"].itertuples()
    # The typo is served once replaced by the fallback (after the patch); the revert right away.
    assert typo.servedAfterSeconds == pytest.approx(MOMENTS["settings"] + 0.1 - MOMENTS["rt-echo-3"])
    assert revert.servedAfterSeconds == pytest.approx(0.1)
    assert revert.appliedAfterSeconds == pytest.approx(0.6)


def test_change_delays_on_any_journal(timeline: Timeline) -> None:
    frame = timeline.changes_frame()
    foxtrot_change = change_time(timeline, "foxtrot/foxtrot-routes")
    fox = frame[frame["time"] == foxtrot_change].iloc[0]
    patch = change_time(timeline, "gloo-system/default", lambda c: c.kind == "Settings")
    assert fox["servedAfterSeconds"] == pytest.approx(
        (served_after(timeline, patch) - fox["time"].to_pydatetime()).total_seconds())
    assert fox["appliedAfterSeconds"] >= fox["servedAfterSeconds"]
    # A change superseded before any served update held it was never meant to be served (the control plane
    # coalesces: kubectl applying rt-foxtrot-1 then rt-foxtrot-3 within milliseconds may serve only the second).
    unserved = frame[frame["servedAfterSeconds"].isna() & frame["supersededAt"].isna()]
    assert unserved.empty, f"changes never served:\n{unserved.to_string()}\nserved updates:\n" \
        f"{timeline.served_versions().to_string()}"


def test_summary_text_and_json_document(timeline: Timeline) -> None:
    summary = incident_summary(timeline)
    (incident,) = summary.incidents
    text = summary.text()
    assert "foxtrot blocked" in text and CAUSE in text and "echo-typo" in text
    assert "fix: Settings gloo-system/default" in text
    assert [i.team for i in incident.impact] == ["foxtrot"]
    assert incident.time_to_recover is not None and incident.time_to_detect is not None
    assert 0 <= incident.time_to_detect < incident.time_to_recover
    doc = json.loads(json.dumps(summary.document()))
    (blocked,) = doc["blocked"]
    assert {k: blocked[k] for k in ("team", "resource")} == {"team": "foxtrot", "resource": "foxtrot/foxtrot-routes"}
    for key in ("start", "end", "pendingSince"):
        assert parse_time(blocked[key]).tzinfo is not None and blocked[key].endswith("Z")
    assert blocked["cause"].startswith(f"{CAUSE}: ")
    assert {"resource", "time", "servedAfterSeconds", "appliedAfterSeconds"} <= set(doc["changes"][0])
    assert doc["incidents"][0]["fix"][0]["kind"] == "Settings"


def test_summary_text_for_the_built_journal(seed: Timeline) -> None:
    summary = incident_summary(seed)
    (incident,) = summary.incidents
    assert incident.start == at(MOMENTS["rt-echo-3"])
    assert incident.end == at(MOMENTS["settings"] + 0.1)
    assert incident.time_to_detect == pytest.approx(0.05)  # Gloo's status write after the typo
    assert incident.time_to_recover == pytest.approx(30.1)
    assert incident.impact[0].seconds == pytest.approx(20.1)
    assert [c.actor for c in incident.fix] == ["platform-admin"]
    text = summary.text()
    assert "foxtrot blocked 20.10 s" in text
    assert "fix: Settings gloo-system/default modified by platform-admin" in text
    assert "time to detect: 0.05 s" in text and "time to recover: 30.10 s" in text


def test_state_at_before_and_after_the_patch(timeline: Timeline) -> None:
    patch = change_time(timeline, "gloo-system/default", lambda c: c.kind == "Settings")
    served = served_after(timeline, patch)
    before = timeline.state_at(patch - timedelta(seconds=1))
    assert before.translation.push.decision == "keep-last-good"
    assert any(f.origin.ref == CAUSE for f in before.findings)
    assert [b.team for b in before.blocked] == ["foxtrot"]
    fox = [r for r in before.served_routes if r["matchSummary"] == "prefix /foxtrot"]
    assert [r["actionSummary"] for r in fox] == ["foxtrot_gloo-system {version=v1} 100, "
                                                 "foxtrot_gloo-system {version=v2} 0"]
    intended = [r for r in before.intent_routes if r["matchSummary"] == "prefix /foxtrot"]
    assert [r["actionSummary"] for r in intended] == ["foxtrot_gloo-system {version=v1} 0, "
                                                      "foxtrot_gloo-system {version=v2} 100"]
    # Before the revert, once every replica had polled.
    after = timeline.state_at(served + (next_change(timeline, served) - served) * 0.9)
    assert after.translation.push.decision == "push"
    assert not after.blocked
    # Intent and served rows compare equal once served: the analysis' rows match the recorder's.
    key = ("routeConfiguration", "virtualHost", "order", "matchSummary", "actionSummary")
    assert [tuple(r[k] for k in key) for r in after.intent_routes] == \
        [tuple(r[k] for k in key) for r in after.served_routes]
    assert any(r["actionSummary"] == "fallback 404" for r in after.served_routes)
    for node, routes in after.applied_routes.items():
        assert [r["actionSummary"] for r in routes] == [r["actionSummary"] for r in after.served_routes], node
    assert after.routes_frame()["source"].nunique() == 2 + len(after.applied_routes)


def test_frames(seed: Timeline) -> None:
    versions = seed.resource_versions()
    assert list(versions.columns) == ["kind", "namespace", "name", "resourceVersion", "time", "type", "actor",
                                      "specChanged", "statusChanged"]
    assert (versions["type"] == "INITIAL").sum() > 10
    assert set(seed.served_versions()["typeUrl"]) == set(TYPES.values())
    applied = seed.applied_versions()
    assert set(applied["node"]) == set(NODES) and (applied["rejected"] == 0).all()
    assert str(seed.events_frame()["time"].dtype) == "datetime64[ns, UTC]"
    weights = seed.weights_frame()
    fox = weights[(weights["team"] == "foxtrot") & (weights["route"] == "gloo-system_app prefix /foxtrot")
                  & (weights["destination"] == "foxtrot_gloo-system {version=v2}")]
    served = fox[fox["source"] == "served"]
    # One row per served RouteConfiguration update: before the patch, after it, after the revert.
    assert list(served["weight"]) == [0.0, 100.0, 100.0]
    assert served["time"].iloc[1].to_pydatetime() == at(MOMENTS["settings"] + 0.1)
    assert list(fox[fox["source"] == "intent"]["weight"])[:3] == [0.0, 0.0, 100.0]
    assert set(fox["source"]) == {"intent", "served", *NODES}
    assert seed.nacks_frame().empty and seed.probes_frame().empty


def test_figure_shades_blocked_intervals(timeline: Timeline, tmp_path: Path) -> None:
    fig = timeline_figure(timeline)
    axes = {ax.get_ylabel().split("\n")[0]: ax for ax in fig.axes}
    assert {"echo", "foxtrot"} <= set(axes)
    shaded = [p for p in axes["foxtrot"].patches if p.get_gid() == "blocked"]
    assert len(shaded) == 1
    assert not [p for p in axes["echo"].patches if p.get_gid() == "blocked"]
    assert len([ln for ln in axes["foxtrot"].lines if ln.get_gid() == "change"]) == len(timeline.changes)
    fig.savefig(tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 10_000
    only = timeline_figure(timeline, team="foxtrot")
    assert len(only.axes) == 1


def test_figure_reads_at_a_glance(seed: Timeline) -> None:
    """Issue 16: short legend labels outside the plot, replicas distinguishable, change labels readable and whole."""
    fig = timeline_figure(seed)
    FigureCanvasAgg(fig).draw()
    box = fig.bbox
    fox = next(ax for ax in fig.axes if ax.get_ylabel().startswith("foxtrot"))
    texts = [t.get_text() for t in fox.get_legend().get_texts()]
    assert "prefix /foxtrot -> v1" in texts and "prefix /foxtrot -> v2" in texts
    assert fox.get_legend().get_window_extent().x0 >= fox.get_window_extent().x1
    replicas = [ln for ln in fox.lines if ln.get_marker() not in ("None", None, "")]
    assert {ln.get_marker() for ln in replicas} == {"o", "s"}  # one marker per replica
    labels = [t for leg in fig.legends for t in leg.get_texts() if t.get_gid() == "change-label"]
    assert labels and [t.get_text().split("  ")[0] for t in labels] == [str(i + 1) for i in range(len(labels))]
    assert all(t.get_text().split("  ")[1].startswith("+") for t in labels)
    assert labels[0].get_text().startswith("1  +0.0 s ")
    assert all(t.get_fontsize() >= 7 for t in labels)
    for t in labels:  # inside the figure, so nothing is cut off
        ext = t.get_window_extent()
        assert box.x0 <= ext.x0 and ext.x1 <= box.x1 + 1 and box.y0 <= ext.y0 and ext.y1 <= box.y1 + 1, t.get_text()
    assert "traffic weight per destination over time" in fig.get_suptitle()


def test_nack_intervals_and_losses(tmp_path: Path) -> None:
    out = tmp_path / "j"
    with JournalWriter(out) as journal:
        for t, rejected, version in ((0, 0, "a"), (1, 1, "a"), (2, 2, "a"), (3, 2, "b")):
            journal.append(REPLICA_POLL, {"node": "n1", "versions": {TYPE_ROUTE: version},
                                          "rejected": {TYPE_ROUTE: rejected}, "routeDigest": None, "reachable": True},
                           source=replica_source("n1"), time=at(t))
    with open(next(out.glob("journal-*.jsonl")), "a") as f:
        f.write('{"time":"2026-11-28T10:00:09.000000Z","kind":"replica.po')  # a killed writer's cut line
    tl = load_timeline(out)
    nacks = tl.nacks_frame()
    assert len(nacks) == 1
    row = nacks.iloc[0]
    assert (row["node"], row["rejected"], row["version"]) == ("n1", 2, "a")
    assert row["start"].to_pydatetime() == at(1) and row["end"].to_pydatetime() == at(3)
    assert len(tl.losses) == 1 and "truncated" in tl.losses[0].why
    assert "lost:" in incident_summary(tl).text()
    assert not tl.blocked and not tl.changes


def test_an_options_only_change_is_served_with_the_next_push_not_at_once(tmp_path: Path) -> None:
    """A change that alters no route's routing (here a timeout on foxtrot's route) has the same route keys before
    and after: it is timed by the next push after it (0.1 s in this journal), never as served at the change."""
    rec = SeedRecorder(tmp_path / "journal")
    initial = [helm_default_settings_manifest(profile="1.3"), helm_default_gateway_manifest(), *docs(*STEP4)]
    rec.start(0.0, [d for d in initial if d["kind"] not in ("Namespace", "Deployment")])
    table = [d for d in docs(*STEP4) if d["kind"] == "RouteTable" and d["metadata"]["namespace"] == "foxtrot"][-1]
    changed = copy.deepcopy(table)  # rt-foxtrot-3, the last one applied
    for route in changed["spec"]["routes"]:
        route["options"] = {"timeout": "5s"}
    rec.change(10.0, changed)
    rec.close(20.0)
    frame = load_timeline(tmp_path / "journal").changes_frame()
    (row,) = frame[frame["resource"] == "foxtrot/foxtrot-routes"].itertuples()
    assert row.servedAfterSeconds == pytest.approx(0.1)
    assert row.appliedAfterSeconds == pytest.approx(0.6)  # the second replica polls 0.5 s after the push
