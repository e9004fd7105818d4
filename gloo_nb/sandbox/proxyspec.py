"""``--proxy NAME[:REPLICAS]``: which gateway proxies a sandbox runs, and how many replicas each.

Pure: no I/O, so the CLI checks its arguments before anything starts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gloo_nb.errors import UsageError

__all__ = ["DEFAULT_PROXIES", "MAX_REPLICAS", "parse_proxy_spec", "parse_proxy_specs"]

DEFAULT_PROXIES: tuple[tuple[str, int], ...] = (("gateway-proxy", 2),)
"""What a sandbox runs without ``--proxy``: two ``gateway-proxy`` replicas."""

MAX_REPLICAS = 16
"""More Envoys than this do not fit a 2-core machine next to everything else."""

# A proxy name becomes pod, Service and Gateway names (<name>-<i>, <name>-ssl): a DNS label, with room.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$")


def parse_proxy_spec(text: str, *, default_replicas: int = 2) -> tuple[str, int]:
    """Read one ``NAME[:REPLICAS]``.

    Args:
        text: The argument, e.g. ``gateway-proxy:2`` or ``internal``.
        default_replicas: Replicas when the argument gives none.

    Returns:
        ``(name, replicas)``.

    Raises:
        UsageError: A name that is not a DNS label (lowercase letters, digits and ``-``, at most 50
            characters) or replicas that are not a whole number from 1 to :data:`MAX_REPLICAS`.
    """
    name, sep, count = text.partition(":")
    if not _NAME.match(name):
        raise UsageError(f"--proxy {text!r}: the proxy name must be a DNS label (lowercase letters, digits "
                         f"and '-', at most 50 characters), e.g. --proxy gateway-proxy:2")
    replicas = default_replicas
    if sep:
        if not count.isdigit():
            raise UsageError(f"--proxy {text!r}: REPLICAS must be a whole number, e.g. --proxy {name}:2")
        replicas = int(count)
    if not 1 <= replicas <= MAX_REPLICAS:
        raise UsageError(f"--proxy {text!r}: replicas must be from 1 to {MAX_REPLICAS}, got {replicas}")
    return name, replicas


def parse_proxy_specs(texts: Sequence[str] | None, *, default_replicas: int = 2) -> list[tuple[str, int]]:
    """Read every ``--proxy``, refusing a proxy named twice.

    Args:
        texts: The arguments; None or empty: ``gateway-proxy`` with ``default_replicas``.
        default_replicas: Replicas of an argument that gives none (``--replicas``).

    Returns:
        ``(name, replicas)`` in the order given.

    Raises:
        UsageError: A bad argument (:func:`parse_proxy_spec`) or a name given twice.
    """
    if not texts:
        return [(DEFAULT_PROXIES[0][0], default_replicas)]
    out = [parse_proxy_spec(t, default_replicas=default_replicas) for t in texts]
    names = [n for n, _ in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"--proxy {twice[0]} is given more than once; give each proxy once, e.g. --proxy {twice[0]}:2")
    return out
