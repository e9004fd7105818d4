"""The sandbox's audit log: ``audit.k8s.io/v1`` ``Event`` JSON lines, as kube-apiserver's log backend writes them.

Each line of ``<state dir>/audit.jsonl`` is one ``Event`` (``k8s.io/apiserver/pkg/apis/audit/v1/types.go``), its
fields in the order Go's encoder writes the struct: ``kind``, ``apiVersion``, ``level``, ``auditID``, ``stage``,
``requestURI``, ``verb``, ``user``, ``impersonatedUser``, ``sourceIPs``, ``userAgent``, ``objectRef``,
``responseStatus``, ``requestObject``, ``responseObject``, ``requestReceivedTimestamp``, ``stageTimestamp``
(MicroTime), ``annotations`` (a Go map: keys sorted).

The sandbox's policy (written to ``<state dir>/audit-policy.yaml`` as a real ``audit.k8s.io/v1`` ``Policy``):

* ``omitStages: [RequestReceived]``: only ``ResponseComplete`` is written, once per request.
* Reads (``get``, ``list``, ``watch``) are level ``None``: not written.
* Secrets are always ``Metadata`` (their content never reaches the log), as the example policy of the Kubernetes
  documentation ("Auditing", ``audit-policy.yaml``) does.
* Every other write at the level chosen when the sandbox starts (``--audit-level``, default ``RequestResponse``).

Requests that cross the API port are written by the API server once their outcome is known (refused ones and dry
runs too: :mod:`gloo_nb.sandbox.kubeapi.server`); writes of the sandbox's own in-process components (kubelet,
controllers, Gloo) are written by the store, as a real cluster audits its controllers' requests.

The sandbox adds one annotation of its own, :data:`RV_ANNOTATION`: the resourceVersion the write stored (Kubernetes'
``objectRef.resourceVersion`` is the *request's*), so that a ``Metadata``-level line can be matched to the watch
event of the same write.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from gloo_nb.errors import UsageError
from gloo_nb.models.audit import SANDBOX_RV_ANNOTATION

__all__ = ["DEFAULT_LEVEL", "LEVELS", "MUTATING_VERBS", "RV_ANNOTATION", "AuditPolicy", "RequestAudit",
           "current_request", "event_line", "merge_patch", "micro_time", "object_ref"]

LEVELS = ("Metadata", "Request", "RequestResponse")
"""The levels a sandbox's policy may choose for writes (``None`` is what reads get)."""
DEFAULT_LEVEL = "RequestResponse"
MUTATING_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
"""The verbs written to the audit log."""
RV_ANNOTATION = SANDBOX_RV_ANNOTATION
"""The sandbox's own annotation: the resourceVersion the write stored (comma-separated for a ``deletecollection``
that removed several objects); absent when nothing was stored (refused, dry run, no-op)."""
DECISION = "authorization.k8s.io/decision"
REASON = "authorization.k8s.io/reason"

_ORDER = {level: i for i, level in enumerate(("None", *LEVELS))}


@dataclass(frozen=True, slots=True)
class AuditPolicy:
    """What the sandbox audits and at which level.

    Args:
        level: The level of writes other than Secrets: ``Metadata``, ``Request`` or ``RequestResponse``.

    Raises:
        UsageError: An unknown level.
    """

    level: str = DEFAULT_LEVEL

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise UsageError(f"--audit-level {self.level!r} is not one of {', '.join(LEVELS)}")

    def level_for(self, verb: str, api_group: str, resource: str) -> str:
        """The level of one request (``None``: not written).

        Args:
            verb: The request's verb.
            api_group: The resource's API group (empty for core).
            resource: The resource (plural).

        Returns:
            ``None``, ``Metadata``, ``Request`` or ``RequestResponse``.
        """
        if verb not in MUTATING_VERBS:
            return "None"
        if api_group == "" and resource == "secrets":
            return "Metadata"
        return self.level

    def document(self) -> dict[str, Any]:
        """This policy as an ``audit.k8s.io/v1`` ``Policy`` (rules are matched first to last, as kube-apiserver does).

        Returns:
            The document.
        """
        return {
            "apiVersion": "audit.k8s.io/v1", "kind": "Policy",
            "omitStages": ["RequestReceived"],
            "rules": [
                {"level": "None", "verbs": ["get", "list", "watch"]},
                {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]},
                {"level": self.level, "verbs": sorted(MUTATING_VERBS)},
                {"level": "None"},
            ],
        }

    def includes(self, level: str, wanted: str) -> bool:
        """Whether ``level`` logs at least what ``wanted`` logs (``Request`` includes ``Metadata``)."""
        return _ORDER[level] >= _ORDER[wanted]


@dataclass(slots=True)
class RequestAudit:
    """The writes one API request committed, collected by the store while the API server handles the request.

    Attributes:
        committed: ``(resourceVersion, stored object)`` of each object the request wrote, in order.
        open: False once the request was answered. asyncio copies the context into every callback and task made
            while the request runs (``call_soon_threadsafe`` from a store subscriber): a write they make later is
            an in-process write, not this request's.
    """

    committed: list[tuple[int, Mapping[str, Any]]] = field(default_factory=list)
    open: bool = True


