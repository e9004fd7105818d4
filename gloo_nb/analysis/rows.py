"""The one shape of a decoded Envoy route that every analysis reads.

:class:`gloo_nb.translate.routes.RouteRow` (the one route row) has it; analyses take this Protocol so that
tests can hand in small stand-ins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class RouteRowLike(Protocol):
    """A decoded Envoy route of one source (``intent``, ``served`` or a replica).

    A row may also carry ``fingerprint``, ``settings`` and ``opaque`` (:class:`gloo_nb.translate.routes.RouteRow`
    does): drift compares a replica with served by them when both have them (:func:`gloo_nb.analysis.drift.differs`),
    and by the action summary otherwise (stand-ins, rows of journals written before fingerprints).
    """

    @property
    def source(self) -> str: ...  # noqa: D102
    @property
    def route_configuration(self) -> str: ...  # noqa: D102
    @property
    def virtual_host(self) -> str: ...  # noqa: D102
    @property
    def domains(self) -> tuple[str, ...]: ...  # noqa: D102
    @property
    def order(self) -> int: ...  # noqa: D102
    @property
    def name(self) -> str: ...  # noqa: D102
    @property
    def match(self) -> Mapping[str, Any]: ...  # noqa: D102
    @property
    def action(self) -> Mapping[str, Any]: ...  # noqa: D102
    @property
    def match_summary(self) -> str: ...  # noqa: D102
    @property
    def action_summary(self) -> str: ...  # noqa: D102
    @property
    def replaced(self) -> bool: ...  # noqa: D102
