"""Running the notebooks headless in tests: a kernelspec on this venv's python, and papermill with it.

Shared by tests/notebooks and the connection tests that run a notebook (tests/app/test_kubeconfig_path_notebook.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import papermill
import pytest
from jupyter_client.kernelspec import KernelSpecManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "python3"


@pytest.fixture(scope="module")
def venv_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
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
    """Execute a notebook of notebooks/ (or ``source``) with papermill into ``out`` and read it back."""
    papermill.execute_notebook(str(source or NOTEBOOKS / name), str(out), parameters=parameters or {},
                               kernel_name=kernel,
                               cwd=str(ROOT), progress_bar=False, execution_timeout=120)
    return nbformat.read(out, as_version=4)
