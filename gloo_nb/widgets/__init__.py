"""Notebook widgets over the inspector: tree, drift grid, invalid routes, weights, "try a request", the probe.

Each view is an ``ipywidgets.VBox`` laid over a view-model from :mod:`gloo_nb.analysis.views`; views
never reach the cluster: they take an :class:`gloo_nb.app.connect.Inspection` (live or from a snapshot
bundle) and, where they send traffic, a callable passed in.
"""

from gloo_nb.widgets.drift import DriftGridView
from gloo_nb.widgets.invalid import InvalidRoutesView
from gloo_nb.widgets.probe import ProbeView
from gloo_nb.widgets.rollout import RolloutStepper
from gloo_nb.widgets.timeline import TimeTravel, TimeTravelView, inspection_at
from gloo_nb.widgets.tree import DelegationTreeView
from gloo_nb.widgets.try_request import TryRequestView, http_fetch
from gloo_nb.widgets.weights import TrafficWeightsView, weights_figure

__all__ = ["DelegationTreeView", "DriftGridView", "InvalidRoutesView", "ProbeView", "RolloutStepper",
           "TimeTravel", "TimeTravelView", "TrafficWeightsView", "TryRequestView", "http_fetch", "inspection_at",
           "weights_figure"]
