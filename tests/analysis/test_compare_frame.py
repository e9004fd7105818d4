"""``comparison_frame``: one row per difference between two Gloo versions, for notebooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from gloo_nb.analysis.compare import COMPARISON_COLUMNS, comparison_frame
from gloo_nb.app.manifests import read_manifests
from gloo_nb.translate import compare

pytestmark = pytest.mark.unit

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"
STEP5 = ["echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "vs.yaml", "echo-v2.yaml",
         "foxtrot-v2.yaml", "rt-echo-3.yaml", "rt-foxtrot-4.yaml"]


def test_the_seed_typo_as_rows():
    c = compare(read_manifests([str(SEED / f) for f in STEP5]).resources, "1.3,current")
    df = comparison_frame(c)
    assert list(df.columns) == [*COMPARISON_COLUMNS, "1.3", "current"]
    assert df["what"].value_counts().to_dict() == {"route": 4, "cluster": 4, "report": 2, "push": 1, "listener": 1,
                                                   "virtualHost": 1}
    push = df[df["what"] == "push"].iloc[0]
    assert (push["1.3"], push["current"]) == ("keep-last-good", "push")
    vs = df[df["subject"] == "VirtualService gloo-system/app"].iloc[0]
    assert (vs["changes"], vs["1.3"], vs["current"]) == ("messages", "Warning (0 errors, 2 warnings)",
                                                         "Warning (0 errors, 2 warnings)")
    canary = df[(df["what"] == "route") & (df["subject"] == "gloo-system_app prefix /echo, stage=canary")].iloc[0]
    assert canary["resource"] == "echo/echo-routes"
    assert canary["current"] == "served #0 -> echo-typo_gloo-system {version=v2}"
    assert canary["1.3"].startswith("frozen (translated -> echo-typo_gloo-system {version=v2}")
