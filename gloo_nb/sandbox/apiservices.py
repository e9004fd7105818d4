"""kube-aggregator's APIServices: one local APIService per served group-version, and the availability of the rest.

Three controllers of staging/src/k8s.io/kube-aggregator, as far as a sandbox without API aggregation needs them:

- the autoregister controller (pkg/controllers/autoregister/autoregister_controller.go ``checkAPIService``), fed
  as kube-apiserver feeds it: pkg/controlplane/apiserver/aggregator.go ``apiServicesToRegister`` names every
  built-in group-version that has a priority (``DefaultGenericAPIServicePriorities``, and pkg/controlplane/
  aggregator.go's for the kube groups) to sync once at start (label ``kube-aggregator.kubernetes.io/automanaged:
  onstart``), and pkg/controlplane/controller/crdregistration ``handleVersionUpdate`` names every served version of
  a CustomResourceDefinition to sync always (``true``: a deleted one comes back), with ``groupPriorityMinimum``
  1000 and ``versionPriority`` 100. An APIService without the label is the user's and is left alone; a labelled
  one nobody wants any more is deleted.
- the local availability controller (pkg/controllers/status/local): a local APIService (no ``service``) is
  ``Available`` ``True``, reason ``Local``.
- the remote availability controller (pkg/controllers/status/remote/remote_available_controller.go ``sync``): an
  APIService backed by a Service is ``Available`` ``False`` with ``ServiceNotFound``, ``ServicePortError``,
  ``EndpointsNotFound`` or ``MissingEndpoints``, re-checked when its Service or Endpoints change; past those
  checks the aggregator would GET the group-version's discovery document through the Service. The sandbox does
  not proxy to aggregated API servers, so that check fails as it does when nothing answers:
  ``FailedDiscoveryCheck``.

The availability checks run on a worker thread, as the aggregator's queue does: a status written from inside a
store subscriber would reach watches before the write that caused it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubeapi import crds
from gloo_nb.sandbox.kubeapi.discovery import group_versions
from gloo_nb.sandbox.store import ApiError, Identity, Store, WatchEvent
from gloo_nb.sandbox.validation import LOCAL_AVAILABLE

__all__ = ["AGGREGATOR", "AUTOMANAGED_LABEL", "BUILTIN_PRIORITIES", "APIServices", "availability",
           "desired_api_services"]

log = logging.getLogger(__name__)

AGGREGATOR = Identity("system:apiserver", ("system:masters", "system:authenticated"))
"""Who writes APIServices: kube-aggregator's controllers run in the apiserver with its loopback client."""

AUTOMANAGED_LABEL = "kube-aggregator.kubernetes.io/automanaged"
"""autoregister_controller.go ``AutoRegisterManagedLabel``: ``onstart`` or ``true``."""

BUILTIN_PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    # pkg/controlplane/apiserver/aggregator.go DefaultGenericAPIServicePriorities ...
    ("", "v1"): (18000, 1),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),  # issue 20: ValidatingWebhookConfigurations are served
    # ... and pkg/controlplane/aggregator.go's kube groups.
    ("apps", "v1"): (17800, 15),
    ("batch", "v1"): (17400, 15),
}
"""``(groupPriorityMinimum, versionPriority)`` of the built-in group-versions the sandbox serves. A group-version
without one gets no APIService (``makeAPIService`` returns nil), as ``apiregistration.k8s.io`` itself."""

_CRD_PRIORITY = (1000, 100)  # crdregistration_controller.go: "CRDs should have relatively low priority"
_ON_START, _ALWAYS = "onstart", "true"


def _api_service(group: str, version: str, priority: tuple[int, int], manage: str) -> dict[str, Any]:
    return {"apiVersion": kinds.API_SERVICE.api_version, "kind": kinds.API_SERVICE.kind,
            "metadata": {"name": f"{version}.{group}", "labels": {AUTOMANAGED_LABEL: manage}},
            "spec": {"group": group, "version": version, "groupPriorityMinimum": priority[0],
                     "versionPriority": priority[1]}}


