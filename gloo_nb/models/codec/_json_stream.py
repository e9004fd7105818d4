"""The streaming JSON reader: a JSON stream whose Lists are decoded one item at a time.

``json.loads`` on a 200 MB List would hold every item as dicts at once; this reader decodes one
item, turns it into a model through the collector, and moves on. Separate because it is a JSON
tokenizer on top of :class:`json.JSONDecoder`, with no Gloo knowledge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from gloo_nb.errors import ParseError
from gloo_nb.models.codec._collect import Collector, ParseResult, is_list_kind

_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip_space(text: str, pos: int) -> int:
    match = _JSON_SPACE.match(text, pos)
    return pos if match is None else match.end()


class _JsonArray:
    """The elements of the JSON array that starts at ``pos``, decoded one at a time.

    Attributes:
        end: Position after the closing bracket, once iteration has finished.
    """

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos
        self.end = -1

    def __iter__(self) -> Iterator[Any]:
        text = self.text
        pos = _skip_space(text, self.pos + 1)
        if text.startswith("]", pos):
            self.end = pos + 1
            return
        while True:
            value, pos = _DECODER.raw_decode(text, pos)
            yield value
            pos = _skip_space(text, pos)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
            elif text.startswith("]", pos):
                self.end = pos + 1
                return
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)


def _skip_array(text: str, pos: int) -> int:
    array = _JsonArray(text, pos)
    for _ in array:
        pass
    return array.end


_PLAIN_LIST: Mapping[str, Any] = {"kind": "List"}


class _GuessedItems:
    """The items of an array read as a List's before the kind was known (see ``guess_items``)."""

    __slots__ = ("complete", "end", "error", "result", "start")

    def __init__(self, start: int, result: ParseResult) -> None:
        self.start = start
        self.end = -1
        self.result = result
        self.error: ParseError | None = None
        self.complete = True


class JsonReader:
    """Reads a stream of JSON values, decoding the items of a List one at a time.

    ``json.loads`` on a 200 MB List would hold every item as dicts at once; here only one item is
    decoded at a time and turned into a model before the next.
    """

    def __init__(self, text: str, out: Collector) -> None:
        self.text = text
        self.out = out

    def read(self, start: int) -> None:
        """Read every value from ``start`` to the end of the text."""
        text, out = self.text, self.out
        pos = _skip_space(text, start)
        document = 0
        while pos < len(text):
            out.document = document
            if text.startswith("[", pos):
                array = _JsonArray(text, pos)
                for value in array:
                    out.document = document
                    out.handle(value, document)
                    document += 1
                pos = array.end
            elif text.startswith("{", pos):
                pos = self.object(pos, document)
                document += 1
            else:
                value, pos = _DECODER.raw_decode(text, pos)
                out.handle(value, document)
                document += 1
            pos = _skip_space(text, pos)

    def object(self, pos: int, document: int) -> int:
        """Read the top-level object at ``pos``; return the position after it."""
        text, out = self.text, self.out
        members: dict[str, Any] = {}
        guess: _GuessedItems | None = None
        streamed = False
        pos = _skip_space(text, pos + 1)
        while not text.startswith("}", pos):
            if not text.startswith('"', pos):
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip_space(text, pos)
            if not text.startswith(":", pos):
                raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
            pos = _skip_space(text, pos + 1)
            if key == "items" and text.startswith("[", pos):
                members.pop("items", None)
                kind = members.get("kind")
                if is_list_kind(kind) and (kind == "List" or "apiVersion" in members):
                    pos = self.items(pos, members, document)
                    streamed, guess = True, None
                else:
                    guess = self.guess_items(pos, document)
                    pos, streamed = guess.end, False
            else:
                if key == "items":
                    streamed, guess = False, None
                members[key], pos = _DECODER.raw_decode(text, pos)
            pos = _skip_space(text, pos)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
            elif not text.startswith("}", pos):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        if guess is not None and is_list_kind(members.get("kind")):
            if not guess.complete:
                self.items(guess.start, members, document)
            elif guess.error is not None:
                raise guess.error
            else:
                out.result.extend(guess.result)
        elif guess is not None:
            members["items"], _ = _DECODER.raw_decode(text, guess.start)
            out.handle(members, document)
        elif not streamed:
            out.handle(members, document)
        return pos + 1

    def guess_items(self, pos: int, document: int) -> _GuessedItems:
        """Read an ``items`` array met before the object's kind, as the items of a List.

        kubectl writes keys in alphabetical order, so a List's kind comes after its items; reading
        them now saves decoding them twice. Items without their own kind and apiVersion (those of a
        typed list such as ``VirtualServiceList``) need the List's, and are decoded again later.
        """
        buffer = Collector(self.out.file)
        guess = _GuessedItems(pos, buffer.result)
        array = _JsonArray(self.text, pos)
        for i, item in enumerate(array):
            if guess.error is not None or not guess.complete:
                continue
            if not isinstance(item, Mapping) or item.get("kind") is None or item.get("apiVersion") is None:
                guess.complete = False
                continue
            try:
                buffer.item(_PLAIN_LIST, i, item, document, "")
            except ParseError as error:
                guess.error = error
        guess.end = array.end
        return guess

    def items(self, pos: int, owner: dict[str, Any], document: int) -> int:
        array = _JsonArray(self.text, pos)
        for i, item in enumerate(array):
            self.out.item(owner, i, item, document, "")
        return array.end
