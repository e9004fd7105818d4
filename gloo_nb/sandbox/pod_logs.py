"""Container logs as the kubelet keeps and serves them: one file per container instance, with a time per line.

A container's output goes to ``<restart>.log`` as it was written (what earlier sandboxes and their tests read), and
the time each line arrived goes, one RFC 3339 line per log line, to ``<restart>.times`` beside it: what the CRI log
format keeps in each line's prefix (pkg/kubelet/kuberuntime/logs/logs.go), so that ``--timestamps`` and ``--since``
work as on a node. A restart starts the next pair of files; the previous pair stays for ``kubectl logs --previous``.
A line without a recorded time (a file written before times were kept, an Envoy replica's log) takes the file's
modification time.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["LogOptions", "copy_output", "format_time", "parse_time", "read_log", "times_path"]


def times_path(log: Path) -> Path:
    """The file holding the arrival time of each line of ``log`` (``3.log`` -> ``3.times``)."""
    return log.with_suffix(".times")


def format_time(epoch_ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC, which the kubelet's ``--timestamps`` prints: trailing zeros trimmed.

    Args:
        epoch_ns: Nanoseconds since the epoch.

    Returns:
        e.g. ``2026-12-07T13:31:44.12345Z``.
    """
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def parse_time(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (``sinceTime``, or a ``.times`` line); nanoseconds kept to µs.

    Args:
        text: e.g. ``2026-12-07T13:31:44.123456789Z``.

    Returns:
        The time.

    Raises:
        ValueError: Not RFC 3339.
    """
    text = text.strip()
    head, _, rest = text.partition(".")
    fraction = ""
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, rest = rest[:digits], rest[digits:]
    else:
        head, rest = text[:19], text[19:]
    stamp = datetime.fromisoformat(head + (rest.replace("Z", "+00:00") or "+00:00"))
    return stamp.timestamp() + (int(fraction[:9].ljust(9, "0")) / 1e9 if fraction else 0.0)


def copy_output(fd: int, log: Path) -> None:
    """Copy a container's output pipe to its log file, recording when each line arrived; returns at EOF.

    Args:
        fd: The read end of the process's stdout/stderr pipe (closed here).
        log: The instance's log file (appended to), its times beside it.
    """
    with open(log, "ab", buffering=0) as out, open(times_path(log), "ab", buffering=0) as stamps:
        try:
            while chunk := os.read(fd, 65536):
                out.write(chunk)
                lines = chunk.count(b"\n")
                if lines:
                    stamps.write((format_time(time.time_ns()) + "\n").encode() * lines)
        except OSError:
            pass
        finally:
            os.close(fd)


@dataclass(frozen=True, slots=True)
class LogOptions:
    """What a ``pods/log`` request asks for (PodLogOptions).

    Attributes:
        tail_lines: Only the last N lines (None: all).
        since: Only lines that arrived at or after this time (seconds since the epoch; None: all).
        timestamps: Prefix each line with its RFC3339Nano time and a space.
        limit_bytes: Stop after this many bytes (None: no limit).
    """

    tail_lines: int | None = None
    since: float | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


def read_log(log: Path, options: LogOptions, offset: int = 0, *, final: bool = True) -> tuple[bytes, int, int]:
    """Read a log file from ``offset`` as the kubelet's ReadLogs does: tail first, then since, then the byte limit.

    pkg/kubelet/kuberuntime/logs/logs.go ReadLogs: ``tail`` picks the start line, lines before ``since`` are skipped,
    ``timestamps`` prefixes each line, and ``limitBytes`` cuts the output. Only whole lines are served, except a
    last line without its newline when the file's writer has finished.

    Args:
        log: The log file.
        options: The request's options (``tail_lines`` only applies when ``offset`` is 0).
        offset: Where a follower stopped reading.
        final: The writer is done: a last line without its newline is served too (else the next read takes it
            whole).

    Returns:
        ``(bytes to send, the next offset, lines consumed)``.
    """
    with open(log, "rb") as f:
        f.seek(offset)
        data = f.read()
    lines = data.splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n") and not final:
        lines.pop()  # a line still being written: the next read takes it whole
    consumed = sum(len(line) for line in lines)
    first_line = 0
    if offset:
        with open(log, "rb") as f:
            first_line = f.read(offset).count(b"\n")
    times = _times(log, first_line, len(lines))
    pairs = list(zip(lines, times, strict=True))  # (line, (arrival, its RFC3339Nano text))
    if options.tail_lines is not None and offset == 0:
        pairs = pairs[-options.tail_lines:] if options.tail_lines > 0 else []
    if options.since is not None:
        since = options.since
        pairs = [(line, t) for line, t in pairs if t[0] >= since]
    out = b"".join((t[1].encode() + b" " + line) if options.timestamps else line for line, t in pairs)
    if options.limit_bytes is not None:
        out = out[:options.limit_bytes]
    return out, offset + consumed, len(lines)


def _times(log: Path, first: int, count: int) -> list[tuple[float, str]]:
    try:
        recorded = times_path(log).read_text().splitlines()[first:first + count]
    except OSError:
        recorded = []
    try:
        fallback_ns = log.stat().st_mtime_ns
    except OSError:
        fallback_ns = time.time_ns()
    fallback = (fallback_ns / 1e9, format_time(fallback_ns))
    out: list[tuple[float, str]] = []
    for i in range(count):
        try:
            out.append((parse_time(recorded[i]), recorded[i]) if i < len(recorded) else fallback)
        except ValueError:
            out.append(fallback)
    return out
