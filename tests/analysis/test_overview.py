"""The gateway overview's view-model (issue 16): counts by state, upstream health, findings at their YAML line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gloo_nb.analysis.overview import FindingLink, ResourceYaml, gateway_overview, locate, names_in
from gloo_nb.app.manifests import read_manifests
from gloo_nb.app.overview import LIVE_FILE, file_documents, object_documents, resource_documents
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.translate import Translator
from gloo_nb.widgets.overview import GatewayOverviewView

pytestmark = pytest.mark.unit

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"
BASE = ["echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "foxtrot-v2.yaml", "echo-v2.yaml",
        "vs.yaml"]
TYPO = [*BASE, "rt-echo-3.yaml", "rt-foxtrot-4.yaml"]  # step 5: echo's typo


def translate(files, extra=()):
    read = read_manifests([str(SEED / f) for f in files]).resources
    resources = {(r.kind, r.meta.namespace, r.meta.name): r for r in read}
    for obj in extra:
        r = parse_object(obj).resource
        resources[(r.kind, r.meta.namespace, r.meta.name)] = r
    return Translator("1.3").translate(Snapshot.from_resources(resources.values()))


def pod(name, version, ready=True):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "foxtrot", "labels": {"app": "foxtrot", "version": version}},
            "spec": {"containers": [{"name": "c", "image": "hashicorp/http-echo"}]},
            "status": {"phase": "Running", "podIP": "127.0.0.1",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def address(name):
    return {"ip": "127.0.0.1", "targetRef": {"kind": "Pod", "name": name, "namespace": "foxtrot"}}


ENDPOINTS = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "foxtrot", "namespace": "foxtrot"},
             "subsets": [{"addresses": [address("fox-v1")], "ports": [{"port": 40001, "protocol": "TCP"}]},
                         {"addresses": [address("fox-v2")], "ports": [{"port": 40002, "protocol": "TCP"}]},
                         {"notReadyAddresses": [address("fox-v3")], "ports": [{"port": 40003, "protocol": "TCP"}]}]}


@dataclass(frozen=True)
class Host:
    health: str
    failed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cluster:
    name: str
    hosts: tuple[Host, ...]


def test_counts_by_state_as_gloo_reports() -> None:
    """Gloo 1.3 reports echo's missing upstream on the VirtualService only (spec 3.3; glooctl check's output in
    spec 3.4 lists the virtual service): VS Warning, both RouteTables and Upstreams Accepted."""
    ov = gateway_overview(translate(TYPO))
    assert ov.counts.loc["VirtualService"].tolist() == [0, 1, 0, 1]
    assert ov.counts.loc["RouteTable"].tolist() == [2, 0, 0, 2]
    assert ov.counts.loc["Upstream"].tolist() == [2, 0, 0, 2]
    assert list(ov.counts.columns) == ["Accepted", "Warning", "Rejected", "total"]


def test_upstream_health_from_kubernetes_and_each_replica() -> None:
    t = translate(TYPO, [pod("fox-v1", "v1"), pod("fox-v2", "v2"), pod("fox-v3", "v3", ready=False), ENDPOINTS])
    clusters = {"r0": [Cluster("foxtrot_gloo-system", (Host("HEALTHY"), Host("HEALTHY")))],
                "r1": [Cluster("foxtrot_gloo-system", (Host("HEALTHY"), Host("HEALTHY", ("failed_outlier_check",))))]}
    ov = gateway_overview(t, clusters=clusters, unread={"r2": "Envoy admin unreachable"})
    fox = next(h for h in ov.health if h.upstream == "gloo-system/foxtrot")
    assert (fox.cluster, fox.kind, fox.ready, fox.total) == ("foxtrot_gloo-system", "kube", 2, 3)
    assert dict(fox.envoy) == {"r0": (2, 2), "r1": (1, 2)}
    frame = ov.health_frame()
    assert list(frame.columns) == ["upstream", "cluster", "kubernetes", "r0", "r1"]
    echo = frame[frame["upstream"] == "gloo-system/echo"].iloc[0]
    assert (echo["kubernetes"], echo["r0"]) == ("0/0", "absent")  # no Endpoints, and Envoy lacks the cluster
    assert "r2: /clusters not read: Envoy admin unreachable" in ov.text()


def test_names_in_gloo_messages() -> None:
    assert names_in("Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {echo-typo gloo-system} "
                    "not found") == ["echo-typo"]
    assert names_in("Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.echo-typo } "
                    "not found") == ["echo-typo"]  # current Gloo's ref format (spec 3.2)
    assert names_in('unknown field "matchers"') == ["matchers"]


def test_locate_by_field_name_or_document() -> None:
    text = "apiVersion: v1\nkind: RouteTable\nspec:\n  routes:\n    - matchers:\n        - prefix: /a\n" \
           "      routeAction:\n        single:\n          upstream:\n            name: typo\n"
    assert locate(text, field="spec.routes[0].routeAction") == (7, "field")
    assert locate(text, names=["nothere", "typo"]) == (10, "name typo")
    assert locate(text) == (1, "document")
    assert locate("::: not yaml [") == (1, "document")


def test_findings_link_to_the_line_in_the_file() -> None:
    t = translate(TYPO)
    ov = gateway_overview(t, documents=resource_documents(t))
    (link,) = [x for x in ov.findings if "echo-typo" in x.finding.message]
    path = SEED / "rt-echo-3.yaml"
    assert link.file == str(path) and link.how == "name echo-typo"
    assert path.read_text().splitlines()[link.line - 1].strip() == "name: echo-typo"
    assert (link.line, "            name: echo-typo") in link.excerpt
    assert link.where == f"{path}:{link.line}"


def test_file_documents_count_as_the_parser_does(tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text("a: 1\n---\n---\nkind: X\nb: 2\n\n---\nc: 3\n")
    docs = file_documents(f)
    assert docs[0] == (1, "a: 1\n") and docs[2] == (4, "kind: X\nb: 2\n") and docs[3] == (8, "c: 3\n")


def test_live_objects_link_to_their_rendered_yaml() -> None:
    obj = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
           "metadata": {"name": "echo-routes", "namespace": "echo", "managedFields": [{"manager": "kubectl"}]},
           "spec": {"routes": [{"routeAction": {"single": {"upstream": {"name": "echo-typo"}}}}]}}
    docs = object_documents([obj])
    (key,) = docs
    assert key.ref == "echo/echo-routes" and docs[key].file == LIVE_FILE and "managedFields" not in docs[key].text
    t = translate(TYPO)
    ov = gateway_overview(t, documents=docs)
    (link,) = [x for x in ov.findings if "echo-typo" in x.finding.message]
    assert link.file == LIVE_FILE and link.how == "name echo-typo"
    assert docs[key].text.splitlines()[link.line - 1].strip() == "name: echo-typo"


def test_a_finding_without_yaml_says_so() -> None:
    t = translate(TYPO)
    ov = gateway_overview(t, documents={})
    assert all(isinstance(x, FindingLink) and x.line is None and x.how == "unknown" for x in ov.findings)
    assert "(its YAML is not known)" in GatewayOverviewView(ov).html.value


def test_view_shows_counts_health_and_the_yaml_around_each_finding() -> None:
    t = translate(TYPO)
    docs = {**resource_documents(t)}
    ov = gateway_overview(t, documents=docs, clusters={"r0": []})
    html = GatewayOverviewView(ov).html.value
    assert "Resources by state" in html and "<th>Warning</th>" in html
    assert "Upstream health" in html and "<th>r0</th>" in html and ">absent</td>" in html
    assert html.count("<details") == len(ov.findings) and "echo-typo" in html
    (link,) = [x for x in ov.findings if "echo-typo" in x.finding.message]
    assert f"{link.line:>5} </span>" in html and "background:#fff3e0" in html
    assert isinstance(docs, dict) and all(isinstance(v, ResourceYaml) for v in docs.values())
