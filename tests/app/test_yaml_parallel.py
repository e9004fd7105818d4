"""Large YAML streams read on several cores give exactly the serial read: documents, indices, errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gloo_nb.app import yaml_parallel as _yaml_parallel
from gloo_nb.app.yaml_parallel import split_at_documents, yaml_documents_parallel
from gloo_nb.errors import ParseError
from gloo_nb.models.codec import parse_stream
from gloo_nb.models.codec._yaml_events import yaml_documents

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def table(i: int) -> str:
    return textwrap.dedent(f"""\
        ---
        apiVersion: gateway.solo.io/v1
        kind: RouteTable
        metadata: {{name: rt-{i}, namespace: team}}
        spec:
          routes:
          - matchers: [{{prefix: /r{i}}}]
            routeAction: {{single: {{upstream: {{name: up, namespace: gloo-system}}}}}}
          anchors: &a{i} {{x: [on, yes, 0o17, 1_000, '---', "a\\nb"]}}
          again: *a{i}
        """)


def stream(n: int) -> str:
    return "".join(table(i) for i in range(n))


@pytest.fixture
def parallel(monkeypatch):
    """Every stream read in three pieces, however small."""
    monkeypatch.setattr(_yaml_parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setenv(_yaml_parallel.WORKERS_ENV, "3")
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)


def test_pieces_are_cut_at_document_markers_and_join_back():
    text = "a: 1\n" + stream(30) + "...\n--- |\n  text\n---\n"
    pieces = split_at_documents(text, 4)
    assert len(pieces) == 4 and "".join(pieces) == text
    assert all(p.startswith("---") for p in pieces[1:])
    raw = text.encode()
    assert b"".join(split_at_documents(raw, 3)) == raw


def test_a_stream_with_directives_or_no_markers_is_one_piece():
    assert split_at_documents("%YAML 1.1\n" + stream(10), 4) == ["%YAML 1.1\n" + stream(10)]
    assert split_at_documents("a: '---'\nb: 2\n", 4) == ["a: '---'\nb: 2\n"]


def test_parallel_read_equals_the_serial_one(parallel):
    text = "kind: List\nitems: []\n" + stream(40) + "---\n---\n"
    assert list(yaml_documents_parallel(text, "f")) == list(yaml_documents(text, "f"))
    assert list(yaml_documents_parallel(text.encode(), "f")) == list(yaml_documents(text, "f"))
    assert parse_stream(text, file="f", yaml_reader=yaml_documents_parallel) == parse_stream(text, file="f")


@pytest.mark.parametrize("bad", [
    "  key: [unclosed\n",            # a syntax error in the last piece
    "a: *undefined\n",               # an alias to nothing
    "deep: " + "[" * 600 + "]" * 600 + "\n",  # deeper than the bound
])
def test_an_error_in_a_later_piece_is_the_serial_error(parallel, bad):
    text = stream(30) + "---\n" + bad + stream(5)
    with pytest.raises(ParseError) as serial:
        list(yaml_documents(text, "f.yaml"))
    with pytest.raises(ParseError) as par:
        list(yaml_documents_parallel(text, "f.yaml"))
    assert str(par.value) == str(serial.value)
    assert par.value.document == 30


def test_a_reader_that_stops_early_does_not_wait_for_the_workers(parallel):
    text = stream(3) + stream(40_000)  # pieces 2 and 3 take seconds to parse
    reader = yaml_documents_parallel(text, "f")
    assert next(reader)[0] == 0
    started = time.monotonic()
    reader.close()  # kills the children instead of waiting for them
    assert time.monotonic() - started < 2.0


def test_a_script_without_a_main_guard_can_read_a_large_stream(tmp_path):
    # multiprocessing's spawn would re-run such a script in each child; plain children do not.
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""\
        import os
        from gloo_nb.app import yaml_parallel
        from gloo_nb.models.codec import parse_stream
        yaml_parallel.PARALLEL_MIN_BYTES = 0
        os.sched_getaffinity = lambda pid: {{0, 1, 2}}
        text = {stream(60)!r}
        print(len(parse_stream(text, file="s", yaml_reader=yaml_parallel.yaml_documents_parallel).resources))
        """))
    env = dict(os.environ, PYTHONPATH=str(REPO), GLOO_NB_YAML_WORKERS="3")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "60"


def test_without_an_interpreter_to_start_the_stream_is_read_on_this_core(parallel, monkeypatch):
    monkeypatch.setattr(_yaml_parallel.sys, "executable", "/nonexistent/python")
    text = stream(20)
    assert list(yaml_documents_parallel(text, "f")) == list(yaml_documents(text, "f"))
