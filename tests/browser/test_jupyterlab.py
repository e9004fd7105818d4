"""Notebooks 01-04 in a real browser: JupyterLab in headless Chromium runs all cells, the widgets render and react.

Each test leaves a full-length screenshot of its notebook, as it ran, under the repository's ``out/screenshots/``
(ignored by git) for a person to look at (issue 16's proof): ``notebook-01.png`` to ``notebook-04.png``, and
``notebook-04-saved.png`` for a saved papermill output reopened.

Needs Debian's ``chromium`` (``apt-get install -y chromium fonts-dejavu-core``; ``.ci/run`` installs it, and
without it the test fails saying so) and the ``dev`` extra (``jupyterlab``, ``playwright``). ``playwright install``
is never used: Playwright drives ``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "01-explore-gateway.ipynb"
NOTEBOOK02 = "02-two-phase-rollout.ipynb"
NOTEBOOK03 = "03-invalid-config.ipynb"
NOTEBOOK04 = "04-post-incident-analysis.ipynb"
SHOTS = ROOT / "out" / "screenshots"
"""Where the screenshots go: the repository's ``out/`` (in .gitignore), kept after the test for a person."""
MAX_SHOT_HEIGHT = 30_000
"""Tallest screenshot (px): a notebook longer than this is cut at the bottom (and the test says so)."""
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# JupyterLab renders a cell's error as a stderr output; a traceback marks it apart from warnings.
STDERR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"



def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    def status() -> int:
        if proc.poll() is not None:
            # pytest.fail, not an AssertionError: it ends the wait at once, with the log added once.
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)

    try:
        wait_until(status, f"jupyter lab to answer {url}", until=lambda code: code == 200, ignoring=(OSError,),
                   timeout=timeout, interval=0.2)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{log.read_text()[-3000:]}") from None


@dataclass
class Lab:
    """A running JupyterLab.

    Attributes:
        url: The notebook's URL, with the token.
        out: The test's output folder.
        proc: The server process (its own process group).
        base: The server's base URL.
        token: The server's token.
    """

    url: str
    out: Path
    proc: subprocess.Popen[bytes]
    base: str
    token: str

    def stop(self) -> None:
        """Shut the server down (and with it its kernels); idempotent."""
        if self.proc.poll() is not None:
            return
        # The API shutdown stops the kernels cleanly; the notebook's sandbox follows its kernel's pid.
        try:
            req = urllib.request.Request(f"{self.base}/api/shutdown?token={self.token}", method="POST")
            urllib.request.urlopen(req, timeout=5).close()
            self.proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@contextlib.contextmanager
def _lab(tmp_path: Path, notebook: str) -> Iterator[Lab]:
    """JupyterLab on a free port over a copy of a notebook, with the venv's python as the ``python3`` kernel.

    Yields:
        The running server; stopped at the end, also on failure.
    """
    assert os.path.exists(CHROMIUM), f"needs {CHROMIUM}: apt-get install -y chromium fonts-dejavu-core (.ci/run does)"
    prefix = tmp_path / "jupyter"
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "python3"],
                   check=True, capture_output=True)
    work = tmp_path / "notebooks"
    work.mkdir()
    # A copy: JupyterLab autosaves outputs into the file it opened.
    shutil.copy(ROOT / "notebooks" / notebook, work / notebook)
    port, token = _free_port(), secrets.token_hex(16)
    # A private HOME and config dir: no user settings or workspaces leak in, nothing is written outside tmp.
    settings = tmp_path / "jupyter-config" / "lab" / "user-settings"
    # No "get notified about Jupyter news?" toast over the screenshots (and no request for the news).
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))
    env = dict(os.environ, JUPYTER_PATH=str(prefix / "share" / "jupyter"), HOME=str(tmp_path / "home"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), PYTHONPATH=str(ROOT))
    log = tmp_path / "jupyter-lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--allow-root", "--ip", "127.0.0.1",
             "--port", str(port), "--port-retries", "0", f"--ServerApp.token={token}",
             "--LabApp.expose_app_in_browser=True", "--notebook-dir", str(work)],
            cwd=str(ROOT), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    server = Lab(f"{base}/lab/tree/{notebook}?token={token}", tmp_path, proc, base, token)
    try:
        _wait_http(f"{base}/api/status?token={token}", proc, log)
        yield server
    finally:
        server.stop()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab over a copy of notebook 01."""
    with _lab(tmp_path, NOTEBOOK) as server:
        yield server


@pytest.fixture
def lab02(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab over a copy of notebook 02 (the rollout runbook)."""
    with _lab(tmp_path, NOTEBOOK02) as server:
        yield server


