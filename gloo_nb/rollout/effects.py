"""The rollout's effects and observations: the only vocabulary between the step machine and its runner.

The step machine (:mod:`gloo_nb.rollout.machine`) is a generator: it yields an effect, the runner
(:mod:`gloo_nb.app.rollout`) performs it against the world (Kubernetes, xDS, Envoy, the journal)
and sends back the observation named on each effect. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gloo_nb._types import Profile
from gloo_nb.models.snapshot import Snapshot
from gloo_nb.rollout.signals import LatencySignal

# --- effects (machine -> runner) --------------------------------------------------------------


@dataclass(frozen=True)
class Observe:
    """Read the cluster. Observation: :class:`World`.

    Attributes:
        reason: Why (for the journal).
    """

    reason: str


@dataclass(frozen=True)
class Apply:
    """Replace the RouteTable, guarded by its resourceVersion, as the team's identity.

    Observation: :class:`Applied`, :class:`Conflict` (HTTP 409) or :class:`Refused` (any other API error).

    Attributes:
        step: The step's id.
        manifest: The whole object to PUT (``metadata.resourceVersion`` set to the version it was computed from).
        diff: A unified diff of the RouteTable's YAML, live -> new.
    """

    step: str
    manifest: Mapping[str, Any]
    diff: str


@dataclass(frozen=True)
class DryRun:
    """Send the step's exact write with ``dryRun=All``: admission runs (Gloo's webhook), nothing is written.

    Observation: :class:`Applied` (admitted), :class:`Conflict` (HTTP 409) or :class:`Refused` (the admission's
    denial, or a webhook that does not support dry run). Only yielded when :attr:`World.server_dry_run`.

    Kubernetes runs every admission plugin on a dry run and skips only the storage write
    (``k8s.io/apiserver/pkg/endpoints/handlers/update.go`` ``UpdateResource``: ``dryrun.IsDryRun(options.DryRun)``
    goes into the admission attributes and to the store, whose ``DryRunnableStorage.GuaranteedUpdate``,
    ``k8s.io/apiserver/pkg/registry/generic/registry/dryrun.go``, does not persist); a validating webhook is called
    only when it declares ``sideEffects: None`` or ``NoneOnDryRun`` (``admission/plugin/webhook/validating/
    dispatcher.go`` ``callHook``), else the request fails with ``NewDryRunUnsupportedErr`` (``webhook/errors/
    statuserror.go``: 400, ``admission webhook "<name>" does not support dry run``).

    Attributes:
        step: The step's id.
        manifest: The whole object the step's :class:`Apply` will PUT.
    """

    step: str
    manifest: Mapping[str, Any]


@dataclass(frozen=True)
class Delete:
    """Delete an object (decommissioning the stable Deployment). Observation: :class:`Applied` or :class:`Refused`.

    Attributes:
        step: The step's id.
        kind: The kind (``Deployment``).
        namespace: Its namespace.
        name: Its name.
    """

    step: str
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True)
class AwaitConverged:
    """Wait until the control plane serves the RouteTable's routes as intended and every replica applied them.

    Observation: :class:`Converged`.

    Attributes:
        step: The step's id.
        resource: The RouteTable as ``ns/name``.
        expected: The Envoy routes the step should produce for this resource, as
            ``(virtual host, match summary, action summary)`` (empty: the resource's routes, whatever they are,
            in sync everywhere).
        timeout: Seconds before giving up.
    """

    step: str
    resource: str
    expected: tuple[tuple[str, str, str], ...] = ()
    timeout: float = 30.0


@dataclass(frozen=True)
class Probe:
    """Send real requests through the gateway and count which subset served them.

    Observation: :class:`ProbeObservation`.

    Attributes:
        step: The step's id.
        name: What this probe checks (``with-header``, ``without-header``).
        path: The request path.
        headers: Request headers.
        requests: How many requests.
        upstream: The Upstream as ``ns/name`` (its Envoy cluster's per-host counters attribute requests).
        subset_key: The subset label key.
        host: The Host header when the virtual host does not answer ``*``.
    """

    step: str
    name: str
    path: str
    headers: Mapping[str, str]
    requests: int
    upstream: str
    subset_key: str
    host: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """Remember a proven state. Observation: None.

    Attributes:
        step: The step's id.
        spec: The RouteTable's spec as applied and proven.
        served_version: The RouteConfiguration version the control plane served.
    """

    step: str
    spec: Mapping[str, Any]
    served_version: str


@dataclass(frozen=True)
class AwaitApproval:
    """Ask before a destructive action. Observation: bool (True: go on).

    Attributes:
        step: The step's id.
        question: What is asked.
    """

    step: str
    question: str


@dataclass(frozen=True)
class Record:
    """Write an event to the journal. Observation: None.

    Attributes:
        kind: The event kind (``rollout.plan``, ``rollout.guard``, ...).
        data: The event's data (JSON-serialisable).
    """

    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class StepDone:
    """A step ended (one notebook cell's worth). Observation: None.

    Attributes:
        step: The step's id.
        outcome: ``proven``, ``refused`` (a guard failed), ``failed`` (convergence or proof failed),
            ``conflict`` (another writer changed the managed routes), ``skipped`` (already done), ``dry-run``.
        reason: Why, in one line.
    """

    step: str
    outcome: str
    reason: str = ""


Effect = Observe | Apply | DryRun | Delete | AwaitConverged | Probe | Checkpoint | AwaitApproval | Record | StepDone


# --- observations (runner -> machine) ---------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What the cluster holds now.

    Attributes:
        profile: Gloo's behaviour profile.
        route_table: The team's RouteTable as Kubernetes returns it (None when absent).
        snapshot: Every Gloo resource, Service, Endpoints and Pod, parsed (what Gloo translates).
        deployments: The Deployments of the RouteTable's namespace, as returned (for decommissioning).
        served_version: The RouteConfiguration version the control plane serves now ("" unknown).
        proxy: The gateway proxy the rollout looks at and proves through (the connection's); None:
            the default one (``gateway-proxy`` when a Gateway names it).
        server_dry_run: Whether the runner can send a write with ``dryRun=All`` (a Kubernetes connection): the
            ``webhook`` guard then asks the API server (:class:`DryRun`) beside its own prediction.
        control_plane_down: Why Gloo's control plane cannot serve now (no ready gloo pod), ``""`` when it can or
            it cannot be told (:meth:`gloo_nb.app.gateway.GatewayConnection.control_plane_down`).
    """

    profile: Profile
    route_table: Mapping[str, Any] | None
    snapshot: Snapshot
    deployments: tuple[Mapping[str, Any], ...] = ()
    served_version: str = ""
    proxy: str | None = None
    server_dry_run: bool = False
    control_plane_down: str = ""


@dataclass(frozen=True)
class Applied:
    """The write went through.

    Attributes:
        resource_version: The object's new resourceVersion ("" for a delete).
    """

    resource_version: str = ""


@dataclass(frozen=True)
class Conflict:
    """The object changed since it was read (HTTP 409).

    Attributes:
        message: The API server's message.
    """

    message: str


@dataclass(frozen=True)
class Refused:
    """The API server refused the write (403, 422, ...).

    Attributes:
        message: The API server's message.
    """

    message: str


@dataclass(frozen=True)
class Converged:
    """How convergence went.

    Attributes:
        ok: Whether the control plane served the change and every replica applied it in time.
        served_seconds: Seconds from the start of waiting to served (None: never).
        applied_seconds: Per replica node id, seconds to applied (None: never).
        served_version: The RouteConfiguration version served at the end.
        detail: Why not, in one line (drift states and causes), "" when ok.
    """

    ok: bool
    served_seconds: float | None
    applied_seconds: Mapping[str, float | None] = field(default_factory=dict)
    served_version: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ProbeObservation:
    """What a probe saw.

    Attributes:
        sent: Requests sent.
        statuses: HTTP status -> count (0: connection error).
        by_subset: Subset value -> requests Envoy's per-host counters attribute to it (summed over replicas);
            ``""`` counts requests to hosts of the upstream's cluster without the subset key.
        other: Requests the counters saw beyond those sent (someone else's traffic), never negative.
        answers: First line of each distinct answer -> count (evidence for the journal).
        seconds: Wall time the probe took.
        errors_by_subset: Subset value -> requests Envoy's per-host ``rq_error`` counters attribute to it (summed
            over replicas): upstream 5xx answers (Envoy ``source/common/router/router.cc``
            ``Filter::chargeUpstreamCode``: ``if (upstream_host && is5xx(code)) rq_error_.inc()``) and retried
            resets; a golden signal of each subset beside the split. None when not measured (``{}``: none).
        latency_by_subset: Subset value -> p50/p99 of the probe's requests attributed to it, measured by the probe
            (:func:`gloo_nb.rollout.signals.attribute_latency`: only a probe whose requests all reached one
            subset is attributed; a split probe is under ``"*"``). None when not measured.
    """

    sent: int
    statuses: Mapping[int, int]
    by_subset: Mapping[str, int]
    other: int = 0
    answers: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    errors_by_subset: Mapping[str, int] | None = None
    latency_by_subset: Mapping[str, LatencySignal] | None = None


Observation = World | Applied | Conflict | Refused | Converged | ProbeObservation | bool | None
