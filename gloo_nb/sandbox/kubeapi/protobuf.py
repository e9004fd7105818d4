r"""Decoding of the protobuf bodies kubectl sends (``kubectl create deployment|service|role|job|...``, ``auth can-i``).

kubectl sends the objects its generators build only as ``application/vnd.kubernetes.protobuf``, with no JSON
fallback. The envelope is ``b"k8s\x00"`` followed by a ``runtime.Unknown`` message (typeMeta 1, raw 2). One generic
decoder reads ``raw`` by the messages' shapes in ``kube-proto-schema.json``, generated from Kubernetes' own
``generated.proto`` and ``types.go`` (``scripts/gen_kube_proto_schema.py``), for every built-in kind the sandbox
serves. Field names in those files are the JSON names. As the apiserver decodes into Go structs and encodes JSON,
a zero value of a non-pointer ``omitempty`` field is dropped (go-to-protobuf writes such fields whether set or not),
and the types with a JSON form of their own (``Time``, ``MicroTime``, ``Duration``, ``Quantity``, ``IntOrString``,
``RawExtension``, ``FieldsV1``, ``Verbs``/``ExtraValue``) are converted as their ``MarshalJSON`` does.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import struct
from functools import cache
from importlib import resources
from typing import Any

from gloo_nb.sandbox.store import ApiError

__all__ = ["decode"]

_MAGIC = b"k8s\x00"
_Field = tuple[int, int, "int | bytes"]  # (number, wire type, value)


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("gloo_nb.sandbox.kubeapi").joinpath("kube-proto-schema.json").read_text()
    return json.loads(text)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> list[_Field]:
    out: list[_Field] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, wire, value))
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(buf):
                raise ValueError("truncated field")
            out.append((number, wire, buf[pos:pos + size]))
            pos += size
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated field")
            out.append((number, wire, buf[pos:pos + size]))
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _signed(value: int) -> int:
    # proto2 int32/int64: a negative value is its 64-bit two's complement in a 10-byte varint.
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _go_duration(nanos: int) -> str:
    # time.Duration.String (metav1.Duration's JSON): "1h2m3.5s", "0s", "1.5ms" for sub-second values.
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                text = f"{nanos / size:.9f}".rstrip("0").rstrip(".")
                return f"{sign}{text}{unit}"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = f"{rest / 1e9:.9f}".rstrip("0").rstrip(".")
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{seconds}s"
    return sign + text


def _special(kind: str, raw: bytes) -> Any:
    fields = _fields(raw)
    if kind in ("time", "microtime"):
        seconds = nanos = 0
        for number, _, v in fields:
            if number == 1 and isinstance(v, int):
                seconds = _signed(v)
            elif number == 2 and isinstance(v, int):
                nanos = _signed(v)
        if seconds == 0 and nanos == 0:
            return None  # the zero time: JSON null (metav1.Time.MarshalJSON), so omitempty drops it
        when = _dt.datetime.fromtimestamp(seconds, _dt.UTC)
        if kind == "time":  # metav1.Time: RFC3339 to the second
            return when.strftime("%Y-%m-%dT%H:%M:%SZ")
        return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"  # MicroTime: RFC3339Micro
    if kind == "duration":
        return _go_duration(next((_signed(v) for n, _, v in fields if n == 1 and isinstance(v, int)), 0))
    if kind == "raw":  # RawExtension.raw / FieldsV1.Raw: the JSON bytes themselves
        data = next((v for n, _, v in fields if n == 1 and isinstance(v, bytes)), b"")
        return json.loads(data) if data else None
    if kind == "quantity":
        return next((v.decode() for n, _, v in fields if n == 1 and isinstance(v, bytes)), "0")
    if kind == "intorstring":  # intstr.IntOrString: type 0 Int (intVal 2), 1 String (strVal 3)
        values = {n: v for n, _, v in fields}
        if values.get(1, 0) == 1:
            strval = values.get(3, b"")
            return strval.decode() if isinstance(strval, bytes) else ""
        intval = values.get(2, 0)
        return _signed(intval) if isinstance(intval, int) else 0
    if kind == "items":  # Verbs / ExtraValue: a bare JSON array of strings
        return [v.decode() for n, _, v in fields if n == 1 and isinstance(v, bytes)]
    raise ValueError(f"unknown special type {kind}")


def _scalar(typ: str, wire: int, value: int | bytes) -> Any:
    if typ == "string":
        return value.decode() if isinstance(value, bytes) else str(value)
    if typ == "bytes":
        return base64.b64encode(value if isinstance(value, bytes) else b"").decode()
    if typ == "bool":
        return bool(value)
    if typ in ("int32", "int64"):
        if not isinstance(value, int):
            raise ValueError(f"{typ} with wire type {wire}")
        return _signed(value)
    if typ in ("double", "float") and isinstance(value, bytes):
        return struct.unpack("<d" if typ == "double" else "<f", value)[0]
    if isinstance(value, int):
        return value
    raise ValueError(f"unsupported scalar {typ}")


def _value(typ: str, wire: int, value: int | bytes) -> Any:
    schema = _schema()
    if typ in schema["special"]:
        if not isinstance(value, bytes):
            raise ValueError(f"{typ} is not a message")
        return _special(schema["special"][typ], value)
    if typ in schema["messages"]:
        if not isinstance(value, bytes):
            raise ValueError(f"{typ} is not a message")
        return _message(typ, value)
    return _scalar(typ, wire, value)


def _is_zero(value: Any) -> bool:
    return value is None or (value in ("", 0, {}, []) and value is not True)


def _message(name: str, raw: bytes) -> dict[str, Any]:
    shape = {row[0]: row for row in _schema()["messages"][name]}
    out: dict[str, Any] = {}
    for number, wire, value in _fields(raw):
        row = shape.get(number)
        if row is None:
            continue  # a field newer than the schema: Go's decoding skips unknown fields too
        _, field, typ, label, keep = row
        if label == "map":
            key, item = "", None
            for n, w, v in _fields(value if isinstance(value, bytes) else b""):
                if n == 1:
                    key = v.decode() if isinstance(v, bytes) else str(v)
                elif n == 2:
                    item = _value(typ, w, v)
            if item is None:
                item = "" if typ == "string" else ({} if typ in _schema()["messages"] else item)
            out.setdefault(field, {})[key] = item
        elif label == "repeated":
            if wire == 2 and typ in ("int32", "int64", "bool") and isinstance(value, bytes):
                pos = 0  # a packed repeated scalar
                while pos < len(value):
                    v, pos = _varint(value, pos)
                    out.setdefault(field, []).append(_scalar(typ, 0, v))
            else:
                out.setdefault(field, []).append(_value(typ, wire, value))
        elif keep == "inline":
            out.update(_value(typ, wire, value))  # an embedded struct: its fields are the parent's in JSON
        else:
            out[field] = _value(typ, wire, value)
    for _, field, _, _, keep_zero in shape.values():
        if field in out and keep_zero is False and _is_zero(out[field]):
            del out[field]  # a non-pointer omitempty field at its zero value: absent in the apiserver's JSON
    return out


def decode(body: bytes) -> dict[str, Any]:
    r"""Decode a protobuf-encoded object of a built-in kind the sandbox serves into its JSON form.

    Args:
        body: The request body, starting with the ``k8s\x00`` magic.

    Returns:
        The object as a JSON dict, ``apiVersion``, ``kind`` and ``metadata`` first.

    Raises:
        ApiError: 415 for a kind outside the schema or an unreadable body, as the apiserver answers a body it
            cannot decode.
    """
    unsupported = ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                        "accepted media types include: application/json, "
                                                        "application/yaml")
    if not body.startswith(_MAGIC):
        raise unsupported
    try:
        api_version = kind = ""
        raw = b""
        for number, _, v in _fields(body[len(_MAGIC):]):
            if number == 1 and isinstance(v, bytes):
                for n, _, tv in _fields(v):
                    if n == 1 and isinstance(tv, bytes):
                        api_version = tv.decode()
                    elif n == 2 and isinstance(tv, bytes):
                        kind = tv.decode()
            elif number == 2 and isinstance(v, bytes):
                raw = v
        message = _schema()["kinds"].get(f"{api_version}/{kind}")
        if message is None:
            raise unsupported
        decoded = _message(message, raw)
        return {"apiVersion": api_version, "kind": kind, "metadata": decoded.pop("metadata", {}), **decoded}
    except (ValueError, UnicodeDecodeError, json.JSONDecodeError, OverflowError):
        raise unsupported from None
