"""Send real requests through the gateway and report the split of answers (the traffic probe).

Requests go over kept-alive HTTP/1.1 connections (one per concurrent sender, reopened when the
gateway closes one), so a few hundred requests take well under a second on the sandbox.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gloo_nb.analysis.probe import Share, split, wilson_interval
from gloo_nb.errors import UsageError

Classifier = Callable[[int, str], str]
"""``(status, body) -> answer``."""


def status_and_body(status: int, body: str) -> str:
    """The default answer: status and the stripped body, e.g. ``200 version:v1``.

    Args:
        status: HTTP status (0 when no answer came).
        body: Response body.

    Returns:
        The answer.
    """
    return f"{status} {body.strip()}".strip()


@dataclass
class ProbeResult:
    """What a probe saw.

    Attributes:
        url: Where the requests went.
        headers: The request headers.
        answers: One answer per request, in order.
        shares: The split, most frequent first, with Wilson 95 % intervals.
        errors: The transport error's name (``ConnectionRefusedError``) of each request that got no HTTP
            answer at all, in completion order; such a request is also in ``answers`` (as the classifier's
            answer for status 0), but it is a failure to reach the gateway, not an answer of it.
        responses: The answers of the requests that got an HTTP answer, in completion order.
        round_trips_ms: Per entry of ``responses``, the request's round trip as the probe measured it (ms).
        upstream_ms: Per entry of ``responses``, Envoy's ``x-envoy-upstream-service-time`` answer header (the
            upstream's time as Envoy's router measured it, ms); None when the answer had none.
    """

    url: str
    headers: dict[str, str]
    answers: list[str] = field(default_factory=list)
    shares: list[Share] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    round_trips_ms: list[float] = field(default_factory=list)
    upstream_ms: list[float | None] = field(default_factory=list)

    def share_of(self, answer: str) -> Share:
        """The share of one answer (count 0 when it was never seen).

        Args:
            answer: The answer.

        Returns:
            Its share.
        """
        found = next((s for s in self.shares if s.answer == answer), None)
        if found is not None:
            return found
        low, high = wilson_interval(0, len(self.answers))
        return Share(answer, 0, len(self.answers), 0.0, low, high)


def _service_time(value: str | None) -> float | None:
    # Envoy's router writes the upstream's time in whole ms (source/common/router/router.cc onUpstreamHeaders).
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def probe(url: str, requests: int = 100, *, headers: Mapping[str, str] | None = None, method: str = "GET",
          timeout: float = 5.0, classify: Classifier = status_and_body,
          progress: Callable[[int, int], None] | None = None, concurrency: int = 1) -> ProbeResult:
    """Send ``requests`` requests to ``url`` and count the answers.

    Args:
        url: An ``http://host:port/path?query`` URL (the gateway and the path to probe).
        requests: How many requests.
        headers: Request headers (e.g. ``{"stage": "canary"}``).
        method: HTTP method.
        timeout: Seconds per request.
        classify: Turns a response into an answer.
        progress: Called as ``progress(done, total)`` after each request (a notebook progress bar);
            from the probing threads when ``concurrency`` > 1, never twice at once.
        concurrency: Connections sending at the same time (the rollout's proofs need thousands
            of requests; one connection is enough for a notebook's hundred).

    Returns:
        The answers (in completion order) and their split.

    Raises:
        UsageError: The URL is not an http URL, or ``requests`` or ``concurrency`` is not positive.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise UsageError(f"probe: {url!r} is not an http://host:port/path URL")
    if requests < 1:
        raise UsageError(f"probe: requests must be at least 1, got {requests}")
    if concurrency < 1:
        raise UsageError(f"probe: concurrency must be at least 1, got {concurrency}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = dict(headers or {})
    result = ProbeResult(url, sent)
    lock = threading.Lock()
    done = 0

    def worker(count: int) -> None:
        nonlocal done
        conn: http.client.HTTPConnection | None = None
        try:
            for _ in range(count):
                took = 0.0
                upstream: float | None = None
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout)
                    started = time.perf_counter()
                    conn.request(method, target, headers=sent)
                    resp = conn.getresponse()
                    body = resp.read().decode(errors="replace")
                    took = 1000 * (time.perf_counter() - started)
                    upstream = _service_time(resp.getheader("x-envoy-upstream-service-time"))
                    answer = classify(resp.status, body)
                    if resp.will_close:
                        conn.close()
                        conn = None
                    failed = ""
                except (OSError, http.client.HTTPException) as err:
                    failed = type(err).__name__
                    answer = classify(0, failed)
                    if conn is not None:
                        conn.close()
                    conn = None
                with lock:
                    result.answers.append(answer)
                    if failed:
                        result.errors.append(failed)
                    else:
                        result.responses.append(answer)
                        result.round_trips_ms.append(took)
                        result.upstream_ms.append(upstream)
                    done += 1
                    if progress is not None:
                        progress(done, requests)
        finally:
            if conn is not None:
                conn.close()

    workers = min(concurrency, requests)
    counts = [requests // workers + (1 if i < requests % workers else 0) for i in range(workers)]
    if workers == 1:
        worker(requests)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="gloo-nb-probe") as pool:
            for future in [pool.submit(worker, c) for c in counts]:
                future.result()
    result.shares = split(result.answers)
    return result
