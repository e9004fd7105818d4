"""Printing text that came from outside (a cluster, a file) without letting it drive the terminal."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["escape_controls", "json_bytes"]

# C0 controls, DEL, C1 controls, and the Unicode bidi overrides and isolates (which reorder what a
# terminal shows: CVE-2021-42574 "Trojan Source").
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str, *, keep: str = "") -> str:
    r"""Return ``text`` with control characters written as escapes (``\n``, ``\x1b``, ``\u202e``).

    For names and messages from a cluster or a file printed as text: an escape sequence in an object's
    name must not recolour or clear the terminal, and a newline must not forge an extra output line.
    JSON output needs none of this (json escapes them itself).

    Args:
        text: The text to print.
        keep: Control characters to leave as they are (``"\\n"`` for a whole multi-line report whose
            lines gloo_nb itself laid out).

    Returns:
        The same text when it holds no control character, else the escaped copy.
    """
    if not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)


# The same characters as _CONTROLS that a JSON writer may leave raw in a string (orjson escapes only
# what JSON requires: C0, quote, backslash), as UTF-8 bytes: DEL, C1 and the bidi controls.
_RAW_IN_JSON = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]")


def _json_escape(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode("utf-8"))


def json_bytes(value: Any, *, indent: int | None = None) -> bytes:
    r"""Return ``value`` as UTF-8 JSON, compact by default, safe to print on a terminal.

    orjson writes a 200 MB document in well under a second (the stdlib takes tens of seconds). It
    writes non-ASCII text as UTF-8 rather than ``\uXXXX``, so the controls a terminal obeys that JSON
    does not require to be escaped (DEL, C1, the bidi overrides) are escaped here: they only occur
    inside strings, where ``\uXXXX`` means the same character. Values orjson refuses (more than
    255 levels of nesting, integers beyond 64 bits) are written by the stdlib instead, with the
    same content.

    Args:
        value: A JSON-shaped value (dicts with string or int keys, lists, tuples, scalars).
        indent: Spaces per level; ``None`` for compact output on one line.

    Returns:
        The JSON text, without a final newline.
    """
    if indent is None or indent == 2:
        try:
            out = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0))
        except TypeError:  # orjson.JSONEncodeError: nesting or an integer orjson does not write
            pass
        else:
            return _RAW_IN_JSON.sub(_json_escape, out)
    return json.dumps(value, indent=indent, separators=(",", ":") if indent is None else (",", ": ")).encode()
