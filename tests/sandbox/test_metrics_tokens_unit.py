"""Units of the metrics API (Quantity and Duration forms, the on-request sampler) and of ServiceAccount tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from pathlib import Path

import pytest

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubeapi import metrics, tokens
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("nanocores", "text"), [
    (0, "0"), (123456789, "123456789n"), (5_000_000, "5m"), (1_500_000, "1500u"), (1_000_000_000, "1"),
    (2_500_000_000, "2500m"), (7, "7n")])
def test_cpu_is_decimal_si_in_canonical_form(nanocores: int, text: str) -> None:
    # apimachinery quantity.go CanonicalizeBytes of NewScaledQuantity(n, -9), DecimalSI.
    assert metrics.cpu_quantity(nanocores) == text


@pytest.mark.parametrize(("size", "text"), [
    (0, "0"), (1000, "1000"), (4096, "4Ki"), (73400320, "70Mi"), (73404416, "71684Ki"), (1025, "1025"),
    (3 * 1024 ** 3, "3Gi")])
def test_memory_is_binary_si_in_canonical_form(size: int, text: str) -> None:
    assert metrics.memory_quantity(size) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0s"), (0.3004, "300ms"), (1.5, "1.5s"), (12.034, "12.034s"), (60.25, "1m0.25s"), (3725.0, "1h2m5s")])
def test_window_is_go_duration_text(seconds: float, text: str) -> None:
    assert metrics.duration_string(seconds) == text


def test_the_sampler_measures_on_request_and_caches_a_second() -> None:
    sampler = metrics.Sampler()
    pid = os.getpid()

    async def run() -> tuple[metrics.Usage, metrics.Usage, float]:
        started = time.monotonic()
        first = (await sampler.usage([pid]))[pid]
        took = time.monotonic() - started
        again = (await sampler.usage([pid]))[pid]
        return first, again, took

    first, again, took = asyncio.run(run())
    # The first request takes two samples FIRST_INTERVAL apart; the second within a second reuses the result.
    assert took >= metrics.FIRST_INTERVAL and abs(first.window - metrics.FIRST_INTERVAL) < 0.2
    assert again is first and first.memory > 1024 * 1024 and first.nanocores >= 0
    assert asyncio.run(metrics.Sampler().usage([2 ** 22 + 12345])) == {}  # no such process: no metrics


def test_a_token_names_its_account_until_the_account_goes(tmp_path: Path) -> None:
    store = Store(tmp_path / "state")
    try:
        creds = Credentials.load_or_create(tmp_path / "pki")
        store.create(kinds.NAMESPACE, {"metadata": {"name": "ns"}})
        sa = store.create(kinds.SERVICE_ACCOUNT, {"metadata": {"name": "bot", "namespace": "ns"}})
        token, expiry = tokens.mint(creds, sa, 600, [tokens.AUDIENCE])
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        assert header["alg"] == "RS256" and header["kid"] and abs(expiry - time.time() - 600) < 5
        who = tokens.authenticate_token(creds, store, token)
        assert who is not None and who.user == "system:serviceaccount:ns:bot"
        assert who.groups == ("system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated")
        other_audience, _ = tokens.mint(creds, sa, 600, ["https://example.com"])
        assert tokens.authenticate_token(creds, store, other_audience) is None
        # Within go-jose's leeway an expired token still passes; past it, not.
        late, _ = tokens.mint(creds, sa, 600, [tokens.AUDIENCE], now=time.time() - 630)
        assert tokens.authenticate_token(creds, store, late) is not None
        expired, _ = tokens.mint(creds, sa, 600, [tokens.AUDIENCE], now=time.time() - 700)
        assert tokens.authenticate_token(creds, store, expired) is None
        assert tokens.authenticate_token(creds, store, "not.a.token") is None
        # A key made by another server (another state directory) signs tokens this one refuses.
        stranger = Credentials.load_or_create(tmp_path / "other-pki")
        forged, _ = tokens.mint(stranger, sa, 600, [tokens.AUDIENCE])
        assert tokens.authenticate_token(creds, store, forged) is None
        store.delete(kinds.SERVICE_ACCOUNT, "ns", "bot")
        assert tokens.authenticate_token(creds, store, token) is None
    finally:
        store.close()


def test_a_later_request_rates_against_the_earlier_sample() -> None:
    sampler = metrics.Sampler()
    pid = os.getpid()

    async def run() -> tuple[metrics.Usage, float]:
        await sampler.usage([pid])
        await asyncio.sleep(metrics.CACHE_SECONDS + 0.1)
        await sampler.usage([1])  # another process asked about in between keeps nothing from being kept
        started = time.monotonic()
        later = (await sampler.usage([pid]))[pid]
        return later, time.monotonic() - started

    later, took = asyncio.run(run())
    # No second pair: the window runs from the first request's last sample, as metrics-server's from its last scrape.
    assert took < metrics.FIRST_INTERVAL and later.window > metrics.CACHE_SECONDS
