"""The event-based YAML loader: documents built from libyaml's parser events, with bounded depth and aliases.

libyaml's composer recurses in C and crashes the interpreter on deep input, and aliases can expand a
small document into billions of nodes, so documents are built here from the parser's events instead
(:data:`MAX_YAML_DEPTH`, alias expansion bounded by the document's size). Separate because it is a
YAML loader, with no Gloo knowledge.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from gloo_nb.errors import BadDataError, ParseError

try:  # compiled at install from _cyaml.c where a C compiler and libyaml's headers exist (setup.py)
    from gloo_nb.models.codec import _cyaml  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the machine that installed gloo_nb
    _cyaml = None

MAX_YAML_DEPTH = 512
"""Deepest YAML nesting read (and deepest JSON nesting :func:`load_document` accepts). libyaml's
composer recurses in C and crashes the interpreter on deep input, so gloo_nb builds documents from
the parser's events itself, with this bound."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_KEPT_AS_TEXT = frozenset({_STR_TAG, "tag:yaml.org,2002:timestamp"})
_CONSTRUCTED = frozenset({"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                          "tag:yaml.org,2002:float", "tag:yaml.org,2002:binary"})
_SEQ_TAGS = frozenset({None, "!", "tag:yaml.org,2002:seq"})
_MAP_TAGS = frozenset({None, "!", "tag:yaml.org,2002:map"})
_MERGE = object()
_CONTAINERS = (list, dict)  # a tuple: `list | dict` would build a new union object per key
_NO_KEY = object()
_PLAIN_CACHE = 100_000  # distinct plain scalars remembered per stream (their values are immutable)


class _Frame:
    __slots__ = ("anchor", "container", "key", "merges", "start")

    def __init__(self, container: list[Any] | dict[Any, Any], anchor: str | None, start: int) -> None:
        self.container = container
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.merges: list[Any] | None = None
        self.start = start


class _Problem(BadDataError):
    """What either loader raises inside, turned into a :class:`ParseError` by :func:`_problem_message`.

    Its args: ``("problem", text, line, column)`` (a rule of this loader), ``("parser", context, problem,
    line, column)`` (libyaml's scanner or parser) or ``("reader", reason, character, offset)`` (libyaml's
    reader: bad characters); lines and columns count from 0, -1 when unknown.
    """


def _where(line: int, column: int) -> str:
    return f" at line {line + 1}, column {column + 1}" if line >= 0 else ""


def _problem_message(args: tuple[Any, ...], source: str | bytes) -> str:
    kind = args[0]
    if kind == "problem":
        return f"invalid YAML: {args[1]}{_where(args[2], args[3])}"
    if kind == "parser":
        what = ", ".join(_one_line(p) for p in args[1:3] if p)
        return f"invalid YAML: {what or 'syntax error'}{_where(args[3], args[4])}"
    reason, code, offset = args[1:4]
    # libyaml counts the offset in UTF-8 bytes
    raw = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    pos = min(int(offset), len(raw))
    start = raw.rfind(b"\n", 0, pos) + 1
    line, column = raw.count(b"\n", 0, pos), len(raw[start:pos].decode("utf-8", "replace"))
    return f"invalid YAML: {_one_line(str(reason))} (character #x{int(code):04x}){_where(line, column)}"


def _yaml_error(error: yaml.YAMLError) -> tuple[Any, ...]:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        return ("parser", error.context, error.problem, mark.line if mark else -1, mark.column if mark else -1)
    if isinstance(error, yaml.reader.ReaderError):
        char = error.character
        return ("reader", error.reason, ord(char) if isinstance(char, str) else int(char), error.position)
    return ("parser", None, str(error), -1, -1)


_RESOLVER: Any = yaml.SafeLoader("")  # PyYAML's YAML 1.1 resolvers and constructors (stateless for scalars)


def _scalar_value(tag: str | None, text: str, plain: bool) -> Any:
    """The value of a scalar that is not quoted-and-untagged: both loaders call this on a cache miss.

    Returns:
        The value, or :data:`_MERGE` when a plain ``<<`` resolves to a merge key (the loader decides
        whether it stands where a key merges).

    Raises:
        _Problem: The scalar's tag is not one gloo_nb reads.
    """
    if tag is None or tag == "!":
        tag = _RESOLVER.resolve(ScalarNode, text, (plain, False)) if plain else _STR_TAG
    if tag in _KEPT_AS_TEXT:
        return text
    if tag in _CONSTRUCTED:
        return _RESOLVER.yaml_constructors[tag](_RESOLVER, ScalarNode(tag, text))
    if tag == _MERGE_TAG:
        return _MERGE
    raise _Problem("problem", f"unsupported tag {tag}")


def yaml_documents(text: str | bytes, file: str) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, value)`` for each document of a YAML stream.

    Built from the parser's events rather than with ``yaml.load_all``: the C composer recurses
    once per nesting level and crashes on deep input, and aliases could expand a small document
    into billions of nodes. Here depth is bounded by :data:`MAX_YAML_DEPTH` and alias expansion by
    the document's own size. The documents are built in C (:mod:`gloo_nb.models.codec._cyaml`, over
    libyaml) when that extension was compiled at install, else by :func:`python_yaml_documents`, the
    reference it is tested against; both give the same values and the same errors.

    Raises:
        ParseError: The stream is not YAML gloo_nb reads; one line with the line and column.
    """
    if _cyaml is None:
        yield from python_yaml_documents(text, file)
        return
    source = text.encode("utf-8") if isinstance(text, str) else text
    documents = _cyaml.Documents(source, isinstance(text, str), _scalar_value, _MERGE, _Problem, MAX_YAML_DEPTH,
                                 _PLAIN_CACHE)
    try:
        yield from documents
    except _Problem as problem:
        raise ParseError(_problem_message(problem.args, source), file=file,
                         document=documents.document if documents.document >= 0 else None) from None


def python_yaml_documents(text: str | bytes, file: str) -> Iterator[tuple[int, Any]]:
    """:func:`yaml_documents` in Python over PyYAML's parser events: the reference for the C loader.

    Used when the C extension is not compiled (a machine without a C compiler or libyaml's headers).
    """
    loader: Any = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    get_event = loader.get_event
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    plain: dict[str, Any] = {}
    document = -1
    nodes = expanded = 0
    root: Any = None

    def fail(problem: str, mark: Any) -> NoReturn:
        raise _Problem("problem", problem, mark.line, mark.column)

    try:
        while True:
            event = get_event()
            cls = type(event)
            anchor = None
            if cls is ScalarEvent:
                nodes += 1
                expanded += 1
                anchor = event.anchor
                tag = event.tag
                scalar: str = event.value
                # A plain scalar's value depends on its text alone: resolved and built once per
                # distinct text (Kubernetes YAML repeats its keys and values; most events are these).
                cacheable = tag is None and event.implicit[0]
                value: Any = plain.get(scalar, _NO_KEY) if cacheable else _NO_KEY
                if value is _NO_KEY:
                    if tag is None and not cacheable:
                        value = scalar
                    else:
                        try:
                            value = _scalar_value(tag, scalar, event.implicit[0])
                        except _Problem as problem:
                            fail(problem.args[1], event.start_mark)
                        if value is _MERGE:
                            # only a mapping key merges; anywhere else `<<` is just text
                            top = stack[-1] if stack else None
                            key_position = top is not None and type(top.container) is dict and top.key is _NO_KEY
                            value = _MERGE if key_position else scalar
                        elif cacheable and len(plain) < _PLAIN_CACHE:
                            plain[scalar] = value
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                nodes += 1
                expanded += 1
                if event.tag not in (_MAP_TAGS if cls is MappingStartEvent else _SEQ_TAGS):
                    fail(f"unsupported tag {event.tag}", event.start_mark)
                if len(stack) >= MAX_YAML_DEPTH:
                    fail(f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
                stack.append(_Frame({} if cls is MappingStartEvent else [], event.anchor, expanded))
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                frame = stack.pop()
                value = frame.container
                if frame.merges:
                    for merged in frame.merges:
                        for k, v in merged.items():
                            value.setdefault(k, v)
                if frame.anchor is not None:
                    anchors[frame.anchor] = (value, expanded - frame.start + 1)
            elif cls is AliasEvent:
                if event.anchor not in anchors:
                    fail(f"found undefined alias {event.anchor!r}", event.start_mark)
                value, weight = anchors[event.anchor]
                expanded += weight
                if expanded > 10 * nodes + 100_000:
                    fail("aliases expand the document to more than ten times its size; "
                         "write the repeated parts out", event.start_mark)
            elif cls is DocumentStartEvent:
                document += 1
                anchors = {}
                nodes = expanded = 0
                root = None
                continue
            elif cls is DocumentEndEvent:
                yield document, root
                root = None
                continue
            elif cls is StreamEndEvent:
                return
            else:
                continue
            if anchor is not None:
                anchors[anchor] = (value, 1)
            if not stack:
                root = value
                continue
            top = stack[-1]
            container = top.container
            if type(container) is list:
                container.append(value)
            elif top.key is _NO_KEY:
                if isinstance(value, _CONTAINERS):
                    fail("a mapping key must be a scalar", event.start_mark)
                top.key = value
            else:
                if top.key is _MERGE:
                    merged = value if isinstance(value, list) else [value]
                    if not all(isinstance(m, dict) for m in merged):
                        fail("a merge key (<<) takes a mapping or a list of mappings", event.start_mark)
                    top.merges = (top.merges or []) + merged
                else:
                    container[top.key] = value
                top.key = _NO_KEY
    except (yaml.YAMLError, _Problem) as error:
        args = error.args if isinstance(error, _Problem) else _yaml_error(error)
        raise ParseError(_problem_message(args, text), file=file,
                         document=document if document >= 0 else None) from None
    finally:
        loader.dispose()
