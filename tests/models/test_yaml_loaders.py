"""The C YAML loader (``_cyaml``, over libyaml) against its reference in Python: same values, same errors.

``yaml_documents`` builds documents in C when the extension is compiled (``make venv`` compiles it; the
Python loader stays as the fallback and as the reference). Every case runs through both loaders and the
results are compared with their types (``True`` is not ``1``), or the one-line errors word for word.
"""

from __future__ import annotations

import codecs
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from gloo_nb.errors import ParseError
from gloo_nb.models.codec import _yaml_events
from gloo_nb.models.codec._yaml_events import python_yaml_documents, yaml_documents

pytestmark = pytest.mark.unit

PACKAGE = Path(_yaml_events.__file__).resolve().parents[2]  # gloo_nb/


def _typed(value: Any) -> list[Any]:
    """The value as a flat list of (type, value or size) tokens in document order (no recursion: 511 deep)."""
    tokens: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            tokens.append(("dict", len(item)))
            stack.extend(reversed([part for pair in item.items() for part in pair]))
        elif isinstance(item, list):
            tokens.append(("list", len(item)))
            stack.extend(reversed(item))
        else:
            tokens.append((type(item).__name__, item))
    return tokens


def _outcome(loader: Any, source: str | bytes) -> tuple[list[Any], str | None]:
    documents: list[Any] = []
    try:
        for index, value in loader(source, "in.yaml"):
            documents.append((index, _typed(value)))
    except ParseError as error:
        return documents, str(error)
    except UnicodeEncodeError as error:
        return documents, f"UnicodeEncodeError at {error.start}"
    return documents, None


def _same(source: str | bytes) -> tuple[list[Any], str | None]:
    fast = _outcome(yaml_documents, source)
    reference = _outcome(python_yaml_documents, source)
    assert fast == reference
    return fast


def test_the_c_loader_is_compiled() -> None:
    assert _yaml_events._cyaml is not None, (
        "gloo_nb/models/codec/_cyaml.c was not compiled: install a C compiler and libyaml's headers "
        "(Debian: gcc libyaml-dev) and run make venv again")
    assert _yaml_events._cyaml.LIBYAML_VERSION.startswith("0.")


