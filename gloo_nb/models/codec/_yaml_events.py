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

from gloo_nb.errors import ParseError

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


def _yaml_error(error: yaml.YAMLError, source: str | bytes) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        what = ", ".join(_one_line(p) for p in (error.context, error.problem) if p)
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"invalid YAML: {what or 'syntax error'}{where}"
    if isinstance(error, yaml.reader.ReaderError):
        char = error.character
        code = ord(char) if isinstance(char, str) else int(char)
        # libyaml gives an offset into the UTF-8 bytes; for ASCII text that is also the character
        pos = min(int(error.position), len(source))
        if isinstance(source, str):
            line, column = source.count("\n", 0, pos) + 1, pos - source.rfind("\n", 0, pos)
        else:
            line, column = source.count(b"\n", 0, pos) + 1, pos - source.rfind(b"\n", 0, pos)
        return (f"invalid YAML: {_one_line(str(error.reason))} (character #x{code:04x}) at line {line}, "
                f"column {column}")
    return f"invalid YAML: {_one_line(str(error))}"


def yaml_documents(text: str | bytes, file: str) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, value)`` for each document of a YAML stream.

    Built from the parser's events rather than with ``yaml.load_all``: the C composer recurses
    once per nesting level and crashes on deep input, and aliases could expand a small document
    into billions of nodes. Here depth is bounded by :data:`MAX_YAML_DEPTH` and alias expansion by
    the document's own size.
    """
    loader: Any = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    get_event = loader.get_event
    resolve = loader.resolve
    constructors = loader.yaml_constructors
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    plain: dict[str, Any] = {}
    document = -1
    nodes = expanded = 0
    root: Any = None

    def fail(problem: str, mark: Any) -> NoReturn:
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ParseError(f"invalid YAML: {problem}{where}", file=file,
                         document=document if document >= 0 else None)

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
                    if tag is None or tag == "!":
                        tag = resolve(ScalarNode, scalar, event.implicit) if event.implicit[0] else _STR_TAG
                    if tag in _KEPT_AS_TEXT:
                        value = scalar
                    elif tag in _CONSTRUCTED:
                        value = constructors[tag](loader, ScalarNode(tag, scalar))
                    elif tag == _MERGE_TAG:
                        # only a mapping key merges; anywhere else `<<` is just text
                        key_position = bool(stack) and type(stack[-1].container) is dict and stack[-1].key is _NO_KEY
                        value = _MERGE if key_position else scalar
                        cacheable = False
                    else:
                        fail(f"unsupported tag {tag}", event.start_mark)
                    if cacheable and len(plain) < _PLAIN_CACHE:
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
    except yaml.YAMLError as error:
        raise ParseError(_yaml_error(error, text), file=file,
                         document=document if document >= 0 else None) from None
    finally:
        loader.dispose()