def _notebook_text(page: Any) -> str:
    return str(page.evaluate("() => document.querySelector('.jp-Notebook')?.textContent ?? ''"))


def _assert_sandbox_gone(pid: int, state: Path) -> None:
    assert not (state / "endpoints.json").exists(), f"the notebook's sandbox in {state} still runs"
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return
    # Reparented to init, the stopped daemon may still be an unreaped zombie for a moment.
    assert stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"), f"sandbox pid {pid} still runs"


STOP_OWN = "stop the sandbox and close the connection"
"""The own-sandbox notebooks' stop button (gloo_nb.widgets.close.stop_label)."""
CLOSED = "connection closed: run the connect cell again"


def _full_length_screenshot(page: Any, name: str) -> Path:
    """Screenshot the whole notebook, every cell and output, into :data:`SHOTS`.

    JupyterLab scrolls the notebook inside its own panel, so Playwright's ``full_page`` alone gives the
    viewport: the viewport is grown to the notebook's height first (measured again after the cells below the
    fold rendered, as their heights are estimates until then), then set back.

    Args:
        page: The page showing the notebook.
        name: The file name (``notebook-01.png``).

    Returns:
        The screenshot's path.
    """
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    viewport = page.viewport_size or {"width": 1400, "height": 1000}
    # The content's height: the last cell's bottom below the scroll panel's top (not the panel's scrollHeight,
    # which includes JupyterLab's scroll-past-end padding, itself as tall as the panel: it would grow forever).
    measure = ("() => { const outer = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');"
               " const cells = document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell');"
               " if (!outer || !cells.length) return [0, 0];"
               " outer.scrollTop = outer.scrollHeight;"  # windowed: the last cells render when scrolled to
               " const last = cells[cells.length - 1].getBoundingClientRect();"
               " const top = outer.getBoundingClientRect().top;"
               " return [last.bottom - top + outer.scrollTop + 24, outer.clientHeight]; }")
    height = viewport["height"]
    for _ in range(6):  # until the measured height settles (rendered cells replace estimates)
        page.wait_for_timeout(300)
        content, client = page.evaluate(measure)
        wanted = min(MAX_SHOT_HEIGHT, height + max(0, int(content) - int(client)))
        if wanted <= height:
            break
        height = wanted
        page.set_viewport_size({"width": viewport["width"], "height": height})
        page.wait_for_timeout(500)
    page.evaluate("() => { const o = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');"
                  " if (o) o.scrollTop = 0; }")
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(viewport)
    if height >= MAX_SHOT_HEIGHT:
        print(f"screenshot {path} cut at {MAX_SHOT_HEIGHT} px")
    print(f"screenshot: {path}")
    return path


def _screenshot_anyway(page: Any, name: str) -> None:
    """:func:`_full_length_screenshot` in a ``finally``: a failed screenshot must not hide the test's own failure."""
    try:
        _full_length_screenshot(page, name)
    except Exception as exc:  # noqa: BLE001 - reported, the test's own outcome stands
        print(f"no screenshot {name}: {exc}")


def _run_all(page: Any) -> None:
    """Wait for the notebook's kernel, then Run All."""
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                           timeout=30_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                           ".connectionStatus === 'connected'", timeout=30_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def _wait_last_cell(page: Any, text: str, *, timeout: float = 90_000) -> None:
    """Wait until the page shows ``text`` in an output (or a cell failed with a traceback); assert no traceback."""
    page.wait_for_function(
        "(text) => { const outs = [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')];"
        " const done = outs.some((o) => o.textContent.includes(text));"
        " const errs = [...document.querySelectorAll(" + json.dumps(STDERR_OUTPUT) + ")];"
        " return done || errs.some((e) => e.textContent.includes('Traceback')); }",
        arg=text, timeout=timeout)
    errors = [t for t in page.locator(STDERR_OUTPUT).all_text_contents() if "Traceback" in t]
    assert not errors, errors