CASES = {
    "YAML 1.1 scalars": "a: [yes, No, ON, off, y, ~, null, '', 1_000, 0x1F, 0o17, 017, 0b101, +12, -3, 1e3, 1.5e+3, "
                        ".inf, -.Inf, .NaN, 190:20:30, 2001-12-14t21:59:43.10-05:00, 2002-12-14, '1', \"2\", "
                        "!!str 3, !!int '4', !!float '5', !!bool 'true', !!null '', !!binary aGVsbG8=]\n",
    "merge keys": "base: &b {x: 1, y: 2}\nmore: &m {z: 3}\none: {<<: *b, y: 9}\nlist:\n  <<: [*b, *m]\n  x: 0\n"
                  "text: <<\nseq: [<<]\nquoted: {'<<': *b}\n",
    "anchors reset per document": "a: &x 1\nb: *x\n---\nc: *x\n",
    "anchored collections and scalars": "a: &s s\nb: &l [1, *s]\nc: [*l, *l, *s]\n",
    "duplicate keys: the last wins": "a: 1\na: 2\n",
    "non-specific tag": "a: ! 12\nb: ! [1]\nc: !!map {x: 1}\nd: !!seq [1]\n",
    "empty documents": "---\n---\n# only a comment\n---\na: 1\n...\n",
    "flow and block mix": "a:\n- {b: [1, {c: d}], 'e': \"f\\tg\"}\n- |\n  literal\n  text\n- >\n  folded\n  text\n",
    "keys of every scalar type": "1: a\ntrue: b\n~: c\n1.5: d\n",
    "unicode": "名前: \"caf\\u00e9 \\U0001F600\"\nemoji: 😀\n",
    "BOM": "\ufeffa: 1\n",
    "unsupported scalar tag": "a: !foo x\n",
    "unsupported collection tag": "a: !!set {x, y}\n",
    "value tag": "a: =\n",
    "undefined alias": "a: 1\n---\nb: *nope\n",
    "an alias to itself": "a: &x [*x]\n",
    "a collection as a key": "? [1, 2]\n: x\n",
    "an alias of a mapping as a key": "a: &m {x: 1}\n? *m\n: y\n",
    "a merge of a scalar": "a:\n  <<: 3\n",
    "a merge of a list with a scalar": "a: &m {x: 1}\nb:\n  <<: [*m, 2]\n",
    "syntax error after documents": "a: 1\n---\nb: 2\n---\nc: [\n",
    "scanner error": "a: b: c\n",
    "tab indentation": "a:\n\tb: 1\n",
    "control character": "a: \x01\n",
    "deep block": "- " * 600 + "x\n",
    "deep flow": "a: " + "[" * 600 + "]" * 600 + "\n",
    "just under the depth": "- " * 511 + "x\n",
    "alias bomb": "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + chr(ord(c) - 1)] * 10)}]\n" for c in "bcdefghi"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_loaders_agree(name: str) -> None:
    _same(CASES[name])
    _same(CASES[name].encode("utf-8"))


def test_some_cases_really_fail_and_some_really_load() -> None:
    assert _same(CASES["deep block"])[1] == ("in.yaml: document 0: invalid YAML: nested deeper than 512 levels at "
                                             "line 1, column 1025")
    assert _same(CASES["just under the depth"])[1] is None
    assert "aliases expand the document" in str(_same(CASES["alias bomb"])[1])
    documents, error = _same(CASES["syntax error after documents"])
    assert [index for index, _ in documents] == [0, 1] and "document 2" in str(error)
    base = {"x": 1, "y": 2}
    assert _same(CASES["merge keys"])[0] == [(0, _typed({
        "base": base, "more": {"z": 3}, "one": {"y": 9, "x": 1}, "list": {"x": 0, "y": 2, "z": 3},
        "text": "<<", "seq": ["<<"], "quoted": {"<<": base}}))]  # a quoted << is a key like any other


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16-le", "utf-16-be"])
def test_byte_encodings_libyaml_detects(encoding: str) -> None:
    text = "a: café\nb: [1, yes]\n"
    raw = (codecs.BOM_UTF16_LE if encoding == "utf-16-le" else codecs.BOM_UTF16_BE if encoding == "utf-16-be"
           else b"") + text.encode(encoding)
    assert _same(raw) == ([(0, _typed({"a": "café", "b": [1, True]}))], None)


def test_bad_bytes_and_bad_text() -> None:
    assert "invalid leading UTF-8 octet (character #x00ff) at line 2, column 4" in str(_same(b"a: 1\nb: \xff\n")[1])
    assert _same("a: \ud800\n")[1] == "UnicodeEncodeError at 3"


def _random_value(rng: random.Random, depth: int, shared: list[Any]) -> Any:
    pick = rng.random()
    if depth > 4 or pick < 0.45:
        return rng.choice([
            rng.randint(-10**12, 10**12), rng.random() * 1e6, rng.choice([True, False, None]),
            rng.choice(["yes", "no", "0x1f", "1e3", "~", "", "null", "<<", "a: b", "- x", "#", "'", '"', "2001-12-14",
                        "12:30:00", "0o17", ".inf", "é", "tab\there", "line\nbreak", " lead", "trail "]),
            "".join(rng.choice("abc-_./: 01") for _ in range(rng.randint(0, 12))),
        ])
    if pick < 0.5 and shared:
        return rng.choice(shared)  # emitted as an alias of an anchor
    if pick < 0.75:
        value: Any = [_random_value(rng, depth + 1, shared) for _ in range(rng.randint(0, 5))]
    else:
        value = {f"k{rng.randint(0, 30)}": _random_value(rng, depth + 1, shared) for _ in range(rng.randint(0, 5))}
    if rng.random() < 0.2:
        shared.append(value)
    return value


@pytest.mark.parametrize("seed", range(40))
def test_random_documents_as_pyyaml_writes_them(seed: int) -> None:
    rng = random.Random(seed)
    shared: list[Any] = []
    documents = [_random_value(rng, 0, shared) for _ in range(rng.randint(1, 4))]
    text = yaml.safe_dump_all(documents, default_flow_style=rng.choice([None, True, False]),
                              allow_unicode=rng.random() < 0.5, sort_keys=False)
    loaded, error = _same(text)
    assert error is None and loaded == [(i, _typed(d)) for i, d in enumerate(documents)]


def test_the_packaged_manifests() -> None:
    files = sorted(PACKAGE.glob("_data/**/*.yaml"))
    assert files
    for file in files:
        assert _same(file.read_bytes())[1] is None, file


def test_a_stream_left_after_its_first_document_is_released() -> None:
    documents = yaml_documents("a: 1\n---\nb: [2\n", "in.yaml")  # the second document is broken
    assert next(documents) == (0, {"a": 1})
    documents.close()  # the C iterator and its parser are freed, the error never raised
    with pytest.raises(StopIteration):
        next(documents)
