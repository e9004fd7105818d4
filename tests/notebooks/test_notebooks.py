"""Notebooks 01 and 03 run headless with papermill on the venv's kernel, against a sandbox of their own.

The tests assert on the executed notebooks' outputs, and that the notebook's sandbox is gone afterwards,
also when a cell fails (the kernel's ``atexit`` stops it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import notebookkit
import papermill
import pytest
from notebookkit import run

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy, pytest.mark.browser]

venv_kernel = notebookkit.venv_kernel  # the fixture: a kernelspec running this venv's python

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def cell_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif o.get("output_type") in ("execute_result", "display_data"):
            text = str(o.get("data", {}).get("text/plain", ""))
            parts.append(text if text.endswith("\n") else text + "\n")
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "".join(parts)


def texts(book: nbformat.NotebookNode) -> list[str]:
    return [cell_text(c) for c in book.cells if c.cell_type == "code"]


R0, R1 = "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"


def widget_value_list(book: nbformat.NotebookNode) -> list[str]:
    """Every string ``value`` of the widget models papermill saved (the widgets' HTML, their texts)."""
    state = book.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [m["state"]["value"] for m in state.values() if isinstance(m.get("state", {}).get("value"), str)]


def widget_values(book: nbformat.NotebookNode) -> str:
    """:func:`widget_value_list`, joined."""
    return "\n".join(widget_value_list(book))


def widget_descriptions(book: nbformat.NotebookNode) -> list[str]:
    """Every button's description papermill saved (the tree's and the drift grid's labels)."""
    state = book.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [m["state"]["description"] for m in state.values() if isinstance(m.get("state", {}).get("description"), str)]


def assert_no_text_copies(book: nbformat.NotebookNode) -> None:
    """No widget is preceded, in its own cell, by a printed text copy of itself (issue 16)."""
    for cell in book.cells:
        outputs = cell.get("outputs", [])
        kinds = ["widget" if "application/vnd.jupyter.widget-view+json" in o.get("data", {}) else o.get("output_type")
                 for o in outputs]
        if "widget" in kinds:
            assert kinds[:kinds.index("widget")].count("stream") == 0, cell.source


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def assert_widgets_render_statically(book: nbformat.NotebookNode) -> dict[str, str]:
    """Every widget output also carries a static HTML rendering with content, and a readable text/plain.

    Returns:
        The renderings by view class name (the last one of each class).
    """
    outputs = [o for c in book.cells for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert outputs, "no widget output"
    views = {}
    for o in outputs:
        html, plain = o["data"].get("text/html", ""), o["data"].get("text/plain", "")
        m = re.match(r'<div class="gloo-nb-static" data-view="(\w+)">', html)
        assert m, f"widget output without a static rendering: {plain[:200]}"
        assert len(re.sub(r"<[^>]+>", "", html).strip()) > 40 and "no static rendering" not in html, html[:500]
        assert plain and "\n" not in plain and not plain.startswith(f"{m[1]}(") and "children=" not in plain, plain
        views[m[1]] = html
    return views


def nbconvert_html(executed: Path) -> str:
    """``jupyter nbconvert --to html`` of the static copy of a papermill output (:func:`static_notebook`).

    papermill saves the widget state, so nbconvert of the output as it is draws each widget with JavaScript from
    unpkg.com: asserted too, then the copy, in which every view shows its rendering without any script.
    """
    from gloo_nb.app.share import static_notebook

    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", str(executed)], check=True,
                   capture_output=True, timeout=120)
    as_is = executed.with_suffix(".html").read_text()
    assert 'type="application/vnd.jupyter.widget-view+json"' in as_is and "html-manager" in as_is
    copy = executed.with_name(executed.stem + "-static.ipynb")
    counts = static_notebook(executed, copy)
    assert counts["static"] >= 1 and counts["other"] == 0, counts
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", str(copy)], check=True, capture_output=True,
                   timeout=120)
    page = copy.with_suffix(".html").read_text()
    assert page.count('class="gloo-nb-static"') == counts["static"] and "widget-view+json\">" not in page
    return page


def assert_sandbox_gone(all_text: str) -> None:
    m = re.search(r"own sandbox pid (\d+) in (\S+)", all_text)
    assert m, "the notebook did not say which sandbox it started"
    pid, state = int(m[1]), Path(m[2])
    assert not (state / "endpoints.json").exists()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return
    # Reparented to init, the stopped daemon may still be an unreaped zombie for a moment.
    assert stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"), f"sandbox pid {pid} still runs"


