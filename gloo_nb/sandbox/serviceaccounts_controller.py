"""ServiceAccounts: the ``default`` ServiceAccount of every namespace, and the admission of pods against them.

Two pieces of Kubernetes, as the sandbox needs them:

- the serviceaccounts controller (pkg/controller/serviceaccount/serviceaccounts_controller.go,
  ``ServiceAccountsController.syncNamespace``): every Active namespace has a ServiceAccount ``default``
  (``DefaultServiceAccountsControllerOptions``); it reacts to namespaces added or updated and to ServiceAccounts
  deleted, so a deleted ``default`` comes back, and leaves Terminating namespaces alone;
- the ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount/admission.go, ``Plugin.Admit``): a pod
  created without ``spec.serviceAccountName`` gets ``default``; a pod naming a ServiceAccount that does not exist
  is refused with the plugin's 403, ``pods "NAME" is forbidden: error looking up service account NS/SA:
  serviceaccount "SA" not found``; a pod without ``imagePullSecrets`` gets its ServiceAccount's. Deployments'
  pods are created through the same check, so the Deployment controller records the refusal
  (``ReplicaFailure``/``FailedCreate``) and creates them on a later sync.

The controller writes ``default`` in the same breath as the namespace's creation (from the store's
subscription, re-entering the store's lock) rather than from a worker thread: pods are admitted synchronously and
the sandbox has no informer cache to wait on, where kube-apiserver's plugin retries ``default`` ten times
(``getServiceAccount``) to give the controller time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from gloo_nb.sandbox import audit
from gloo_nb.sandbox.kinds import NAMESPACE, POD, SERVICE_ACCOUNT, Kind
from gloo_nb.sandbox.store import ApiError, Identity, Store, WatchEvent

__all__ = ["DEFAULT_SERVICE_ACCOUNT", "SERVICE_ACCOUNT_CONTROLLER", "ServiceAccounts"]

log = logging.getLogger(__name__)

DEFAULT_SERVICE_ACCOUNT = "default"
"""The ServiceAccount every namespace gets and pods default to (admission.go ``DefaultServiceAccountName``)."""

SERVICE_ACCOUNT_CONTROLLER = Identity(
    "system:serviceaccount:kube-system:service-account-controller",
    ("system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"))
"""Who writes the ``default`` ServiceAccounts: kube-controller-manager's controllers each use their own
ServiceAccount (``--use-service-account-credentials``, kubeadm's default)."""

# k8s.io/kubernetes/pkg/apis/core/types.go MirrorPodAnnotationKey: the plugin leaves mirror pods alone.
_MIRROR_POD = "kubernetes.io/config.mirror"


class ServiceAccounts:
    """The serviceaccounts controller and the ServiceAccount admission plugin over one store.

    Args:
        store: The object store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._detach: list[Callable[[], None]] = []

    def attach(self) -> None:
        """Start: admit pods from now on, give every Active namespace its ``default`` and keep it there."""
        if self._detach:
            return
        self._detach.append(self.store.add_admission(self._admit))
        self._detach.append(self.store.subscribe(self._on_event))
        for ns in self.store.list(NAMESPACE)[0]:
            self.sync_namespace(ns["metadata"]["name"])

    def detach(self) -> None:
        """Stop watching the store and admitting pods."""
        while self._detach:
            self._detach.pop()()

    def sync_namespace(self, namespace: str) -> None:
        """Create the namespace's ``default`` ServiceAccount if it is missing and the namespace is Active.

        Args:
            namespace: The namespace.
        """
        store = self.store
        # The write is the controller's own request, not part of the one that caused it (its audit event and
        # its identity are the controller's).
        token = audit.current_request.set(None)
        try:
            try:
                ns = store.get(NAMESPACE, None, namespace)
            except ApiError:
                return
            # syncNamespace: "If namespace is not active, we shouldn't try to create anything".
            if ns["metadata"].get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
                return
            with contextlib.suppress(ApiError):  # AlreadyExists is fine, as in syncNamespace
                store.create(SERVICE_ACCOUNT, {"metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": namespace}},
                             identity=SERVICE_ACCOUNT_CONTROLLER)
        finally:
            audit.current_request.reset(token)

    def _on_event(self, event: WatchEvent) -> None:
        # namespaceAdded / namespaceUpdated / serviceAccountDeleted each queue the namespace.
        meta = event.object.get("metadata") or {}
        if event.kind is NAMESPACE and event.type in ("ADDED", "MODIFIED"):
            namespace = meta.get("name", "")
        elif event.kind is SERVICE_ACCOUNT and event.type == "DELETED" and meta.get("name") == DEFAULT_SERVICE_ACCOUNT:
            namespace = meta.get("namespace", "")
        else:
            return
        try:
            self.sync_namespace(namespace)
        except Exception:  # a store subscriber must not fail the write that called it
            log.exception("could not create the default ServiceAccount of %s", namespace)

    def _admit(self, kind: Kind, obj: dict[str, Any], name: str) -> None:
        # plugin/pkg/admission/serviceaccount/admission.go Plugin.Admit, for creates of pods.
        if kind is not POD:
            return
        meta = obj.get("metadata") or {}
        if _MIRROR_POD in (meta.get("annotations") or {}):
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        if not spec.get("serviceAccountName"):
            # The deprecated spec.serviceAccount is the v1 alias of serviceAccountName (pkg/apis/core/v1
            # conversion fills one from the other); the apiserver writes both.
            spec["serviceAccountName"] = spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        account, namespace = spec["serviceAccountName"], meta.get("namespace", "")
        try:
            found = self.store.get(SERVICE_ACCOUNT, namespace, account)
        except ApiError as error:
            if error.code != 404:
                raise
            # getServiceAccount's errors.NewNotFound(api.Resource("serviceaccount"), name), wrapped by
            # admission.NewForbidden (errors.go NewForbidden) with the pod's name or generateName.
            raise ApiError(403, "Forbidden", f'pods "{name}" is forbidden: error looking up service account '
                                             f'{namespace}/{account}: serviceaccount "{account}" not found',
                           {"name": name, "kind": "pods"}) from None
        # Admit: a pod without imagePullSecrets gets its ServiceAccount's (names only).
        pull = [{"name": ref.get("name", "")} for ref in found.get("imagePullSecrets") or [] if isinstance(ref, dict)]
        if not spec.get("imagePullSecrets") and pull:
            spec["imagePullSecrets"] = pull
