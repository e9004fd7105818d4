"""Notebook 04 (post-incident analysis) runs headless with papermill on the shipped journal and on a fresh recording.

The fresh recording (``scripts/record_seed_incident.py`` on a Gloo 1.3 sandbox) must tell the same story as the
shipped ``data/journals/seed-incident``: that keeps the shipped journal honest.
"""

from __future__ import annotations

import html
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gloo_nb.analysis.incident import incident_summary
from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.app.resources import seed_incident_journal

pytestmark = pytest.mark.browser

_spec = importlib.util.spec_from_file_location("notebooks_helpers_04", Path(__file__).resolve().parent
                                               / "test_notebooks.py")
assert _spec is not None and _spec.loader is not None
nbt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbt)

venv_kernel = nbt.venv_kernel  # the fixture: a kernelspec running this venv's python
NAME = "04-post-incident-analysis.ipynb"
SHIPPED = seed_incident_journal()  # data/journals/seed-incident in a checkout is a symlink to it
SCRIPT = nbt.ROOT / "scripts" / "record_seed_incident.py"
CAUSE = "echo/echo-routes: Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {echo-typo gloo-system} " \
        "not found"


def outputs(book: nbformat.NotebookNode, mime: str) -> list[dict[str, object]]:
    return [o for c in book.cells for o in c.get("outputs", []) if mime in o.get("data", {})]


