"""The headline view-model: the answer first (what is not served, for whom, since when, whose cause, the fixes).

On the seed scenario's incident (part 2: echo's upstream typo in ``rt-echo-3.yaml`` while foxtrot changes its
weights in ``rt-foxtrot-4.yaml``), translated sandbox-free as the other analysis tests do.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gloo_nb.analysis.headline import (
    CONTROL_PLANE_DOWN,
    ResourceChange,
    changes_from_audit,
    changes_from_objects,
    headline,
    read_audit_changes,
    route_label,
)
from gloo_nb.analysis.inspection import collect
from gloo_nb.analysis.views import drift_grid
from gloo_nb.app.manifests import read_manifests
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import ParseResult, parse_object
from gloo_nb.models.defaults import helm_default_settings_manifest
from gloo_nb.translate import Translation, Translator
from gloo_nb.xds.decode import ServedSnapshot
from gloo_nb.xds.protos import TYPE_ROUTE

pytestmark = pytest.mark.unit

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"
BASE = ["echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "foxtrot-v2.yaml", "echo-v2.yaml",
        "foxtrot-v1.yaml", "vs.yaml"]
GOOD = [*BASE, "rt-echo-2.yaml", "rt-foxtrot-3.yaml"]
TYPO = [*BASE, "rt-echo-3.yaml", "rt-foxtrot-4.yaml"]
R0, R1 = "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"
T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
CHANGES = [ResourceChange(T0, "RouteTable", "echo", "echo-routes", "echo-dev"),
           ResourceChange(T0 + timedelta(seconds=0.4), "RouteTable", "foxtrot", "foxtrot-routes", "foxtrot-dev")]
SEED_TEXT = ("foxtrot's change to foxtrot/foxtrot-routes is NOT served (2.6 s): Gloo keeps its last good configuration "
             "because echo/echo-routes (team echo, changed by echo-dev) names upstream echo-typo, which does not "
             "exist.")


def _resources(files, patch=False):
    res = list(read_manifests([str(SEED / f) for f in files]).resources)
    if patch:
        manifest = helm_default_settings_manifest(profile="1.3")
        manifest["spec"]["gloo"]["invalidConfigPolicy"].update({"replaceInvalidRoutes": True,
                                                               "invalidRouteResponseCode": 404})
        res.append(parse_object(manifest).resource)
    return Snapshot.from_resources(res)


def _served(t: Translation) -> ServedSnapshot:
    e = t.envoy
    return ServedSnapshot(list(e.listeners), list(e.route_configurations), list(e.clusters), list(e.endpoints),
                          versions={TYPE_ROUTE: "7"})


class Source:
    """An inspection source held in memory (served = the translator's last pushed snapshot)."""

    def __init__(self, t: Translation, served: Translation, applied: dict[str, Translation] | None = None):
        self.t, self.s, self.a = t, served, applied or {R0: served, R1: served}

    def intent(self):
        return self.t, ParseResult([], [], [])

    def served_now(self, timeout):
        return _served(self.s)

    def applied_now(self):
        return {k: _served(v) for k, v in self.a.items()}, {}


class Unserved(Source):
    """A live source whose control plane could not be read, and why (GatewayConnection.served_now's reasons)."""

    def __init__(self, t: Translation, applied: Translation, why: str):
        super().__init__(t, applied)
        self.why = why

    def served_now(self, timeout):
        return None

    def served_unavailable(self):
        return self.why


def incident(profile="1.3"):
    tr = Translator(profile)
    good = tr.translate(_resources(GOOD))
    typo = tr.translate(_resources(TYPO))
    return good, typo, collect(Source(typo, good))


def test_the_seed_incident_reads_as_the_issue_says_with_the_fix_options() -> None:
    """Issue 16's example sentence, word for word, from a 1.3 translation and the writers' actors."""
    _, typo, inspection = incident()
    assert typo.push.decision == "keep-last-good"
    h = headline(inspection, changes=CHANGES, now=T0 + timedelta(seconds=3.0))
    assert h.state == "blocked-by-last-known-good" and not h.ok
    assert h.text == SEED_TEXT
    (culprit,) = h.culprits
    assert (culprit.resource, culprit.team, culprit.actor, culprit.missing) == (
        "echo/echo-routes", "echo", "echo-dev", ("gloo-system/echo-typo",))
    assert "InvalidDestinationWarning" in culprit.messages[0] and "{echo-typo gloo-system}" in culprit.messages[0]
    (victim,) = h.victims
    assert (victim.team, victim.resource, victim.routes, victim.actor) == (
        "foxtrot", "foxtrot/foxtrot-routes", ("foxtrot: prefix /foxtrot",), "foxtrot-dev")
    assert victim.seconds == pytest.approx(2.6)
    revert, replace = h.fixes
    assert revert.action == "revert"
    assert "echo/echo-routes (upstream echo-typo), last changed by echo-dev" in revert.text
    # replaceInvalidRoutes, translated for real: echo's canary route gets the 404, foxtrot's change is served.
    assert replace.action == "replaceInvalidRoutes" and not replace.still_blocked
    assert replace.replaced == ("echo: prefix /echo, stage=canary",)
    assert replace.served == ("foxtrot/foxtrot-routes",)
    assert "fallback 404" in replace.text
    roles = {d.match: h.roles.get(d.id) for d in inspection.drift}
    assert roles["prefix /foxtrot"] == "blocked" and roles["prefix /echo, stage=canary"] == "cause"
    assert h.cause_resources == {"echo/echo-routes"}
    assert h.lines()[0] == SEED_TEXT and h.lines()[1].startswith("fix: revert")
    assert json.loads(json.dumps(h.as_json()))["victims"][0]["seconds"] == pytest.approx(2.6)


def test_without_actors_or_times_it_says_unknown() -> None:
    _, _, inspection = incident()
    h = headline(inspection)
    assert "(since unknown)" in h.text and "changed by unknown" in h.text
    # A change after `now` is not the one in force.
    later = headline(inspection, changes=CHANGES, now=T0 - timedelta(seconds=1))
    assert "changed by unknown" in later.text


def test_nothing_wrong_is_one_line() -> None:
    tr = Translator("1.3")
    good = tr.translate(_resources(GOOD))
    h = headline(collect(Source(good, good)))
    assert h.ok and h.lines() == [h.text] and "\n" not in h.text
    assert h.text.startswith("Everything is served as intended")


def test_after_the_settings_patch_the_headline_says_who_loses_which_route() -> None:
    tr = Translator("1.3")
    tr.translate(_resources(GOOD))
    tr.translate(_resources(TYPO))
    patched = tr.translate(_resources(TYPO, patch=True))
    assert patched.push.decision == "push"
    h = headline(collect(Source(patched, patched)), changes=CHANGES, now=T0 + timedelta(seconds=5))
    assert h.state == "replaced-by-fallback"
    assert h.text.startswith("echo loses echo: prefix /echo, stage=canary (echo/echo-routes, 5.0 s): "
                             "Gloo answers with its fallback response (fallback 404) because echo/echo-routes")
    assert "names upstream echo-typo, which does not exist." in h.text
    assert [f.action for f in h.fixes] == ["revert"]  # replaceInvalidRoutes is already on
    assert set(h.roles.values()) == {"replaced"}


def test_a_replica_rejecting_or_lagging_gets_its_own_headline() -> None:
    tr = Translator("1.3")
    good = tr.translate(_resources(GOOD))
    old = Translator("1.3").translate(_resources([*BASE, "rt-echo-2.yaml", "rt-foxtrot-4.yaml"]))
    lagging = headline(collect(Source(good, good, {R0: good, R1: old})))
    assert lagging.state == "replica-lagging"
    assert lagging.text.startswith(f"Replica(s) {R1} have not applied the served configuration yet: foxtrot: ")


def test_pending_when_nothing_blocks() -> None:
    tr = Translator("1.3")
    good = tr.translate(_resources(GOOD))
    newer = tr.translate(_resources([*BASE, "rt-echo-2.yaml", "rt-foxtrot-4.yaml"]))
    h = headline(collect(Source(newer, good)), changes=CHANGES, now=T0 + timedelta(seconds=1.4))
    assert h.state == "pending"
    assert h.text == ("foxtrot's change to foxtrot/foxtrot-routes (1.0 s) is not served yet: the control plane has "
                      "not served the intended configuration yet.")


def test_current_profile_serves_the_typo_route_to_a_missing_cluster_and_says_so() -> None:
    """current pushes the sanitized snapshot (spec: Gloo >= 1.12 always pushes): echo's route answers 503, foxtrot
    is not held back; the headline names the broken route, its cause and both fixes."""
    tr = Translator("current")
    tr.translate(_resources(GOOD))
    typo = tr.translate(_resources(TYPO))
    assert typo.push.decision == "push"
    h = headline(collect(Source(typo, typo)), changes=CHANGES, now=T0 + timedelta(seconds=3.0))
    assert h.state == "broken-destination"
    assert h.text == ("echo: prefix /echo, stage=canary (echo-typo_gloo-system) answers 503 (Envoy has no such "
                      "cluster) because echo/echo-routes (team echo, changed by echo-dev) names upstream echo-typo, "
                      "which does not exist.")
    assert [f.action for f in h.fixes] == ["revert", "replaceInvalidRoutes"]
    assert h.fixes[1].replaced == ("echo: prefix /echo, stage=canary",)
    # The drift says in-sync (served as intended); the headline's role marks the route's broken destination.
    inspection = collect(Source(typo, typo))
    grid = drift_grid(inspection.drift, h.roles)
    row = grid.routes.index("echo: prefix /echo, stage=canary")
    assert grid.states[row] == "in-sync" and grid.roles[row] == "broken"
    assert {c.word for c in grid.cells[row]} == {"broken destination"}


def test_changes_from_the_sandbox_audit_log_and_managed_fields(tmp_path: Path) -> None:
    def event(when: str, verb: str, user: str, *, code: int = 200, sub: str = "", uri: str = "",
              impersonated: str | None = None) -> str:
        # audit.k8s.io/v1 Events as the sandbox (and kube-apiserver) write them, Metadata level.
        ref = {"resource": "routetables", "namespace": "echo", "name": "echo-routes", "apiGroup": "gateway.solo.io",
               "apiVersion": "v1", **({"subresource": sub} if sub else {})}
        return json.dumps({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"id-{when}",
            "stage": "ResponseComplete", "requestURI": "/apis/gateway.solo.io/v1/namespaces/echo/routetables/"
            "echo-routes" + uri, "verb": verb, "user": {"username": user, "groups": ["system:masters"]},
            **({"impersonatedUser": {"username": impersonated, "groups": ["team-echo"]}} if impersonated else {}),
            "objectRef": ref, "responseStatus": {"metadata": {}, "code": code},
            "requestReceivedTimestamp": when, "stageTimestamp": when})

    lines = [
        event("2026-12-07T03:00:00.100000Z", "patch", "admin", impersonated="echo-dev"),
        event("2026-12-07T03:00:00.200000Z", "update", "system:serviceaccount:gloo-system:gloo", sub="status"),
        event("2026-12-07T03:00:00.300000Z", "patch", "admin", impersonated="foxtrot-dev", code=403),
        event("2026-12-07T03:00:00.400000Z", "patch", "admin", uri="?dryRun=All"),
        "not json",
    ]
    (tmp_path / "audit.jsonl").write_text("\n".join(lines) + "\n")
    (change,) = read_audit_changes(tmp_path / "audit.jsonl")
    assert (change.namespace, change.name, change.actor) == ("echo", "echo-routes", "echo-dev")
    assert change.time == datetime(2026, 12, 7, 3, 0, 0, 100000, tzinfo=UTC)
    assert changes_from_audit([]) == [] and read_audit_changes(tmp_path / "missing") == []
    (mf,) = changes_from_objects([{"kind": "RouteTable", "metadata": {"namespace": "foxtrot", "name": "foxtrot-routes",
                                   "managedFields": [
                                       {"manager": "kubectl", "time": "2026-12-07T02:00:00Z"},
                                       {"manager": "helm", "time": "2026-12-07T03:00:00Z"},
                                       {"manager": "gloo", "time": "2026-12-07T04:00:00Z",
                                        "subresource": "status"}]}}])
    assert (mf.actor, mf.time.hour) == ("helm", 3)


def test_route_labels_name_the_team() -> None:
    assert route_label("foxtrot/foxtrot-routes", "prefix /foxtrot") == "foxtrot: prefix /foxtrot"
    assert route_label("", "prefix /x", "gloo-system_app") == "gloo-system_app: prefix /x"


def test_the_shipped_seed_incident_journal_reads_as_the_issue_says() -> None:
    """The recorded seed incident (data/journals/seed-incident): just before ops' settings patch, foxtrot has been
    held back 2.6 s by echo-dev's typo: issue 16's sentence word for word, actors and times from the journal."""
    from gloo_nb import load_timeline, seed_incident_journal
    from gloo_nb.analysis.headline import headline_at
    from gloo_nb.analysis.incident import incident_summary

    timeline = load_timeline(str(seed_incident_journal()))
    (incident,) = incident_summary(timeline).incidents
    (fix,) = incident.fix
    assert (fix.ref, fix.actor) == ("gloo-system/default", "ops")
    h = headline_at(timeline, fix.time - timedelta(microseconds=1))
    assert h.text == SEED_TEXT
    # Once the fix is served, nobody is held back; the replicas catch up.
    after = headline_at(timeline, incident.end)
    assert after.state == "replica-lagging" and "NOT served" not in after.text


def test_changes_from_the_log_kubectl_wrote_on_the_sandbox() -> None:
    # tests/data/audit: the sandbox's audit.k8s.io/v1 log while real kubectl 1.32 played the seed incident.
    log = Path(__file__).resolve().parents[1] / "data" / "audit" / "kubectl-1.32-seed-incident.jsonl"
    changes = read_audit_changes(log)
    echo = [c.actor for c in changes if (c.kind, c.namespace, c.name) == ("RouteTable", "echo", "echo-routes")]
    assert echo == ["admin", "admin", "echo-dev", "echo-dev"]  # created, step 4, the typo, the revert
    assert [c.actor for c in changes if c.kind == "Settings"] == ["admin", "ops"]  # the sandbox's seed, the fix
    gloo = "system:serviceaccount:gloo-system:gloo"
    assert not [c for c in changes if c.actor == gloo and c.kind == "RouteTable"]  # status writes are not changes
    assert all(c.time.tzinfo is not None for c in changes)


def test_a_control_plane_that_is_down_leads_the_headline_and_nothing_claims_served() -> None:
    tr = Translator("1.3")
    good = tr.translate(_resources(GOOD))
    down = f"{CONTROL_PLANE_DOWN} (no ready pod behind Service gloo-system/gloo; Deployment gloo-system/gloo is " \
           "scaled to 0 replicas)"
    h = headline(collect(Unserved(good, good, down)))
    assert h.state == "control-plane-down" and not h.ok
    assert h.text == f"{down}: the Envoy replicas keep serving what they last applied; no change is served until " \
                     "it is back."
    (fix,) = h.fixes
    assert fix.action == "restore" and "kubectl -n gloo-system scale deploy/gloo --replicas=1" in fix.text
    # The seed incident while Gloo is down: the down control plane leads, the block follows as a detail.
    _, typo, _ = incident()
    both = headline(collect(Unserved(typo, good, down)))
    assert both.state == "control-plane-down", both.lines()
    # Without served, the replicas are compared with the intent, and said to be: never a served configuration.
    assert any(d.startswith("Replica(s) gateway-proxy-0.gloo-system, gateway-proxy-1.gloo-system have not applied "
                            "the intended configuration (what the control plane serves was not read)")
               for d in both.details), both.lines()
    assert not any("served configuration" in d for d in both.details), both.lines()
    # Not read for another reason: the replicas' agreement is said, never "served".
    other = headline(collect(Unserved(good, good, "no xDS address")))
    assert other.ok and other.text.startswith("Everything intended is applied: intent and every replica agree")
    assert "served" not in other.text.split(";")[0] and other.text.endswith("(no xDS address).")
