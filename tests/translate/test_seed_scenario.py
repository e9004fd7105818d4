"""The seed scenario (spec section 6): every step of Part 1 and Part 2, both profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from gloo_nb.app.manifests import read_manifests
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.models.defaults import helm_default_settings_manifest
from gloo_nb.translate import Translator
from gloo_nb.translate.envoy import FALLBACK_CLUSTER

pytestmark = pytest.mark.unit

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary"
GS = "gloo-system"


def served_summary(res):
    """[(vhost, prefix, header, target)] of the served route configurations."""
    out = []
    for rc in res.route_configurations:
        for vh in rc.virtual_hosts:
            for r in vh.routes:
                header = ",".join(f"{h.name}={h.exact_match}" for h in r.match.headers)
                act = r.route
                if act.WhichOneof("cluster_specifier") == "weighted_clusters":
                    target = "+".join(f"{c.name}[{c.metadata_match.filter_metadata['envoy.lb']['version']}]"
                                      f"={c.weight.value}" for c in act.weighted_clusters.clusters)
                else:
                    md = act.metadata_match.filter_metadata
                    version = md["envoy.lb"]["version"] if "envoy.lb" in md else ""
                    target = f"{act.cluster}[{version}]" if version else act.cluster
                out.append((vh.name, r.match.prefix, header, target))
    return out


class Cluster:
    """The resources a real cluster would hold, applied file by file (later objects replace earlier)."""

    def __init__(self, profile):
        self.objects = {}
        self.gloo = Translator(profile)

    def apply(self, *files, settings_patch=None):
        result = read_manifests([str(SEED / f) for f in files])
        for res in result.resources:
            self.objects[(res.kind, res.meta.namespace, res.meta.name)] = res
        if settings_patch is not None:
            manifest = helm_default_settings_manifest(profile=self.gloo.profile)
            manifest["spec"]["gloo"]["invalidConfigPolicy"].update(settings_patch)
            parsed = parse_object(manifest)
            self.objects[("Settings", GS, "default")] = parsed.resource
        return self.gloo.translate(Snapshot.from_resources(self.objects.values()))


ECHO_V1, ECHO_V2 = "echo_gloo-system[v1]", "echo_gloo-system[v2]"
FOX_V1, FOX_V2 = "foxtrot_gloo-system[v1]", "foxtrot_gloo-system[v2]"
APP = "gloo-system_app"
CANARY = "stage=canary"
PATCH = {"replaceInvalidRoutes": True, "invalidRouteResponseCode": 404}


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_part1_every_step(profile):
    c = Cluster(profile)
    vh = "gloo-system_echo"
    expected = {
        "vs-1.yaml": [(vh, "/", "", "echo_gloo-system")],
        "vs-2.yaml": [(vh, "/", "", ECHO_V1)],
        "vs-3.yaml": [(vh, "/", CANARY, ECHO_V2), (vh, "/", "", ECHO_V1)],
        "vs-4.yaml": [(vh, "/", CANARY, ECHO_V2), (vh, "/", "", f"{ECHO_V1}=100+{ECHO_V2}=0")],
        "vs-5.yaml": [(vh, "/", CANARY, ECHO_V2), (vh, "/", "", f"{ECHO_V1}=50+{ECHO_V2}=50")],
        "vs-6.yaml": [(vh, "/", CANARY, ECHO_V2), (vh, "/", "", f"{ECHO_V1}=0+{ECHO_V2}=100")],
        "vs-7.yaml": [(vh, "/", "", ECHO_V2)],
    }
    for step, routes in expected.items():
        t = c.apply("part1/echo.yaml", "part1/echo-v2.yaml", "part1/upstream.yaml", f"part1/{step}")
        assert t.push.decision == "push", step
        assert served_summary(t.served) == routes, step
        assert t.report("VirtualService", GS, "echo").state == "Accepted", step
        cluster = next(cl for cl in t.served.clusters if cl.name == "echo_gloo-system")
        assert list(cluster.lb_subset_config.subset_selectors[0].keys) == ["version"]
        assert cluster.lb_subset_config.fallback_policy == cluster.lb_subset_config.ANY_ENDPOINT
        if profile == "current":
            assert [f.message for f in t.findings] == [
                "upstream gloo-system.echo: port 8080 not found for service echo"], step
        else:
            assert t.findings == [], step


def part2_steps(profile):
    c = Cluster(profile)
    yield 1, c.apply("part2/echo.yaml", "part2/foxtrot.yaml", "part2/upstream-echo.yaml",
                     "part2/upstream-foxtrot.yaml", "part2/rt-echo-1.yaml", "part2/rt-foxtrot-1.yaml",
                     "part2/vs.yaml")
    yield 2, c.apply("part2/foxtrot-v2.yaml", "part2/rt-foxtrot-2.yaml")
    yield 3, c.apply("part2/rt-foxtrot-3.yaml")
    yield 4, c.apply("part2/echo-v2.yaml", "part2/rt-echo-2.yaml")
    yield 5, c.apply("part2/rt-echo-3.yaml", "part2/rt-foxtrot-4.yaml")
    yield 6, c.apply(settings_patch=PATCH)
    yield 7, c.apply("part2/rt-echo-2.yaml", "part2/rt-foxtrot-5.yaml")
    yield 8, c.apply("part2/rt-echo-4.yaml", "part2/rt-foxtrot-6.yaml", "part2/vs-2.yaml")


STEP4 = [(APP, "/echo", CANARY, ECHO_V2), (APP, "/echo", "", ECHO_V1), (APP, "/foxtrot", CANARY, FOX_V2),
         (APP, "/foxtrot", "", f"{FOX_V1}=100+{FOX_V2}=0")]


def expected_part2(profile):
    typo = "echo-typo_gloo-system[v2]"
    step5 = STEP4 if profile == "1.3" else [
        (APP, "/echo", CANARY, typo), (APP, "/echo", "", ECHO_V1), (APP, "/foxtrot", CANARY, FOX_V2),
        (APP, "/foxtrot", "", f"{FOX_V1}=0+{FOX_V2}=100")]
    return {
        # rt-echo-1 points at v2 (served by Envoy's subset fallback while only v1 pods exist).
        1: [(APP, "/echo", "", ECHO_V2), (APP, "/foxtrot", "", FOX_V1)],
        2: [(APP, "/echo", "", ECHO_V2), (APP, "/foxtrot", CANARY, FOX_V2), (APP, "/foxtrot", "", FOX_V1)],
        3: [(APP, "/echo", "", ECHO_V2), (APP, "/foxtrot", CANARY, FOX_V2),
            (APP, "/foxtrot", "", f"{FOX_V1}=100+{FOX_V2}=0")],
        4: STEP4,
        5: step5,
        6: [(APP, "/echo", CANARY, f"{FALLBACK_CLUSTER}[v2]"), (APP, "/echo", "", ECHO_V1),
            (APP, "/foxtrot", CANARY, FOX_V2), (APP, "/foxtrot", "", f"{FOX_V1}=0+{FOX_V2}=100")],
        7: [(APP, "/echo", CANARY, ECHO_V2), (APP, "/echo", "", ECHO_V1), (APP, "/foxtrot", "", FOX_V2)],
        # vs-2: both tables have weight 0 and are sorted; the stable sort keeps canary before /echo.
        8: [(APP, "/foxtrot", "", FOX_V2), (APP, "/echo", CANARY, ECHO_V2), (APP, "/echo", "", ECHO_V1)],
    }


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_part2_every_step(profile):
    expected = expected_part2(profile)
    for step, t in part2_steps(profile):
        assert served_summary(t.served) == expected[step], f"step {step}"
        vs_report = t.report("VirtualService", GS, "app")
        if step in (5, 6):
            text = ("*v1.Upstream {echo-typo gloo-system} not found" if profile == "1.3"
                    else "*v1.Upstream { gloo-system.echo-typo } not found")
            warning = f"Route Warning: InvalidDestinationWarning. Reason: {text}"
            assert vs_report.warnings == [warning, warning]  # glooctl printed it twice
            assert t.report("RouteTable", "echo", "echo-routes").state == "Accepted"
            typo = [f for f in t.findings if "echo-typo" in f.message]
            assert {f.origin.ref for f in typo} == {"echo/echo-routes"}
            blocked = step == 5 and profile == "1.3"
            assert t.push.decision == ("keep-last-good" if blocked else "push")
        elif step == 8 and profile == "1.3":
            assert vs_report.warnings == [
                "the following route tables have the same weight (0): [echo.echo-routes, foxtrot.foxtrot-routes]. "
                "This can result in unintended ordering of the resulting routes on the Proxy resource"]
            assert t.push.decision == "push"
        else:
            assert vs_report.state == "Accepted", f"step {step}: {vs_report.reason}"
            assert t.push.decision == "push", f"step {step}"
        if step == 6:
            fallback = next(ls for ls in t.served.listeners if ls.name == "fallback_listener_for_invalid_routes")
            assert fallback.address.pipe.path == "@fallback_listener_for_invalid_routes"


def test_part2_names_and_listener_current():
    steps = dict(part2_steps("current"))
    t = steps[4]
    assert [ls.name for ls in t.served.listeners] == ["listener-::-8080"]
    (rc,) = t.served.route_configurations
    assert rc.name == "listener-::-8080-routes"
    assert [r.name for r in rc.virtual_hosts[0].routes] == [
        f"gloo-system_app-route-{i}-matcher-0" for i in range(4)]
    assert [cl.name for cl in t.served.clusters] == [
        "echo_gloo-system", "foxtrot_gloo-system", "kube-svc:echo-echo-80_echo",
        "kube-svc:foxtrot-foxtrot-80_foxtrot"]
    eds = t.served.clusters[0].eds_cluster_config
    assert eds.service_name.startswith("echo_gloo-system-") and eds.eds_config.HasField("ads")


def test_the_whole_part2_folder_reads_with_patches_and_duplicates_listed():
    result = read_manifests([str(SEED / "part2")])
    whys = {(s.file.rsplit("/", 1)[-1], s.kind) for s in result.skipped}
    assert ("settings-patch.yaml", "") in whys and ("settings-patch-revert.yaml", "") in whys
    snap = Snapshot.from_resources(result.resources)
    # Four versions of echo/echo-routes: the later file wins, the earlier three are listed.
    replaced = [s for s in snap.skipped if (s.kind, s.namespace, s.name) == ("RouteTable", "echo", "echo-routes")]
    assert len(replaced) == 3
    (echo,) = [r for r in snap.route_tables if r.meta.name == "echo-routes"]
    assert echo.meta.labels == {"apiGroup": "example"}  # rt-echo-4.yaml
