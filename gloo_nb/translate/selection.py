"""Route table selection and ordering (Gloo's gateway translator).

Sources: ``projects/gateway/pkg/translator/route_table_selector.go`` (CUR and v1.3.20),
``route_table_indexer.go`` and ``projects/gloo/pkg/utils/sort_routes.go``; the label
requirement semantics are Kubernetes' ``apimachinery/pkg/labels``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from gloo_nb._types import Profile
from gloo_nb.errors import BadDataError
from gloo_nb.models import (
    DEFAULT_MATCHER,
    DelegateAction,
    Matcher,
    ResourceRef,
    RouteTable,
    RouteTableSelector,
    SelectorExpression,
)

ALL_NAMESPACES = "*"

MISSING_REF_AND_SELECTOR = ("cannot determine delegation target: you must specify a route table either via a "
                            "resource reference or a selector")
NO_MATCHING_ROUTE_TABLES = "no route table matches the given selector"
LABELS_AND_EXPRESSIONS = "cannot use both labels and expressions within the same selector"
INVALID_EXPRESSION = "the route table selector expression is invalid"

_OPERATORS = {"Equals": "=", "DoubleEquals": "==", "NotEquals": "!=", "In": "in", "NotIn": "notin",
              "Exists": "exists", "DoesNotExist": "!", "GreaterThan": "gt", "LessThan": "lt"}

# k8s validation.IsQualifiedName: optional DNS-1123 subdomain prefix, then a 63-char name part.
_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_INT = re.compile(r"^[+-]?[0-9]+$")


class SelectionError(BadDataError):
    """Selection failed with a Gloo warning message (Gloo returns it as an error value)."""


def _go_string_slice(values: Sequence[str]) -> str:
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"


def _check_key(key: str) -> str | None:
    parts = key.split("/")
    if len(parts) > 2:
        return (f'key: Invalid value: "{key}": a qualified name must consist of alphanumeric characters, '
                f"'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                f"'my.name',  or '123-abc', regex used for validation is "
                f"'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
                f"(e.g. 'example.com/MyName')")
    name = parts[-1]
    if not name or len(name) > 63 or not _NAME_PART.match(name) or (
            len(parts) == 2 and (not parts[0] or not _DNS1123_SUBDOMAIN.match(parts[0]))):
        return (f'key: Invalid value: "{key}": name part must consist of alphanumeric characters, \'-\', \'_\' '
                f"or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name', "
                f" or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
    return None


def check_expression(expr: SelectorExpression) -> str | None:
    """Validate an expression as Kubernetes' ``labels.NewRequirement`` does.

    Args:
        expr: The expression.

    Returns:
        Kubernetes' error text, or None when the expression is valid.
    """
    problem = _check_key(expr.key)
    if problem:
        return problem
    op = _OPERATORS.get(expr.operator)
    values = list(expr.values)
    vals = _go_string_slice(values)
    if op in ("in", "notin") and not values:
        return f"values: Invalid value: {vals}: for 'in', 'notin' operators, values set can't be empty"
    if op in ("=", "==", "!=") and len(values) != 1:
        return f"values: Invalid value: {vals}: exact-match compatibility requires one single value"
    if op in ("exists", "!") and values:
        return f"values: Invalid value: {vals}: values set must be empty for exists and does not exist"
    if op in ("gt", "lt"):
        if len(values) != 1:
            return f"values: Invalid value: {vals}: for 'Gt', 'Lt' operators, exactly one value is required"
        if not _INT.match(values[0]):
            return f"values[0]: Invalid value: \"{values[0]}\": for 'Gt', 'Lt' operators, the value must be an integer"
    if op is None:
        return f'operator: Unsupported value: "{expr.operator}"'
    for i, v in enumerate(values):
        if len(v) > 63 or not _LABEL_VALUE.match(v):
            return (f'values[{i}]: Invalid value: "{v}": a valid label must be an empty string or consist of '
                    f"alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    f"character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                    f"'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
    return None


def expression_matches(expr: SelectorExpression, labels: Mapping[str, str]) -> bool:
    """Whether labels satisfy a (valid) expression, with Kubernetes' ``Requirement.Matches``.

    Args:
        expr: The expression.
        labels: The candidate's labels.

    Returns:
        True when the requirement holds.
    """
    op = _OPERATORS[expr.operator]
    has = expr.key in labels
    if op in ("=", "==", "in"):
        return has and labels[expr.key] in expr.values
    if op in ("!=", "notin"):
        return not has or labels[expr.key] not in expr.values
    if op == "exists":
        return has
    if op == "!":
        return not has
    if not has or not _INT.match(labels[expr.key]):
        return False
    left, right = int(labels[expr.key]), int(expr.values[0])
    return left > right if op == "gt" else left < right


def _labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def route_tables_for_selector(tables: Sequence[RouteTable], selector: RouteTableSelector, owner_namespace: str,
                              profile: Profile) -> list[RouteTable]:
    """Select route tables, in snapshot order (``RouteTablesForSelector``).

    Args:
        tables: All route tables, sorted by (namespace, name).
        selector: The selector.
        owner_namespace: Namespace of the VS or RT holding the delegate route.
        profile: ``1.3`` has no expressions.

    Returns:
        The matching tables.

    Raises:
        SelectionError: With Gloo's warning text for labels plus expressions or a bad expression.
    """
    namespaces = selector.namespaces
    all_ns = ALL_NAMESPACES in namespaces
    expressions = selector.expressions if profile != "1.3" else ()
    if selector.labels and expressions:
        raise SelectionError(LABELS_AND_EXPRESSIONS)
    for expr in expressions:
        problem = check_expression(expr)
        if problem:
            raise SelectionError(f"{problem}: {INVALID_EXPRESSION}")
    out = []
    for rt in tables:
        labels = rt.meta.labels
        if selector.labels and not _labels_match(selector.labels, labels):
            continue
        if expressions and not all(expression_matches(e, labels) for e in expressions):
            continue
        ns = rt.meta.namespace
        if all_ns or (ns in namespaces if namespaces else ns == owner_namespace):
            out.append(rt)
    return out


class RouteTableIndex:
    """Route tables by (namespace, name), for ref delegation."""

    def __init__(self, tables: Sequence[RouteTable]) -> None:
        self.tables = tables
        self._by_ref = {(rt.meta.namespace, rt.meta.name): rt for rt in tables}
        # Candidate indexes, each list in snapshot order: a selector only ever sees the tables of
        # its namespaces (or, across all namespaces, the tables carrying one of its labels), so
        # selection costs O(candidates) instead of O(all tables) per delegate action.
        self._position = {id(rt): i for i, rt in enumerate(tables)}
        self._by_namespace: dict[str, list[RouteTable]] = {}
        self._by_label: dict[tuple[str, str], list[RouteTable]] = {}
        for rt in tables:
            self._by_namespace.setdefault(rt.meta.namespace, []).append(rt)
            for item in rt.meta.labels.items():
                self._by_label.setdefault(item, []).append(rt)

    def _candidates(self, selector: RouteTableSelector, owner_namespace: str) -> Sequence[RouteTable]:
        # A superset of what route_tables_for_selector keeps, in snapshot order; it still applies
        # every rule itself.
        if ALL_NAMESPACES in selector.namespaces:
            if not selector.labels:
                return self.tables
            return min((self._by_label.get(item, []) for item in selector.labels.items()), key=len)
        namespaces = sorted(set(selector.namespaces or (owner_namespace,)))
        if len(namespaces) == 1:
            return self._by_namespace.get(namespaces[0], [])
        pool = [rt for ns in namespaces for rt in self._by_namespace.get(ns, ())]
        pool.sort(key=lambda rt: self._position[id(rt)])
        return pool

    def get(self, namespace: str, name: str) -> RouteTable | None:
        """The route table ``namespace/name``, if there is one.

        Args:
            namespace: Its namespace.
            name: Its name.

        Returns:
            The table, or None.
        """
        return self._by_ref.get((namespace, name))

    def select(self, action: DelegateAction, owner_namespace: str, profile: Profile) -> list[RouteTable]:
        """Gloo's ``SelectRouteTables``.

        Args:
            action: The delegate action.
            owner_namespace: Namespace of the resource holding the delegate route.
            profile: The behaviour profile.

        Returns:
            The selected tables (never empty).

        Raises:
            SelectionError: With Gloo's warning text.
        """
        ref: ResourceRef | None = action.ref
        if action.name or action.namespace:
            ref = ResourceRef(action.name, action.namespace)
        if ref is not None:
            # The namespace is not defaulted for route table refs (unlike upstream refs).
            found = self._by_ref.get((ref.namespace, ref.name))
            if found is None:
                raise SelectionError(f"route table {ref.namespace}.{ref.name} missing")
            return [found]
        if action.selector is not None:
            candidates = self._candidates(action.selector, owner_namespace)
            tables = route_tables_for_selector(candidates, action.selector, owner_namespace, profile)
            if not tables:
                raise SelectionError(NO_MATCHING_ROUTE_TABLES)
            return tables
        raise SelectionError(MISSING_REF_AND_SELECTOR)


def group_by_weight(tables: Sequence[RouteTable]) -> list[tuple[int, list[RouteTable]]]:
    """Group tables by weight (nil = 0), ascending, keeping selection order within a group.

    Args:
        tables: Selected tables.

    Returns:
        ``[(weight, tables)]`` in ascending weight.
    """
    groups: dict[int, list[RouteTable]] = {}
    for rt in tables:
        groups.setdefault(rt.weight or 0, []).append(rt)
    return sorted(groups.items())


def same_weight_warning(weight: int, tables: Sequence[RouteTable]) -> str:
    """Gloo 1.3's ``RouteTablesWithSameWeightErr`` text.

    Args:
        weight: The shared weight.
        tables: The tables sharing it.

    Returns:
        The warning message.
    """
    names = ", ".join(f"{rt.meta.namespace}.{rt.meta.name}" for rt in tables)
    return (f"the following route tables have the same weight ({weight}): [{names}]. This can result in "
            f"unintended ordering of the resulting routes on the Proxy resource")


# --- SortRoutesByPath ---------------------------------------------------------------------

_PATH_RANK = {None: 0, "exact": 1, "regex": 2, "prefix": 3, "connect": 0}


def _matcher_key_less(a: Matcher, b: Matcher) -> bool:
    # sort_routes.go lessMatcher: more methods first; then path type exact < regex < prefix (an
    # empty specifier ranks first); then the byte-wise greater path string first.
    if len(a.methods) != len(b.methods):
        return len(a.methods) > len(b.methods)
    ra, rb = _PATH_RANK[a.path_kind], _PATH_RANK[b.path_kind]
    if ra != rb:
        return ra < rb
    return a.path.encode() > b.path.encode()


def smallest_matcher(matchers: Sequence[Matcher]) -> Matcher:
    """The route's "smallest" matcher under Gloo's ``lessMatcher`` (``prefix: /`` when none).

    Args:
        matchers: The route's matchers.

    Returns:
        The first matcher that no other matcher is less than.
    """
    if not matchers:
        return DEFAULT_MATCHER
    best = matchers[0]
    for m in matchers[1:]:
        if _matcher_key_less(m, best):
            best = m
    return best


T = TypeVar("T")


def _sort_key(m: Matcher) -> tuple[int, int, tuple[int, ...]]:
    # A total order equal to lessMatcher: negate to get "greater path first" under ascending sort.
    path = m.path.encode()
    return (-len(m.methods), _PATH_RANK[m.path_kind], tuple(-b for b in path) + (1,))


def sort_routes_by_path(routes: list[T], matchers_of: Callable[[T], Sequence[Matcher]]) -> list[T]:
    """Gloo's stable ``SortRoutesByPath``.

    Args:
        routes: Routes to sort.
        matchers_of: Returns a route's matchers.

    Returns:
        A new list, stably sorted; headers and query parameters do not affect the order.
    """
    # The trailing 1 in the key makes a string sort after every longer string it prefixes
    # (descending byte order: "/foo/bar" before "/foo").
    return sorted(routes, key=lambda r: _sort_key(smallest_matcher(matchers_of(r))))