def desired_api_services(store: Store) -> dict[str, dict[str, Any]]:
    """Return the local APIServices kube-apiserver would register for what the sandbox serves, by name.

    Args:
        store: The store (the CustomResourceDefinitions are read from it).

    Returns:
        ``{"v1.apps": {...}, "v1.gateway.solo.io": {...}}``: objects to create, labelled ``onstart`` (built-in)
        or ``true`` (a CRD's).
    """
    out: dict[str, dict[str, Any]] = {}
    for group, version in group_versions():
        priority = BUILTIN_PRIORITIES.get((group, version))
        if priority is not None:
            obj = _api_service(group, version, priority, _ON_START)
            out[obj["metadata"]["name"]] = obj
    for crd in crds.all_crds(store):
        spec = crd["spec"]
        for served in spec.get("versions") or []:
            if served.get("served"):
                obj = _api_service(spec["group"], served["name"], _CRD_PRIORITY, _ALWAYS)
                out[obj["metadata"]["name"]] = obj
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def availability(store: Store, api_service: dict[str, Any]) -> dict[str, str]:
    """Return an APIService's ``Available`` condition as kube-aggregator's controllers compute it (no timestamp).

    Args:
        store: Where its Service and Endpoints are.
        api_service: The APIService.

    Returns:
        ``{"type": "Available", "status", "reason", "message"}``.
    """
    spec = api_service.get("spec") or {}
    ref = spec.get("service")
    if not isinstance(ref, dict):
        return dict(LOCAL_AVAILABLE)
    ns, name, port = str(ref.get("namespace", "")), str(ref.get("name", "")), ref.get("port", 443)

    def unavailable(reason: str, message: str) -> dict[str, str]:
        return {"type": "Available", "status": "False", "reason": reason, "message": message}

    service = store.find(kinds.SERVICE, ns, name)
    if service is None:
        return unavailable("ServiceNotFound", f'service/{name} in "{ns}" is not present')
    svc_spec = service.get("spec") or {}
    if svc_spec.get("type", "ClusterIP") == "ClusterIP":
        port_name = next((str(p.get("name") or "") for p in svc_spec.get("ports") or []
                          if isinstance(p, dict) and p.get("port") == port), None)
        if port_name is None:
            return unavailable("ServicePortError", f'service/{name} in "{ns}" is not listening on port {port}')
        endpoints = store.find(kinds.ENDPOINTS, ns, name)
        if endpoints is None:
            return unavailable("EndpointsNotFound", f'cannot find endpoints for service/{name} in "{ns}"')
        active = any(subset.get("addresses") and any(str(p.get("name") or "") == port_name
                                                     for p in subset.get("ports") or [])
                     for subset in endpoints.get("subsets") or [])
        if not active:
            return unavailable("MissingEndpoints", f'endpoints for service/{name} in "{ns}" have no addresses with '
                                                   f'port name "{port_name}"')
    # The discovery check: pkg/apiserver's ClusterIP service resolver (kube-apiserver's default without
    # --enable-aggregator-routing) and the discovery path, /api/v1 for "v1." and /apis/GROUP/VERSION otherwise.
    host = svc_spec.get("externalName") if svc_spec.get("type") == "ExternalName" else svc_spec.get("clusterIP")
    path = (f"/api/{spec.get('version', '')}" if api_service["metadata"]["name"] == "v1."
            else f"/apis/{spec.get('group', '')}/{spec.get('version', '')}")
    url = f"https://{host}:{port}{path}"
    return unavailable("FailedDiscoveryCheck", f'failing or missing response from {url}: Get "{url}": the sandbox '
                                               "does not proxy to aggregated API servers")


def _with_condition(obj: dict[str, Any], condition: dict[str, str]) -> dict[str, Any]:
    # apiregistration/v1/helper SetAPIServiceCondition: the lastTransitionTime moves only when the status does.
    if not isinstance(obj.get("status"), dict):
        obj["status"] = {}
    status = obj["status"]
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    old = next((c for c in conditions if c.get("type") == condition["type"]), None)
    since = old.get("lastTransitionTime") if old is not None and old.get("status") == condition["status"] else None
    new = {"type": condition["type"], "status": condition["status"], "lastTransitionTime": since or _now(),
           "reason": condition["reason"], "message": condition["message"]}
    status["conditions"] = [new if c is old else c for c in conditions] if old is not None else [*conditions, new]
    return obj


