"""The split Prometheus shows between a route's Upstreams (``weights_frame`` source ``metrics``), and where it cannot.

A VirtualService splits ``/app`` 30/70 between two static Upstreams, and ``/a`` goes to the first alone: the first
cluster then serves two routes, and its requests cannot be given to ``/app`` (no row); once ``/a`` is gone, the
metrics' split of ``/app`` is shown.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.app.journal_import import import_journal
from gloo_nb.journal import parse_time

pytestmark = pytest.mark.unit

T0 = parse_time("2026-11-28T12:00:00Z")


def _upstream(name: str) -> dict[str, Any]:
    return {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": name, "namespace": "gloo-system"},
            "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 8080}]}}}


def _vs(with_a: bool) -> dict[str, Any]:
    routes: list[dict[str, Any]] = [{"matchers": [{"prefix": "/app"}], "routeAction": {"multi": {"destinations": [
        {"weight": 30, "destination": {"upstream": {"name": "blue", "namespace": "gloo-system"}}},
        {"weight": 70, "destination": {"upstream": {"name": "green", "namespace": "gloo-system"}}}]}}}]
    if with_a:
        routes.insert(0, {"matchers": [{"prefix": "/a"}], "routeAction": {"single": {"upstream": {
            "name": "blue", "namespace": "gloo-system"}}}})
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
            "metadata": {"name": "app", "namespace": "gloo-system"},
            "spec": {"virtualHost": {"domains": ["*"], "routes": routes}}}


def _line(n: int, verb: str, obj: dict[str, Any], seconds: float) -> dict[str, Any]:
    group, resource = ("gloo.solo.io", "upstreams") if obj["kind"] == "Upstream" else \
        ("gateway.solo.io", "virtualservices")
    stamp = (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": f"id-{n}",
            "stage": "ResponseComplete", "requestURI": f"/apis/{group}/v1/namespaces/gloo-system/{resource}",
            "verb": verb, "user": {"username": "ops", "groups": ["system:authenticated"]},
            "objectRef": {"resource": resource, "namespace": "gloo-system", "name": obj["metadata"]["name"],
                          "apiGroup": group, "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": 201 if verb == "create" else 200},
            "requestObject": obj, "responseObject": obj, "requestReceivedTimestamp": stamp, "stageTimestamp": stamp}


def _prometheus(path: Path) -> None:
    def series(cluster: str, per_step: int) -> dict[str, Any]:
        return {"metric": {"__name__": "envoy_cluster_upstream_rq_total", "envoy_cluster_name": cluster},
                "values": [[T0.timestamp() + 10 * i, str(per_step * i)] for i in range(7)]}
    path.write_text(json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        series("blue_gloo-system", 30), series("green_gloo-system", 70)]}}))


def test_metrics_split_a_route_between_clusters_only_they_serve(tmp_path: Path) -> None:
    audit = tmp_path / "audit.log"
    lines = [_line(1, "create", _upstream("blue"), 1), _line(2, "create", _upstream("green"), 2),
             _line(3, "create", _vs(with_a=True), 3), _line(4, "update", _vs(with_a=False), 31)]
    audit.write_text("".join(json.dumps(x) + "\n" for x in lines))
    prom = tmp_path / "prom.json"
    _prometheus(prom)
    import_journal([audit], tmp_path / "j", gloo_version="current", prometheus=[prom])
    weights = load_timeline(tmp_path / "j").weights_frame()
    metrics = weights[weights["source"] == "metrics"]
    # Steps starting before 31 s: blue also serves /a: no row. From 40 s (the step from 30 s to 40 s still began with
    # /a served): 30/70.
    assert len(metrics) and (metrics["time"] >= T0 + timedelta(seconds=40)).all()
    assert set(zip(metrics["destination"], metrics["weight"], strict=True)) == {("blue_gloo-system", 30.0),
                                                                               ("green_gloo-system", 70.0)}
    assert set(metrics["route"]) == {r for r in weights["route"] if r.endswith("prefix /app")}
