"""Printing text that came from outside (a cluster, a file) without letting it drive the terminal."""

from __future__ import annotations

import re

__all__ = ["escape_controls"]

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
