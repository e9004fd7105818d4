"""The files shipped inside gloo_nb: the seed scenario's manifests and the seed incident's journals.

They live in the package (``gloo_nb/_data/``) and are found with :mod:`importlib.resources`, so they are
there when gloo_nb is installed from a wheel, not only in a checkout (where ``data/scenarios`` and
``data/journals`` are symlinks to the same folders).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from gloo_nb._types import check_profile
from gloo_nb.errors import BadDataError

__all__ = ["seed_incident_journal", "seed_scenario"]


def _shipped(*parts: str) -> Path:
    found = files("gloo_nb").joinpath("_data", *parts)
    # Readers take folders (a journal, a scenario part); a zipped install has none to hand them.
    if not isinstance(found, Path) or not found.is_dir():
        raise BadDataError(f"gloo_nb's shipped data {'/'.join(parts)} is not a folder on disk ({found}): "
                           f"install gloo_nb from a wheel or a checkout, not as a zip")
    return found


def seed_scenario(part: str | None = None) -> Path:
    """The seed scenario (the two-phase canary of the Gloo blog), as shipped with gloo_nb.

    Args:
        part: ``"part1"`` or ``"part2"`` for that part's folder; None for the scenario's folder (it also
            holds ``rbac.yaml``).

    Returns:
        The folder of Kubernetes YAML files.

    Raises:
        BadDataError: gloo_nb is installed without its data on disk (a zip).
    """
    return _shipped("scenarios", "two-phase-canary", *((part,) if part else ()))


def seed_incident_journal(profile: str = "1.3") -> Path:
    """The journal of the seed incident, recorded from a sandbox (``scripts/record_seed_incident.py``).

    Args:
        profile: ``1.3`` (default): the seed incident on a Gloo 1.3 sandbox (``seed-incident``); ``current``: the
            same steps recorded on a ``current`` sandbox (``seed-incident-current``, no incident: Gloo >= 1.12
            replaces invalid routes), notebook 04's second cluster.

    Returns:
        The journal folder (for :func:`gloo_nb.load_timeline` or :func:`gloo_nb.read_journal`).

    Raises:
        BadDataError: gloo_nb is installed without its data on disk (a zip).
        UsageError: ``profile`` is not ``1.3`` or ``current``.
    """
    check_profile(profile, source="seed_incident_journal: profile")
    return _shipped("journals", "seed-incident" if profile == "1.3" else f"seed-incident-{profile}")
