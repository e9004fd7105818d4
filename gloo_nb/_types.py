"""Small shared type aliases for gloo_nb's pure core."""

from __future__ import annotations

from typing import Any, Literal

from gloo_nb.errors import UsageError

JSON = dict[str, Any]
"""A decoded JSON/YAML object."""

Profile = Literal["1.3", "current"]
"""Gloo behaviour profile: ``1.3`` (the blog era) or ``current`` (Gloo >= 1.12)."""

PROFILES: tuple[Profile, ...] = ("1.3", "current")

Severity = Literal["error", "warning"]
"""Severity of a finding, as Gloo reports it."""


def check_profile(value: object, *, source: str = "") -> Profile:
    """Return ``value`` as a profile: the one parser of a profile string, wherever it comes from.

    Args:
        value: The profile name to check (from a flag, a bundle, a journal, ``endpoints.json``...).
        source: Where it was read, for the message, e.g. ``bundle.json: glooVersion``.

    Returns:
        The profile name, typed.

    Raises:
        UsageError: When the value is not a known profile (any type: files hold what they hold).
    """
    if value == "1.3":
        return "1.3"
    if value == "current":
        return "current"
    shown = repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"
    where = f"{source}: " if source else ""
    raise UsageError(f"{where}unknown Gloo version {shown[:80]}: use one of {', '.join(PROFILES)}")
