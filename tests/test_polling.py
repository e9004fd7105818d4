"""The one wait helper: returns the awaited value, and fails naming what it awaited and the last value."""

from __future__ import annotations

import itertools

import pytest
from polling import wait_until

pytestmark = pytest.mark.unit


def test_returns_the_first_value_that_satisfies_until() -> None:
    counter = itertools.count()
    assert wait_until(lambda: next(counter), "3", until=lambda n: n >= 3, interval=0) == 3


def test_default_until_is_truthiness() -> None:
    values = iter([[], [], ["pod"]])
    assert wait_until(lambda: next(values), "a pod", interval=0) == ["pod"]


def test_timeout_names_what_and_the_last_value() -> None:
    counter = itertools.count()
    with pytest.raises(AssertionError, match=r"waiting for the answer; last seen: \d+"):
        wait_until(lambda: next(counter), "the answer", until=lambda n: n < 0, timeout=0.05, interval=0.01)


def test_ignored_exceptions_mean_not_yet_and_are_reported() -> None:
    def refused() -> int:
        raise ConnectionRefusedError("port closed")

    with pytest.raises(AssertionError, match="last seen: ConnectionRefusedError"):
        wait_until(refused, "a port", ignoring=(OSError,), timeout=0.05, interval=0.01)


def test_other_exceptions_propagate() -> None:
    with pytest.raises(KeyError):
        wait_until(lambda: {}["x"], "x", ignoring=(OSError,))
