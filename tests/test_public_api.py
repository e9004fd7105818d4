"""``import gloo_nb``: the curated public API, exactly, and light to import."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

import gloo_nb

pytestmark = pytest.mark.unit

PUBLIC = {
    "__version__",
    # look
    "connect", "connect_sandbox", "open_snapshot", "open_gateway", "translate", "compare", "probe",
    # act
    "Rollout", "RolloutTarget",
    # remember
    "read_journal", "load_timeline", "incident_summary", "timeline_figure", "seed_incident_journal", "seed_scenario",
    "import_journal", "seed_incident_logs",
    # widgets
    "DelegationTreeView", "DriftGridView", "InvalidRoutesView", "ProbeView", "RolloutStepper", "TimeTravelView",
    "TrafficWeightsView", "TryRequestView", "http_fetch", "inspection_at",
    # errors
    "GlooNbError", "UsageError", "UnreachableError", "BadDataError", "ParseError", "RolloutError", "RolloutConflict",
    "RolloutStopped",
}
REPO = Path(__file__).resolve().parents[1]


def test_all_is_exactly_the_curated_list():
    assert sorted(gloo_nb.__all__) == sorted(PUBLIC)
    assert len(gloo_nb.__all__) == len(PUBLIC)


def test_every_public_name_resolves_and_is_documented():
    for name in PUBLIC - {"__version__"}:
        value = getattr(gloo_nb, name)
        assert callable(value), name
        assert (value.__doc__ or "").strip(), f"{name} has no docstring"
        assert name in (gloo_nb.__doc__ or ""), f"the package docstring does not show {name}"


def test_translate_stays_the_function_after_the_subpackage_is_imported():
    import gloo_nb.translate.render  # noqa: F401 - the import that would replace the attribute

    assert isinstance(gloo_nb.translate, types.FunctionType)
    assert gloo_nb.translate is sys.modules["gloo_nb.translate"].translate


def test_import_is_light():
    heavy = ("pandas", "ipywidgets", "grpc", "kubernetes", "aiohttp", "envoy", "matplotlib")
    code = f"import sys, gloo_nb; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
                          timeout=60)
    assert done.stdout.strip() == "", f"import gloo_nb imports {done.stdout.strip()}"


def test_the_shipped_data_is_package_data():
    scenario, journal = gloo_nb.seed_scenario(), gloo_nb.seed_incident_journal()
    package = Path(gloo_nb.__file__).parent
    assert scenario.is_relative_to(package) and journal.is_relative_to(package)
    assert (gloo_nb.seed_scenario("part2") / "vs.yaml").is_file()
    assert list(journal.glob("journal-*.jsonl"))
    # the repository's paths (README, tests, scripts) reach the same folders
    assert (REPO / "data" / "scenarios" / "two-phase-canary").resolve() == scenario.resolve()
    assert (REPO / "data" / "journals" / "seed-incident").resolve() == journal.resolve()


def test_no_module_shadows_the_standard_library():
    # The sandbox runs some files as scripts (`python -S workloads.py`): their folder comes first on sys.path.
    package = Path(gloo_nb.__file__).parent
    assert [p for p in package.rglob("*.py") if p.stem in sys.stdlib_module_names] == []
