"""The ``gloo-nb`` command, run as users run it (``python -m gloo_nb``) on the seed scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PART2 = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "two-phase-canary" / "part2"
BASE = ["vs.yaml", "rt-foxtrot-1.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "echo.yaml", "foxtrot.yaml"]
KEYS = {"glooVersion", "reports", "findings", "proxy", "envoy", "push", "proxies", "skipped", "unmodelled"}


def gloo_nb(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gloo_nb", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, check=False)


def files(*names: str) -> list[str]:
    return [str(PART2 / n) for n in names]


def translate_json(*args: str, stdin: str | None = None) -> dict:
    done = gloo_nb("translate", "--json", *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_translate_json_has_the_contract_keys_and_attributes_routes_to_route_tables():
    doc = translate_json(*files("rt-echo-2.yaml", *BASE))
    assert set(doc) == KEYS
    assert doc["glooVersion"] == "current"
    assert set(doc["envoy"]) >= {"listeners", "routeConfigurations", "clusters"}
    assert doc["push"]["decision"] in ("push", "keep-last-good")
    skipped = {(s["kind"], s.get("namespace", ""), s.get("name")) for s in doc["skipped"]}
    assert {("Deployment", "echo", "echo-v1"), ("Deployment", "foxtrot", "foxtrot-v1")} <= skipped
    assert not any(kind == "Namespace" for kind, _, _ in skipped)  # read: watchNamespaceSelectors need their labels
    (vhost,) = doc["proxy"]["virtualHosts"]
    assert vhost["listener"] == "listener-::-8080" and vhost["name"] == "gloo-system.app"
    canary = vhost["routes"][0]
    assert canary["matchers"] == [{"prefix": "/echo", "headers": [{"name": "stage", "value": "canary"}]}]
    assert canary["action"] == {"routeAction": {"single": {
        "upstream": {"name": "echo", "namespace": "gloo-system"}, "subset": {"values": {"version": "v2"}}}}}
    owners = [r["sources"][0] for r in vhost["routes"]]
    assert owners == [{"kind": "RouteTable", "namespace": "echo", "name": "echo-routes"}] * 2 + [
        {"kind": "RouteTable", "namespace": "foxtrot", "name": "foxtrot-routes"}]
    assert all(r["sources"][-1]["kind"] == "VirtualService" for r in vhost["routes"])
    reports = {(r["kind"], r["name"]): r for r in doc["reports"]}
    assert reports[("VirtualService", "app")]["state"] == "Accepted"


def test_translate_of_every_manifest_keeps_the_last_version_and_lists_the_earlier_ones():
    # The whole folder, as the contract says; the settings-patch*.yaml files are bare patches,
    # listed in `skipped` with a why.
    doc = translate_json(str(PART2), "--gloo-version", "1.3")
    patches = [s for s in doc["skipped"] if s["file"].rsplit("/", 1)[-1].startswith("settings-patch")]
    assert len(patches) == 2 and all("patch" in s["why"] for s in patches)
    replaced = [s for s in doc["skipped"] if s.get("name") == "echo-routes"]
    assert [s["file"].rsplit("/", 1)[-1] for s in replaced] == ["rt-echo-1.yaml", "rt-echo-2.yaml", "rt-echo-3.yaml"]
    assert all("replaced by a later document" in s["why"] for s in replaced)
    (vhost,) = doc["proxy"]["virtualHosts"]
    assert vhost["name"] == "gloo-system.app"


def test_translate_reads_stdin():
    text = "\n---\n".join((PART2 / n).read_text() for n in ("rt-echo-2.yaml", *BASE))
    doc = translate_json("-", stdin=text)
    assert {s["file"] for s in doc["skipped"]} == {"-"}
    assert len(doc["proxy"]["virtualHosts"][0]["routes"]) == 3


def test_translate_without_json_prints_tables():
    done = gloo_nb("translate", *files("rt-echo-3.yaml", *BASE), "--gloo-version", "1.3")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Virtual host gloo-system.app on listener-::-8080" in out
    assert "prefix /echo, stage=canary" in out and "RouteTable echo/echo-routes" in out
    assert "Push: keep-last-good" in out
    assert "Deployment" in out


def test_profiles_differ_in_the_missing_upstream_message():
    def warning(profile: str) -> str:
        doc = translate_json(*files("rt-echo-3.yaml", *BASE), "--gloo-version", profile)
        app = next(r for r in doc["reports"] if r["name"] == "app")
        assert app["state"] == "Warning"
        return app["warnings"][0]

    assert warning("1.3").endswith("*v1.Upstream {echo-typo gloo-system} not found")
    assert warning("current").endswith("*v1.Upstream { gloo-system.echo-typo } not found")


def test_check_is_clean_with_the_phase_one_route_table():
    done = gloo_nb("check", *files("rt-echo-2.yaml", *BASE), "--gloo-version", "1.3")
    assert (done.returncode, done.stdout, done.stderr) == (0, "No problems detected.\n", "")


def test_check_names_the_typo_on_the_virtual_service_and_the_route_table():
    done = gloo_nb("check", *files("rt-echo-3.yaml", *BASE), "--gloo-version", "1.3")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "2 problem(s) detected."
    assert lines[0].startswith("VirtualService gloo-system/app: Warning: Route Warning: InvalidDestinationWarning")
    assert "echo-typo" in lines[0]
    assert lines[1].startswith("RouteTable echo/echo-routes: warning: ")
    assert "Gloo reports it on VirtualService gloo-system/app" in lines[1]


def test_check_in_current_reports_the_service_port_that_gloo_only_logs():
    done = gloo_nb("check", *files("rt-echo-2.yaml", *BASE))
    assert done.returncode == 1
    assert "Upstream gloo-system/echo: error: upstream gloo-system.echo: port 8080 not found" in done.stdout


@pytest.mark.parametrize("content", ["kind: [unclosed\n", "apiVersion: v1\nkind: Service\nmetadata: {}\n"])
def test_unreadable_input_is_one_line_and_exit_2(tmp_path: Path, content: str):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    for command in ("check", "translate"):
        done = gloo_nb(command, str(bad))
        assert done.returncode == 2
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("gloo-nb: ")
        assert "bad.yaml" in done.stderr and "Traceback" not in done.stderr


def test_missing_file_is_one_line_and_exit_2(tmp_path: Path):
    done = gloo_nb("check", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "nope.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_against_no_running_sandbox_is_one_line(tmp_path: Path):
    done = gloo_nb("check", "--sandbox", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr == (f"gloo-nb: no sandbox runs in {tmp_path}; start one with: gloo-nb sandbox start "
                           f"--state-dir {tmp_path}\n")


def test_check_refuses_files_and_a_connection_together(tmp_path: Path):
    done = gloo_nb("check", "--sandbox", str(tmp_path), str(tmp_path))
    assert done.returncode == 2
    assert "not both" in done.stderr


# --- the last line of defence, in process ------------------------------------------------------


def raiser(error: BaseException):
    def run(*_args, **_kwargs):
        raise error
    return run


@pytest.mark.parametrize(("error", "code", "needle"), [
    (RuntimeError("boom\nsecond line"), 2, "unexpected error RuntimeError: boom second line"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_unexpected_errors_are_one_line(monkeypatch, capsys, error, code, needle):
    from gloo_nb import cli

    monkeypatch.delenv("GLOO_NB_DEBUG", raising=False)
    monkeypatch.setattr(cli, "translate", raiser(error))
    assert cli.main(["translate", str(PART2 / "vs.yaml")]) == code
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err
    if code == 2:
        assert "please report" in err


def test_debug_shows_the_traceback(monkeypatch, capsys):
    from gloo_nb import cli

    monkeypatch.setenv("GLOO_NB_DEBUG", "1")
    monkeypatch.setattr(cli, "translate", raiser(RuntimeError("boom")))
    assert cli.main(["check", str(PART2 / "vs.yaml")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    from gloo_nb import cli

    class ClosedPipe:
        def write(self, _text):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            raise OSError("no file descriptor")

    monkeypatch.setattr(cli.sys, "stdout", ClosedPipe())
    assert cli.main(["translate", str(PART2 / "vs.yaml")]) == 141
    assert capsys.readouterr().err == ""


def test_inspect_with_an_unreadable_kubeconfig_is_one_line(tmp_path: Path):
    done = gloo_nb("inspect", "--kubeconfig", str(tmp_path / "missing"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"gloo-nb: cannot use the kubeconfig {tmp_path / 'missing'}")
    assert done.stderr.count("\n") == 1


SEED_JOURNAL = Path(__file__).resolve().parents[1] / "data" / "journals" / "seed-incident"


def test_journal_summary_json_contract_on_the_shipped_incident() -> None:
    import re

    done = subprocess.run([sys.executable, "-m", "gloo_nb", "journal", "summary", str(SEED_JOURNAL), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    (blocked,) = doc["blocked"]
    assert (blocked["team"], blocked["resource"]) == ("foxtrot", "foxtrot/foxtrot-routes")
    assert blocked["blockedBy"] == ["echo"]
    assert blocked["cause"].startswith("echo/echo-routes: ") and "echo-typo" in blocked["cause"]
    rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
    assert all(rfc3339.match(blocked[k]) for k in ("start", "end", "pendingSince"))
    assert blocked["pendingSince"] <= blocked["start"] < blocked["end"]
    settings = [c for c in doc["changes"] if c["resource"] == "gloo-system/default"]
    assert settings and settings[-1]["servedAfterSeconds"] is not None and settings[-1]["actor"] == "ops"
    assert all({"resource", "time", "servedAfterSeconds", "appliedAfterSeconds"} <= set(c) for c in doc["changes"])


def test_journal_export_to_parquet_and_bad_directories(tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "seed.parquet"
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "journal", "export", str(SEED_JOURNAL),
                           "--parquet", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    frame = pd.read_parquet(out)
    assert len(frame) == int(done.stdout.split()[0]) and str(frame["time"].dtype) == "datetime64[ns, UTC]"
    starts = frame[frame["kind"] == "recorder.start"]["data"].map(json.loads)
    assert starts.iloc[0]["profile"] == "1.3"
    for args in (["summary", str(tmp_path / "nowhere")], ["export", str(SEED_JOURNAL)]):
        bad = subprocess.run([sys.executable, "-m", "gloo_nb", "journal", *args], capture_output=True, text=True,
                             timeout=60)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
