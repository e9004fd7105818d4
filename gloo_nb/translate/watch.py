"""What Gloo reads at all: the namespaces it watches (``watchNamespaces``, ``watchNamespaceSelectors``).

Sources (Gloo):

- ``current`` (main): ``pkg/utils/settingsutil/settings.go`` ``GenerateNamespacesToWatch``:
  ``watchNamespaces`` when set (``watchNamespaceSelectors`` are then ignored), with the discovery (write)
  namespace appended (``pkg/utils/namespaces/namespaces.go`` ``ProcessWatchNamespaces``); neither set: every
  namespace; only selectors: the namespaces whose labels one selector matches
  (``namespaceMatchesSelector``), plus the discovery namespace. ``labelSelectorAsSelector`` turns each
  selector into Kubernetes label requirements (``matchLabels`` as ``Equals``; ``matchExpressions`` with
  ``In``, ``NotIn``, ``Exists``, ``DoesNotExist``; any other operator: ``"<op>" is not a valid label selector
  operator``); an empty selector selects everything. ``pkg/utils/setuputils/setup_syncer.go`` re-runs the
  setup when a Namespace change changes the list (``ShouldSync``), and refuses Settings whose selectors fail
  (``UpdateNamespacesToWatch`` returns the error).
- ``1.3`` (v1.3.20): ``projects/gloo/pkg/syncer/setup_syncer.go`` and
  ``projects/gateway/pkg/syncer/setup_syncer.go`` ``RunGloo``/``Setup``:
  ``utils.ProcessWatchNamespaces(settings.WatchNamespaces, writeNamespace)`` (``pkg/utils/namespaces.go``).
  v1.3.20's ``settings.proto`` has no ``watchNamespaceSelectors``.

Everything Gloo's event loops read is scoped to those namespaces (VirtualServices, RouteTables, Gateways,
Upstreams, UpstreamGroups, the option CRs, Services, Endpoints, Pods, Secrets); Settings are read from
Gloo's own namespace whatever the scope. A resource in an unwatched namespace is therefore absent from the
snapshot: it is not translated, gets no status, and delegation selectors or references do not find it (a
RouteTable selected by labels gives ``no route table matches the given selector``; an Upstream
referenced from a watched VirtualService gives ``*v1.Upstream { ns.name } not found``). gloo_nb says so
on each left-out Gloo resource, with the rule that excluded it (a finding of layer ``watch``).

Label requirement semantics: Kubernetes ``staging/src/k8s.io/apimachinery/pkg/labels/selector.go``
(``NewRequirement``, ``Requirement.Matches``, ``Requirement.String``), shared with route table selection
(:mod:`gloo_nb.translate.selection`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from gloo_nb._types import Profile
from gloo_nb.models import Finding, ResourceKey, Snapshot
from gloo_nb.models.defaults import GLOO_NAMESPACE
from gloo_nb.models.resources import LabelSelector, Namespace, SelectorExpression, Settings
from gloo_nb.translate.selection import check_expression, expression_matches

__all__ = ["NOT_WATCHED", "WatchScope", "namespaces_to_watch", "select_watched", "selector_text"]

NOT_WATCHED = "not watched by Gloo"
"""The start of every finding on a resource Gloo does not read."""

# metav1.LabelSelectorOperator values labelSelectorAsSelector accepts (settingsutil/settings.go).
_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True, slots=True)
class WatchScope:
    """The namespaces Gloo watches under some Settings.

    Attributes:
        namespaces: The watched namespaces; None means every namespace.
        rule: The Settings rule in words (``settings.watchNamespaces [a, b]``, ``settings.watchNamespaceSelectors
            [label=match, expression in (match)]``), plus the discovery namespace Gloo always adds.
        selected_by_labels: Whether the scope came from ``watchNamespaceSelectors`` (namespace labels decide).
        unknown: Namespaces whose labels the input does not hold although selectors need them (files
            without Namespace documents, an identity that may not list Namespaces).
        error: Gloo's error when the selectors cannot be evaluated (Gloo refuses such Settings); the scope is
            then every namespace, and a finding says so.
        discovery_namespace: The discovery (write) namespace, always watched when the scope is limited.
    """

    namespaces: frozenset[str] | None
    rule: str = ""
    selected_by_labels: bool = False
    unknown: frozenset[str] = frozenset()
    error: str = ""
    discovery_namespace: str = GLOO_NAMESPACE

    def watches(self, namespace: str) -> bool:
        """Whether Gloo reads resources of one namespace (an unknown one counts as watched: see :attr:`unknown`).

        Args:
            namespace: The namespace.

        Returns:
            True when watched (or unknown).
        """
        return self.namespaces is None or namespace in self.namespaces or namespace in self.unknown


def _requirement_text(key: str, operator: str, values: Sequence[str]) -> str:
    # labels.Requirement.String (apimachinery/pkg/labels/selector.go): "!k", "k", "k=v", "k in (a,b)".
    if operator == "DoesNotExist":
        return f"!{key}"
    if operator == "Exists":
        return key
    if operator in ("Equals", "DoubleEquals"):
        return f"{key}={values[0] if values else ''}"
    word = {"In": "in", "NotIn": "notin"}.get(operator, operator)
    return f"{key} {word} ({','.join(sorted(values))})"


def selector_text(selector: LabelSelector) -> str:
    """A selector in Kubernetes' selector syntax (``labels.Selector.String``: requirements sorted by key).

    Args:
        selector: A ``watchNamespaceSelectors`` entry.

    Returns:
        E.g. ``label=match`` or ``expression in (match)``; ``<everything>`` for an empty selector.
    """
    parts = [(k, _requirement_text(k, "Equals", [v])) for k, v in selector.match_labels.items()]
    parts += [(e.key, _requirement_text(e.key, e.operator, e.values)) for e in selector.match_expressions]
    if not parts:
        return "<everything>"
    return ",".join(text for _, text in sorted(parts, key=lambda p: p[0]))


def _selector_error(selector: LabelSelector) -> str:
    # settingsutil.labelSelectorAsSelector: matchLabels become Equals requirements, expressions must use one
    # of metav1's four operators, and labels.NewRequirement validates keys and values (its messages).
    for k, v in selector.match_labels.items():
        problem = check_expression(SelectorExpression(k, "Equals", (v,)))
        if problem:
            return problem
    for expr in selector.match_expressions:
        if expr.operator not in _SELECTOR_OPERATORS:
            return f'"{expr.operator}" is not a valid label selector operator'
        problem = check_expression(expr)
        if problem:
            return problem
    return ""


def _selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    # An empty selector is labels.Everything(); otherwise every requirement must hold.
    return (all(labels.get(k) == v for k, v in selector.match_labels.items())
            and all(expression_matches(e, labels) for e in selector.match_expressions))


def _discovery_namespace(settings: Settings) -> str:
    # generateDiscoveryNamespace / setup_syncer.go: discoveryNamespace, default gloo-system.
    return settings.discovery_namespace or GLOO_NAMESPACE


def _all_namespaces(watch: Sequence[str]) -> bool:
    # namespaces.AllNamespaces: nothing, or one empty string, means every namespace.
    return not watch or (len(watch) == 1 and watch[0] == "")


def namespaces_to_watch(settings: Settings, namespaces: Iterable[Namespace], profile: Profile, *,
                        used: Iterable[str] = ()) -> WatchScope:
    """The namespaces Gloo of a profile watches under some Settings (``GenerateNamespacesToWatch``).

    Args:
        settings: The Settings in force.
        namespaces: The Namespace objects known (their labels).
        profile: ``1.3`` (``watchNamespaces`` only) or ``current``.
        used: Namespaces that hold resources: those without a Namespace object are :attr:`WatchScope.unknown`
            when selectors decide.

    Returns:
        The scope.
    """
    write_ns = _discovery_namespace(settings)
    watch = list(settings.watch_namespaces)
    if not _all_namespaces(watch):
        # ProcessWatchNamespaces: the write namespace is appended when missing ("Prevent an error where the
        # controller can not read resources written by discovery").
        listed = ", ".join(watch)
        rule = f"settings.watchNamespaces [{listed}]"
        if write_ns not in watch:
            rule += f" plus the discoveryNamespace {write_ns}"
        return WatchScope(frozenset([*watch, write_ns]), rule, discovery_namespace=write_ns)
    selectors = settings.watch_namespace_selectors
    if profile == "1.3" or not selectors:
        # Neither set: every namespace (settingsutil returns watchNamespaces, nil or [""]; 1.3 has no selectors).
        return WatchScope(None, discovery_namespace=write_ns)
    for selector in selectors:
        error = _selector_error(selector)
        if error:
            return WatchScope(None, error=error, discovery_namespace=write_ns)
    known = {ns.meta.name: ns for ns in namespaces}
    selected = {name for name, ns in known.items() if any(_selector_matches(s, ns.meta.labels) for s in selectors)}
    selected.add(write_ns)  # "doubles as a way to ensure there is at least one namespace watched"
    rule = (f"settings.watchNamespaceSelectors [{'; '.join(selector_text(s) for s in selectors)}] "
            f"plus the discoveryNamespace {write_ns}")
    unknown = frozenset(n for n in used if n and n not in known and n not in selected)
    return WatchScope(frozenset(selected), rule, selected_by_labels=True, unknown=unknown,
                      discovery_namespace=write_ns)


def _labels_text(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(labels.items())) + "}"


def _left_out_message(scope: WatchScope, namespace: str, labels: Mapping[str, str] | None) -> str:
    if scope.selected_by_labels:
        why = f"namespace {namespace} (labels {_labels_text(labels or {})}) matches none of {scope.rule}"
    else:
        why = f"namespace {namespace} is not in {scope.rule}"
    return (f"{NOT_WATCHED}: {why}; Gloo does not read it: it is not translated, gets no status, and no "
            f"delegation selector or reference finds it")


def select_watched(snapshot: Snapshot, profile: Profile,
                   settings: Settings | None = None) -> tuple[Snapshot, list[Finding], WatchScope]:
    """Keep what Gloo reads of a snapshot: the resources of the namespaces it watches.

    Args:
        snapshot: Everything the input holds.
        profile: ``1.3`` or ``current``.
        settings: The Settings in force (default: the snapshot's, else Helm's defaults as given by the caller).

    Returns:
        ``(snapshot, findings, scope)``: the snapshot Gloo translates (Settings and Namespaces kept), a
        warning of layer ``watch`` on every Gloo resource left out (and on every resource whose namespace's
        labels are unknown, translated as if watched), and the scope.
    """
    settings = settings or snapshot.settings
    findings: list[Finding] = []
    if settings is None:
        return snapshot, findings, WatchScope(None)
    gloo_lists = ("virtual_services", "route_tables", "gateways", "upstreams", "upstream_groups",
                  "virtual_host_options", "route_options", "matchable_http_gateways", "matchable_tcp_gateways")
    core_lists = ("services", "endpoints", "pods", "secrets")
    # Only selectors need to know which namespaces hold resources (a large input is not walked for nothing).
    selecting = profile != "1.3" and bool(settings.watch_namespace_selectors) and _all_namespaces(
        list(settings.watch_namespaces))
    used = {r.meta.namespace for name in (*gloo_lists, *core_lists) for r in getattr(snapshot, name)} \
        if selecting else set()
    scope = namespaces_to_watch(settings, snapshot.namespaces, profile, used=used)
    if profile == "1.3" and settings.watch_namespace_selectors:
        findings.append(Finding(
            settings.key, "warning", layer="watch", origin=settings.key, field="spec.watchNamespaceSelectors",
            message=("watchNamespaceSelectors is not a Settings field in Gloo 1.3 (v1.3.20 settings.proto has "
                     "watchNamespaces only): it selects nothing, and Gloo 1.3 watches "
                     + (scope.rule if scope.namespaces is not None else "every namespace"))))
    if scope.error:
        findings.append(Finding(
            settings.key, "error", layer="watch", origin=settings.key, field="spec.watchNamespaceSelectors",
            message=(f"{scope.error} (settingsutil.GenerateNamespacesToWatch fails: Gloo does not run with these "
                     f"Settings and keeps the previous ones; gloo_nb translates every namespace)")))
    if scope.namespaces is None:
        return snapshot, findings, scope
    labels = {ns.meta.name: ns.meta.labels for ns in snapshot.namespaces}
    selectors = "; ".join(selector_text(s) for s in settings.watch_namespace_selectors)
    kept: dict[str, tuple[object, ...]] = {}
    for name in (*gloo_lists, *core_lists):
        items = getattr(snapshot, name)
        keep = []
        for res in items:
            ns = res.meta.namespace
            key = ResourceKey(res.kind, ns, res.meta.name)
            if ns in scope.unknown:
                if name in gloo_lists:
                    findings.append(Finding(key, "warning", layer="watch", origin=key, message=(
                        f"whether Gloo watches namespace {ns} is unknown: settings.watchNamespaceSelectors "
                        f"[{selectors}] select namespaces by their labels, and the input has no Namespace {ns} "
                        f"(add its Namespace document, or read a cluster); translated as if watched")))
                keep.append(res)
            elif scope.watches(ns):
                keep.append(res)
            elif name in gloo_lists:
                findings.append(Finding(key, "warning", layer="watch", origin=key,
                                        message=_left_out_message(scope, ns, labels.get(ns))))
        kept[name] = tuple(keep)
    return replace(snapshot, **kept), findings, scope  # type: ignore[arg-type]
