"""What a connection and a recording see of TLS Secrets, through the sandbox's real Kubernetes API (RBAC,
impersonation): an identity that may not list Secrets gets gloo_nb's warning, never Gloo's "SSL secret not
found"; a journal keeps each Secret's facts so that its replay translates TLS as the live gateway did."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandboxkit import InProcessApi, in_process_api
from tlskit import kube_tls_secret, server

from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.app.gateway import GatewayConnection
from gloo_nb.app.record import Recorder
from gloo_nb.journal import read_journal
from gloo_nb.journal.schema import KUBE_EVENT, RECORDER_START
from gloo_nb.kube import KubeClient
from gloo_nb.models.codec import parse_objects
from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.store import Store
from gloo_nb.translate import translate
from gloo_nb.translate.envoy_json import envoy_json

pytestmark = pytest.mark.sandbox

GS = "gloo-system"
API = server("api.example.com", "api.example.com")
WWW = server("www.example.com", "www.example.com")
# the seed scenario's ClusterRole (rbac.yaml): Gloo resources and what kube EDS reads, no Secrets
VIEWER = "gloo-viewer"


def _vs(name: str, secret: str | None, domain: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"virtualHost": {"domains": [domain], "routes": [
        {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": name}}]}}
    if secret is not None:
        spec["sslConfig"] = {"secretRef": {"name": secret, "namespace": GS}, "sniDomains": [domain]}
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": name, "namespace": GS},
            "spec": spec}


OBJECTS = [kube_tls_secret("api", GS, API), kube_tls_secret("www", GS, WWW), _vs("api", "api", "api.example.com"),
           _vs("www", "www", "www.example.com"), _vs("plain", None, "plain.example.com")]
KINDS = {"Secret": k.SECRET, "VirtualService": k.VIRTUAL_SERVICE}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[InProcessApi]:
    store = Store(tmp_path / "state")
    try:
        store.create(k.NAMESPACE, {"metadata": {"name": GS}})
        for obj in OBJECTS:
            store.create(KINDS[obj["kind"]], {**obj, "metadata": dict(obj["metadata"])})
        store.create(k.CLUSTER_ROLE, {"metadata": {"name": VIEWER}, "rules": [
            {"apiGroups": ["gateway.solo.io", "gloo.solo.io"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["services", "pods", "endpoints"], "verbs": ["get", "list", "watch"]}]})
        store.create(k.CLUSTER_ROLE_BINDING, {"metadata": {"name": "viewers"}, "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": VIEWER}, "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "team-a"}]})
        with in_process_api(store, tmp_path) as served:
            yield served
    finally:
        store.close()


def _conn(api: InProcessApi, profile: str = "current", **who: str) -> GatewayConnection:
    return GatewayConnection(KubeClient.from_kubeconfig(str(api.kubeconfig), **who), profile)  # type: ignore[arg-type]


def _gloo_problems(t: Any) -> list[str]:
    return [m for r in t.reports for m in (*r.errors, *r.warnings)]


def _shape(t: Any) -> list[tuple[str, list[list[str]]]]:
    return [(li.name, [list(c.filter_chain_match.server_names) for c in li.filter_chains]) for li in t.envoy.listeners]


LIVE = translate(parse_objects(OBJECTS).resources, "current")


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_identity_without_secret_access_gets_the_warning_and_no_gloo_error(api: InProcessApi, profile: str) -> None:
    admin = _conn(api, profile)
    t, _ = admin.intent()
    assert admin.secrets_unreadable == "" and _gloo_problems(t) == []
    team = _conn(api, profile, as_user="alice", as_group="team-a")
    t, _ = team.intent()
    assert team.secrets_unreadable.startswith("403: ") and 'cannot list resource "secrets"' in team.secrets_unreadable
    assert _gloo_problems(t) == []  # before: SSL secret not found on gateway-proxy-ssl (false drift)
    assert sorted(f.message for f in t.findings) == [
        f"listener-::-8443: cannot read Secrets ({team.secrets_unreadable}): the TLS checks Gloo makes on secret "
        f"gloo-system.{n} were not made" for n in ("api", "www")]
    assert all(f.severity == "warning" and f.resource.ref == "gloo-system/gateway-proxy-ssl" for f in t.findings)
    assert _shape(t) == _shape(LIVE)
    # the rollout's world reads the same snapshot (app/rollout.py): its guards see no false TLS error either
    snapshot, _ = team.read_snapshot()
    assert snapshot.secrets_unreadable == team.secrets_unreadable and snapshot.secrets == ()


def _record(api: InProcessApi, out: Path, **who: str) -> None:
    rec = Recorder(_conn(api, **who), out, kinds=["VirtualService", "Secret"]).start()
    time.sleep(0.2)
    rec.stop()


def test_journal_keeps_secret_facts_and_its_replay_translates_tls_as_live(api: InProcessApi, tmp_path: Path) -> None:
    _record(api, tmp_path / "journal")
    journal = read_journal(tmp_path / "journal")
    text = "\n".join(str(e.data) for e in journal.events)
    assert "PRIVATE KEY" not in text and API.key.splitlines()[1] not in text
    secret_events = [e.data for e in journal.of_kind(KUBE_EVENT).events if e.data["kind"] == "Secret"]
    assert {d["secretFacts"]["certificate"]["fingerprintSha256"] for d in secret_events} == {
        API.fingerprint, WWW.fingerprint}
    timeline = load_timeline(tmp_path / "journal", profile="current")
    state = timeline.state_at(journal.events[-1].time)
    assert _gloo_problems(state.translation) == [] and state.findings == []
    assert _shape(state.translation) == _shape(LIVE)
    assert envoy_json(state.translation.envoy)["listeners"] == envoy_json(LIVE.envoy)["listeners"]
    # the replay (blocked intervals, delays) translates the same way: nothing blocks the push
    assert timeline.blocked == []


def test_journal_of_an_identity_without_secret_access_replays_with_the_warning(api: InProcessApi,
                                                                               tmp_path: Path) -> None:
    _record(api, tmp_path / "journal", as_user="alice", as_group="team-a")
    journal = read_journal(tmp_path / "journal")
    (start,) = [e.data for e in journal.of_kind(RECORDER_START).events]
    assert "Secret" not in start["kinds"] and start["secretsUnreadable"].startswith("403: ")
    state = load_timeline(tmp_path / "journal", profile="current").state_at(journal.events[-1].time)
    assert _gloo_problems(state.translation) == []
    assert len(state.findings) == 2 and all("cannot read Secrets (" in f.message for f in state.findings)
    assert _shape(state.translation) == _shape(LIVE)
