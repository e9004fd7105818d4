"""The one way tests wait for something that happens asynchronously (as it does on a cluster).

``wait_until`` replaces the per-module helpers (``wait_for``, ``eventually``, ``until``) and the inline
``while time.monotonic() < deadline`` loops: on a timeout it fails naming what was awaited and the last
value seen, so a failure on a loaded machine says how far things got.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T], what: str, *, timeout: float = 15.0, until: Callable[[T], object] = bool,
               ignoring: tuple[type[BaseException], ...] = (), interval: float = 0.05) -> T:
    """Call ``probe`` until ``until(value)`` holds and return that value.

    Args:
        probe: Reads the current state (it may return the value the test goes on with).
        what: What is awaited, in words, for the failure message.
        timeout: Seconds before giving up: generous, since a success returns at once and a shared
            machine may be slow.
        until: When the value is the awaited one; by default, when it is truthy.
        ignoring: Exceptions from ``probe`` that mean "not yet" (e.g. ``OSError`` while a port opens);
            the last one is reported as the last value.
        interval: Seconds between two calls.

    Returns:
        The first value that satisfied ``until``.

    Raises:
        AssertionError: On timeout, naming ``what`` and the last value (or exception) seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except ignoring as err:
            last: object = err
        else:
            if until(value):
                return value
            last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)