def assert_the_incident(book: nbformat.NotebookNode) -> None:
    out = nbt.texts(book)
    joined = "\n".join(out)
    assert not [o for c in book.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    summary = next(t for t in out if "Incident 1: Gloo kept its last good configuration" in t)
    assert "started by RouteTable echo/echo-routes modified by echo-dev" in summary
    assert f"cause: {CAUSE}" in summary
    assert re.search(r"impact: foxtrot blocked [\d.]+ s \(foxtrot/foxtrot-routes\)", summary), summary
    assert "route not served: prefix /foxtrot -> foxtrot_gloo-system {version=v1} 0, foxtrot_gloo-system " \
           "{version=v2} 100" in summary
    assert "fix: Settings gloo-system/default modified by ops" in summary
    assert "team in focus: foxtrot" in summary
    # Who blocked whom: one row, foxtrot held back by echo's typo until the patch was served.
    (blocked,) = re.findall(r"^foxtrot blocked \S+ to \S+ \(RouteTable foxtrot/foxtrot-routes\) by (.*)$", joined,
                            re.M)
    assert blocked == CAUSE
    # The changes frame names every author, the patch by ops.
    changes = next(t for t in out if "servedAfterSeconds" in t)
    assert re.search(r"gloo-system/default\s+Settings\s+gloo-system\s+MODIFIED .* ops", changes), changes
    assert "foxtrot-dev" in changes and "echo-dev" in changes
    assert len(outputs(book, "image/svg+xml")) == 1  # the timeline figure, as SVG (issue 16: crisp at any size)
    assert "0 NACK interval(s)" in joined
    worst = next(t for t in out if t.startswith("during the block: "))
    # The state at the worst moment vs after the fix: the team's served route went from v1 100 to v2 100.
    routes = out[out.index(worst) + 1]
    assert "foxtrot_gloo-system {version=v1} 100, foxtrot_gloo-system {version=v2} 0" in routes
    assert "foxtrot_gloo-system {version=v1} 0, foxtrot_gloo-system {version=v2} 100" in routes
    # The time-travel widget is not preceded by a printed copy of its header (issue 16): the widget (and its
    # static rendering) says it, the moment's headline first.
    assert not any(" moments; shown: " in t or "foxtrot blocked since" in t for t in out)
    assert len(outputs(book, "application/vnd.jupyter.widget-view+json")) == 1  # the time-travel widget
    nbt.assert_no_text_copies(book)
    travel_html = nbt.assert_widgets_render_statically(book)["TimeTravelView"]
    assert travel_html.startswith('<div class="gloo-nb-static" data-view="TimeTravelView">'
                                  '<div class="gloo-nb-headline" data-state="blocked-by-last-known-good"')
    assert "foxtrot&#x27;s change to foxtrot/foxtrot-routes is NOT served" in travel_html
    assert "RouteTable foxtrot/foxtrot-routes modified by foxtrot-dev" in travel_html
    assert re.search(rf"foxtrot blocked since \S+: its RouteTable foxtrot/foxtrot-routes .* held back by "
                     rf"{re.escape(html.escape(CAUSE))}", travel_html), travel_html[:3000]
    # Tables a person reads: times relative to the incident, no NaN, no answer text as a column header.
    frames = "".join("".join(o["data"]["text/html"]) for o in outputs(book, "text/html")
                     if "application/vnd.jupyter.widget-view+json" not in o["data"])
    assert "NaN" not in frames and "NaT" not in frames and "+00:00" not in frames
    assert "<th>answers</th>" in frames and not re.search(r"<th>\d{3} ", frames)
    # foxtrot's block: start and end in seconds after the incident's start (1.0 s and 3.6 s in the shipped one).
    assert re.search(r"<td>\+\d+\.\d s</td>\s*<td>\+\d+\.\d s</td>", frames), frames[:2000]
    # The fleet cell: both clusters, foxtrot blocked on the 1.3 one for as long as the shipped journal's incident
    # says, nobody on the current one (Gloo replaces the invalid route there).
    fleet = next(o["data"]["text/html"] for o in outputs(book, "text/html") if "seed-gloo-current" in
                 "".join(o["data"]["text/html"]))
    fleet = "".join(fleet)
    foxtrot = incident_summary(load_timeline(SHIPPED)).incidents[0].impact[0]
    assert re.search(rf"<td>seed-gloo-1-3</td>\s*<td>foxtrot</td>\s*<td>{foxtrot.seconds:.3f} s</td>\s*<td>1</td>",
                     fleet), fleet
    assert re.search(r"<td>seed-gloo-current</td>\s*<td>-</td>\s*<td>0.000 s</td>\s*<td>0</td>", fleet), fleet


def test_parameters_cell_is_the_analysis_contract() -> None:
    book = nbformat.read(nbt.NOTEBOOKS / NAME, as_version=4)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert tagged[0].source.splitlines() == ["journal_dirs = None", "gloo_version = None", "team = None"]


def test_04_explains_the_shipped_journal(venv_kernel: str, tmp_path: Path) -> None:
    book = nbt.run(NAME, tmp_path / "04.ipynb", venv_kernel)
    assert any(t.startswith("<Timeline ") and t.rstrip().endswith(f"from {SHIPPED}") for t in nbt.texts(book))
    assert_the_incident(book)
    page = nbt.nbconvert_html(tmp_path / "04.ipynb")
    assert 'data-view="TimeTravelView"' in page and "foxtrot blocked since" in page
    # The moment's routes, weights and findings (nbconvert re-serializes: attributes in name order).
    assert len(re.findall(r'<table cellpadding="4" class="gloo-nb"', page)) >= 3
    assert "<th>answers</th>" in page and not re.search(r">\s*(NaN|NaT)\s*<", page)  # no cell reads NaN


def _story(directory: Path) -> dict[str, object]:
    """What must not depend on the recording: the incident's who and what, not its times."""
    doc = incident_summary(load_timeline(directory)).document()
    return {"glooVersion": doc["glooVersion"],
            "blocked": [(b["team"], b["resource"], b["cause"], b["routes"]) for b in doc["blocked"]],
            "changes": [(c["resource"], c["kind"], c["type"], c["actor"]) for c in doc["changes"]
                        if c["actor"] != "admin"],
            "incidents": [([s["resource"] for s in i["startedBy"]], [f["resource"] for f in i["fix"]],
                           [f["actor"] for f in i["fix"]], i["causes"]) for i in doc["incidents"]],
            "losses": doc["journal"]["losses"]}


@pytest.mark.sandbox
@pytest.mark.envoy
def test_04_regenerates_on_a_fresh_recording(venv_kernel: str, tmp_path: Path) -> None:
    fresh = tmp_path / "seed-incident"
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(fresh)], capture_output=True, text=True,
                          timeout=240, cwd=nbt.ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"into {fresh}" in done.stdout
    assert _story(fresh) == _story(SHIPPED)
    book = nbt.run(NAME, tmp_path / "04-fresh.ipynb", venv_kernel, parameters={"journal_dirs": [str(fresh)]})
    # papermill injects a parameters cell: find the loading cell's output by its text.
    assert any(t.startswith("<Timeline ") and t.rstrip().endswith(f"from {fresh}") for t in nbt.texts(book))
    assert_the_incident(book)