def test_notebook_01_runs_in_jupyterlab_and_its_widgets_react(lab: Lab) -> None:
    from playwright.sync_api import sync_playwright

    url, out = lab.url, lab.out
    shot = SHOTS / "notebook-01.png"
    shot.unlink(missing_ok=True)  # this run's, not an earlier one's
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(out / "chromium-profile"), executable_path=CHROMIUM,
                                                   headless=True, args=CHROMIUM_FLAGS,
                                                   viewport={"width": 1400, "height": 1000})
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        try:
            page.goto(url)
            _run_all(page)
            # Done when the last cell shows its stop button (Run All leaves the connection open for the widgets),
            # or as soon as a cell fails (run-all stops there).
            _wait_last_cell(page, STOP_OWN)
            # Live, each view's widget wins over the static HTML it also publishes (for saved notebooks).
            # (The widget renderer sets no data-mime-type; it draws .jupyter-widgets elements.)
            widgets = page.eval_on_selector_all(".jp-OutputArea-output",
                                                "els => els.filter((e) => e.querySelector('.jupyter-widgets')).length")
            # overview, tree, drift grid, invalid routes, weights, probe, try a request, the stop button
            assert widgets == 8 and page.locator(".gloo-nb-static").count() == 0, widgets

            # The tree widget (rendered by the ipywidgets front end, not the text output) shows the seed scenario.
            tree = page.locator(".jp-OutputArea-output .widget-vbox").filter(
                has=page.locator("input[placeholder='search (label text)']")).first
            tree.wait_for(timeout=15_000)
            buttons = tree.locator("button")
            labels = buttons.all_text_contents()
            joined = "\n".join(labels)
            assert any(t.startswith("VirtualService gloo-system/app ") for t in labels), joined
            assert any(t.startswith("RouteTable echo/echo-routes ") for t in labels), joined
            assert any(t.startswith("RouteTable foxtrot/foxtrot-routes ") for t in labels), joined
            # The incident: echo's typo keeps the last known good; echo's route is the cause, foxtrot's held back.
            assert any(t.startswith("route ") and "[CAUSE]" in t for t in labels), joined
            assert any(t.startswith("route prefix /foxtrot ") and "[held back]" in t for t in labels), joined
            sandbox = re.search(r"own sandbox pid (\d+) in (\S+)", _notebook_text(page))
            assert sandbox, "the notebook did not say which sandbox it started"
            # The answer first: the headline (HTML) right after the inspection, and on top of the drift grid.
            headlines = page.locator(".jp-OutputArea-output .gloo-nb-headline")
            assert headlines.count() >= 2
            assert "foxtrot's change to foxtrot/foxtrot-routes is NOT served" in (headlines.first.text_content() or "")

            # Click a node: the kernel computes its detail (YAML, findings, Envoy routes) and the page shows it.
            detail = tree.locator(".widget-html").last
            before = detail.text_content() or ""
            target = buttons.filter(has_text="foxtrot-routes").first
            target.click()
            page.wait_for_function("(el) => el.textContent.includes('foxtrot-routes')"
                                   " && el.textContent.includes('kind: RouteTable')",
                                   arg=detail.element_handle(), timeout=15_000)
            after = detail.text_content() or ""
            assert after != before and "foxtrot-routes" in after, after
            detail.scroll_into_view_if_needed()

            # The stop button is a deliberate act: pressing it closes the connection (and the own sandbox), and the
            # probe's button is disabled at once, saying why.
            probe = page.locator(".jp-OutputArea-output .widget-vbox").filter(
                has=page.locator("textarea[placeholder='stage: canary']")).first
            probe_button = probe.locator("button", has_text="probe")
            assert probe_button.is_enabled()
            stop = page.locator(".jp-OutputArea-output .widget-vbox").filter(
                has=page.locator("button", has_text=STOP_OWN)).first
            stop.locator("button").click()
            page.wait_for_function("(el) => el.disabled", arg=probe_button.element_handle(), timeout=30_000)
            probe.get_by_text(CLOSED).wait_for(timeout=15_000)
            # The button's output says "closed" once the sandbox is stopped too.
            stop.locator(".widget-html", has_text="closed").wait_for(timeout=60_000)
        finally:
            _screenshot_anyway(page, shot.name)
            ctx.close()
    assert shot.exists()
    lab.stop()
    _assert_sandbox_gone(int(sandbox[1]), Path(sandbox[2]))


