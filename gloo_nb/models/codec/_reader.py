"""The field reader: reads one object's fields, types them, and words each problem with its path.

:class:`Reader` is what every builder uses to read a field (strings, integers with proto ranges,
oneofs, unknown fields noted as findings, a failure naming the field). Separate from the builders so
that the rules for reading a value (protobuf JSON, Kubernetes JSON) live in one place.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from sys import intern
from typing import Any, NoReturn

from gloo_nb.errors import ParseError
from gloo_nb.models.codec._fields import (
    INT32_MAX,
    INT32_MIN,
    MAX_NOTES,
    UINT32_MAX,
    VALUE,
    OneOf,
)

_INT_TEXT = re.compile(r"-?[0-9]+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _short(text: str, limit: int = 40) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a value of type {type(value).__name__}"


def join_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def key_path(path: str, key: Any) -> str:
    if isinstance(key, str) and _IDENT.fullmatch(key):
        return join_path(path, key)
    return f"{path}[{json.dumps(key if isinstance(key, str) else str(key))}]"


def share(text: str) -> str:
    # Names, namespaces and label values repeat across thousands of objects; keeping one copy of
    # each makes the models of a large input about a quarter smaller.
    return intern(text) if type(text) is str and len(text) <= 64 else text


class Reader:
    """Reads the fields of one object and records where each problem is.

    Scalar readers take the parent path and the field name, so that paths are only built for
    messages, lists and problems (large inputs have millions of scalars).
    """

    __slots__ = ("document", "file", "notes", "prefix", "unlisted")

    def __init__(self, file: str, document: int | None, prefix: str) -> None:
        self.file = file
        self.document = document
        self.prefix = prefix
        self.notes: list[tuple[str, str]] = []
        self.unlisted = 0

    def fail(self, path: str, problem: str) -> NoReturn:
        full = self.prefix + path if path else self.prefix.rstrip(".")
        raise ParseError(problem, file=self.file, document=self.document, field=full or None)

    def note_unknown(self, path: str, key: Any, known: frozenset[str]) -> None:
        if len(self.notes) >= MAX_NOTES:
            self.unlisted += 1
            return
        full = self.prefix + key_path(path, key)
        close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6) if known else []
        hint = f" (did you mean {close[0]}?)" if close else ""
        self.notes.append((full, f"unknown field {full}: Gloo ignores or rejects it; check the "
                                 f"spelling{hint}"))

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        """Return ``value`` as a mapping whose fields are not checked."""
        if type(value) is not dict and not isinstance(value, Mapping):
            self.fail(path, f"expected an object, got {describe(value)}")
        return value

    def obj(self, value: Any, path: str, known: frozenset[str], *, proto: bool = True) -> Mapping[str, Any]:
        """Return ``value`` as a message with fields ``known``, noting unknown fields."""
        m = self.mapping(value, path)
        if known.issuperset(m):
            return m
        out: dict[str, Any] | None = None
        for key in list(m):
            if key in known:
                continue
            camel = _snake_to_camel(key) if proto and isinstance(key, str) and "_" in key else None
            if camel is not None and camel in known:
                if camel in m:
                    self.fail(join_path(path, camel), f"set twice, as {camel} and as {key}")
                if out is None:
                    out = dict(m)
                out[camel] = out.pop(key)
            else:
                self.note_unknown(path, key, known)
        return m if out is None else out

    def opt_obj(self, value: Any, path: str, known: frozenset[str], *,
                proto: bool = True) -> Mapping[str, Any] | None:
        return None if value is None else self.obj(value, path, known, proto=proto)

    def raw(self, value: Any, path: str, name: str) -> Mapping[str, Any] | None:
        """Return an opaque block (kept as written), or None when unset."""
        if value is None or isinstance(value, Mapping):
            return value
        self.fail(join_path(path, name), f"expected an object, got {describe(value)}")

    def raw_or_empty(self, value: Any, path: str, name: str) -> Mapping[str, Any]:
        raw = self.raw(value, path, name)
        return {} if raw is None else raw

    def seq(self, value: Any, path: str, name: str) -> list[Any] | tuple[Any, ...]:
        if value is None:
            return ()
        if isinstance(value, list | tuple):
            return value
        self.fail(join_path(path, name), f"expected a list, got {describe(value)}")

    def oneof(self, m: Mapping[str, Any], path: str, oneof: OneOf) -> str | None:
        """Return the member of ``oneof`` that is set, or None; fail when several are."""
        hits = oneof.members.intersection(m)
        if not hits:
            return None
        if len(hits) == 1:
            (name,) = hits
            return name if m[name] is not None else None
        found = [n for n in oneof.names if m.get(n) is not None]
        if len(found) > 1:
            listed = ", ".join(found[:-1]) + " and " + found[-1]
            self.fail(path, f"{listed} are {'both' if len(found) == 2 else 'all'} set, but only one of "
                            f"{', '.join(oneof.names)} may be set (a protobuf oneof)")
        return found[0] if found else None

    def string(self, value: Any, path: str, name: str) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return share(value)
        self.fail(join_path(path, name), f"expected a string, got {describe(value)}")

    def opt_string(self, value: Any, path: str, name: str) -> str | None:
        return None if value is None else self.string(value, path, name)

    def boolean(self, value: Any, path: str, name: str) -> bool:
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        self.fail(join_path(path, name), f"expected true or false, got {describe(value)}")

    def opt_bool(self, value: Any, path: str, name: str) -> bool | None:
        """A ``google.protobuf.BoolValue``: a plain boolean or ``{value: ...}``; None when unset."""
        if isinstance(value, Mapping):
            value = self.obj(value, join_path(path, name), VALUE).get("value", False)
        return None if value is None else self.boolean(value, path, name)

    def integer(self, value: Any, path: str, name: str, low: int, high: int, what: str) -> int:
        number: int | None = None
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and len(value) <= 24 and _INT_TEXT.fullmatch(value):
            # protobuf JSON allows 64-bit and 32-bit integers written as strings
            number = int(value)
        if number is None:
            self.fail(join_path(path, name), f"expected {what}, got {describe(value)}")
        if not low <= number <= high:
            self.fail(join_path(path, name), f"{number} is out of range for {what} ({low}..{high})")
        return number

    def uint32(self, value: Any, path: str, name: str) -> int | None:
        """A ``uint32`` or ``google.protobuf.UInt32Value``; None when unset."""
        if isinstance(value, Mapping):
            value = self.obj(value, join_path(path, name), VALUE).get("value", 0)
        if value is None:
            return None
        return self.integer(value, path, name, 0, UINT32_MAX, "a non-negative integer (uint32)")

    def int32(self, value: Any, path: str, name: str) -> int | None:
        """An ``int32`` or ``google.protobuf.Int32Value``; None when unset."""
        if isinstance(value, Mapping):
            value = self.obj(value, join_path(path, name), VALUE).get("value", 0)
        if value is None:
            return None
        return self.integer(value, path, name, INT32_MIN, INT32_MAX, "an integer (int32)")

    def kube_int(self, value: Any, path: str, name: str, low: int, high: int) -> int:
        """A Kubernetes integer: a JSON number, never a string."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(join_path(path, name), f"expected an integer, got {describe(value)}")
        if not low <= value <= high:
            self.fail(join_path(path, name), f"{value} is out of range ({low}..{high})")
        return value

    def enum(self, value: Any, path: str, name: str, names: tuple[str, ...]) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and value in names:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return names[value]
        self.fail(join_path(path, name), f"expected one of {', '.join(names)}, got {describe(value)}")

    def strings(self, value: Any, path: str, name: str) -> tuple[str, ...]:
        items = self.seq(value, path, name)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.fail(f"{join_path(path, name)}[{i}]", f"expected a string, got {describe(item)}")
        return tuple(map(share, items))

    def string_map(self, value: Any, path: str, name: str) -> Mapping[str, str]:
        if value is None:
            return {}
        where = join_path(path, name)
        if not isinstance(value, Mapping):
            self.fail(where, f"expected an object of strings, got {describe(value)}")
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                self.fail(where, f"expected string keys, got {describe(key)}")
            if not isinstance(item, str):
                self.fail(key_path(where, key), f"expected a string, got {describe(item)}")
            out[share(key)] = share(item)
        return out
