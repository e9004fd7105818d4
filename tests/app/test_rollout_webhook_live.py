"""The rollout's ``webhook`` guard against a real sandbox (issue 19): the prediction beside the API server's own
answer to a ``dryRun=All`` PUT of the step's exact write, with the team's identity.

A foxtrot rollout with a mistyped subset key (``track``: the Upstream's subsetSpec only has ``version``) writes a
route Gloo refuses (``checkThatSubsetMatchesUpstream``: "route has a subset config, but none of the subsets in the
upstream match it", an error). Under ``current`` with ``--validation strict`` the webhook denies it: the step stops
at its guards and nothing is written; the prediction and the server agree. On an ``accept`` sandbox (Helm's
default) the webhook admits it and would only log; the rollout's own guards stop it. On ``1.3``, the server
cannot dry-run (``does not support dry run``) and the guard says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sandboxkit import PART2, SEED, audit_writes, kubectl_for, sandbox, wait_ready_pods

from gloo_nb.app.connect import connect_sandbox
from gloo_nb.app.notebook import FOXTROT_START
from gloo_nb.app.rollout import Rollout
from gloo_nb.journal import read_journal
from gloo_nb.models.audit import parse_audit_event
from gloo_nb.rollout import RolloutTarget

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

MISTYPED = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "track", "v1", "v2")
FOXTROT = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2", until="phase1")
SUBSET = "route has a subset config, but none of the subsets in the upstream match it"


def _start(tmp_path: Path, info) -> object:  # type: ignore[no-untyped-def]
    kube = kubectl_for(info, tmp_path)
    # Upstreams and RouteTables before the VirtualService that selects them (FOXTROT_START's order), so that
    # strict validation never holds an invalid snapshot (which would make it admit everything).
    kube.apply(*(PART2 / f for f in FOXTROT_START), SEED / "rbac.yaml")
    if info.gloo_version != "1.3":
        # The seed's Upstreams name the container port (8080); current Gloo needs the Service's port (80), or gives
        # no endpoints (gloo_nb/translate/eds.py, Gloo v1.12.0+).
        for name in ("echo", "foxtrot"):
            kube.run("patch", "upstream", name, "-n", "gloo-system", "--type", "merge",
                     "-p", '{"spec": {"kube": {"servicePort": 80}}}')
    return kube


def _rv(kube) -> str:  # type: ignore[no-untyped-def]
    return str(kube.json("routetable", "foxtrot-routes", "-n", "foxtrot")["metadata"]["resourceVersion"])


def test_strict_current_webhook_denies_the_step_at_its_guards(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "current", replicas=1, validation="strict") as info:
        kube = _start(tmp_path, info)
        before = _rv(kube)
        conn = connect_sandbox(info.state_dir, as_user="foxtrot-dev", as_group="team-foxtrot")
        try:
            with Rollout(conn, MISTYPED, journal=tmp_path / "journal") as rollout:
                report = rollout.next()
            assert report.outcome == "refused" and report.step == "pin-stable"
            webhook = {name: (ok, why) for name, ok, why in report.guards}["webhook"]
            assert not webhook[0]
            why = webhook[1]
            assert why.startswith('prediction: Gloo\'s webhook would deny the write: admission webhook '
                                  '"gloo.gloo-system.svc" denied the request: resource incompatible with current '
                                  "Gloo snapshot: [Validating *v1.RouteTable failed")
            assert why.endswith("; server: the API server refused a dry run of the write (dryRun=All) with the same "
                                "message; the prediction and the server agree")
            assert SUBSET in why
            detail = report.guard_details["webhook"]
            assert detail["agree"] is True and detail["server"]["answer"] == "denied"
            # The server's answer is Kubernetes' message for a webhook denial, Gloo's text inside, the same words
            # as the prediction's (kubectl prints it so).
            assert detail["prediction"]["denial"] in detail["server"]["message"]
            assert "webhook: prediction:" in report.reason
            # Nothing written: the RouteTable is as it was, and the team's one update was the refused dry run.
            assert _rv(kube) == before
            assert not [a for a in audit_writes(info.state_dir / "audit.jsonl")
                        if a.kind == "RouteTable" and a.actor == "foxtrot-dev"]
            audited = [e for line in (info.state_dir / "audit.jsonl").read_text().splitlines()
                       if (e := parse_audit_event(json.loads(line))) is not None
                       and e.kind == "RouteTable" and e.actor == "foxtrot-dev"]
            assert [(e.verb, e.dry_run, e.code) for e in audited] == [("update", True, 400)]
            # The journal holds the guard as the other guards are held, with its detail.
            events = [e for e in read_journal(tmp_path / "journal").events if e.kind == "rollout.guards"]
            (recorded,) = [g for g in events[-1].data["guards"] if g["name"] == "webhook"]
            assert recorded["ok"] is False and recorded["detail"]["server"]["answer"] == "denied"

            # The right subset key: the webhook admits the write (prediction and server agree) and it goes through.
            wait_ready_pods(kube, "foxtrot")
            with Rollout(conn, FOXTROT, journal=tmp_path / "journal-ok") as good:
                first = good.next()
            guards = {name: (ok, why) for name, ok, why in first.guards}
            assert guards["webhook"][0], guards["webhook"][1]
            assert guards["webhook"][1] == (
                "prediction: Gloo's webhook would admit the write: the change passes Gloo's validation; server: the "
                "API server admitted a dry run of the write (dryRun=All); the prediction and the server agree")
            assert first.outcome == "proven", first.text()
            assert _rv(kube) != before
        finally:
            conn.close()


def test_accept_sandbox_webhook_guard_passes_and_would_only_log(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "current", replicas=1, validation="accept") as info:
        kube = _start(tmp_path, info)
        before = _rv(kube)
        conn = connect_sandbox(info.state_dir, as_user="foxtrot-dev", as_group="team-foxtrot")
        try:
            with Rollout(conn, MISTYPED, journal=tmp_path / "journal") as rollout:
                report = rollout.next()
            ok, why = {name: (ok, why) for name, ok, why in report.guards}["webhook"]
            assert ok, why
            assert why.startswith("prediction: Gloo's webhook would admit the write and only log (alwaysAccept: "
                                  "true): the change fails its validation; it would log: resource incompatible")
            assert SUBSET in why
            assert why.endswith("server: the API server admitted a dry run of the write (dryRun=All); the prediction "
                                "and the server agree")
            # The webhook would let it in; the rollout's own guards do not.
            assert report.outcome == "refused" and "no-new-finding" in report.reason
            assert "guard webhook: ok (prediction: Gloo's webhook would admit the write and only log" in report.text()
            assert _rv(kube) == before

            # The plan dry-runs the first pending step's write too (the one computed from the live RouteTable).
            with Rollout(conn, MISTYPED, journal=tmp_path / "journal-plan", dry_run=True) as planner:
                first, *later = planner.plan()
            (guard,) = [g for g in first.guards if g.name == "webhook"]
            assert guard.detail["server"]["answer"] == "admitted" and guard.detail["agree"] is True
            assert all(g.detail["server"] is None for p in later for g in p.guards if g.name == "webhook")
            # gloo-nb rollout (the plan, --json): the guard's detail beside its line.
            cli = subprocess.run([sys.executable, "-m", "gloo_nb", "rollout", "--sandbox", str(info.state_dir),
                                  "--as", "foxtrot-dev", "--as-group", "team-foxtrot", "--route-table",
                                  MISTYPED.route_table, "--upstream", MISTYPED.upstream, "--subset-key", "track",
                                  "--stable", "v1", "--canary", "v2", "--journal", str(tmp_path / "journal-cli"),
                                  "--json"], capture_output=True, text=True, timeout=120)
            doc = json.loads(cli.stdout)
            (webhook,) = [g for g in doc["steps"][0]["guards"] if g["name"] == "webhook"]
            assert webhook["ok"] and webhook["detail"]["server"] == {"answer": "admitted", "message": ""}
            assert webhook["reason"].startswith("prediction: Gloo's webhook would admit the write and only log")
            assert _rv(kube) == before
        finally:
            conn.close()


def test_13_sandbox_cannot_dry_run_and_the_guard_says_so(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3", replicas=1) as info:
        kube = _start(tmp_path, info)
        before = _rv(kube)
        conn = connect_sandbox(info.state_dir, as_user="foxtrot-dev", as_group="team-foxtrot")
        try:
            with Rollout(conn, MISTYPED, journal=tmp_path / "journal") as rollout:
                report = rollout.next()
            ok, why = {name: (ok, why) for name, ok, why in report.guards}["webhook"]
            assert ok, why
            assert why.endswith('server: the connection cannot dry-run the write: PUT /apis/gateway.solo.io/v1/'
                                'namespaces/foxtrot/routetables/foxtrot-routes: admission webhook '
                                '"gateway.gloo-system.svc" does not support dry run')
            assert report.guard_details["webhook"]["server"]["answer"] == "no-dry-run"
            assert report.guard_details["webhook"]["agree"] is None
            assert _rv(kube) == before
        finally:
            conn.close()