def test_notebook_02_run_all_waits_after_phase_1_and_the_named_button_performs_one_step(lab02: Lab) -> None:
    """Issue 16: interactive Run All stops after phase 1 and shows the stepper; its named button runs one step."""
    from playwright.sync_api import sync_playwright

    shot = SHOTS / "notebook-02.png"
    shot.unlink(missing_ok=True)
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(lab02.out / "chromium-profile"), executable_path=CHROMIUM,
                                                   headless=True, args=CHROMIUM_FLAGS,
                                                   viewport={"width": 1400, "height": 1000})
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        try:
            page.goto(lab02.url)
            _run_all(page)
            _wait_last_cell(page, "the runbook waits for you")
            text = "\n".join(page.locator(".jp-Notebook .jp-OutputArea-output").all_text_contents())
            assert re.search(r"phase1: proven", text), text[-3000:]
            # Run All stopped at the stepper: no later step ran, the stop cell did not run.
            assert "phase2-0: proven" not in text and "phase2-0: already" not in text, text[-3000:]
            assert STOP_OWN not in text and "closed" not in text, text[-3000:]
            stepper = page.locator(".jp-OutputArea-output .widget-vbox").filter(
                has=page.locator("button", has_text="roll back to")).first
            stepper.wait_for(timeout=30_000)
            button = stepper.locator("button", has_text="weighted destinations (v2 0 %)")
            assert button.is_enabled()
            button.click()
            # Exactly one step: phase2-0 proven, the button now names the next one, phase2-10 not run.
            stepper.locator("button", has_text="promote to 10 %").wait_for(timeout=90_000)
            plan = stepper.locator("table.rollout-plan").inner_text()
            states = dict(re.findall(r"^(phase[\w-]+|finish)\s+(\w+)", plan, re.M))
            assert states.get("phase2-0") == "proven" and states.get("phase2-10") == "next", plan
            assert states.get("phase2-50") == "pending" and states.get("finish") == "pending", plan
            sandbox = re.search(r"own sandbox pid (\d+) in (\S+)", _notebook_text(page))
            assert sandbox, "the notebook did not say which sandbox it started"
        finally:
            _screenshot_anyway(page, shot.name)
            ctx.close()
    assert shot.exists()
    # Nothing stopped the sandbox but the kernel's end: it follows its owner.
    lab02.stop()
    _assert_sandbox_gone(int(sandbox[1]), Path(sandbox[2]))


def test_a_saved_papermill_output_shows_each_widgets_html_in_jupyterlab(lab: Lab) -> None:
    """Reopened later (untrusted, as a shared notebook is), each widget output shows its static HTML rendering."""
    import papermill
    from playwright.sync_api import sync_playwright

    name = "04-saved.ipynb"
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(lab.out / "jupyter" / "share" / "jupyter")  # the fixture's venv kernel
    try:
        papermill.execute_notebook(str(ROOT / "notebooks" / "04-post-incident-analysis.ipynb"),
                                   str(lab.out / "notebooks" / name), kernel_name="python3", cwd=str(ROOT),
                                   progress_bar=False, execution_timeout=120)
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "notebook-04-saved.png"
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(lab.out / "chromium-profile-saved"), executable_path=CHROMIUM,
                                                   headless=True, args=CHROMIUM_FLAGS,
                                                   viewport={"width": 1400, "height": 1000})
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        try:
            page.goto(f"{lab.base}/lab/tree/{name}?token={lab.token}")
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                                   " && window.jupyterapp.shell.currentWidget.content"
                                   " && window.jupyterapp.shell.currentWidget.content.widgets.length > 20",
                                   timeout=30_000)
            # JupyterLab draws only the cells near the viewport: walk down to the time-travel cell.
            page.evaluate("async () => { const nb = window.jupyterapp.shell.currentWidget.content;"
                          " const i = nb.widgets.findIndex((c) => c.model.sharedModel.getSource()"
                          ".includes('TimeTravelView(timeline'));"
                          " nb.activeCellIndex = i; await nb.scrollToCell(nb.widgets[i], 'start'); }")
            # The sanitizer of untrusted outputs keeps classes, not data-* attributes: find the view by its text.
            static = page.locator(".jp-OutputArea-output .gloo-nb-static").filter(has_text="foxtrot blocked since")
            static.first.wait_for(timeout=30_000)
            static = static.first
            text = static.text_content() or ""
            assert "foxtrot blocked since" in text and "echo-typo" in text, text[:500]
            # The moment's routes table survived JupyterLab's sanitizer, padded and with its rows.
            assert static.locator("table.gloo-nb").count() >= 3
            assert "Error displaying widget" not in _notebook_text(page)
        finally:
            try:
                page.screenshot(path=str(shot))
                print(f"screenshot: {shot}")
            except Exception as exc:  # a failed screenshot must not hide the test's own failure
                print(f"no screenshot: {exc}")
            ctx.close()


