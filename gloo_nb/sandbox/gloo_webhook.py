"""Gloo's validating admission webhook in the sandbox's API: Gloo's decision, Kubernetes' denial.

Two callers share one decision, :meth:`GlooWebhook.review` (Gloo's ``makeAdmissionResponse``, which puts the write
to :func:`gloo_nb.translate.webhook.decide` against what the store holds, with the Settings the store holds:
``gloo-system/default``, Helm's defaults when it is missing):

* the API server, in process (:meth:`GlooWebhook.admit`, the store's validating admission check), standing for
  kube-apiserver calling the webhook. As a real apiserver it calls it only while a stored
  ``ValidatingWebhookConfiguration`` names it and one of its rules matches the request
  (``k8s.io/apiserver/pkg/admission/plugin/webhook/generic/webhook.go:ShouldCallHook``,
  ``predicates/rules/rules.go:Matcher.Matches``, ``predicates/namespace/matcher.go:MatchNamespaceSelector``,
  ``predicates/object/matcher.go:MatchObjectSelector``): a user who deletes the configuration, or removes a rule,
  sees those writes no longer validated. When the webhook's Service has no ready endpoint (its pod is not Ready),
  the webhook's ``failurePolicy`` decides (``validating/dispatcher.go:Dispatch``): ``Ignore`` admits (logged,
  "Failed calling webhook, failing open"), ``Fail`` refuses with a 500 ``InternalError``. A denial is the
  ``Status`` the apiserver makes of a webhook's refusal: ``webhook/errors/statuserror.go:ToStatusErr`` prefixes
  ``admission webhook "<name>" denied the request: `` to the message, forces a code below 400 to 400 (Gloo sets
  none) and the status to ``Failure``, and keeps the webhook's ``details`` (Gloo's ``makeAdmissionResponse`` sets
  name, group, kind and causes, no reason). A dry run reaches the webhook only when its ``sideEffects`` is
  ``None`` or ``NoneOnDryRun`` (``validating/dispatcher.go:callHook``: ``NewDryRunUnsupportedErr`` otherwise, a
  400 whatever the ``failurePolicy``): ``current``'s chart declares ``None``; ``1.3``'s declares nothing (v1beta1's
  ``Unknown``), so its dry runs fail. Gloo's AdmissionResponse carries no ``warnings``, so no ``Warning:`` header
  is sent.
* the HTTPS endpoint (:mod:`gloo_nb.sandbox.webhook_server`), where clients reach Gloo's webhook on its real port
  and get Gloo's own AdmissionResponse.

The webhook is the store's validating admission check (:meth:`Store.add_validating_admission`), so the audit
log records a denial as it records every refused request.

Cost: a write of a kind no stored webhook rule names costs a look at the cached rules (the configurations are
read again only after one of them changes). A validated write translates the snapshot with the change, under the
store lock, as Gloo's webhook translates it before answering. The parsed snapshot and whether it already fails
validation are kept per store resourceVersion. With ``alwaysAccept`` (Helm's default), the webhook admits
everything Gloo can read whatever the translation says, so the sandbox reads the object and the Settings only and
skips the translation (Gloo would only log); with validation off it reads the Settings only (and a sandbox started
with ``--validation off`` holds no configuration, so the webhook is not even asked): writes then cost what they
cost before the webhook existed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gloo_nb._types import Profile
from gloo_nb.errors import GlooNbError
from gloo_nb.models import Resource, ResourceKey, Settings, Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.apierror import ApiError
from gloo_nb.sandbox.object_selectors import label_selector_matches
from gloo_nb.sandbox.store import Identity, Store, WatchEvent
from gloo_nb.translate.webhook import (
    VALIDATED,
    Change,
    Decision,
    WebhookSettings,
    decide,
    helm_default_settings_with_validation,
    stored_snapshot_invalid,
    webhook_name,
)

log = logging.getLogger(__name__)

SNAPSHOT_KINDS = (kinds.VIRTUAL_SERVICE, kinds.ROUTE_TABLE, kinds.GATEWAY, kinds.UPSTREAM, kinds.SETTINGS,
                  kinds.SERVICE, kinds.SECRET, kinds.UPSTREAM_GROUP, kinds.VIRTUAL_HOST_OPTION, kinds.ROUTE_OPTION,
                  kinds.NAMESPACE)
"""What the webhook's validator holds (Gloo's API snapshot, and the Namespaces whose labels decide what Gloo
watches under ``watchNamespaceSelectors``; endpoints and pods do not change its answer)."""

_EXEMPT = frozenset({("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
                     ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")})
"""Never sent to webhooks: ``webhook/generic/webhook.go:IsExemptAdmissionConfigurationResource`` (so that a broken
webhook can always be removed)."""


class GlooWebhook:
    """The sandbox's Gloo validating webhook.

    Args:
        store: The sandbox's store.
        profile: The Gloo profile.
        namespace: Gloo's install namespace (names the webhook).
    """

    def __init__(self, store: Store, profile: Profile, *, namespace: str = "gloo-system") -> None:
        self.store = store
        self.profile: Profile = profile
        self.namespace = namespace
        self.last: Decision | None = None
        """The last decision made (for tests and logs)."""
        self._detach: Any = None
        self._unsubscribe: Callable[[], None] | None = None
        self._cached: tuple[str, Snapshot, dict[str, bool]] | None = None
        self._hooks: list[dict[str, Any]] | None = None

    def attach(self) -> None:
        """Start answering: every write a stored webhook configuration sends to Gloo goes through :meth:`admit`."""
        if self._detach is None:
            self._unsubscribe = self.store.subscribe(self._on_event)
            self._detach = self.store.add_validating_admission(self.admit)

    def detach(self) -> None:
        """Stop answering."""
        if self._detach is not None:
            self._detach()
            self._detach = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @property
    def service(self) -> str:
        """The Service the webhook configuration names: ``gloo`` (current) or ``gateway`` (``1.3``'s chart)."""
        return "gateway" if self.profile == "1.3" else "gloo"

    # --- Gloo's answer ------------------------------------------------------------------------

    def review(self, operation: str, kind: kinds.Kind | None, obj: dict[str, Any] | None,
               old: dict[str, Any] | None, *, dry_run: bool = False, namespace: str | None = None,
               name: str | None = None) -> Decision:
        """Gloo's answer to one admission request (``makeAdmissionResponse``): the one decision of both callers.

        Args:
            operation: ``CREATE``, ``UPDATE`` or ``DELETE``.
            kind: The kind written (None: one Gloo does not know, admitted).
            obj: The object after the write (None for a deletion).
            old: The object before (None for a creation).
            dry_run: The request's ``dryRun``. Gloo's validator then keeps its snapshot as it was
                (``validateAdmissionRequest``: ``isDryRun``); the sandbox's decision keeps no state, so the answer is
                the same.
            namespace: The request's namespace (Gloo's ``ref``); None: the object's.
            name: The request's name; None: the object's.

        Returns:
            The decision (``allowed`` True for everything Gloo does not validate).
        """
        del dry_run
        hook = webhook_name(self.profile, self.namespace)
        if kind is None or kind.kind not in VALIDATED[self.profile] or \
                operation not in VALIDATED[self.profile][kind.kind]:
            return Decision(True, False, reason="not a kind and operation Gloo's webhook validates", webhook=hook)
        meta = (obj or old or {}).get("metadata") or {}
        key = ResourceKey(kind.kind, meta.get("namespace", "") if namespace is None else namespace,
                          meta.get("name", "") if name is None else name)
        resource, error = _read(obj)
        previous, _ = _read(old)
        change = Change(operation, key, resource, previous, unmarshal_error=error)  # type: ignore[arg-type]
        config = WebhookSettings.of(self._settings(), self.profile)
        if not config.enabled:
            return Decision(True, False, reason="validation is off (Settings have no spec.gateway.validation)",
                            webhook=hook)
        if config.always_accept and not error:
            # Admitted whatever validation says (only logged by Gloo): see the module's "Cost".
            return Decision(True, False, reason="alwaysAccept: admitted without translating", webhook=hook)
        # No lock of its own: the in-process caller holds the store's, and the HTTPS caller must not hold one while
        # it reads the store (the two would wait on each other); a race only computes the same answer twice.
        snapshot, invalid = self._snapshot()
        settings = snapshot.settings or helm_default_settings_with_validation()
        # The Settings come from the cached snapshot: one answer per resourceVersion.
        stored = invalid.get("stored")
        if stored is None:
            stored = invalid["stored"] = stored_snapshot_invalid(snapshot, self.profile, settings)
        decision = decide(snapshot, change, self.profile, settings, namespace=self.namespace, stored_invalid=stored)
        self.last = decision
        if decision.allowed and decision.errors:
            # alwaysAccept: Gloo logs "Validation failed" and admits.
            log.warning("Gloo's webhook admits %s %s (alwaysAccept): %s", operation, key, decision.message)
        elif not decision.allowed:
            log.info("Gloo's webhook denies %s %s", operation, key)
        return decision

    # --- the API server calling it --------------------------------------------------------------

    def admit(self, operation: str, kind: kinds.Kind, obj: dict[str, Any] | None, old: dict[str, Any] | None,
              identity: Identity, dry_run: bool = False) -> None:
        """Admit a write, or refuse it as Kubernetes refuses, calling Gloo's webhook as its configuration says.

        Args:
            operation: ``CREATE``, ``UPDATE`` or ``DELETE``.
            kind: The kind written.
            obj: The object after the write (None for a deletion).
            old: The object before (None for a creation).
            identity: Who writes (any: Gloo's webhook does not look at the user).
            dry_run: A dry run (``dryRun=All``).

        Raises:
            ApiError: 400 with Gloo's message, when Gloo's webhook denies it; 400 BadRequest for a dry run the
                webhook's ``sideEffects`` does not allow; 500 InternalError when the webhook cannot be reached and
                its ``failurePolicy`` is ``Fail``.
        """
        del identity
        if (kind.group, kind.plural) in _EXEMPT:
            return
        for hook in self._matching(operation, kind, obj, old):
            self._call(hook, operation, kind, obj, old, dry_run)

    def _call(self, hook: dict[str, Any], operation: str, kind: kinds.Kind, obj: dict[str, Any] | None,
              old: dict[str, Any] | None, dry_run: bool) -> None:
        name = str(hook.get("name") or "")
        if dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            # validating/dispatcher.go callHook: NewDryRunUnsupportedErr (webhook/errors/statuserror.go), a 400
            # BadRequest whatever the failurePolicy, before anything is sent.
            raise ApiError(400, "BadRequest", f'admission webhook "{name}" does not support dry run')
        unreachable = self._unreachable(hook)
        if unreachable:
            # webhook.go (util/webhook) ErrCallingWebhook: `failed calling webhook %q: %v`, its reason made in
            # validating/dispatcher.go callHook as `failed to call webhook: %w` of the client's *url.Error.
            error = f'failed calling webhook "{name}": failed to call webhook: {unreachable}'
            if hook.get("failurePolicy", "Fail") == "Ignore":
                log.warning("Failed calling webhook, failing open %s: %s", name, error)
                return
            log.warning("Failed calling webhook, failing closed %s: %s", name, error)
            # apimachinery errors.go NewInternalError: code 500, reason InternalError, the error as the one cause.
            raise ApiError(500, "InternalError", f"Internal error occurred: {error}", {"causes": [{"message": error}]})
        meta = (obj or old or {}).get("metadata") or {}
        decision = self.review(operation, kind, obj, old, dry_run=dry_run)
        if decision.allowed:
            return
        decision = replace(decision, webhook=name)  # the configuration's name is what the apiserver prints
        details: dict[str, Any] = {"name": meta.get("name", ""), "group": kind.group, "kind": kind.kind}
        if decision.causes:
            details["causes"] = [{"message": c} for c in decision.causes]
        raise ApiError(400, "", decision.denial(), details)

    def _matching(self, operation: str, kind: kinds.Kind, obj: dict[str, Any] | None,
                  old: dict[str, Any] | None) -> list[dict[str, Any]]:
        hooks = self._hooks
        if hooks is None:
            hooks = self._hooks = self._load_hooks()
        if not hooks:
            return []
        namespace = str(((obj or old or {}).get("metadata") or {}).get("namespace") or "")
        if kind is kinds.NAMESPACE:
            # The apiserver sets a Namespace request's namespace to the Namespace's own name.
            namespace = str(((obj or old or {}).get("metadata") or {}).get("name") or "")
        out = []
        for hook in hooks:
            if not any(_rule_matches(rule, operation, kind, namespace) for rule in hook.get("rules") or []):
                # ShouldCallHook: no rule matches. matchPolicy Equivalent would also try the resource's other
                # versions (EquivalentResourcesFor); the sandbox serves each resource at one version only.
                continue
            if not self._namespace_selected(hook, operation, kind, obj, namespace):
                continue
            selector = hook.get("objectSelector") or {}
            # object/matcher.go MatchObjectSelector: the new or the old object's labels; empty selects all.
            if _selector_set(selector) and not any(
                    o is not None and label_selector_matches(selector, (o.get("metadata") or {}).get("labels") or {})
                    for o in (obj, old)):
                continue
            out.append(hook)
        return out

    def _namespace_selected(self, hook: dict[str, Any], operation: str, kind: kinds.Kind, obj: dict[str, Any] | None,
                            namespace: str) -> bool:
        # namespace/matcher.go MatchNamespaceSelector: a cluster-scoped request (not a Namespace) is never exempted;
        # an empty selector selects everything; a Namespace's CREATE/UPDATE is judged by its own new labels
        # (GetNamespaceLabels), any other request by its namespace's.
        selector = hook.get("namespaceSelector") or {}
        if not _selector_set(selector) or (not namespace and kind is not kinds.NAMESPACE):
            return True
        if kind is kinds.NAMESPACE and operation in ("CREATE", "UPDATE") and obj is not None:
            labels = (obj.get("metadata") or {}).get("labels") or {}
        else:
            found = self.store.find(kinds.NAMESPACE, None, namespace)
            labels = ((found or {}).get("metadata") or {}).get("labels") or {}
        return label_selector_matches(selector, labels)

    def _load_hooks(self) -> list[dict[str, Any]]:
        # The webhooks of every stored configuration that send to Gloo's Service, in the apiserver's order
        # (configurations by name, then their webhooks in order: configuration/validating_webhook_manager.go).
        # Webhooks of other services or URLs are not called: the sandbox runs no other webhook server.
        items, _ = self.store.list(kinds.VALIDATING_WEBHOOK_CONFIGURATION)
        out = []
        for config in sorted(items, key=lambda c: c["metadata"]["name"]):
            for hook in config.get("webhooks") or []:
                service = (hook.get("clientConfig") or {}).get("service") or {}
                if service.get("namespace") == self.namespace and service.get("name") == self.service:
                    out.append(hook)
        return out

    def _on_event(self, event: WatchEvent) -> None:
        # Under the store lock: only forget the configurations, read again at the next write.
        if event.kind is kinds.VALIDATING_WEBHOOK_CONFIGURATION:
            self._hooks = None

    def _unreachable(self, hook: dict[str, Any]) -> str:
        """Why the apiserver could not reach the webhook's Service, as its client says it; ``""`` when it can."""
        service = (hook.get("clientConfig") or {}).get("service") or {}
        name, ns = str(service.get("name")), str(service.get("namespace"))
        port = int(service.get("port") or 443)
        # util/webhook/client.go: https://<svc>.<ns>.svc:<port><path>, with the rest client's ?timeout=<10s default>.
        timeout = int(hook.get("timeoutSeconds") or 10)
        url = f"https://{name}.{ns}.svc:{port}{service.get('path') or ''}?timeout={timeout}s"
        reason = _resolve_endpoint(self.store, ns, name, port)
        # Go's url.Error: `Post "<url>": <err>`.
        return f'Post "{url}": {reason}' if reason else ""

    # --- Gloo's snapshot ----------------------------------------------------------------------

    def _settings(self) -> Settings | None:
        # The Settings Gloo reads (Snapshot.from_resources: gloo-system/default, else the last one), without
        # reading the whole store: the common answers (off, alwaysAccept) need nothing else.
        try:
            obj = self.store.get(kinds.SETTINGS, self.namespace, "default")
        except ApiError:
            items, _ = self.store.list(kinds.SETTINGS)
            if not items:
                return helm_default_settings_with_validation()
            obj = items[-1]
        parsed, _ = _read(obj)
        return parsed if isinstance(parsed, Settings) else helm_default_settings_with_validation()

    def _snapshot(self) -> tuple[Snapshot, dict[str, bool]]:
        # The in-process hook calls this with the store lock held: the store cannot change meanwhile. The HTTPS
        # endpoint calls it without: a snapshot is kept only when the resourceVersion did not move while it was read,
        # so that the snapshot of one resourceVersion serves every write until the next commit.
        while True:
            version = self.store.resource_version
            if self._cached is not None and self._cached[0] == version:
                return self._cached[1], self._cached[2]
            resources: list[Resource] = []
            for kind in SNAPSHOT_KINDS:
                items, _ = self.store.list(kind)
                for item in items:
                    parsed, _ = _read(item)
                    if parsed is not None:
                        resources.append(parsed)
            if self.store.resource_version != version:
                continue
            snapshot = Snapshot.from_resources(resources)
            self._cached = (version, snapshot, {})
            return snapshot, self._cached[2]


def _selector_set(selector: dict[str, Any]) -> bool:
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


def _rule_matches(rule: dict[str, Any], operation: str, kind: kinds.Kind, namespace: str) -> bool:
    """``predicates/rules/rules.go`` ``Matcher.Matches``: scope, operation, group, version and resource."""
    def exact_or_wildcard(items: list[str] | None, requested: str) -> bool:
        return any(item in ("*", requested) for item in items or [])

    scope = rule.get("scope") or "*"
    if scope == "Namespaced" and (kind is kinds.NAMESPACE or not namespace):
        return False
    if scope == "Cluster" and kind is not kinds.NAMESPACE and namespace:
        return False
    if scope not in ("*", "Namespaced", "Cluster"):
        return False
    if not exact_or_wildcard(rule.get("operations"), operation):
        return False
    if not exact_or_wildcard(rule.get("apiGroups"), kind.group) or \
            not exact_or_wildcard(rule.get("apiVersions"), kind.version):
        return False
    # resource(): "res/sub" with "*" for either part; the sandbox's webhook sees no subresource writes (the store
    # skips status writes), so the request's subresource is "".
    for res in rule.get("resources") or []:
        base, _, sub = str(res).partition("/")
        if base in ("*", kind.plural) and sub in ("*", ""):
            return True
    return False


def _resolve_endpoint(store: Store, namespace: str, name: str, port: int) -> str:
    """``k8s.io/apiserver/pkg/util/proxy/proxy.go:ResolveEndpoint``'s error for a Service, ``""`` when it resolves.

    The endpoint resolver is what kube-apiserver uses with ``--enable-aggregator-routing``
    (``buildServiceResolver`` in ``cmd/kube-apiserver/app/server.go``, later ``pkg/controlplane/apiserver``:
    ``NewEndpointServiceResolver``, reading EndpointSlices in newer releases, same message; k3s runs so); without it the
    apiserver dials the ClusterIP and the error is the dial's (refused, or a timeout), which a sandbox, whose
    ClusterIPs route nowhere, cannot tell apart.
    """
    svc = store.find(kinds.SERVICE, namespace, name)
    if svc is None:
        return f'service "{name}" not found'  # the lister's NotFound
    spec = svc.get("spec") or {}
    svc_port = next((p for p in spec.get("ports") or [] if int(p.get("port") or 0) == port), None)
    if svc_port is None:
        return f'no service port {port} found for service "{name}"'
    if spec.get("type", "ClusterIP") not in ("ClusterIP", "LoadBalancer", "NodePort"):
        return f'unsupported service type "{spec.get("type")}"'
    eps = store.find(kinds.ENDPOINTS, namespace, name)
    if eps is None:
        return f'endpoints "{name}" not found'
    for subset in eps.get("subsets") or []:
        if subset.get("addresses") and any(p.get("name", "") == svc_port.get("name", "")
                                           for p in subset.get("ports") or []):
            return ""
    return f'no endpoints available for service "{name}"'


def _read(obj: dict[str, Any] | None) -> tuple[Resource | None, str]:
    if obj is None:
        return None, ""
    try:
        parsed = parse_object(obj)
    except GlooNbError as exc:
        return None, str(exc)
    return parsed.resource, ""
