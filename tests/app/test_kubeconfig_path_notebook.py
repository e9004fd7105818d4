"""Issue 20: notebook 01 run with its ``kubeconfig`` parameter against a sandbox shows what ``sandbox_dir`` shows.

Papermill on the venv's kernel, the seed incident played first on a ``1.3`` sandbox; the notebook reads it through
the kubeconfig path (profile from the gloo image, port-forwards) and through the sandbox shortcut.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import notebookkit
import pytest
from notebookkit import run
from sandboxkit import play, sandbox

from gloo_nb.app import notebook as nb

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

venv_kernel = notebookkit.venv_kernel  # the fixture: a kernelspec running this venv's python

ROOT = Path(__file__).resolve().parents[2]


def _texts(path: Path) -> list[str]:
    book = nbformat.read(path, as_version=4)
    out = []
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        parts = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                parts.append(o.get("text", ""))
            elif o.get("output_type") in ("execute_result", "display_data"):
                parts.append(str(o.get("data", {}).get("text/plain", "")))
            elif o.get("output_type") == "error":
                parts.append(f"{o.get('ename')}: {o.get('evalue')}")
        out.append("".join(parts))
    return out


# What differs by nature between two runs: durations, loopback ports, widget model ids.
_VOLATILE = [re.compile(r"\(\d+(?:\.\d+)? (?:s|min|h)\)|\(since unknown\)"), re.compile(r"127\.0\.0\.1:\d+"),
             re.compile(r"model_id='?[0-9a-f]+'?|[0-9a-f]{32}"), re.compile(r"\d+(?:\.\d+)? ms")]


_ACTOR = re.compile(r"changed by [\w.:-]+")


def _same(text: str) -> str:
    for pattern in _VOLATILE:
        text = pattern.sub("…", text)
    return text


def test_notebook_01_through_the_kubeconfig_parameter(venv_kernel: str, tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        play(info.state_dir, nb.STEP4, nb.INCIDENT)
        runs = {}
        for name, params in (("sandbox", {"sandbox_dir": str(info.state_dir)}),
                             ("kubeconfig", {"kubeconfig": str(info.kubeconfig)}),
                             ("kubeconfig+audit", {"kubeconfig": str(info.kubeconfig),
                                                   "audit_log": str(info.state_dir / "audit.jsonl")})):
            out = tmp_path / f"01-{name}.ipynb"
            run("01-explore-gateway.ipynb", out, venv_kernel, parameters=params)
            runs[name] = _texts(out)
    by_sandbox, by_kubeconfig = runs["sandbox"], runs["kubeconfig"]
    joined = "\n".join(by_kubeconfig)
    describe = next(i for i, t in enumerate(by_kubeconfig) if "replica(s)" in t)
    head = next(i for i, t in enumerate(by_kubeconfig) if t.startswith("foxtrot's change"))
    assert "Gloo 1.3" in by_kubeconfig[describe] and "2 replica(s)" in by_kubeconfig[describe]
    assert "blocked-by-last-known-good" in joined and "echo-typo" in joined
    assert "port 8080 not found" not in joined and "replica-lagging" not in joined
    # The headline: the same answer; its actor is the audit log's user on the sandbox path, and on the kubeconfig
    # path (no audit log parameter) each object's newest managedFields manager (issue 20: the sandbox records them).
    assert "changed by admin" in by_sandbox[head] and "changed by " in by_kubeconfig[head]
    assert "changed by unknown" not in by_kubeconfig[head], by_kubeconfig[head]
    # Every cell shows the same but that actor (the describe line's gateway URL is a port-forward on the
    # kubeconfig path: blanked with the other loopback ports).
    differing = [i for i, (a, b) in enumerate(zip(by_sandbox, by_kubeconfig, strict=True))
                 if _ACTOR.sub("changed by …", _same(a)) != _ACTOR.sub("changed by …", _same(b))]
    assert differing == [], [(by_sandbox[i][:400], by_kubeconfig[i][:400]) for i in differing]
    # With the cluster's audit log as a parameter, the kubeconfig path names the same users: every cell is the same.
    by_audit = runs["kubeconfig+audit"]
    assert "changed by admin" in by_audit[head], by_audit[head]
    differing = [i for i, (a, b) in enumerate(zip(by_sandbox, by_audit, strict=True)) if _same(a) != _same(b)]
    assert differing == [], [(by_sandbox[i][:400], by_audit[i][:400]) for i in differing]