def test_parameters_cell_is_tagged_with_the_connection_contract() -> None:
    contract = ["sandbox_dir", "kubeconfig", "context", "as_user", "as_group", "gloo_version"]
    for name, extra in (("01-explore-gateway.ipynb", ["apply_changes", "audit_log", "snapshot_dir"]),
                        ("02-two-phase-rollout.ipynb", ["audit_log"]),
                        ("03-invalid-config.ipynb", ["apply_changes", "audit_log"])):
        book = nbformat.read(NOTEBOOKS / name, as_version=4)
        tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1
        names = re.findall(r"^(\w+) = ", tagged[0].source, re.M)
        assert names[:len(contract) + len(extra)] == contract + extra, name
        # Every connection parameter reaches open_gateway (a parameter the cell ignores would be silently lost).
        opener = next(c.source for c in book.cells if c.cell_type == "code" and "open_gateway(" in c.source)
        assert "audit_log=audit_log" in opener, name


def test_03_reproduces_the_incident_then_the_patch_then_the_revert(venv_kernel: str, tmp_path: Path) -> None:
    book = run("03-invalid-config.ipynb", tmp_path / "03.ipynb", venv_kernel)
    out = texts(book)
    joined = "\n".join(out)
    assert "Gloo 1.3" in out[1]
    step4 = next(t for t in out if "== step 4" in t)
    assert "push push" in step4 and "Everything is served as intended" in step4 and "all 4 route(s)" in step4
    incident = next(t for t in out if "== incident" in t)
    assert "push keep-last-good" in incident
    # The answer first: the victim, the culprit's resource, team and writer (the sandbox's audit log), the typo.
    assert re.search(r"^foxtrot's change to foxtrot/foxtrot-routes is NOT served \(\d+\.\d s\): Gloo keeps its last "
                     r"good configuration because echo/echo-routes \(team echo, changed by echo-dev\) names upstream "
                     r"echo-typo, which does not exist\.$", incident, re.M), incident
    assert "fix: revert or fix echo/echo-routes (upstream echo-typo)" in incident
    assert ("fix: set Settings replaceInvalidRoutes: true (invalidRouteResponseCode 404): Gloo answers echo: prefix "
            "/echo, stage=canary with its fallback (fallback 404) instead; foxtrot gets its change to "
            "foxtrot/foxtrot-routes served") in incident
    # Blocked: real requests still reach foxtrot-v1 although the intent sends all to v2.
    assert re.search(r"^/foxtrot :.*v1.* x20", incident, re.M), incident
    patched = next(t for t in out if "== settings patch" in t)
    assert "push push" in patched and "NOT served" not in patched
    assert re.search(r"^echo loses echo: prefix /echo, stage=canary \(echo/echo-routes, [^)]*\): Gloo answers with "
                     r"its fallback response \(fallback 404\) because echo/echo-routes", patched, re.M), patched
    assert re.search(r"^/foxtrot :.*v2.* x20", patched, re.M), patched
    assert re.search(r"^/echo \{'stage': 'canary'\}: 404 Gloo Gateway has invalid configuration.* x20", patched,
                     re.M), patched
    assert joined.index("NOT served") < joined.index("echo loses")
    reverted = next(t for t in out if "== typo reverted" in t)
    assert "push push" in reverted and "Everything is served as intended" in reverted
    assert "blocked" not in reverted and "replaced" not in reverted and "NOT served" not in reverted
    assert re.search(r"^/echo \{'stage': 'canary'\}: 200 .*v2.* x20", reverted, re.M), reverted
    # The third answer (issue 19): a second own sandbox, current with strict validation. Echo's typo is refused at
    # kubectl apply with Gloo's message, foxtrot's change (0/100) is served; 1.3's webhook would have admitted it.
    third = next(t for t in out if "Gloo's webhook (current, strict validation)" in t)
    assert third.startswith("Gloo's webhook (current, strict validation) refused echo's typo at kubectl apply; "
                            "foxtrot's change (0/100) was applied and served "), third
    assert ('for: "rt-echo-3.yaml": error when patching "rt-echo-3.yaml": admission webhook '
            '"gloo.gloo-system.svc" denied the request: resource incompatible with current Gloo snapshot: '
            "[Validating *v1.RouteTable failed: 1 "
            "error occurred:\n\t* Validating *v1.RouteTable failed: validating *v1.RouteTable "
            'name:"echo-routes"  namespace:"echo": 2 errors occurred:\n\t* Route Warning: '
            "InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.echo-typo } not found") in third, third
    assert re.search(r"^/foxtrot : 200 version:foxtrot-v2 x20 ", third, re.M), third
    assert re.search(r"^/echo \{'stage': 'canary'\}: 200 version:echo-v2 x20 ", third, re.M), third
    assert "RouteTable foxtrot/foxtrot-routes: admitted" in third
    assert "Gloo 1.3's webhook would have admitted the typo even with alwaysAccept: false" in third
    second = re.search(r"second own sandbox pid (\d+) in (\S+)", third)
    assert second and second[2] not in joined.split(third)[0]
    assert_sandbox_gone(f"own sandbox pid {second[1]} in {second[2]}")
    table = out[out.index(third) + 1]
    assert re.search(r"^last-known-good .*version:foxtrot-v1 x20 \(old weights\)", table, re.M), table
    assert re.search(r"^replaceInvalidRoutes .*404 Gloo Gateway has invalid configuration", table, re.M), table
    assert re.search(r"^webhook \(strict\) .*echo's typo only, at kubectl apply", table, re.M), table
    # The invalid-routes table: cause team beside affected team, the message whole.
    widgets = widget_values(book)
    assert "<th>causeTeam</th><th>affectedTeam</th><th>role</th>" in widgets
    assert "*v1.Upstream {echo-typo gloo-system} not found" in widgets
    assert_no_text_copies(book)
    assert "closed" in out[-1]
    assert_sandbox_gone(joined)
    views = assert_widgets_render_statically(book)
    assert set(views) == {"DriftGridView", "InvalidRoutesView"}
    page = nbconvert_html(tmp_path / "03.ipynb")
    assert page.count('data-view="DriftGridView"') == 2 and "replaced" in page and "echo-typo" in page


