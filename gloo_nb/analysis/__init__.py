"""Analyses on plain rows, as pandas frames: routes, findings, drift between intent, served and applied."""

from gloo_nb.analysis.drift import STATES, DriftInputs, DriftRow, RouteKey, SourceCell, drift_rows, route_key
from gloo_nb.analysis.frames import drift_frame, findings_frame, route_records, routes_frame

__all__ = ["STATES", "DriftInputs", "DriftRow", "RouteKey", "SourceCell", "drift_frame", "drift_rows",
           "findings_frame", "route_key", "route_records", "routes_frame"]
