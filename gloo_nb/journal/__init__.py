"""The journal: an append-only record of what a rollout did and what a recorder saw, and its loader.

A journal is a directory of JSON-lines files (``journal-000001.jsonl``, ...), one event per line:
``{"time": RFC 3339 UTC, "kind": "...", "source": "...", "data": {...}}`` (see ``design/architecture.md``).
:class:`JournalWriter` writes it (batched, fsynced, rotated by size, secrets redacted);
:func:`read_journal` loads it into :class:`Event` objects or a pandas DataFrame.
"""

from gloo_nb.journal.events import Event, JournalError, decode, encode, format_time, parse_time
from gloo_nb.journal.loader import Journal, Loss, read_journal
from gloo_nb.journal.redact import REDACTED, redact
from gloo_nb.journal.store import JournalWriter, journal_files

__all__ = [
    "REDACTED",
    "Event",
    "Journal",
    "JournalError",
    "JournalWriter",
    "Loss",
    "decode",
    "encode",
    "format_time",
    "journal_files",
    "parse_time",
    "read_journal",
    "redact",
]
