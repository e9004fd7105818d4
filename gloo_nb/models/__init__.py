"""Typed, immutable Gloo resources, findings and THE parser (``codec``)."""

from gloo_nb.models.findings import Finding, Skipped, Unmodelled
from gloo_nb.models.resources import *  # noqa: F403
from gloo_nb.models.resources import KIND_TYPES, Resource, ResourceKey
from gloo_nb.models.snapshot import Snapshot

__all__ = ["KIND_TYPES", "Finding", "Resource", "ResourceKey", "Skipped", "Snapshot", "Unmodelled"]
