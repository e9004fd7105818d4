"""Bounded input at the command line: regular files only, a size limit, malformed bundles, profiles, escapes.

Every failure is one line on stderr naming the file, exit 2, in bounded time, never "this is a bug".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gloo_nb._text import escape_controls
from gloo_nb._types import check_profile
from gloo_nb.cli import main
from gloo_nb.errors import UsageError

pytestmark = pytest.mark.unit

SCENARIO = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "two-phase-canary"
JOURNAL = Path(__file__).resolve().parents[1] / "data" / "journals" / "seed-incident"


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_failure(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("gloo-nb: "), err
    assert "this is a bug" not in err and "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def test_translate_refuses_a_device_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run("translate", "/dev/zero", capsys=capsys)
    one_line_failure(code, err, "/dev/zero: not a regular file")


def test_translate_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "x.yaml"
    os.mkfifo(fifo)
    # a subprocess: today's reader blocks forever on a FIFO with no writer
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "translate", str(fifo)], capture_output=True,
                          text=True, timeout=60, check=False)
    one_line_failure(done.returncode, done.stderr, f"{fifo}: not a regular file")


def test_input_size_limit_for_files_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "vs.yaml"
    manifest.write_text((SCENARIO / "part2" / "vs.yaml").read_text())
    assert run("translate", "--json", str(manifest), capsys=capsys)[0] == 0  # the default limit is generous
    monkeypatch.setenv("GLOO_NB_MAX_INPUT_BYTES", "100")
    code, _, err = run("translate", str(manifest), capsys=capsys)
    one_line_failure(code, err, f"{manifest}: larger than the input limit of 100 bytes",
                     "GLOO_NB_MAX_INPUT_BYTES")
    with open(manifest, "rb") as stdin:
        monkeypatch.setattr(sys, "stdin", type("In", (), {"buffer": stdin})())
        code, _, err = run("translate", "-", capsys=capsys)
    one_line_failure(code, err, "-: larger than the input limit of 100 bytes")
    monkeypatch.setenv("GLOO_NB_MAX_INPUT_BYTES", "lots")
    code, _, err = run("translate", str(manifest), capsys=capsys)
    one_line_failure(code, err, "GLOO_NB_MAX_INPUT_BYTES='lots'")


def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    (folder / "applied").mkdir(parents=True)
    (folder / "bundle.json").write_text(json.dumps({"glooVersion": "1.3", "sources": []}))
    (folder / "resources.yaml").write_text((SCENARIO / "part2" / "vs.yaml").read_text())
    (folder / "served.json").write_text(json.dumps({"versions": {}, "listeners": []}))
    return folder


def test_a_hand_made_bundle_inspects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run("inspect", "--snapshot", str(bundle(tmp_path)), "--json", capsys=capsys)
    assert code == 0, err
    assert "routes" in json.loads(out)


def test_a_fifo_in_a_bundle_fails_at_once(tmp_path: Path) -> None:
    folder = bundle(tmp_path)
    os.mkfifo(folder / "applied" / "gateway-proxy-0.json")
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--snapshot", str(folder)],
                          capture_output=True, text=True, timeout=60, check=False)
    one_line_failure(done.returncode, done.stderr, "gateway-proxy-0.json: not a regular file")


@pytest.mark.parametrize(("name", "content", "said"), [
    ("bundle.json", "{not json", "invalid JSON"),
    ("bundle.json", "[1, 2]", "expected an object, found list"),
    ("bundle.json", '{"glooVersion": "2.0"}', "bundle.json: glooVersion: unknown Gloo version '2.0': use one of"),
    ("bundle.json", '{"glooVersion": 13}', "unknown Gloo version 13 (int)"),
    ("bundle.json", b"\xff\xfe", "not UTF-8"),
    ("served.json", '{"listeners": {"a": 1}}', "served.json: field listeners: expected a list, found dict"),
    ("served.json", '{"listeners": [7]}', "served.json: field listeners[0]: expected an object, found int"),
    ("served.json", '{"listeners": [{"name": 7}]}', "served.json: field listeners[0]: does not decode"),
    ("served.json", '{"versions": [1]}', "served.json: field versions: expected an object"),
    ("served.json", '{"listeners": [{"x": NaN}]}', "served.json: invalid character 'N'"),
    ("applied/gateway-proxy-0.json", '{"configDump": [1]}', "field configDump: expected an object, found list"),
    ("applied/gateway-proxy-0.json", '{"configDump": {"configs": [1]}}',
     "gateway-proxy-0.json: does not decode as an Envoy config dump"),
    ("applied/gateway-proxy-0.json", '{"stats": {"control_plane.connected_state": "yes"}}',
     "gateway-proxy-0.json: does not decode"),
    ("applied/gateway-proxy-0.json", '"text"', "expected an object, found str"),
    ("resources.yaml", "a: [", "resources.yaml"),
    ("secrets.json", '{"a": 1}', "secrets.json: expected a list, found dict"),
    ("secrets.json", '[{"name": 3}]', "secrets.json: field [0].name: expected a string, got int"),
    ("secrets.json", '[{"name": "a", "glooTls": {"keyPairProblem": []}}]',
     "secrets.json: field [0].glooTls.keyPairProblem: expected a string, got list"),
])
def test_malformed_bundle_files_are_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             name: str, content: str | bytes, said: str) -> None:
    folder = bundle(tmp_path)
    target = folder / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    code, _, err = run("inspect", "--snapshot", str(folder), capsys=capsys)
    one_line_failure(code, err, said)


def test_a_bad_profile_is_a_usage_error_wherever_it_comes_from(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="unknown Gloo version '1.4'"):
        check_profile("1.4")
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error for the flag
        main(["translate", "--gloo-version", "1.4", str(SCENARIO / "part2" / "vs.yaml")])
    assert usage.value.code == 2 and "invalid choice: '1.4'" in capsys.readouterr().err
    journal = tmp_path / "journal"
    journal.mkdir()
    lines = (JOURNAL / "journal-000001.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["data"]["profile"] = "2.x"
    (journal / "journal-000001.jsonl").write_text("\n".join([json.dumps(first), *lines[1:50]]) + "\n")
    code, _, err = run("journal", "summary", str(journal), capsys=capsys)
    one_line_failure(code, err, "unknown Gloo version '2.x': use one of 1.3, current")


def test_escape_controls() -> None:
    assert escape_controls("echo-routes") == "echo-routes"
    assert escape_controls("a\x1b[2Jb\nc\td\x7f\x9b\u202egnp.exe") == "a\\x1b[2Jb\\nc\\td\\x7f\\x9b\\u202egnp.exe"
    assert escape_controls("line\nnext\x1b", keep="\n") == "line\nnext\\x1b"


def test_names_from_files_are_printed_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rt = tmp_path / "rt.yaml"
    rt.write_text('apiVersion: gateway.solo.io/v1\nkind: RouteTable\n'
                  'metadata: {name: "evil\\e[2J\\u202e", namespace: echo}\n'
                  "spec: {routes: [{matchers: [{prefix: /x}], routeAction: {single: {upstream: "
                  "{name: missing, namespace: gloo-system}}}}]}\n")
    vs = tmp_path / "vs.yaml"
    vs.write_text("apiVersion: gateway.solo.io/v1\nkind: VirtualService\n"
                  "metadata: {name: app, namespace: gloo-system}\n"
                  "spec: {virtualHost: {domains: ['*'], routes: [{matchers: [{prefix: /}], delegateAction: "
                  "{ref: {name: \"evil\\e[2J\\u202e\", namespace: echo}}}]}}\n")
    for command in ("check", "translate"):
        code, out, err = run(command, str(vs), str(rt), capsys=capsys)
        assert "\x1b" not in out + err and "\u202e" not in out + err
        assert "evil\\x1b[2J\\u202e" in out, (command, out)
    missing = tmp_path / "no\x1b[31mfile.yaml"
    code, _, err = run("translate", str(missing), capsys=capsys)
    one_line_failure(code, err, "no\\x1b[31mfile.yaml: no such file or folder")


def test_load_documents_bounds_deep_json() -> None:
    from gloo_nb.errors import ParseError
    from gloo_nb.models.codec import load_documents

    with pytest.raises(ParseError, match="nested too deeply"):
        load_documents("[" * 100_000 + "]" * 100_000, file="deep.json")