def _wait_all_executed(page: Any, *, timeout: float = 120_000) -> None:
    """Wait until every code cell has run (an execution count) and the kernel is idle, or a cell failed."""
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget; const cells = w.content.model.cells;"
        " const errs = [...document.querySelectorAll(" + json.dumps(STDERR_OUTPUT) + ")];"
        " if (errs.some((e) => e.textContent.includes('Traceback'))) return true;"
        " for (let i = 0; i < cells.length; i++) { const c = cells.get(i);"
        "   if (c.type === 'code' && !c.executionCount) return false; }"
        " return w.sessionContext.session.kernel.status === 'idle'; }", timeout=timeout)
    errors = [t for t in page.locator(STDERR_OUTPUT).all_text_contents() if "Traceback" in t]
    assert not errors, errors


@pytest.mark.parametrize(("notebook", "shot_name"), [(NOTEBOOK03, "notebook-03.png"), (NOTEBOOK04, "notebook-04.png")])
def test_notebooks_03_and_04_run_all_in_jupyterlab_and_leave_a_screenshot(tmp_path: Path, notebook: str,
                                                                         shot_name: str) -> None:
    """Issue 16's proof: notebooks 03 and 04 run in real JupyterLab (Run All, no traceback), their widgets and
    headlines render, and a full-length screenshot of each is left under ``out/screenshots/``."""
    from playwright.sync_api import sync_playwright

    shot = SHOTS / shot_name
    shot.unlink(missing_ok=True)
    sandbox = None
    with _lab(tmp_path, notebook) as server, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(server.out / "chromium-profile"), executable_path=CHROMIUM,
                                                   headless=True, args=CHROMIUM_FLAGS,
                                                   viewport={"width": 1400, "height": 1000})
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        try:
            page.goto(server.url)
            _run_all(page)
            if notebook == NOTEBOOK03:
                # Ends at its stop button (Run All leaves the connection open), as notebook 01.
                _wait_last_cell(page, STOP_OWN, timeout=180_000)
            _wait_all_executed(page)
            headlines = page.locator(".jp-OutputArea-output .gloo-nb-headline")
            widgets = page.eval_on_selector_all(".jp-OutputArea-output",
                                                "els => els.filter((e) => e.querySelector('.jupyter-widgets')).length")
            assert page.locator(".gloo-nb-static").count() == 0  # live: each widget, not its saved HTML
            assert "Error displaying widget" not in _notebook_text(page)
            if notebook == NOTEBOOK03:
                # A headline per stage (step 4, incident, patch, revert); two drift grids, invalid routes, stop.
                assert headlines.count() >= 4
                assert "foxtrot's change to foxtrot/foxtrot-routes is NOT served" in _notebook_text(page)
                assert widgets == 4, widgets
                found = re.search(r"own sandbox pid (\d+) in (\S+)", _notebook_text(page))
                assert found, "the notebook did not say which sandbox it started"
                sandbox = (int(found[1]), Path(found[2]))
            else:
                # The time-travel widget, opening with the moment's headline (issue 16: the answer first).
                assert widgets == 1, widgets
                travel = page.locator(".jp-OutputArea-output .widget-vbox").filter(
                    has=page.locator(".gloo-nb-headline")).first
                travel.wait_for(timeout=15_000)
                assert "foxtrot's change to foxtrot/foxtrot-routes is NOT served" in (
                    travel.locator(".gloo-nb-headline").first.text_content() or "")
                assert "foxtrot blocked since" in (travel.text_content() or "")
        finally:
            _screenshot_anyway(page, shot_name)
            ctx.close()
        server.stop()
    assert shot.exists()
    if sandbox is not None:
        _assert_sandbox_gone(*sandbox)
