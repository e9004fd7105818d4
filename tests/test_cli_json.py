"""``gloo-nb translate``'s JSON output: compact by default, ``--indent N`` on request, same content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gloo_nb import cli
from gloo_nb._text import json_bytes

pytestmark = pytest.mark.unit

PART2 = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "two-phase-canary" / "part2"


def _run(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> bytes:
    assert cli.main(["translate", str(PART2), "--gloo-version", "1.3", *args]) == 0
    return capsysbinary.readouterr().out


def test_compact_by_default_and_indented_on_request_with_the_same_content(capsysbinary):
    compact = _run(capsysbinary, "--json")
    assert compact.count(b"\n") == 1 and compact.endswith(b"}\n")
    two = _run(capsysbinary, "--json", "--indent", "2")
    four = _run(capsysbinary, "--indent", "4")  # --indent alone implies --json
    doc = json.loads(compact)
    assert json.loads(two) == json.loads(four) == doc
    # byte for byte what the stdlib writes with the same indent (ASCII input: no \u escapes differ)
    assert two.decode() == json.dumps(doc, indent=2) + "\n"
    assert four.decode() == json.dumps(doc, indent=4) + "\n"


@pytest.mark.parametrize("bad", ["-1", "x", "17"])
def test_indent_must_be_a_small_number(capsys, bad):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["translate", str(PART2), "--indent", bad])
    assert exit_.value.code == 2
    assert "--indent" in capsys.readouterr().err


@pytest.mark.parametrize("indent", [None, 2, 3])
def test_json_bytes_escapes_what_a_terminal_obeys_and_keeps_the_content(indent):
    value = {"name": "a\x1b[2Jb\x7fc\x85d\u202ee\u2066f\u061cg é ü 雪", "n": [1, 2.5, None, True], 7: "int key"}
    out = json_bytes(value, indent=indent)
    for raw in ("\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\u061c"):
        assert raw.encode() not in out
    assert json.loads(out) == {**{k: v for k, v in value.items() if k != 7}, "7": "int key"}


def test_json_bytes_falls_back_to_the_stdlib_where_orjson_refuses():
    deep: list = []
    for _ in range(300):  # orjson writes at most 255 levels
        deep = [deep]
    big = {"n": 2**70}
    assert json.loads(json_bytes(deep)) == deep
    assert json.loads(json_bytes(big, indent=2)) == big
