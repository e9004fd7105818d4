"""A small in-test world for driving the rollout machine: the seed scenario's part2 objects in a dict.

``Cluster`` holds manifests keyed by (kind, namespace, name), plays a tiny kubelet (one ready Pod
per Deployment, Endpoints per Service) and answers the machine's effects: Apply with
resourceVersion checks, Probe with counts computed from the RouteTable's routes (the first route
whose prefix and headers match; weighted destinations split exactly). It is a test driver, not a
mock: the machine under test sees the same effects and observations a real runner produces.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Generator, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_objects
from gloo_nb.rollout.effects import (
    Applied,
    Apply,
    AwaitApproval,
    AwaitConverged,
    Conflict,
    Converged,
    Delete,
    Observe,
    Probe,
    ProbeObservation,
    Record,
    World,
)
from gloo_nb.rollout.plan import RolloutTarget

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"

FOXTROT = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2")
ECHO = RolloutTarget("echo/echo-routes", "gloo-system/echo", "version", "v1", "v2")

BASE = ("upstream-echo.yaml", "upstream-foxtrot.yaml", "echo.yaml", "echo-v2.yaml", "foxtrot.yaml",
        "foxtrot-v2.yaml", "vs.yaml")

SETTINGS_PATCHED = {
    "apiVersion": "gloo.solo.io/v1", "kind": "Settings", "metadata": {"name": "default", "namespace": "gloo-system"},
    "spec": {"gloo": {"invalidConfigPolicy": {"replaceInvalidRoutes": True, "invalidRouteResponseCode": 404,
                                              "invalidRouteResponseBody": "Gloo Gateway has invalid configuration."}}},
}


def docs(name: str) -> list[dict[str, Any]]:
    """The documents of a seed file."""
    return [d for d in yaml.safe_load_all((SEED / name).read_text()) if d]


def spec_of(name: str) -> dict[str, Any]:
    """The spec of a seed RouteTable file."""
    return docs(name)[0]["spec"]


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace", ""), meta["name"]


class Cluster:
    """The seed scenario's objects, a kubelet's worth of Pods and Endpoints, and answers to effects."""

    def __init__(self, *files: str, profile: str = "1.3", extra: Iterable[Mapping[str, Any]] = ()) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.version = 0
        for name in (*BASE, *files):
            for doc in docs(name):
                self.put(doc)
        for doc in extra:
            self.put(doc)
        self.profile = profile
        self.applies: list[tuple[str, dict[str, Any]]] = []
        self.deleted: list[str] = []
        self.probes: list[Probe] = []
        self.before_apply: Callable[[Cluster, Apply], None] | None = None
        self.approve = True
        self.converge_ok = True

    def put(self, obj: Mapping[str, Any]) -> None:
        """Store an object with a new resourceVersion (what any writer does)."""
        self.version += 1
        stored = copy.deepcopy(dict(obj))
        stored["metadata"] = {**stored["metadata"], "resourceVersion": str(self.version)}
        self.objects[_key(stored)] = stored

    def route_table(self, target: RolloutTarget) -> dict[str, Any]:
        """The stored RouteTable of a target."""
        return self.objects[("RouteTable", target.namespace, target.name)]

    def _derived(self) -> list[dict[str, Any]]:
        # A kubelet: one ready pod per Deployment; Endpoints list the pods each Service selects.
        pods = []
        for (kind, ns, name), obj in sorted(self.objects.items()):
            if kind != "Deployment":
                continue
            labels = obj["spec"]["template"]["metadata"]["labels"]
            pods.append({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": f"{name}-0", "namespace": ns, "labels": labels},
                         "status": {"phase": "Running", "podIP": "127.0.0.1",
                                    "conditions": [{"type": "Ready", "status": "True"}]}})
        out: list[dict[str, Any]] = list(pods)
        for (kind, ns, name), obj in sorted(self.objects.items()):
            if kind != "Service":
                continue
            selector = obj["spec"].get("selector") or {}
            subsets = [{"addresses": [{"ip": "127.0.0.1", "targetRef": {"kind": "Pod", "name": p["metadata"]["name"],
                                                                        "namespace": ns}}],
                        "ports": [{"port": 41000 + i, "protocol": "TCP"}]}
                       for i, p in enumerate(pods)
                       if p["metadata"]["namespace"] == ns
                       and all(p["metadata"]["labels"].get(k) == v for k, v in selector.items())]
            out.append({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns},
                        "subsets": subsets})
        return out

    def world(self, target: RolloutTarget) -> World:
        """What a runner's Observe returns."""
        manifests = [*self.objects.values(), *self._derived()]
        snapshot = Snapshot.from_resources(parse_objects(manifests).resources)
        deployments = tuple(copy.deepcopy(o) for (k, ns, _), o in sorted(self.objects.items())
                            if k == "Deployment" and ns == target.namespace)
        rt = self.objects.get(("RouteTable", target.namespace, target.name))
        return World(self.profile, copy.deepcopy(rt) if rt else None, snapshot,
                     deployments, served_version=str(self.version))

    def probe(self, effect: Probe, target: RolloutTarget) -> ProbeObservation:
        """Count where ``effect.requests`` requests go, by the RouteTable's first matching route."""
        self.probes.append(effect)
        routes = self.route_table(target)["spec"]["routes"]
        for route in routes:
            m = route["matchers"][0]
            if effect.path != m["exact"] if "exact" in m else not effect.path.startswith(m.get("prefix", "/")):
                continue
            if any(effect.headers.get(h["name"]) != h["value"] for h in m.get("headers", [])):
                continue
            action = route["routeAction"]
            if "single" in action:
                split = {action["single"]["subset"]["values"][target.subset_key]: effect.requests}
            else:
                dests = action["multi"]["destinations"]
                total = sum(d["weight"] for d in dests)
                split = {}
                left = effect.requests
                for d in dests[:-1]:
                    share = round(effect.requests * d["weight"] / total)
                    split[d["destination"]["subset"]["values"][target.subset_key]] = share
                    left -= share
                split[dests[-1]["destination"]["subset"]["values"][target.subset_key]] = left
            return ProbeObservation(effect.requests, {200: effect.requests}, {k: v for k, v in split.items() if v})
        return ProbeObservation(effect.requests, {404: effect.requests}, {})

    def answer(self, effect: Any, target: RolloutTarget) -> Any:
        """The observation a runner would send back for an effect."""
        if isinstance(effect, Observe):
            return self.world(target)
        if isinstance(effect, Apply):
            if self.before_apply is not None:
                hook, self.before_apply = self.before_apply, None
                hook(self, effect)
            meta = effect.manifest["metadata"]
            current = self.objects[("RouteTable", meta["namespace"], meta["name"])]
            if meta.get("resourceVersion") != current["metadata"]["resourceVersion"]:
                return Conflict("the object has been modified; please apply your changes to the latest version")
            self.put(effect.manifest)
            self.applies.append((effect.step, copy.deepcopy(dict(effect.manifest["spec"]))))
            return Applied(str(self.version))
        if isinstance(effect, AwaitConverged):
            return Converged(self.converge_ok, 0.05, {"gateway-proxy-0": 0.1}, str(self.version),
                             "" if self.converge_ok else "replica gateway-proxy-0 lagging")
        if isinstance(effect, Probe):
            return self.probe(effect, target)
        if isinstance(effect, AwaitApproval):
            return self.approve
        if isinstance(effect, Delete):
            del self.objects[(effect.kind, effect.namespace, effect.name)]
            self.deleted.append(f"{effect.namespace}/{effect.name}")
            return Applied()
        return None


def drive(gen: Generator[Any, Any, None], cluster: Cluster, target: RolloutTarget, *,
          stop: Callable[[Any], bool] | None = None) -> list[Any]:
    """Run a machine generator against the cluster; ``stop(effect)`` true ends the run right after answering it
    (a killed runner). Returns the effects, in order."""
    effects = []
    try:
        effect = next(gen)
        while True:
            effects.append(effect)
            obs = cluster.answer(effect, target)
            if stop is not None and stop(effect):
                gen.close()
                break
            effect = gen.send(obs)
    except StopIteration:
        pass
    return effects


def history(effects: Iterable[Any]) -> list[dict[str, Any]]:
    """The journal events a runner writes for the machine's Records (through JSON, as on disk)."""
    return [json.loads(json.dumps({"kind": e.kind, "data": e.data})) for e in effects if isinstance(e, Record)]