class APIServices:
    """The autoregister and availability controllers over one store.

    Args:
        store: The object store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._detach: list[Callable[[], None]] = []
        self._queue: queue.Queue[tuple[str, ...] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._always: dict[str, dict[str, Any]] = {}
        self._marks: dict[str, threading.Event] = {}

    def attach(self) -> None:
        """Start: register the local APIServices (once), then keep the CRDs' and every availability in line."""
        if self._detach:
            return
        self.register()
        self._detach.append(self.store.subscribe(self._on_event))
        self._thread = threading.Thread(target=self._run, name="sandbox-apiservices", daemon=True)
        self._thread.start()
        for obj in self.store.list(kinds.API_SERVICE)[0]:
            self._queue.put(("sync", obj["metadata"]["name"]))

    def detach(self) -> None:
        """Stop watching the store and join the worker."""
        while self._detach:
            self._detach.pop()()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(10)
            self._thread = None

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queued check ran (for tests).

        Args:
            timeout: Seconds to wait at most.

        Returns:
            Whether the queue emptied in time.
        """
        done = threading.Event()
        self._marks[str(id(done))] = done
        self._queue.put(("mark", str(id(done))))
        return done.wait(timeout)

    def register(self) -> None:
        """Run the autoregister controller's start-up sync: create, update or delete the automanaged APIServices."""
        desired = desired_api_services(self.store)
        self._always = {name: obj for name, obj in desired.items()
                        if obj["metadata"]["labels"][AUTOMANAGED_LABEL] == _ALWAYS}
        current = {obj["metadata"]["name"]: obj for obj in self.store.list(kinds.API_SERVICE)[0]}
        for name in sorted(set(desired) | set(current)):
            self._check(name, desired.get(name), current.get(name))

    def _check(self, name: str, want: dict[str, Any] | None, have: dict[str, Any] | None) -> None:
        # checkAPIService's table: create what is missing; leave an APIService without the automanaged label alone
        # (the user's); delete an automanaged one nobody wants; update an automanaged one whose spec drifted.
        store = self.store
        try:
            if have is None:
                if want is not None:
                    store.create(kinds.API_SERVICE, want, identity=AGGREGATOR)
                return
            if AUTOMANAGED_LABEL not in (have["metadata"].get("labels") or {}):
                return
            if want is None:
                store.delete(kinds.API_SERVICE, None, name, identity=AGGREGATOR)
                return
            if have.get("spec") == want["spec"] and have["metadata"]["labels"] == want["metadata"]["labels"]:
                return

            def mutate(obj: dict[str, Any], want: dict[str, Any] = want) -> dict[str, Any]:
                obj["spec"] = dict(want["spec"])
                obj["metadata"]["labels"] = {**(obj["metadata"].get("labels") or {}),
                                             **want["metadata"]["labels"]}
                return obj

            store.patch(kinds.API_SERVICE, None, name, mutate, identity=AGGREGATOR)
        except ApiError as exc:
            log.debug("APIService %s not synced: %s", name, exc.message)

    def sync(self, name: str) -> None:
        """Write one APIService's ``Available`` condition (no write when it is unchanged).

        Args:
            name: The APIService's name.
        """
        try:
            obj = self.store.get(kinds.API_SERVICE, None, name)
        except ApiError:
            return
        condition = availability(self.store, obj)
        with contextlib.suppress(ApiError):  # deleted meanwhile: nothing to report on
            self.store.patch(kinds.API_SERVICE, None, name, lambda o: _with_condition(o, condition),
                             identity=AGGREGATOR, subresource="status")

    def _on_event(self, event: WatchEvent) -> None:
        meta = event.object.get("metadata") or {}
        if event.kind is kinds.API_SERVICE:
            name = str(meta.get("name", ""))
            if event.type == "DELETED":
                if name in self._always:
                    self._queue.put(("register", name))
            else:
                self._queue.put(("sync", name))
                if name in self._always:
                    self._queue.put(("register", name))
        elif event.kind is kinds.SERVICE or event.kind is kinds.ENDPOINTS:
            self._queue.put(("backend", str(meta.get("namespace", "")), str(meta.get("name", ""))))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._handle(item)
            except Exception:  # a controller keeps going, as the aggregator's requeue does
                log.exception("APIService controller step %s failed", item)

    def _handle(self, item: tuple[str, ...]) -> None:
        what = item[0]
        if what == "mark":
            event = self._marks.pop(item[1], None)
            if event is not None:
                event.set()
        elif what == "sync":
            self.sync(item[1])
        elif what == "register":
            # manageContinuously: a CRD's APIService comes back when deleted and is put back when changed.
            try:
                have: dict[str, Any] | None = self.store.get(kinds.API_SERVICE, None, item[1])
            except ApiError:
                have = None
            self._check(item[1], self._always.get(item[1]), have)
        elif what == "backend":
            # The Service or Endpoints of some APIServices changed: check those (getAPIServicesFor).
            ns, name = item[1], item[2]
            for obj in self.store.list(kinds.API_SERVICE)[0]:
                ref = (obj.get("spec") or {}).get("service")
                if isinstance(ref, dict) and ref.get("namespace") == ns and ref.get("name") == name:
                    self.sync(obj["metadata"]["name"])
