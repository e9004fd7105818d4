"""Notebooks 01 and 03 run headless with papermill on the venv's kernel, against a sandbox of their own.

The tests assert on the executed notebooks' outputs, and that the notebook's sandbox is gone afterwards,
also when a cell fails (the kernel's ``atexit`` stops it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
from jupyter_client.kernelspec import KernelSpecManager

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "python3"


@pytest.fixture(scope="module")
def venv_kernel(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A ``python3`` kernelspec that runs this venv's python, first on ``JUPYTER_PATH``."""
    prefix = tmp_path_factory.mktemp("jupyter")
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", KERNEL],
                   check=True, capture_output=True)
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
        assert spec.argv[0] == sys.executable, spec.argv
        yield KERNEL
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


def run(name: str, out: Path, kernel: str, source: Path | None = None,
        parameters: dict[str, object] | None = None) -> nbformat.NotebookNode:
    papermill.execute_notebook(str(source or NOTEBOOKS / name), str(out), parameters=parameters or {},
                               kernel_name=kernel,
                               cwd=str(ROOT), progress_bar=False, execution_timeout=120)
    return nbformat.read(out, as_version=4)


def cell_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif o.get("output_type") in ("execute_result", "display_data"):
            parts.append(str(o.get("data", {}).get("text/plain", "")))
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "".join(parts)


def texts(book: nbformat.NotebookNode) -> list[str]:
    return [cell_text(c) for c in book.cells if c.cell_type == "code"]


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
    contract = ["sandbox_dir", "kubeconfig", "context", "as_user", "as_group", "gloo_version", "apply_changes"]
    for name, extra in (("01-explore-gateway.ipynb", ["snapshot_dir"]), ("03-invalid-config.ipynb", [])):
        book = nbformat.read(NOTEBOOKS / name, as_version=4)
        tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1
        names = re.findall(r"^(\w+) = ", tagged[0].source, re.M)
        assert names == contract + extra


def test_03_reproduces_the_incident_then_the_patch_then_the_revert(venv_kernel: str, tmp_path: Path) -> None:
    book = run("03-invalid-config.ipynb", tmp_path / "03.ipynb", venv_kernel)
    out = texts(book)
    joined = "\n".join(out)
    assert "Gloo 1.3" in out[1]
    step4 = next(t for t in out if "== step 4" in t)
    assert "push push" in step4 and step4.count(" in-sync") == 4
    incident = next(t for t in out if "== incident" in t)
    assert "push keep-last-good" in incident
    foxtrot = [line for line in incident.splitlines() if line.startswith("prefix /foxtrot (")]
    assert foxtrot and "blocked-by-last-known-good" in foxtrot[0] and "echo-typo" in foxtrot[0]
    # Blocked: real requests still reach foxtrot-v1 although the intent sends all to v2.
    assert re.search(r"^/foxtrot :.*v1.* x20", incident, re.M), incident
    patched = next(t for t in out if "== settings patch" in t)
    canary = [line for line in patched.splitlines() if line.startswith("prefix /echo, stage=canary")]
    assert canary and "replaced-by-fallback" in canary[0]
    assert [line for line in patched.splitlines() if line.startswith("prefix /foxtrot (")][0].endswith("in-sync")
    assert re.search(r"^/foxtrot :.*v2.* x20", patched, re.M), patched
    assert re.search(r"^/echo \{'stage': 'canary'\}: 404 Gloo Gateway has invalid configuration.* x20", patched,
                     re.M), patched
    assert joined.index("blocked-by-last-known-good") < joined.index("replaced-by-fallback")
    reverted = next(t for t in out if "== typo reverted" in t)
    assert "push push" in reverted and reverted.count(" in-sync") == 4
    assert "blocked" not in reverted and "replaced" not in reverted
    assert re.search(r"^/echo \{'stage': 'canary'\}: 200 .*v2.* x20", reverted, re.M), reverted
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
    assert "push keep-last-good" in joined and "blocked-by-last-known-good" in joined
    assert "echo-typo" in joined  # the findings frame names the typo
    assert "sources: ['served', 'gateway-proxy-0.gloo-system', 'gateway-proxy-1.gloo-system']" in joined
    widgets = [o for c in book.cells for o in c.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) >= 5
    overview = next(c for c in book.cells if "GatewayOverviewView(" in c.source)
    assert [o for o in overview.get("outputs", []) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert re.search(r"probe .*prefix /foxtrot: 200 .*v1.* x50", joined), joined
    assert "probe /foxtrot stage=canary: 200 version:foxtrot-v2 x200" in joined  # the probe widget's run
    assert "/foxtrot" in out[-2] and "served" in out[-2]  # try a request, per source
    assert "closed" in out[-1]
    assert_sandbox_gone(joined)
    # Saved, the notebook reads without a kernel: each widget's state as HTML (tables, the chart inline).
    views = assert_widgets_render_statically(book)
    assert set(views) == {"DelegationTreeView", "DriftGridView", "InvalidRoutesView", "TrafficWeightsView",
                          "ProbeView", "TryRequestView"}
    assert "echo-typo" in views["InvalidRoutesView"] and "blocked change" in views["InvalidRoutesView"]
    assert "foxtrot/foxtrot-routes" in views["DelegationTreeView"]  # expanded down to the RouteTables
    assert 'src="data:image/png;base64,' in views["TrafficWeightsView"]
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
    assert "push keep-last-good" in joined and "blocked-by-last-known-good" in joined and "echo-typo" in joined
    # The drift the notebook shows from the bundle is the live one at the moment it was saved.
    drift_cell = next(t for t in out if t.lstrip().startswith("resource"))
    for row in live.drift_frame().itertuples():
        assert row.state in drift_cell and row.resource in drift_cell
    assert "sources: ['served', 'gateway-proxy-0.gloo-system', 'gateway-proxy-1.gloo-system']" in joined
    assert "no gateway to probe (snapshot bundle)" in joined
    widgets = [o for c in book.cells for o in c.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) >= 4
    assert "/foxtrot" in out[-2] and "served" in out[-2] and "response" not in out[-2]
