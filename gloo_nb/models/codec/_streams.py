"""A stream of manifests -> a :class:`ParseResult`: :func:`parse_stream` picks the JSON or the YAML reader.

The entry point for files and stdin: decodes the bytes, chooses the reader by the first character,
and maps each reader's errors to one-line :class:`~gloo_nb.errors.ParseError` messages.
"""

from __future__ import annotations

import json
import re

from gloo_nb._gc import gc_paused
from gloo_nb.errors import ParseError
from gloo_nb.models.codec._collect import Collector, ParseResult
from gloo_nb.models.codec._json_stream import JsonReader
from gloo_nb.models.codec._yaml_events import yaml_documents

NON_SPACE = re.compile(r"\S")


def parse_stream(data: str | bytes, *, file: str = "<input>") -> ParseResult:
    """Parse a stream of Kubernetes manifests: multi-document YAML, or JSON.

    Input whose first non-blank character is ``{`` or ``[`` is read as JSON (a top-level array is
    a list of documents; several values may follow each other); anything else as YAML. Empty
    documents are ignored; ``kind: List`` (and typed lists such as ``VirtualServiceList``) are
    expanded, their items keeping the List's document index. Work and memory grow linearly with
    the input: the items of a JSON List are decoded one at a time.

    Args:
        data: The stream; bytes must be UTF-8.
        file: What to call the source in messages (``-`` for stdin).

    Returns:
        The resources, findings and skipped documents, in order.

    Raises:
        ParseError: The stream or one of its documents cannot be read; the message is one line
            naming the file, the document index and the field.
    """
    raw: bytes | None = None
    if isinstance(data, str):
        text = data
    else:
        raw = bytes(data)
        del data
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ParseError(f"not UTF-8 text at byte {error.start}; save the file as UTF-8",
                             file=file) from None
    out = Collector(file)
    first = NON_SPACE.search(text, 1 if text.startswith("\ufeff") else 0)
    if first is None:
        return out.result
    # Millions of small acyclic objects (dicts, then models): the cyclic collector would walk all of
    # them again and again (a 39 MB file: 40% of the read). Reference counting still frees them.
    with gc_paused():
        try:
            if text[first.start()] in "{[":
                del raw
                try:
                    JsonReader(text, out).read(first.start())
                except json.JSONDecodeError as error:
                    raise ParseError(f"invalid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
                                     file=file, document=out.document) from None
            else:
                # libyaml reads UTF-8 bytes as they are; a str would be encoded again (a second copy)
                source: str | bytes = text if raw is None else raw
                del text, raw
                for document, value in yaml_documents(source, file):
                    out.document = document
                    if value is not None:
                        out.handle(value, document)
        except UnicodeEncodeError as error:
            raise ParseError(f"the text holds {error.object[error.start:error.end]!r}, which is not valid "
                             f"Unicode", file=file) from None
        except RecursionError:
            raise ParseError("nested too deeply to read", file=file, document=out.document) from None
    return out.result
