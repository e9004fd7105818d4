"""gloo_nb: look inside a Gloo Edge gateway, roll services out through it, analyse incidents.

The public API is what ``import gloo_nb`` offers (:data:`__all__`); everything else is internal,
even where a module has no leading underscore. In one minute:

Look
    ``connect(kubeconfig=..., context=...)``, ``connect_sandbox(dir)``, ``open_snapshot(dir)`` give a
    connection or a bundle whose ``collect()`` is an inspection (routes, drift, findings as frames);
    ``open_gateway(...)`` does the same from a notebook's papermill parameters (and can start its own
    sandbox with the seed scenario); ``translate(resources, profile)`` is Gloo's translation alone;
    ``compare(resources, "1.3,current")`` says what the other Gloo version would do differently;
    ``probe(url, n)`` sends real requests and counts the answers.
Act
    ``Rollout(conn, RolloutTarget.parse(...))``: the two-phase canary, one step per ``next()``.
Remember
    ``read_journal(dir)``, ``load_timeline(dir)``, ``incident_summary(timeline)``,
    ``timeline_figure(timeline)``; ``seed_incident_journal()`` is the journal shipped with gloo_nb and
    ``seed_scenario()`` the seed scenario's manifests. When nobody recorded, ``import_journal(audit_logs, out,
    access_logs=...)`` rebuilds a journal from a cluster's audit log and Envoy's access logs
    (``seed_incident_logs()``: the seed incident's).
Widgets
    ``DelegationTreeView``, ``DriftGridView``, ``InvalidRoutesView``, ``ProbeView``, ``RolloutStepper``,
    ``TimeTravelView`` (with ``inspection_at``), ``TrafficWeightsView``, ``TryRequestView`` (with
    ``http_fetch``).
Errors
    ``GlooNbError`` and its groups ``UsageError``, ``UnreachableError``, ``BadDataError``,
    ``RolloutError`` (with ``RolloutConflict`` and ``RolloutStopped``); ``ParseError`` names file,
    document and field. The tree is drawn in :mod:`gloo_nb.errors`.

Everything but the errors is imported on first use, so ``import gloo_nb`` (and ``import gloo_nb.models``)
stays light: no pandas, ipywidgets, grpc or Envoy protos until a name that needs them is touched.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from gloo_nb.errors import (
    BadDataError,
    GlooNbError,
    ParseError,
    RolloutConflict,
    RolloutError,
    UnreachableError,
    UsageError,
)

if TYPE_CHECKING:
    from gloo_nb.analysis.incident import incident_summary, timeline_figure
    from gloo_nb.analysis.inspection import inspection_at
    from gloo_nb.analysis.timeline import load_timeline
    from gloo_nb.app.connect import connect, connect_sandbox
    from gloo_nb.app.journal_import import import_journal
    from gloo_nb.app.notebook import open_gateway
    from gloo_nb.app.probe import probe
    from gloo_nb.app.resources import seed_incident_journal, seed_incident_logs, seed_scenario
    from gloo_nb.app.rollout import Rollout, RolloutStopped
    from gloo_nb.app.snapshot import open_snapshot
    from gloo_nb.journal import read_journal
    from gloo_nb.rollout import RolloutTarget
    from gloo_nb.translate import compare, translate
    from gloo_nb.widgets import (
        DelegationTreeView,
        DriftGridView,
        InvalidRoutesView,
        ProbeView,
        RolloutStepper,
        TimeTravelView,
        TrafficWeightsView,
        TryRequestView,
        http_fetch,
    )

__version__ = "0.1.0"

_LAZY = {
    "connect": "gloo_nb.app.connect",
    "connect_sandbox": "gloo_nb.app.connect",
    "open_snapshot": "gloo_nb.app.snapshot",
    "open_gateway": "gloo_nb.app.notebook",
    "translate": "gloo_nb.translate",
    "compare": "gloo_nb.translate",
    "probe": "gloo_nb.app.probe",
    "Rollout": "gloo_nb.app.rollout",
    "RolloutStopped": "gloo_nb.app.rollout",
    "RolloutTarget": "gloo_nb.rollout",
    "read_journal": "gloo_nb.journal",
    "load_timeline": "gloo_nb.analysis.timeline",
    "incident_summary": "gloo_nb.analysis.incident",
    "timeline_figure": "gloo_nb.analysis.incident",
    "seed_scenario": "gloo_nb.app.resources",
    "seed_incident_journal": "gloo_nb.app.resources",
    "seed_incident_logs": "gloo_nb.app.resources",
    "import_journal": "gloo_nb.app.journal_import",
    **{name: "gloo_nb.widgets" for name in (
        "DelegationTreeView", "DriftGridView", "InvalidRoutesView", "ProbeView", "RolloutStepper", "TimeTravelView",
        "TrafficWeightsView", "TryRequestView", "http_fetch")},
    "inspection_at": "gloo_nb.analysis.inspection",
}
"""Public name -> the module that defines it, imported on first use."""

__all__ = [
    "BadDataError",
    "DelegationTreeView",
    "DriftGridView",
    "GlooNbError",
    "InvalidRoutesView",
    "ParseError",
    "ProbeView",
    "Rollout",
    "RolloutConflict",
    "RolloutError",
    "RolloutStepper",
    "RolloutStopped",
    "RolloutTarget",
    "TimeTravelView",
    "TrafficWeightsView",
    "TryRequestView",
    "UnreachableError",
    "UsageError",
    "__version__",
    "compare",
    "connect",
    "connect_sandbox",
    "http_fetch",
    "incident_summary",
    "import_journal",
    "inspection_at",
    "load_timeline",
    "open_gateway",
    "open_snapshot",
    "probe",
    "read_journal",
    "seed_incident_journal",
    "seed_incident_logs",
    "seed_scenario",
    "timeline_figure",
    "translate",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'gloo_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _PublicModule(types.ModuleType):
    """``gloo_nb`` itself: keeps the public ``translate`` function from being replaced by the subpackage.

    Importing a submodule sets it as an attribute of its parent; ``import gloo_nb.translate.render``
    anywhere would then turn ``gloo_nb.translate`` from the function into the package. The package
    stays reachable as ``sys.modules["gloo_nb.translate"]`` and through every ``from ... import``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "translate" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _PublicModule
