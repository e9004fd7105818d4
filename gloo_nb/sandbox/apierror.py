"""The sandbox API's one error: a Kubernetes ``Status`` failure, and its body as kube-apiserver writes it.

Its own module, below the store and the store's rules (:mod:`gloo_nb.sandbox.object_selectors`,
:mod:`gloo_nb.sandbox.validation`), so that they all raise it without importing each other in a circle.

The body is byte for byte what the API server answers, since clients compare those bytes (the official Python
client's ``FailToCreateError`` prints ``Error from server (Conflict): <body>``, and its e2e tests compare that
string):

- the fields in the order of the Go struct ``metav1.Status`` (k8s.io/apimachinery/pkg/apis/meta/v1/types.go):
  ``kind``, ``apiVersion``, ``metadata``, ``status``, ``message``, ``reason``, ``details``, ``code``, each
  ``omitempty`` but ``metadata`` (an empty ``ListMeta``: ``{}``);
- ``details`` in the order of ``StatusDetails`` (``name``, ``group``, ``kind``, ``uid``, ``causes``,
  ``retryAfterSeconds``), empty ones left out: a core kind's Status has no ``group``; ``causes`` in the order
  of ``StatusCause`` (``reason``, ``message``, ``field``);
- encoded by Go's ``encoding/json`` Encoder (k8s.io/apimachinery/pkg/runtime/serializer/json/json.go,
  ``Serializer.doEncode`` uses ``json.NewEncoder(w).Encode(obj)``): compact, UTF-8 as is, ``<``, ``>``, ``&``,
  U+2028 and U+2029 escaped (the Encoder's default ``SetEscapeHTML(true)``), and a trailing newline.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gloo_nb.errors import UsageError

__all__ = ["ApiError", "go_json"]

_STATUS_ORDER = ("kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code")
_DETAILS_ORDER = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")
_CAUSE_ORDER = ("reason", "message", "field")
# Go's encodeState.string (encoding/json/encode.go): HTML-significant characters and the two JavaScript line
# separators are written as \u escapes; an invalid UTF-8 sequence (in Python, a lone surrogate) as \ufffd.
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPED = re.compile("[<>&\u2028\u2029\ud800-\udfff]")


def go_json(value: Any) -> str:
    """Encode ``value`` as Go's ``json.Encoder`` would (compact, HTML escaping), without the trailing newline.

    Args:
        value: Plain JSON data; dict keys are written in their order (Go writes struct fields in declaration
            order, so callers order them).

    Returns:
        The JSON text.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return _GO_ESCAPED.sub(lambda m: _GO_ESCAPES.get(m.group(), "\\ufffd"), text)


def _ordered(data: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    # omitempty: "", 0, None and empty lists are left out (Go's isEmptyValue; a struct or a pointer to one, like
    # metadata or details, stays even when empty); keys Go's struct lacks are kept, last.
    out = {key: data[key] for key in order if key in data and not _empty(data[key])}
    out.update((key, v) for key, v in data.items() if key not in order)
    return out


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list)) and not value) or (
        isinstance(value, int) and not isinstance(value, bool) and value == 0)


class ApiError(UsageError):
    """A Kubernetes-style failure, answered as a ``Status`` object.

    Attributes:
        code: HTTP status code.
        reason: Kubernetes reason, e.g. ``NotFound``.
        message: The message, in the apiserver's wording.
        details: The Status ``details`` (name, group, kind, causes), or None.
    """

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        super().__init__(message)

    def status(self) -> dict[str, Any]:
        """Return the Kubernetes ``Status`` for this error, its keys in the order the API server writes them.

        Returns:
            ``{"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": ...,
            "reason": ..., "details": {...}, "code": ...}``; ``details`` only when the error has some (a
            pointer in Go: present, even empty, when set), without empty fields (no ``group`` for core kinds).
        """
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason}
        if self.details is not None:
            details = _ordered(self.details, _DETAILS_ORDER)
            if "causes" in details:
                details["causes"] = [_ordered(c, _CAUSE_ORDER) if isinstance(c, dict) else c
                                     for c in details["causes"]]
            body["details"] = details
        body["code"] = self.code
        # metadata stays though empty (ListMeta is a struct, not a pointer, so omitempty keeps it), like details.
        return _ordered(body, _STATUS_ORDER)

    def body(self) -> bytes:
        """Return the HTTP response body the API server writes for this error.

        Returns:
            The ``Status`` as Go's JSON encoder writes it, with its trailing newline.
        """
        return (go_json(self.status()) + "\n").encode()

