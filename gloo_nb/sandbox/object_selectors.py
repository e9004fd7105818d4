"""Label and field selectors, with the apiserver's syntax and errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from gloo_nb.sandbox.apierror import ApiError

__all__ = ["field_matcher", "label_matcher", "label_selector_matches"]

_Predicate = Callable[[dict[str, Any]], bool]
_SET_OP = re.compile(r"^\s*(!?)([^\s!=(),]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_OP = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")


def _split(selector: str) -> list[str]:
    # Commas inside `in (a,b)` do not separate requirements.
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(selector):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(selector[start:i])
            start = i + 1
    parts.append(selector[start:])
    return [p for p in parts if p.strip()]


def _label_requirement(text: str) -> Callable[[Mapping[str, str]], bool]:
    eq = _EQ_OP.match(text)
    if eq:
        key, op, value = eq.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    st = _SET_OP.match(text)
    if st:
        neg, key, op, values = st.groups()
        if op is None:
            if neg:
                return lambda labels: key not in labels
            return lambda labels: key in labels
        if neg:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {text.strip()}")
        options = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in options
        return lambda labels: labels.get(key) not in options
    raise ApiError(400, "BadRequest", f"unable to parse requirement: found '{text.strip()}', expected: "
                                      "identifier, '=', '==', '!=', 'in', 'notin'")


def label_matcher(selector: str) -> _Predicate:
    """Compile a ``labelSelector`` query value into a predicate on objects.

    Args:
        selector: e.g. ``app=echo,tier in (web,api),!legacy``; empty matches everything.

    Returns:
        A function telling whether an object's labels match.

    Raises:
        ApiError: 400 when the selector cannot be parsed.
    """
    reqs = [_label_requirement(p) for p in _split(selector or "")]
    if not reqs:
        return lambda obj: True

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in reqs)

    return match


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_matcher(selector: str) -> _Predicate:
    """Compile a ``fieldSelector`` query value into a predicate on objects.

    Any dotted field path is accepted (``metadata.name``, ``metadata.namespace``, ``status.phase``,
    ``spec.nodeName``, ``involvedObject.name``...); a missing field compares as ``""``.

    Args:
        selector: e.g. ``metadata.name=echo-1,status.phase!=Failed``; empty matches everything.

    Returns:
        A function telling whether an object matches.

    Raises:
        ApiError: 400 when the selector cannot be parsed.
    """
    reqs: list[tuple[str, bool, str]] = []
    for part in _split(selector or ""):
        m = _EQ_OP.match(part)
        if not m:
            raise ApiError(400, "BadRequest", f'invalid field selector: "{part.strip()}": '
                                              "expected an operator (=, ==, !=)")
        key, op, value = m.groups()
        reqs.append((key, op != "!=", value))
    if not reqs:
        return lambda obj: True
    return lambda obj: all((_field_value(obj, k) == v) is eq for k, eq, v in reqs)


def label_selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Tell whether labels match a structured selector (``matchLabels`` / ``matchExpressions``).

    Args:
        selector: A ``LabelSelector`` object, e.g. a Deployment's ``spec.selector``; None or empty matches nothing
            (as for Deployments).
        labels: The labels to test.

    Returns:
        True when every requirement holds.
    """
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
