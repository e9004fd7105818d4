"""Installed, not only checked out: a wheel built from the repository runs the demo and a notebook's own
sandbox in a fresh venv.

Run it alone with ``pytest -m wheel``. It builds offline (``--no-build-isolation --no-index``: setuptools
and wheel come from the dev venv) and installs with ``--no-deps``; the fresh venv reaches the dev venv's
third-party packages through a ``.pth`` line, never the checkout: the test runs from a folder outside it,
without ``PYTHONPATH``, and checks that ``gloo_nb`` is the installed copy.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.wheel, pytest.mark.sandbox, pytest.mark.envoy]


def _run(*args: str | Path, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_a_wheel_installed_outside_the_checkout_runs_the_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["TMPDIR"] = str(tmp_path)
    # Build from a copy: the build writes build/ and *.egg-info beside the sources.
    src = tmp_path / "src"
    shutil.copytree(REPO / "gloo_nb", src / "gloo_nb", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(REPO / "pyproject.toml", src)
    shutil.copy(REPO / "setup.py", src)  # the C YAML loader, compiled into the wheel
    _run(sys.executable, "-m", "pip", "wheel", src, "--no-deps", "--no-build-isolation", "--no-index",
         "-w", tmp_path / "dist", cwd=tmp_path, env=env, timeout=120)
    (wheel,) = (tmp_path / "dist").glob("gloo_nb-*.whl")

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path, env=env, timeout=60)
    python = venv / "bin" / "python"
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path,
                        env=env, timeout=30).stdout.strip())
    # The dependencies (and pip) from the dev venv; a plain path line: its own .pth files (the editable
    # install of the checkout) are not processed.
    (purelib / "dev-venv-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    assert site.getsitepackages()  # the dev venv is a real one
    _run(python, "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=tmp_path, env=env, timeout=120)

    where = _run(python, "-c", "import gloo_nb; print(gloo_nb.__file__); print(gloo_nb.seed_incident_journal()); "
                 "print(gloo_nb.seed_incident_journal('current')); "
                 "from gloo_nb.models.codec import _yaml_events; print(_yaml_events._cyaml.__file__)",
                 cwd=tmp_path, env=env, timeout=60).stdout.split()
    assert all(Path(p).is_relative_to(purelib) for p in where), where
    assert (venv / "bin" / "gloo-nb").exists()

    # Step 1 only: the sandbox (API, control plane, real Envoys, pods) and the shipped manifests, in seconds;
    # tests/test_demo.py plays all eight from the checkout.
    done = _run(python, "-m", "gloo_nb.demo", "--steps", "1", cwd=tmp_path, env=env, timeout=120)
    assert f"files from {purelib}" in done.stdout, done.stdout
    assert "200 version:foxtrot-v1 x20" in done.stdout and "Step 2:" not in done.stdout, done.stdout
    assert done.stdout.endswith("Sandbox stopped.\n"), done.stdout

    # The notebooks' own-sandbox mode: no parameters start a 1.3 sandbox; the seed files come from the wheel.
    cell = ("import gloo_nb\n"
            "gw = gloo_nb.open_gateway()\n"
            "try:\n"
            "    print('\\n'.join(gw.apply(['vs.yaml'])))\n"
            "    print(gw.describe())\n"
            "finally:\n"
            "    gw.close()\n")
    done = _run(python, "-c", cell, cwd=tmp_path, env=env, timeout=120)
    assert "VirtualService gloo-system/app created (vs.yaml)" in done.stdout, done.stdout
