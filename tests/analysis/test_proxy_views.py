"""The tree and the inspection for one of several proxies (issue 14): each sees its own proxy's routes and push."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "translate"))
from builders import GS, kube_upstream, m, route, service, to, vs  # noqa: E402

from gloo_nb.analysis.inspection import Inspection  # noqa: E402
from gloo_nb.analysis.tree import DelegationTree  # noqa: E402
from gloo_nb.errors import UsageError  # noqa: E402
from gloo_nb.models import Gateway, HttpGateway, ObjectMeta, ResourceRef, Snapshot  # noqa: E402
from gloo_nb.translate import Translator  # noqa: E402
from gloo_nb.translate.translator import proxy_virtual_services  # noqa: E402

pytestmark = pytest.mark.unit


def gw(name, port, proxy, *vss):
    return Gateway(meta=ObjectMeta(name, GS), bind_address="::", bind_port=port, proxy_names=(proxy,),
                   http_gateway=HttpGateway(virtual_services=tuple(ResourceRef(v, GS) for v in vss)))


def translation(bad_b=False):
    res = [gw("gw-a", 8080, "gateway-proxy", "shared", "only-a"), gw("gw-b", 8081, "internal", "shared", "only-b"),
           vs("shared", route(m("/s"), action=to("echo"))),
           vs("only-a", route(m("/a"), action=to("echo")), domains=("a.example",)),
           vs("only-b", route(m("/b"), action=to("typo" if bad_b else "echo")), domains=("b.example",)),
           kube_upstream("echo", subset_keys=()), service("echo")]
    return Translator("1.3").translate(Snapshot.from_resources(res))


def test_a_proxys_virtual_services_are_those_its_gateways_select():
    snap = translation().snapshot
    assert [k.name for k in proxy_virtual_services(snap, "internal")] == ["only-b", "shared"]
    assert [k.name for k in proxy_virtual_services(snap, "gateway-proxy")] == ["only-a", "shared"]
    assert proxy_virtual_services(snap, "nobody") == []


def test_the_tree_of_one_proxy_has_its_virtual_services_and_push():
    t = translation(bad_b=True)
    whole = DelegationTree(t)
    assert len(whole.roots()) == 3 and whole.proxy == "gateway-proxy" and not whole.blocked
    internal = DelegationTree(t, proxy="internal")
    assert [n.label for n in internal.roots()] == ["VirtualService gloo-system/only-b",
                                                   "VirtualService gloo-system/shared"]
    assert internal.proxy == "internal" and internal.blocked  # 1.3: the warning keeps internal's last good
    assert internal.roots()[0].state == "blocked"
    with pytest.raises(UsageError, match="no proxy 'nobody'.*gateway-proxy, internal"):
        DelegationTree(t, proxy="nobody")


def test_the_inspection_document_names_its_proxy_and_every_proxys_push():
    t = translation(bad_b=True)
    doc = Inspection.build(t.for_proxy("internal"), None, {}, {}).document()
    assert doc["proxy"] == "internal" and doc["push"]["decision"] == "keep-last-good"
    assert "proxies" not in doc  # a per-proxy translation lists no others
    whole = Inspection.build(t, None, {}, {}).document()
    assert whole["proxy"] == "gateway-proxy"
    assert [(p["name"], p["push"]["decision"]) for p in whole["proxies"]] == [
        ("gateway-proxy", "push"), ("internal", "keep-last-good")]
    assert whole["routes"] and all(r["proxy"] == "gateway-proxy" for r in (*whole["routes"], *whole["drift"]))


def test_a_timeline_replays_the_proxy_its_recording_followed(tmp_path):
    from datetime import UTC, datetime

    from gloo_nb.analysis.timeline import load_timeline
    from gloo_nb.journal import JournalWriter
    from gloo_nb.journal.schema import KUBE_EVENT, KUBE_SOURCE, RECORDER_SOURCE, RECORDER_START

    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    objects = [
        {"apiVersion": "gateway.solo.io/v1", "kind": "Gateway", "metadata": {"name": name, "namespace": GS},
         "spec": {"bindAddress": "::", "bindPort": 8080, "httpGateway": {"virtualServiceSelector": {"p": name}},
                  "proxyNames": [name]}} for name in ("gateway-proxy", "internal")] + [
        {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
         "metadata": {"name": name, "namespace": GS, "labels": {"p": proxy}},
         "spec": {"virtualHost": {"domains": ["*"], "routes": [
             {"matchers": [{"prefix": f"/{name}"}], "directResponseAction": {"status": 200}}]}}}
        for name, proxy in (("pub", "gateway-proxy"), ("priv", "internal"))]
    for proxy, expected in (("internal", "/priv"), (None, "/pub")):
        out = tmp_path / (proxy or "default")
        journal = JournalWriter(out)
        journal.append(RECORDER_START, {"profile": "current", "namespace": GS, "replicas": [], "kinds": [],
                                        **({"proxy": proxy, "role": f"{GS}~{proxy}"} if proxy else {})},
                       source=RECORDER_SOURCE, time=t0)
        for i, obj in enumerate(objects):
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(i + 1), "generation": 1}}
            journal.append(KUBE_EVENT, {"type": "INITIAL", "kind": obj["kind"], "namespace": GS,
                                        "name": obj["metadata"]["name"], "resourceVersion": str(i + 1),
                                        "generation": 1, "object": obj, "specChanged": False,
                                        "statusChanged": False, "patch": None, "actor": {}},
                           source=KUBE_SOURCE, time=t0)
        journal.close()
        timeline = load_timeline(out)
        assert timeline.proxy == proxy
        state = timeline.state_at(t0)
        assert [r.match.prefix for rc in state.translation.envoy.route_configurations
                for vh in rc.virtual_hosts for r in vh.routes] == [expected]


def test_combined_documents_keep_each_proxys_rows():
    from gloo_nb.analysis.inspection import combine_documents

    t = translation()
    docs = [Inspection.build(t.for_proxy(n), None, {}, {}).document() for n in ("gateway-proxy", "internal")]
    both = combine_documents(docs)
    assert both["proxy"] == "gateway-proxy"
    assert {(r["proxy"], r["resource"]) for r in both["drift"]} == {
        ("gateway-proxy", "gloo-system/only-a"), ("gateway-proxy", "gloo-system/shared"),
        ("internal", "gloo-system/only-b"), ("internal", "gloo-system/shared")}
    assert len(both["routes"]) == len(docs[0]["routes"]) + len(docs[1]["routes"])
    # listener names repeat across proxies: each proxy's listener drift rows stay, tagged
    assert sorted((r["proxy"], r["state"]) for r in both["listenerDrift"]) == sorted(
        (doc["proxy"], r["state"]) for doc in docs for r in doc["listenerDrift"])
    assert {r["proxy"] for r in both["listenerDrift"]} == {"gateway-proxy", "internal"}
    assert combine_documents([]) == {}
