"""``python -m gloo_nb.demo`` (``make demo``): the seed scenario's Part 2, step by step.

Until the sandbox exists, the demo plays the steps of spec section 6.2 through ONE stateful
Gloo 1.3 translator (so last-known-good behaves as in Gloo's pods) and prints, per step, what was
applied, the control plane's push decision, the routes Envoy is served, what is blocked, and the
findings. No request is sent: what the blog observes with curl is printed beside it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from gloo_nb._types import Profile
from gloo_nb.app.manifests import read_manifests
from gloo_nb.models import Resource, Snapshot
from gloo_nb.models.codec import merge_patch, parse_object
from gloo_nb.models.defaults import helm_default_settings_manifest
from gloo_nb.translate import Translation, Translator
from gloo_nb.translate.render import EnvoyRouteRow, envoy_json, envoy_route_rows, object_ref

PART2 = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "two-phase-canary" / "part2"
PROFILE: Profile = "1.3"
"""The seed scenario's manifests only work in Gloo 1.3 (``servicePort: 8080``)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of spec section 6.2.

    Attributes:
        number: Step number.
        apply: Files applied with ``kubectl apply``, in order.
        delete: Files deleted with ``kubectl delete``.
        patch: A merge patch applied to Settings ``gloo-system/default``.
        blog: What the blog's curl checks observe after the step.
    """

    number: int
    apply: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    patch: str = ""
    blog: str = ""


STEPS = (
    Step(1, ("echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "rt-echo-1.yaml",
             "rt-foxtrot-1.yaml", "vs.yaml"),
         blog="/echo -> echo-v1 (no v2 pod yet: Envoy's subset fallback); /foxtrot -> foxtrot-v1"),
    Step(2, ("foxtrot-v2.yaml", "rt-foxtrot-2.yaml"),
         blog="/echo -> echo-v1; /foxtrot -> foxtrot-v1; /foxtrot canary -> foxtrot-v2"),
    Step(3, ("rt-foxtrot-3.yaml",), blog="as step 2 (weights 100/0)"),
    Step(4, ("echo-v2.yaml", "rt-echo-2.yaml"),
         blog="/echo -> echo-v1; /echo canary -> echo-v2; /foxtrot -> foxtrot-v1; /foxtrot canary -> foxtrot-v2"),
    Step(5, ("rt-echo-3.yaml", "rt-foxtrot-4.yaml"),
         blog="whole proxy frozen: /echo canary -> echo-v2; /foxtrot -> foxtrot-v1 (blocked)"),
    Step(6, patch="settings-patch.yaml",
         blog="/echo -> echo-v1; /echo canary -> 404 with the configured body; /foxtrot -> foxtrot-v2"),
    Step(7, ("rt-echo-2.yaml", "rt-foxtrot-5.yaml"), delete=("foxtrot-v1.yaml",),
         blog="/echo -> echo-v1; /echo canary -> echo-v2; /foxtrot -> foxtrot-v2"),
    Step(8, ("rt-echo-4.yaml", "rt-foxtrot-6.yaml", "vs-2.yaml"),
         blog="/echo -> echo-v1; /echo canary -> echo-v2; /foxtrot -> foxtrot-v2"),
)
"""The steps of spec section 6.2."""


def _ident(resource: Resource) -> tuple[str, str, str]:
    return (resource.kind, resource.meta.namespace, resource.meta.name)


class Cluster:
    """What a cluster holds, changed file by file, translated by one stateful Gloo.

    Args:
        folder: Where the step files are.
        profile: The Gloo profile.
    """

    def __init__(self, folder: Path, profile: Profile = PROFILE) -> None:
        self.folder = folder
        self.objects: dict[tuple[str, str, str], Resource] = {}
        self.settings_manifest = helm_default_settings_manifest(profile=profile)
        self.gloo = Translator(profile)

    def play(self, step: Step) -> tuple[Translation, list[str]]:
        """Apply one step and translate.

        Args:
            step: The step.

        Returns:
            The translation and the kinds/names of the documents that are not Gloo's business.
        """
        ignored: list[str] = []
        for name, keep in [*((f, True) for f in step.apply), *((f, False) for f in step.delete)]:
            parsed = read_manifests([str(self.folder / name)])
            ignored += [f"{s.kind} {object_ref(s.namespace, s.name)}" for s in parsed.skipped]
            for res in parsed.resources:
                if keep:
                    self.objects[_ident(res)] = res
                else:
                    self.objects.pop(_ident(res), None)
        if step.patch:
            patch = yaml.safe_load((self.folder / step.patch).read_text(encoding="utf-8"))
            self.settings_manifest = merge_patch(self.settings_manifest, patch)
            settings = parse_object(self.settings_manifest).resource
            assert settings is not None
            self.objects[_ident(settings)] = settings
        return self.gloo.translate(Snapshot.from_resources(self.objects.values())), ignored


def _rows(translation: Translation) -> tuple[list[EnvoyRouteRow], list[EnvoyRouteRow]]:
    served = envoy_route_rows(envoy_json(translation.served)) if translation.served else []
    desired = envoy_route_rows(envoy_json(translation.envoy))
    seen = {(r.virtual_host, r.match, r.action) for r in served}
    return served, [r for r in desired if (r.virtual_host, r.match, r.action) not in seen]


def _route_lines(rows: Sequence[EnvoyRouteRow]) -> list[str]:
    width = max((len(r.match) for r in rows), default=0)
    return [f"    {r.virtual_host}  #{r.order}  {r.match.ljust(width)}  -> {r.action}" for r in rows]


def step_report(step: Step, translation: Translation, ignored: Sequence[str]) -> list[str]:
    """Return the lines printed for one step.

    Args:
        step: The step.
        translation: Its translation.
        ignored: Documents that are not Gloo resources.

    Returns:
        The lines.
    """
    what = [*step.apply, *(f"delete {f}" for f in step.delete)]
    if step.patch:
        what.append(f"patch Settings gloo-system/default with {step.patch}")
    lines = [f"Step {step.number}: {', '.join(what)}"]
    if ignored:
        lines.append(f"  not Gloo resources (no effect on the translation): {', '.join(ignored)}")
    lines.append(f"  push: {translation.push.decision}: {translation.push.reason}")
    served, blocked = _rows(translation)
    lines += ["  Envoy is served:", *(_route_lines(served) or ["    nothing (no configuration pushed yet)"])]
    if blocked:
        lines += ["  desired but not served (blocked by last-known-good):", *_route_lines(blocked)]
    for f in translation.findings:
        where = f"{f.resource}" + (f", caused by {f.origin}" if f.origin != f.resource else "")
        lines.append(f"  finding: {f.severity} on {where}: {f.message}")
    lines.append(f"  blog observes: {step.blog}")
    return lines


def summary(results: Sequence[tuple[Step, Translation]]) -> str:
    """Return the closing paragraph.

    Args:
        results: Each step with its translation.

    Returns:
        One paragraph.
    """
    kept = [str(s.number) for s, t in results if t.push.decision == "keep-last-good"]
    replaced = [str(s.number) for s, t in results if t.replaced]
    return (
        f"Summary: with Gloo {PROFILE}'s default invalid-config policy one bad RouteTable (echo's upstream "
        f"typo) froze the whole proxy: Envoy kept the last good configuration at step(s) "
        f"{', '.join(kept) or 'none'}, so foxtrot's unrelated weight change was blocked. With "
        f"replaceInvalidRoutes on (step 6), only the invalid route went to the fallback response and "
        f"foxtrot's change reached Envoy; routes were replaced by the fallback at step(s) "
        f"{', '.join(replaced) or 'none'}. Fixing the typo (step 7) and moving both teams to one label "
        f"selector (step 8) leave every route served. No request was sent: these are the routes the "
        f"control plane serves, computed by gloo_nb's translator; the sandbox will add real Envoys."
    )


def run(out: TextIO = sys.stdout, folder: Path = PART2) -> int:
    """Play every step and print the report.

    Args:
        out: Where to print.
        folder: The Part 2 manifests.

    Returns:
        0.
    """
    cluster = Cluster(folder)
    out.write(f"Two-phase canary, Part 2, as Gloo {PROFILE} (files from {folder})\n\n")
    results = []
    for step in STEPS:
        translation, ignored = cluster.play(step)
        results.append((step, translation))
        out.write("\n".join(step_report(step, translation, ignored)) + "\n\n")
    out.write(summary(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
