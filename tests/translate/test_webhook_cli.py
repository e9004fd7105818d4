"""``gloo-nb check --webhook`` on files: one line per resource, ``--json``, exit 1 when one is denied.

The seed scenario's Part 2 applied in order, then echo's typo (``rt-echo-3``) and foxtrot's next change, under
strict validation: current Gloo denies the typo (``validation_strict_warnings/suite.go``), Gloo 1.3 admits it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PART2 = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"
ORDER = ("upstream-echo.yaml", "upstream-foxtrot.yaml", "rt-echo-2.yaml", "rt-foxtrot-3.yaml", "vs.yaml",
         "rt-echo-3.yaml", "rt-foxtrot-4.yaml")
TYPO = "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.echo-typo } not found"


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gloo_nb", "check", "--webhook", *args], capture_output=True,
                          text=True, timeout=120)


def files() -> list[str]:
    return [str(PART2 / name) for name in ORDER]


def test_strict_current_denies_the_typo_one_line_per_resource() -> None:
    done = check("--validation", "strict", "--gloo-version", "current", *files())
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(ORDER) + 1
    assert lines[5].startswith('RouteTable echo/echo-routes: denied: admission webhook "gloo.gloo-system.svc" '
                               "denied the request: resource incompatible with current Gloo snapshot: [Validating "
                               "*v1.RouteTable failed: ")
    assert lines[5].count(TYPO) == 2
    assert lines[6] == "RouteTable foxtrot/foxtrot-routes: admitted"
    assert lines[-1] == "1 of 7 denied."


def test_json_keeps_gloos_exact_text() -> None:
    done = check("--validation", "strict", "--gloo-version", "current", "--json", *files())
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["webhook"] == "gloo.gloo-system.svc" and doc["denied"] == 1
    typo = doc["results"][5]
    assert (typo["kind"], typo["namespace"], typo["name"], typo["operation"]) == ("RouteTable", "echo", "echo-routes",
                                                                                 "UPDATE")
    assert typo["allowed"] is False and typo["errors"] == [TYPO, TYPO]
    assert f"2 errors occurred:\n\t* {TYPO}\n\t* {TYPO}\n\n" in typo["denial"]


def test_helm_defaults_and_errors_only_admit_the_typo() -> None:
    # Helm's default Settings (alwaysAccept and allowWarnings true): a warning is nothing to the webhook.
    default = check("--gloo-version", "current", *files())
    assert default.returncode == 0, default.stdout
    assert default.stdout.splitlines()[5] == "RouteTable echo/echo-routes: admitted"
    # alwaysAccept false but allowWarnings true: a warning is not refused.
    assert check("--validation", "errors", "--gloo-version", "current", *files()).returncode == 0


def test_13_admits_the_typo_even_strict() -> None:
    done = check("--validation", "strict", "--gloo-version", "1.3", *files())
    assert done.returncode == 0, done.stdout
    assert "RouteTable echo/echo-routes: admitted" in done.stdout.splitlines()[5]
    assert done.stdout.splitlines()[0] == ("Upstream gloo-system/echo: admitted (not validated: Gloo's webhook does "
                                           "not validate CREATE of Upstream in profile 1.3)")


def test_usage_errors() -> None:
    assert check().returncode == 2
    plain = subprocess.run([sys.executable, "-m", "gloo_nb", "check", "--json", str(PART2 / "vs.yaml")],
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode == 2 and "--webhook" in plain.stderr


def test_validation_modes_render_helms_settings(tmp_path: Path) -> None:
    # templates/18-settings.yaml: alwaysAccept from gateway.validation.alwaysAcceptResources, allowWarnings (current
    # charts only) from gateway.validation.allowWarnings; no block without gateway.validation.enabled.
    from gloo_nb.models.defaults import helm_default_settings_manifest, validation_block

    assert validation_block("accept") == helm_default_settings_manifest()["spec"]["gateway"]["validation"]
    assert validation_block("accept", profile="1.3") == \
        helm_default_settings_manifest(profile="1.3")["spec"]["gateway"]["validation"]
    assert validation_block("strict") == {"alwaysAccept": False, "proxyValidationServerAddr": "gloo:9988",
                                          "allowWarnings": False}
    assert validation_block("errors")["allowWarnings"] is True  # type: ignore[index]
    assert "allowWarnings" not in validation_block("strict", profile="1.3")  # type: ignore[operator]
    assert validation_block("off") is None
    with pytest.raises(ValueError, match="validation mode must be one of"):
        validation_block("lenient")
    bad = subprocess.run([sys.executable, "-m", "gloo_nb", "sandbox", "start", "--state-dir", str(tmp_path / "sb"),
                          "--validation", "lenient"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--validation" in bad.stderr and not (tmp_path / "sb").exists()