current_request: ContextVar[RequestAudit | None] = ContextVar("gloo_nb_sandbox_audit_request", default=None)
"""Set by the API server around one mutating request: the store then hands its commits to the request (which the
server writes as one event with the request's outcome) instead of writing an in-process event. A ContextVar, so
each aiohttp task and each thread sees its own."""


def micro_time(t: float) -> str:
    """``metav1.MicroTime`` as JSON: RFC 3339 with exactly six fractional digits, UTC (``...49.952601Z``)."""
    # isoformat with a fixed timespec always writes six digits (and is several times faster than strftime).
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def object_ref(resource: str, namespace: str, name: str, api_group: str, api_version: str, *,
               resource_version: str = "", subresource: str = "") -> dict[str, str]:
    """An ``ObjectReference`` in Go's field order, empty fields omitted (all are ``omitempty``).

    Args:
        resource: The resource (plural).
        namespace: The namespace, or empty.
        name: The name, or empty.
        api_group: The API group; empty for core (then omitted).
        api_version: The version within the group.
        resource_version: The request's resourceVersion, or empty.
        subresource: The subresource, or empty.

    Returns:
        The reference.
    """
    ref = {"resource": resource}
    if namespace:
        ref["namespace"] = namespace
    if name:
        ref["name"] = name
    if api_group:
        ref["apiGroup"] = api_group
    ref["apiVersion"] = api_version
    if resource_version:
        ref["resourceVersion"] = resource_version
    if subresource:
        ref["subresource"] = subresource
    return ref


def _user(name: str, groups: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {"username": name, "groups": list(groups)}


def event_line(*, level: str, verb: str, request_uri: str, user: str, groups: tuple[str, ...] | list[str],
               impersonated: tuple[str, tuple[str, ...]] | None, user_agent: str, ref: Mapping[str, str],
               code: int, status: Mapping[str, Any] | None, request_object: Any, response_object: Any,
               received: float, completed: float, decision: str, reason: str = "",
               written: list[int] | None = None, source_ip: str = "127.0.0.1") -> bytes:
    """One ``ResponseComplete`` event as the JSON line kube-apiserver's log backend writes.

    Args:
        level: ``Metadata``, ``Request`` or ``RequestResponse``; the objects are dropped below their level.
        verb: The request's verb.
        request_uri: Path and query as the client sent them.
        user: The authenticated user.
        groups: Its groups.
        impersonated: ``(user, groups)`` the request acted as, when impersonated.
        user_agent: The ``User-Agent`` header.
        ref: The ``objectRef`` (:func:`object_ref`).
        code: The HTTP status answered.
        status: For an error, the ``Status`` answered (its bounded fields are copied, as
            ``k8s.io/apiserver/pkg/audit/context.go`` ``LogResponseObject`` does); None for a success.
        request_object: The request body (the patch for a patch), or None.
        response_object: The body answered (the ``Status`` for an error), or None.
        received: When the request arrived (epoch seconds).
        completed: When it was answered.
        decision: ``allow`` or ``forbid`` (the authorizer's decision).
        reason: The authorizer's reason.
        written: resourceVersions the request stored (:data:`RV_ANNOTATION`).
        source_ip: The client's address.

    Returns:
        The line, newline-terminated.
    """
    event: dict[str, Any] = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level,
                             "auditID": str(uuid.uuid4()), "stage": "ResponseComplete", "requestURI": request_uri,
                             "verb": verb, "user": _user(user, groups)}
    if impersonated is not None:
        event["impersonatedUser"] = _user(*impersonated)
    event["sourceIPs"] = [source_ip]
    if user_agent:
        event["userAgent"] = user_agent
    event["objectRef"] = ref
    response_status: dict[str, Any] = {"metadata": {}}
    if status is not None:
        for key in ("status", "message", "reason", "details"):
            if status.get(key):
                response_status[key] = status[key]
    response_status["code"] = code
    event["responseStatus"] = response_status
    if level != "Metadata" and request_object is not None:
        event["requestObject"] = request_object
    if level == "RequestResponse" and response_object is not None:
        event["responseObject"] = response_object
    event["requestReceivedTimestamp"] = micro_time(received)
    event["stageTimestamp"] = micro_time(completed)
    annotations = {DECISION: decision, REASON: reason}
    if written:
        annotations[RV_ANNOTATION] = ",".join(str(rv) for rv in written)
    event["annotations"] = dict(sorted(annotations.items()))
    return orjson.dumps(event) + b"\n"


def merge_patch(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``: what an in-process patch is logged as.

    Args:
        old: The object before.
        new: The object after.

    Returns:
        The patch (``{}`` when nothing changed).
    """
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_patch(old[key], value)
    for key in old:
        if key not in new:
            patch[key] = None
    return patch
