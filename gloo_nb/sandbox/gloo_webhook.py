"""Gloo's validating admission webhook in the sandbox's API: Gloo's decision, Kubernetes' denial.

Every create, update (PUT, every patch type, apply, server-side apply) and delete of a resource Gloo's webhook
validates is put to :func:`gloo_nb.translate.webhook.decide` against what the store holds, with the Settings the
store holds (``gloo-system/default``; Helm's defaults when it is missing). A denial is the
``Status`` the apiserver makes of a webhook's refusal: ``k8s.io/apiserver/pkg/admission/plugin/webhook/errors/
statuserror.go:ToStatusErr`` prefixes ``admission webhook "<name>" denied the request: `` to the message, forces
a code below 400 to 400 (Gloo sets none) and the status to ``Failure``, and keeps the webhook's ``details``
(Gloo's ``makeAdmissionResponse`` sets name, group, kind and causes, no reason). Dry runs get the same answer
and write nothing in ``current``; in ``1.3`` they fail, as Kubernetes fails a dry run that meets a webhook without
``sideEffects: None`` (:func:`gloo_nb.translate.webhook.supports_dry_run`). Gloo's AdmissionResponse carries no
``warnings``, so no ``Warning:`` header is sent.

The webhook is the store's validating admission check (:meth:`Store.add_validating_admission`), so the audit
log records a denial as it records every refused request.

Cost: a validated write translates the snapshot with the change, under the store lock, as Gloo's webhook
translates it before answering. The parsed snapshot and whether it already fails validation are kept per store
resourceVersion. With ``alwaysAccept`` (Helm's default), the webhook admits everything Gloo can read whatever the
translation says, so the sandbox reads the object and the Settings only and skips the translation (Gloo would only
log); with validation off it reads the Settings only: writes then cost what they cost before the webhook existed.
"""

from __future__ import annotations

import logging
from typing import Any

from gloo_nb._types import Profile
from gloo_nb.errors import GlooNbError
from gloo_nb.models import Resource, ResourceKey, Settings, Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.apierror import ApiError
from gloo_nb.sandbox.store import Identity, Store
from gloo_nb.translate.webhook import (
    VALIDATED,
    Change,
    Decision,
    WebhookSettings,
    decide,
    dry_run_refusal,
    helm_default_settings_with_validation,
    stored_snapshot_invalid,
    supports_dry_run,
)

log = logging.getLogger(__name__)

SNAPSHOT_KINDS = (kinds.VIRTUAL_SERVICE, kinds.ROUTE_TABLE, kinds.GATEWAY, kinds.UPSTREAM, kinds.SETTINGS,
                  kinds.SERVICE, kinds.SECRET, kinds.UPSTREAM_GROUP, kinds.VIRTUAL_HOST_OPTION, kinds.ROUTE_OPTION,
                  kinds.NAMESPACE)
"""What the webhook's validator holds (Gloo's API snapshot, and the Namespaces whose labels decide what Gloo
watches under ``watchNamespaceSelectors``; endpoints and pods do not change its answer)."""


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
        self._cached: tuple[str, Snapshot, dict[str, bool]] | None = None

    def attach(self) -> None:
        """Start answering: every write of a kind Gloo validates goes through :meth:`admit`."""
        if self._detach is None:
            self._detach = self.store.add_validating_admission(self.admit)

    def detach(self) -> None:
        """Stop answering."""
        if self._detach is not None:
            self._detach()
            self._detach = None

    def admit(self, operation: str, kind: kinds.Kind, obj: dict[str, Any] | None, old: dict[str, Any] | None,
              identity: Identity, dry_run: bool = False) -> None:
        """Admit a write, or refuse it as Kubernetes refuses on a webhook's denial.

        Args:
            operation: ``CREATE``, ``UPDATE`` or ``DELETE``.
            kind: The kind written.
            obj: The object after the write (None for a deletion).
            old: The object before (None for a creation).
            identity: Who writes (any: Gloo's webhook does not look at the user).
            dry_run: A dry run (``dryRun=All``).

        Raises:
            ApiError: 400 with Gloo's message, when Gloo's webhook denies it; 400 BadRequest for a dry run the
                webhook's configuration does not support (``1.3``: :func:`~gloo_nb.translate.webhook.supports_dry_run`).
        """
        if dry_run and not supports_dry_run(self.profile) and kind.group == "gateway.solo.io" and \
                operation in ("CREATE", "UPDATE", "DELETE"):
            # The v1.3.20 chart's configuration matches every gateway.solo.io resource and operation, and exists
            # whenever validation is enabled, alwaysAccept or not.
            if WebhookSettings.of(self._settings(), self.profile).enabled:
                raise ApiError(400, "BadRequest", dry_run_refusal(self.profile, self.namespace))
        if kind.kind not in VALIDATED[self.profile] or operation not in VALIDATED[self.profile][kind.kind]:
            return
        meta = (obj or old or {}).get("metadata") or {}
        key = ResourceKey(kind.kind, meta.get("namespace", ""), meta.get("name", ""))
        resource, error = _read(obj)
        previous, _ = _read(old)
        change = Change(operation, key, resource, previous, unmarshal_error=error)  # type: ignore[arg-type]
        config = WebhookSettings.of(self._settings(), self.profile)
        if not config.enabled or (config.always_accept and not error):
            return  # off, or admitted whatever validation says (only logged by Gloo): see the module's "Cost"
        snapshot, invalid = self._snapshot()
        settings = snapshot.settings or helm_default_settings_with_validation()
        # The Settings come from the cached snapshot: one answer per resourceVersion.
        stored = invalid.get("stored")
        if stored is None and config.enabled:
            stored = invalid["stored"] = stored_snapshot_invalid(snapshot, self.profile, settings)
        decision = decide(snapshot, change, self.profile, settings, namespace=self.namespace, stored_invalid=stored)
        self.last = decision
        if decision.allowed:
            if decision.errors:
                # alwaysAccept: Gloo logs "Validation failed" and admits.
                log.warning("Gloo's webhook admits %s %s (alwaysAccept): %s", operation, key, decision.message)
            return
        log.info("Gloo's webhook denies %s %s", operation, key)
        details: dict[str, Any] = {"name": key.name, "group": kind.group, "kind": kind.kind}
        if decision.causes:
            details["causes"] = [{"message": c} for c in decision.causes]
        raise ApiError(400, "", decision.denial(), details)

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
        # Called with the store lock held (a validating admission check): the store cannot change meanwhile, so
        # the snapshot of one resourceVersion serves every write until the next commit.
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
        snapshot = Snapshot.from_resources(resources)
        self._cached = (version, snapshot, {})
        return snapshot, self._cached[2]


def _read(obj: dict[str, Any] | None) -> tuple[Resource | None, str]:
    if obj is None:
        return None, ""
    try:
        parsed = parse_object(obj)
    except GlooNbError as exc:
        return None, str(exc)
    return parsed.resource, ""
