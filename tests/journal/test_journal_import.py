"""``gloo-nb journal import``: a journal rebuilt from Kubernetes audit logs reads like the recorder's.

The recorder's journal of the seed incident (``gloo_nb/_data/journals/seed-incident``, recorded on a Gloo 1.3 sandbox)
is turned into the audit log a cluster would have written for the same writes, at each level; the import of that log
must give the same incident: cause, team, fix, actors, the blocked team and its interval (the audit time of each write
is the recorder's watch time here, so the interval ends at the fix, not at the first served update after it: within
the 0.03 s the control plane took).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gloo_nb.analysis.incident import incident_summary
from gloo_nb.analysis.timeline import load_timeline, rfc3339
from gloo_nb.app.journal_import import import_journal
from gloo_nb.app.resources import seed_incident_journal
from gloo_nb.errors import UsageError
from gloo_nb.journal import JournalWriter, parse_time, read_journal
from gloo_nb.journal.schema import KUBE_EVENT
from gloo_nb.journal.traffic import traffic_events

pytestmark = pytest.mark.unit

_GROUPS = {"VirtualService": ("gateway.solo.io", "virtualservices"), "RouteTable": ("gateway.solo.io", "routetables"),
           "Gateway": ("gateway.solo.io", "gateways"), "Upstream": ("gloo.solo.io", "upstreams"),
           "Settings": ("gloo.solo.io", "settings"), "Service": ("", "services"), "Endpoints": ("", "endpoints"),
           "Pod": ("", "pods"), "Deployment": ("apps", "deployments"), "Secret": ("", "secrets")}


def _seed_events() -> list[tuple[str, Mapping[str, Any]]]:
    journal = read_journal(seed_incident_journal())
    return [(e.time.isoformat().replace("+00:00", "Z"), e.data) for e in journal.of_kind(KUBE_EVENT).events]


def _audit_line(time: str, d: Mapping[str, Any], level: str, verb: str, subresource: str = "",
                request: Any = None) -> dict[str, Any]:
    group, resource = _GROUPS[d["kind"]]
    actor = d.get("actor") or {}
    ref = {"resource": resource, "namespace": d["namespace"], "name": d["name"], "apiVersion": "v1"}
    if group:
        ref["apiGroup"] = group
    if subresource:
        ref["subresource"] = subresource
    user = {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
    line: dict[str, Any] = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level,
                            "auditID": str(uuid.uuid4()), "stage": "ResponseComplete",
                            "requestURI": f"/apis/{group}/v1/namespaces/{d['namespace']}/{resource}/{d['name']}",
                            "verb": verb, "user": user}
    if actor.get("user") and not str(actor["user"]).startswith("system:"):
        line["impersonatedUser"] = {"username": actor["user"], "groups": actor.get("groups") or []}
    elif actor.get("user"):
        line["user"] = {"username": actor["user"], "groups": actor.get("groups") or []}
    line.update({"sourceIPs": ["127.0.0.1"], "userAgent": "kubectl/v1.32.4 (linux/amd64) kubernetes/dispatcher",
                 "objectRef": ref, "responseStatus": {"metadata": {}, "code": 200 if verb != "create" else 201}})
    if level in ("Request", "RequestResponse") and request is not None:
        line["requestObject"] = request
    if level == "RequestResponse" and d.get("object") is not None:
        line["responseObject"] = d["object"]
    line["requestReceivedTimestamp"] = time
    line["stageTimestamp"] = time
    return line


def _audit_log(level: str) -> Iterator[dict[str, Any]]:
    """The writes of the seed journal as kube-apiserver would have audited them (INITIAL objects: the state).

    An update's request carries the resourceVersion it was made on (the previous one), as clients send it.
    """
    last: dict[tuple[str, str, str], str] = {}
    for time, d in _seed_events():
        key = (d["kind"], d["namespace"], d["name"])
        base = last.get(key)
        last[key] = d["resourceVersion"]
        if d["type"] == "INITIAL":
            continue
        if d["kind"] == "Secret":
            continue
        verb = {"ADDED": "create", "DELETED": "delete"}.get(d["type"], "update")
        request = json.loads(json.dumps(d["object"]))
        if verb == "update" and base:
            request["metadata"]["resourceVersion"] = base
        if d["type"] == "MODIFIED" and not d["specChanged"]:
            yield _audit_line(time, d, level, "update", "status", request=request)
        else:
            yield _audit_line(time, d, level, verb, request=request)


def _state(tmp_path: Path) -> Path:
    """The INITIAL objects of the seed journal as a ``kubectl get -o yaml`` List (taken before the window)."""
    items = [d["object"] for _, d in _seed_events() if d["type"] == "INITIAL" and d["kind"] != "Secret"]
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def _write(tmp_path: Path, lines: Iterator[dict[str, Any]], name: str = "audit.log") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines))
    return path


def test_seed_incident_from_a_request_response_audit_log_is_the_recorders_incident(tmp_path: Path) -> None:
    recorded = incident_summary(load_timeline(seed_incident_journal())).document()
    audit = _write(tmp_path, _audit_log("RequestResponse"))
    summary = import_journal([audit], tmp_path / "imported", start_state=_state(tmp_path), state_taken="before",
                             gloo_version="1.3")
    assert summary.gaps == []
    timeline = load_timeline(tmp_path / "imported")
    assert timeline.profile == "1.3" and timeline.imported
    imported = incident_summary(timeline).document()
    [rec], [imp] = recorded["incidents"], imported["incidents"]
    assert imp["start"] == rec["start"]
    assert imp["causes"] == rec["causes"] and imp["causes"][0].startswith("echo/echo-routes: ")
    assert imp["startedBy"] == rec["startedBy"] and imp["fix"] == rec["fix"]
    assert imp["fix"][0]["actor"] == "ops" and imp["startedBy"][0]["actor"] == "echo-dev"
    assert imp["detected"] == rec["detected"] and imp["detectedOn"] == rec["detectedOn"]
    assert [i["team"] for i in imp["impact"]] == ["foxtrot"]
    [rb] = [b for b in recorded["blocked"] if b["team"] == "foxtrot"]
    [ib] = [b for b in imported["blocked"] if b["team"] == "foxtrot"]
    assert ib["blockedBy"] == rb["blockedBy"] == ["echo"]
    assert ib["start"] == rb["start"]
    # Without a recorder the block ends when the fix makes Gloo push again (the translation says so); the recorder
    # saw the push 0.02 s later.
    assert 0 <= ib["seconds"] <= rb["seconds"] and rb["seconds"] - ib["seconds"] < 0.1
    assert ib["routes"] == rb["routes"]
    changes = {(c["resource"], c["time"]): c for c in imported["changes"]}
    assert [c["actor"] for c in imported["changes"]] == [c["actor"] for c in recorded["changes"]]
    assert all(c["servedAfterSeconds"] is None for c in changes.values())


def test_a_metadata_level_log_says_who_and_when_and_that_the_content_is_unknown(tmp_path: Path) -> None:
    audit = _write(tmp_path, _audit_log("Metadata"))
    summary = import_journal([audit], tmp_path / "imported", start_state=_state(tmp_path), state_taken="before",
                             gloo_version="1.3")
    refs = {g.ref for g in summary.gaps}
    assert "RouteTable echo/echo-routes" in refs and "Settings gloo-system/default" in refs
    timeline = load_timeline(tmp_path / "imported")
    doc = incident_summary(timeline).document()
    # Nothing is guessed: no incident can be rebuilt when the content of what changed is unknown...
    assert doc["incidents"] == [] and doc["blocked"] == []
    # ...but who changed what, and when, is there.
    actors = {(c["resource"], c["actor"]) for c in doc["changes"]}
    assert ("echo/echo-routes", "echo-dev") in actors and ("gloo-system/default", "ops") in actors
    state = timeline.state_at(timeline.end)
    assert "RouteTable echo/echo-routes" in state.unknown and not state.served_known


def test_a_request_level_log_with_a_missing_patch_breaks_the_chain_there(tmp_path: Path) -> None:
    lines = list(_audit_log("RequestResponse"))
    # Request level, the echo team's RouteTable written by JSON patches: the first (the typo) is lost.
    patches = []
    for line in lines:
        line["level"] = "Request"
        line.pop("responseObject", None)
    rt = [n for n, x in enumerate(lines) if x["objectRef"]["name"] == "echo-routes" and "subresource" not in
          x["objectRef"] and x["verb"] == "update"]
    assert len(rt) >= 3
    typo, revert = rt[-2], rt[-1]
    lines[typo]["verb"] = "patch"
    lines[typo]["requestObject"] = [{"op": "test", "path": "/spec/routes/0/routeAction/single/upstream/name",
                                     "value": "echo"},
                                    {"op": "replace", "path": "/spec/routes/0/routeAction/single/upstream/name",
                                     "value": "echo-typo"}]
    lines[revert]["verb"] = "patch"
    lines[revert]["requestObject"] = [{"op": "test", "path": "/spec/routes/0/routeAction/single/upstream/name",
                                       "value": "echo-typo"},
                                      {"op": "replace", "path": "/spec/routes/0/routeAction/single/upstream/name",
                                       "value": "echo"}]
    patches.append(lines[typo])
    del lines[typo]
    audit = _write(tmp_path, iter(lines))
    summary = import_journal([audit], tmp_path / "imported", start_state=_state(tmp_path), state_taken="before",
                             gloo_version="1.3")
    print(summary.text())
    [gap] = [g for g in summary.gaps if g.ref == "RouteTable echo/echo-routes"]
    assert "does not apply to the last known content" in gap.why and "missing from the log" in gap.why
    assert gap.source.endswith(f":{revert}")  # the revert's line (one line earlier: the typo's was removed)


def test_wrong_inputs_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="give at least one --audit"):
        import_journal([], tmp_path / "x")
    journal_file = seed_incident_journal() / "journal-000001.jsonl"
    with pytest.raises(Exception, match="not an audit event"):
        import_journal([journal_file], tmp_path / "x")
    audit = _write(tmp_path, _audit_log("RequestResponse"))
    with pytest.raises(UsageError, match="--gloo-version"):
        import_journal([audit], tmp_path / "y")


@dataclass(frozen=True)
class _Line:
    """An access-log record as gloo_nb.models.access_log reads one (the fields journal.traffic reads)."""

    time: datetime
    path: str
    upstream_host: str | None
    headers: Mapping[str, str | None]
    method: str | None = "GET"
    authority: str | None = "localhost"
    route_name: str | None = None
    cluster: str | None = None
    code: int | None = 200
    flags: str | None = "-"
    duration_ms: float | None = 1.0


def _foxtrot_hosts() -> dict[str, str]:
    """The foxtrot pods' ip:port in the seed journal's last Endpoints."""
    _, d = [x for x in _seed_events() if x[1]["kind"] == "Endpoints" and x[1]["name"] == "foxtrot"][-1]
    out = {}
    for subset in d["object"]["subsets"]:
        name = subset["addresses"][0]["targetRef"]["name"]
        out["v2" if "-v2-" in name else "v1"] = f"{subset['addresses'][0]['ip']}:{subset['ports'][0]['port']}"
    return out


def _traffic(served_at: datetime) -> list[_Line]:
    """A probe of /foxtrot every 50 ms on one replica: v1 answers until ``served_at``, v2 after."""
    hosts = _foxtrot_hosts()
    start, end = parse_time("2026-11-28T11:57:48Z"), parse_time("2026-11-28T11:57:56Z")
    lines, t = [], start
    while t < end:
        lines.append(_Line(t, "/foxtrot", hosts["v2" if t >= served_at else "v1"], {}))
        t += timedelta(milliseconds=50)
    return lines


@pytest.mark.parametrize("stage_logged", [True, False])
def test_access_logs_show_when_foxtrots_change_reached_traffic(tmp_path: Path, stage_logged: bool) -> None:
    audit = _write(tmp_path, _audit_log("RequestResponse"))
    out = tmp_path / "imported"
    import_journal([audit], out, start_state=_state(tmp_path), state_taken="before", gloo_version="1.3")
    fix = parse_time("2026-11-28T11:57:53.556049Z")
    served_at = fix + timedelta(milliseconds=37)
    writer = JournalWriter(out)
    lines = _traffic(served_at)  # the requests had no stage header; whether the format says so is the question
    for event in traffic_events(lines, "gateway-proxy-0.gloo-system",  # type: ignore[arg-type]
                                logged=["stage"] if stage_logged else []):
        writer.write(event)
    writer.close()
    timeline = load_timeline(out)
    [delay] = [d for d in timeline.delays if d.change.ref == "foxtrot/foxtrot-routes" and d.change.actor ==
               "foxtrot-dev"]
    if not stage_logged:
        # The old configuration's canary route (stage: canary -> v2) explains a v2 answer when the log does not
        # say whether the request had the header: no evidence.
        assert delay.seen == {"gateway-proxy-0.gloo-system": None}
        return
    seen = delay.seen["gateway-proxy-0.gloo-system"]
    assert seen is not None and served_at <= seen < served_at + timedelta(milliseconds=50)
    doc = incident_summary(timeline).document()
    [change] = [c for c in doc["changes"] if c["resource"] == "foxtrot/foxtrot-routes" and c["actor"] == "foxtrot-dev"]
    assert change["seenBy"] == {"gateway-proxy-0.gloo-system": rfc3339(seen)}
    weights = timeline.weights_frame()
    observed = weights[(weights["source"] == "observed") & (weights["route"].str.endswith("prefix /foxtrot"))]
    # 5 s windows: those wholly before the fix, and those starting after it was seen.
    before = observed[observed["time"] + pd.Timedelta(seconds=5) <= pd.Timestamp(fix)]
    after = observed[observed["time"] >= pd.Timestamp(served_at)]
    assert len(before) and len(after)
    assert set(before["destination"]) == {"foxtrot_gloo-system {version=v1}"} and set(before["weight"]) == {100.0}
    assert set(after["destination"]) == {"foxtrot_gloo-system {version=v2}"} and set(after["weight"]) == {100.0}


_FORMAT = ('[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% '
           '%RESPONSE_FLAGS% %DURATION% "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" "%UPSTREAM_CLUSTER%" "%REQ(stage)%"\n')


_LOGGING = {"accessLoggingService": {"accessLog": [
    {"fileSink": {"path": "/var/log/envoy/access.log", "stringFormat": _FORMAT}}]}}


def _state_with_access_logging(tmp_path: Path) -> Path:
    """The seed's state, its Gateway logging to a file in a format that logs the ``stage`` header."""
    items = [d["object"] for _, d in _seed_events() if d["type"] == "INITIAL" and d["kind"] != "Secret"]
    for item in items:
        if item["kind"] == "Gateway":
            item["spec"]["options"] = _LOGGING
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def test_import_with_access_log_files_and_prometheus(tmp_path: Path) -> None:
    """The CLI path: the Gateway's format is found in the state, each file is one replica's."""
    lines = list(_audit_log("RequestResponse"))
    for line in lines:  # the Gateway's later versions (Gloo's status writes) keep its logging option
        if line["objectRef"]["resource"] == "gateways":
            for body in ("requestObject", "responseObject"):
                line[body]["spec"]["options"] = _LOGGING
    audit = _write(tmp_path, iter(lines))
    fix = parse_time("2026-11-28T11:57:53.556049Z")
    served_at = fix + timedelta(milliseconds=37)
    log = tmp_path / "replica-0.log"
    with log.open("w") as f:
        f.write("[2026-11-28 11:57:47.000][1][info][main] Envoy's own line in the same file\n")
        for line in _traffic(served_at):
            stamp = line.time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            f.write(f'[{stamp}] "GET /foxtrot HTTP/1.1" 200 - 1 "localhost" "{line.upstream_host}" '
                    f'"foxtrot_gloo-system" "-"\n')
    t0 = parse_time("2026-11-28T11:57:48Z").timestamp()
    prom = tmp_path / "prom.json"
    prom.write_text(json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "envoy_cluster_upstream_rq_total", "envoy_cluster_name": "foxtrot_gloo-system",
                    "pod": "gateway-proxy-0"},
         "values": [[t0 + 5 * i, str(100 * i)] for i in range(3)]},
        {"metric": {"__name__": "gloo_edge_translation_time_sec_sum", "translator_name": "gloo"},
         "values": [[t0, "0.25"], [t0 + 5, "NaN"]]}]}}))
    summary = import_journal([audit], tmp_path / "imported", start_state=_state_with_access_logging(tmp_path),
                             state_taken="before", gloo_version="1.3",
                             access_logs=[f"gateway-proxy-0.gloo-system={log}"], prometheus=[str(prom)])
    [(node, fmt, read)] = summary.access_logs.values()
    assert node == "gateway-proxy-0.gloo-system" and "REQ(stage)" in fmt
    assert read.records == 160 and read.unparsed_count == 1
    assert summary.metrics == {str(prom): 2}
    timeline = load_timeline(tmp_path / "imported")
    [delay] = [d for d in timeline.delays if d.change.ref == "foxtrot/foxtrot-routes" and d.change.actor ==
               "foxtrot-dev"]
    seen = delay.seen["gateway-proxy-0.gloo-system"]
    assert seen is not None and served_at <= seen < served_at + timedelta(milliseconds=50)
    metrics = timeline.metrics_frame()
    assert list(metrics["requests"]) == [100.0, 100.0] and set(metrics["cluster"]) == {"foxtrot_gloo-system"}
    assert "seen in traffic after" in incident_summary(timeline).text()
    gloo = timeline.control_plane_frame()
    assert list(gloo["name"]) == ["gloo_edge_translation_time_sec_sum"] and list(gloo["value"]) == [0.25]