def test_01_explores_the_incident_with_every_widget(venv_kernel: str, tmp_path: Path) -> None:
    book = run("01-explore-gateway.ipynb", tmp_path / "01.ipynb", venv_kernel)
    out = texts(book)
    joined = "\n".join(out)
    assert "Gloo 1.3" in out[1] and "2 replica(s)" in out[1]
    # The answer first: right after the inspection, the headline (text and HTML) says who is hurt and why.
    headline = out[3]
    assert headline.startswith("foxtrot's change to foxtrot/foxtrot-routes is NOT served ("), headline
    assert "because echo/echo-routes (team echo, changed by echo-dev) names upstream echo-typo" in headline
    assert "blocked-by-last-known-good" in joined  # the drift frame, after the widgets
    assert "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {echo-typo gloo-system} not found" in \
        joined  # the findings frame shows messages whole
    widgets = [o for c in book.cells for o in c.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) >= 5
    overview = next(c for c in book.cells if "GatewayOverviewView(" in c.source)
    assert [o for o in overview.get("outputs", []) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    values = widget_values(book)
    # The drift grid opens with the headline; its columns are served and each replica.
    assert 'class="gloo-nb-headline" data-state="blocked-by-last-known-good"' in values
    assert all(f"<b>{s}</b>" in values for s in ("served", R0, R1))
    # Culprit and victim look different in the tree and the grid, routes named by team.
    labels = widget_descriptions(book)
    assert "route prefix /echo [stage=canary]  [CAUSE]" in labels and "route prefix /foxtrot  [held back]" in labels
    assert any(t.startswith("upstream gloo-system/echo-typo") and t.endswith("[broken destination]") for t in labels)
    assert "foxtrot: prefix /foxtrot  [held back]" in labels and "echo: prefix /echo, stage=canary  [CAUSE]" in labels
    # The weights cell's probe run shows in the weights widget only (no printed copy before it): all 50 to v1.
    weights_cell = next(c for c in book.cells if "TrafficWeightsView(" in c.source)
    (weights_plain,) = [o["data"]["text/plain"] for o in weights_cell.get("outputs", [])
                        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert re.search(r"\{version=v1\}: [^;]*observed 100 %", weights_plain), weights_plain
    assert not [o for o in weights_cell.get("outputs", []) if o.get("output_type") == "stream"], weights_cell
    # The probe widget's run and the try-a-request widget's answer, read from the saved widget state.
    assert re.search(r"<b>200</b> requests to <code>/foxtrot</code> \(stage: canary\)", values), values
    assert "version:foxtrot-v2" in values
    assert "<b>GET /foxtrot</b>" in values and "<td>served</td>" in values
    assert_no_text_copies(book)
    assert "closed" in out[-1]
    assert_sandbox_gone(joined)
    # Saved, the notebook reads without a kernel: each widget's state as HTML (tables, the chart inline).
    views = assert_widgets_render_statically(book)
    assert set(views) == {"DelegationTreeView", "DriftGridView", "InvalidRoutesView", "TrafficWeightsView",
                          "ProbeView", "TryRequestView", "GatewayOverviewView"}
    assert "echo-typo" in views["InvalidRoutesView"] and "blocked change" in views["InvalidRoutesView"]
    assert "foxtrot/foxtrot-routes" in views["DelegationTreeView"]  # expanded down to the RouteTables
    assert "<svg" in views["TrafficWeightsView"]  # the chart inline (SVG since the i16-plots merge)
    assert "<td>100.0 %</td>" in views["ProbeView"]
    page = nbconvert_html(tmp_path / "01.ipynb")
    for name in views:
        assert f'data-view="{name}"' in page
    assert "echo-typo" in page and '<table cellpadding="4" class="gloo-nb"' in page  # attributes in name order


def test_a_failing_cell_still_stops_the_notebooks_sandbox(venv_kernel: str, tmp_path: Path) -> None:
    book = nbformat.read(NOTEBOOKS / "01-explore-gateway.ipynb", as_version=4)
    opened = next(i for i, c in enumerate(book.cells) if "open_gateway(" in c.source)
    book.cells.insert(opened + 1, nbformat.v4.new_code_cell('raise RuntimeError("boom")'))
    broken = tmp_path / "broken.ipynb"
    nbformat.write(book, broken)
    with pytest.raises(papermill.PapermillExecutionError, match="boom"):
        run("broken", tmp_path / "broken-out.ipynb", venv_kernel, source=broken)
    joined = "\n".join(texts(nbformat.read(tmp_path / "broken-out.ipynb", as_version=4)))
    assert "RuntimeError: boom" in joined
    assert_sandbox_gone(joined)


def test_01_on_a_snapshot_bundle_of_the_incident_works_offline(venv_kernel: str, tmp_path: Path) -> None:
    from sandboxkit import sandbox

    from gloo_nb.app import notebook as nb
    from gloo_nb.app.snapshot import save_snapshot

    with sandbox(tmp_path / "sb", "1.3") as info:
        gw = nb.open_gateway(sandbox_dir=info.state_dir, apply_changes=True)
        try:
            gw.apply(nb.STEP4)
            gw.settle()
            gw.apply(nb.INCIDENT)
            live = gw.settle()
            save_snapshot(gw.conn, tmp_path / "bundle")
        finally:
            gw.close()
    # The sandbox is gone: everything below reads the bundle only.
    book = run("01-explore-gateway.ipynb", tmp_path / "01-bundle.ipynb", venv_kernel,
               parameters={"snapshot_dir": str(tmp_path / "bundle")})
    out = texts(book)
    joined = "\n".join(out)
    assert f"Gloo 1.3, 2 replica(s), snapshot bundle {tmp_path / 'bundle'} saved" in out[2]  # after papermill's
    assert "NOT served (since unknown)" in joined and "changed by unknown" in joined  # a bundle records no writers
    assert "blocked-by-last-known-good" in joined and "echo-typo" in joined
    # The drift the notebook shows from the bundle is the live one at the moment it was saved.
    drift_cell = next(t for t in out if t.lstrip().startswith("resource"))
    for row in live.drift_frame().itertuples():
        assert row.state in drift_cell and row.resource in drift_cell
    values = widget_values(book)
    assert all(f"<b>{s}</b>" in values for s in ("served", R0, R1))
    assert "no gateway to probe (snapshot bundle)" in joined
    widgets = [o for c in book.cells for o in c.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) >= 4
    tried = next(v for v in widget_value_list(book) if "<b>GET /foxtrot</b>" in v)
    assert "<td>served</td>" in tried and "response" not in tried
