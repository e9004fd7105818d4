"""Small shared type aliases for gloo_nb's pure core."""

from __future__ import annotations

from typing import Any, Literal

JSON = dict[str, Any]
"""A decoded JSON/YAML object."""

Profile = Literal["1.3", "current"]
"""Gloo behaviour profile: ``1.3`` (the blog era) or ``current`` (Gloo >= 1.12)."""

PROFILES: tuple[Profile, ...] = ("1.3", "current")

Severity = Literal["error", "warning"]
"""Severity of a finding, as Gloo reports it."""


def check_profile(value: str) -> Profile:
    """Return ``value`` as a profile, or raise ``ValueError`` naming the accepted ones.

    Args:
        value: The profile name to check.

    Returns:
        The profile name, typed.

    Raises:
        ValueError: When the value is not a known profile.
    """
    if value == "1.3":
        return "1.3"
    if value == "current":
        return "current"
    raise ValueError(f"unknown Gloo version {value!r}: use one of {', '.join(PROFILES)}")
