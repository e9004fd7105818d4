"""Raw documents for writing back to an API: YAML or JSON decoded without typing the objects.

:func:`load_documents` is what ``kubectl apply -f`` would send; :func:`load_document` decodes one
request body as strictly as the apiserver does. They share the bounded YAML loader with the parser
but produce plain values, not models.
"""

from __future__ import annotations

import json
from typing import Any

from gloo_nb.errors import ParseError
from gloo_nb.models.codec._streams import NON_SPACE
from gloo_nb.models.codec._yaml_events import MAX_YAML_DEPTH, yaml_documents


def load_documents(data: str | bytes, *, file: str = "<input>", keep_empty: bool = False) -> list[Any]:
    """Decode a YAML or JSON stream into its raw documents, for writing them back to an API.

    The same reader as :func:`parse_stream` (bounded nesting, no alias bombs), without typing the
    objects: what ``kubectl apply -f`` would send. Empty documents are dropped; a top-level JSON
    array is a list of documents.

    Args:
        data: The stream; bytes must be UTF-8.
        file: What to call the source in messages.
        keep_empty: Keep empty documents as None, so that a document's position is the index the parser
            gives it (``Location.document``).

    Returns:
        The documents, in order.

    Raises:
        ParseError: The stream cannot be read.
    """
    try:
        text = data.decode("utf-8", errors="strict") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise ParseError(f"not UTF-8 text at byte {error.start}; save the file as UTF-8", file=file) from None
    first = NON_SPACE.search(text, 1 if text.startswith("\ufeff") else 0)
    if first is None:
        return []
    if text[first.start()] in "{[":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ParseError(f"invalid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
                             file=file) from None
        except RecursionError:
            raise ParseError("nested too deeply to read", file=file) from None
        return [v for v in (value if isinstance(value, list) else [value]) if keep_empty or v is not None]
    try:
        return [value for _, value in yaml_documents(text, file) if keep_empty or value is not None]
    except RecursionError:
        raise ParseError("nested too deeply to read", file=file) from None


def _refuse_constant(name: str) -> Any:
    # Go's encoding/json (which the apiserver decodes with) has no NaN or Infinity literals; Python's
    # json accepts them, and one stored NaN makes every later JSON answer unreadable to kubectl.
    what = "'I' in numeric literal" if name.startswith("-") else f"{name[0]!r} looking for beginning of value"
    raise ValueError(f"invalid character {what}")


def _check_value(value: Any, file: str) -> None:
    """Refuse what JSON cannot carry (NaN, infinities) and nesting deeper than :data:`MAX_YAML_DEPTH`.

    Iterative, so a deep value cannot exhaust the interpreter's stack while being checked.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                shown = "NaN" if item != item else ("+Inf" if item > 0 else "-Inf")  # Go's strconv spelling
                raise ParseError(f"json: unsupported value: {shown}", file=file)
        elif isinstance(item, dict | list):
            if depth > MAX_YAML_DEPTH:
                raise ParseError(f"exceeded max depth: nested deeper than {MAX_YAML_DEPTH} levels", file=file)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))


def load_document(data: str | bytes, *, file: str = "<input>", yaml_allowed: bool = True) -> Any:
    """Decode exactly one JSON (or YAML) value, as an API server decodes a request body.

    Stricter than :func:`load_documents`: what Go's encoding/json would refuse is refused here too
    (``NaN``, ``Infinity``, including YAML's ``.nan``/``.inf``), nesting is bounded by
    :data:`MAX_YAML_DEPTH` for JSON as for YAML, and YAML aliases are bounded as in every YAML this
    module reads (an alias may not expand a document past ten times its own size plus 100,000
    nodes). A value is checked after decoding, so nothing half-read is ever returned.

    Args:
        data: The body; bytes must be UTF-8.
        file: What to call the source in messages.
        yaml_allowed: Read YAML when the text does not start like JSON; False reads JSON only.

    Returns:
        The value (None for YAML with no document).

    Raises:
        ParseError: The body is not one readable JSON/YAML value; the problem is worded like the
            apiserver's (``invalid character 'N' looking for beginning of value``).
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise ParseError(f"not UTF-8 text at byte {error.start}", file=file) from None
    first = NON_SPACE.search(text, 1 if text.startswith("\ufeff") else 0)
    if first is None:
        raise ParseError("the body is empty", file=file)
    value: Any
    try:
        json_error: json.JSONDecodeError | None = None
        if not yaml_allowed or text[first.start()] in "{[":
            try:
                value = json.loads(text[first.start():], parse_constant=_refuse_constant)
            except json.JSONDecodeError as error:
                json_error = error
            except ValueError as error:
                raise ParseError(str(error), file=file) from None
            if json_error is not None and not yaml_allowed:
                raise ParseError(f"invalid JSON: {json_error.msg} at line {json_error.lineno}, "
                                 f"column {json_error.colno}", file=file)
        if yaml_allowed and (json_error is not None or text[first.start()] not in "{["):
            # YAML flow style (`{name: x}`) starts like JSON too
            documents = [v for _, v in yaml_documents(text, file) if v is not None]
            if len(documents) > 1:
                raise ParseError(f"expected one YAML document, found {len(documents)}", file=file)
            value = documents[0] if documents else None
    except RecursionError:
        raise ParseError(f"exceeded max depth: nested deeper than {MAX_YAML_DEPTH} levels", file=file) from None
    _check_value(value, file)
    return value
