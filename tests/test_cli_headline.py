"""``gloo-nb inspect`` puts the headline first (issue 16, the answer first): in its text and, additively, its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gloo_nb.analysis.headline import headline
from gloo_nb.app.snapshot import open_snapshot
from gloo_nb.cli import main

pytestmark = pytest.mark.unit

PART2 = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "two-phase-canary" / "part2"


def bundle(tmp_path: Path) -> Path:
    """A hand-made snapshot bundle: the VirtualService only, nothing served (as test_cli_bounds.bundle)."""
    folder = tmp_path / "bundle"
    (folder / "applied").mkdir(parents=True)
    (folder / "bundle.json").write_text(json.dumps({"glooVersion": "1.3", "sources": []}))
    (folder / "resources.yaml").write_text((PART2 / "vs.yaml").read_text())
    (folder / "served.json").write_text(json.dumps({"versions": {}, "listeners": []}))
    return folder


def test_inspect_text_opens_with_the_headline_then_the_tables(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = bundle(tmp_path)
    expected = headline(open_snapshot(folder).collect())  # a bundle records no writers: no changes, no time
    assert main(["inspect", "--snapshot", str(folder)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[:len(expected.lines())] == expected.lines()
    assert lines[len(expected.lines())] == ""  # a blank line, then the inspection as before
    rest = "\n".join(lines[len(expected.lines()) + 1:])
    assert rest.startswith("Gloo 1.3: ") and "Drift" in rest and "Findings" in rest
    assert out.index(expected.text) < out.index("Drift")


def test_inspect_json_gains_a_headline_key_and_keeps_the_rest(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = bundle(tmp_path)
    inspection = open_snapshot(folder).collect()
    expected = headline(inspection)
    assert main(["inspect", "--snapshot", str(folder), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc.pop("headline") == {"state": expected.state, "text": expected.text, "lines": expected.lines()}
    # Additive only: everything else is the document it was.
    assert doc == json.loads(json.dumps(inspection.document()))
