"""Listener drift: intent, served and each replica's Envoy listeners compared as gloo_nb shows them (pure).

Route drift (:mod:`gloo_nb.analysis.drift`) compares what each route does; listeners carry what routes cannot
show: the filter chains, their SNI server names and TLS contexts. They are compared in the form gloo_nb prints
(:func:`gloo_nb.translate.envoy_json.redacted_json`): private keys ``<redacted>`` on every side (Envoy's own
config dump already says ``[redacted]``), certificates by their SHA-256 fingerprint summary. So the intent of a
bundle or a journal, whose Secrets are known by their facts only, equals the served and applied listeners that
hold the real certificates. Also ignored:

- ``address``: the sandbox's control plane rewrites each replica's listener address to its own loopback port
  (``design/architecture.md``, sandbox), as route drift ignores it;
- a file access logger's sandbox prefix: the sandbox's control plane writes each replica's access log ``P`` to
  ``<state dir>/replicas/<node id>/fs/P`` (:func:`gloo_nb.models.access_log.replica_path`), so ``P`` is compared
  (:func:`gloo_nb.models.access_log.served_path`);
- an OCSP staple's bytes (a recorded Secret keeps only whether it had one);
- a ``<redacted: ...>`` placeholder matches any value: the intent's stand-in for a Secret gloo_nb could not read
  (:mod:`gloo_nb.translate.tls`), whose content only the served configuration shows.

HTTP filters, when the intent is compared with what is served (or, when served was not read, with a replica):

- a filter of Gloo's own Envoy extensions (``io.solo.transformation``,
  :data:`gloo_nb.translate.http_filters.GLOO_EXTENSION_TYPES`) that the other side lacks is not a difference: the
  sandbox's control plane leaves it out for the pinned Envoy, which cannot load it (and says so in a
  ``FilterLeftOut`` Event); where the other side has it (a real Gloo), it is compared in full;
- filters whose presence or config gloo_nb does not predict (``unpredicted``: those of listener options declared
  not modelled, :func:`gloo_nb.translate.http_filters.unpredicted_filters`) are left out on both sides.

Served and applied listeners are still compared with each other in full.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from gloo_nb.models.access_log import served_path
from gloo_nb.translate.envoy_json import redacted_json
from gloo_nb.translate.http_filters import comparable_filters, without_filters

__all__ = ["ListenerDrift", "comparable_listener", "first_difference", "listener_drift", "listener_summary"]

_WILDCARD = "<redacted"
_OCSP = "<ocsp staple>"
_FILE_ACCESS_LOG = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"


@dataclass(frozen=True, slots=True)
class ListenerDrift:
    """One listener seen in any source, classified with the route drift states.

    Attributes:
        name: The listener's name (``listener-::-8443``).
        state: ``in-sync``, ``pending``, ``blocked-by-last-known-good``, ``rejected-by-envoy`` or ``replica-lagging``.
        cause: Why (``""`` when in sync): which sources differ and the first field that differs.
        by_source: Per source (``intent``, ``served`` when read, each replica), :func:`listener_summary`, None
            when the source lacks the listener.
    """

    name: str
    state: str
    cause: str
    by_source: Mapping[str, str | None]

    def as_json(self) -> dict[str, Any]:
        """The ``inspect --json`` ``listenerDrift`` row: ``listener``, ``state``, ``cause``, ``bySource``."""
        return {"listener": self.name, "state": self.state, "cause": self.cause, "bySource": dict(self.by_source)}


def comparable_listener(listener: listener_pb2.Listener) -> dict[str, Any]:
    """A listener as compared across sources (see the module docstring for what is left out).

    Args:
        listener: The listener.

    Returns:
        Its redacted proto JSON without ``address`` and OCSP bytes.
    """
    doc = dict(redacted_json(listener))
    doc.pop("address", None)
    result: dict[str, Any] = _normalised(doc)
    return result


def _normalised(value: Any) -> Any:
    # Also gives a file access logger's path as served (the sandbox's per-replica prefix taken off).
    if isinstance(value, dict):
        if value.get("@type") == _FILE_ACCESS_LOG and isinstance(value.get("path"), str):
            value = {**value, "path": served_path(value["path"])}
        return {k: (_OCSP if k == "ocspStaple" and isinstance(v, dict) and "inlineBytes" in v else _normalised(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The first field where two comparable listeners differ, a ``<redacted...>`` placeholder matching anything.

    Args:
        a: One comparable document.
        b: The other.
        path: The path so far.

    Returns:
        The field path (``filterChains[1].filterChainMatch.serverNames``; ``""`` for the whole document), or None
        when they agree.
    """
    if isinstance(a, str) and a.startswith(_WILDCARD) or isinstance(b, str) and b.startswith(_WILDCARD):
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}".lstrip(".")
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found is not None:
                return found.lstrip(".")
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return path.lstrip(".")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found is not None:
                return found.lstrip(".")
        return None
    return None if a == b else path.lstrip(".")


def _where(doc: dict[str, Any] | None, ref: dict[str, Any] | None) -> str | None:
    # Where a source's listener differs from the reference's (None: the same, or both absent).
    if doc is None or ref is None:
        return None if doc is ref else "the whole listener"
    where = first_difference(doc, ref)
    return None if where is None else (where or "the whole listener")


def _intent_docs(intent: listener_pb2.Listener | None, other: listener_pb2.Listener | None,
                 unpredicted: frozenset[str]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    # The intent and another source's listener as their HTTP filters are compared (module docstring).
    if intent is None or other is None:
        return (None if intent is None else comparable_listener(intent),
                None if other is None else comparable_listener(other))
    return (comparable_listener(comparable_filters(intent, other, unpredicted)),
            comparable_listener(without_filters(other, unpredicted)))


def listener_summary(listener: listener_pb2.Listener) -> str:
    """A one-line view of a listener's filter chains: SNI names and the certificate each serves.

    Args:
        listener: The listener.

    Returns:
        E.g. ``api.example.com: tls sha256:e4e558ad8fdf; *: plain``.
    """
    parts = []
    for chain in listener.filter_chains:
        names = ",".join(chain.filter_chain_match.server_names) or "*"
        if chain.transport_socket.name:
            ctx = tls_pb2.DownstreamTlsContext()
            cert = ""
            if chain.transport_socket.typed_config.Unpack(ctx) and ctx.common_tls_context.tls_certificates:
                text = redacted_json(ctx.common_tls_context.tls_certificates[0]).get("certificateChain", {})
                cert = str(text.get("inlineString") or text.get("filename") or "")
                if cert.startswith("<certificate sha256:"):
                    cert = "sha256:" + cert.split("sha256:", 1)[1].split(" ", 1)[0][:12]
            parts.append(f"{names}: tls {cert}".rstrip())
        else:
            parts.append(f"{names}: plain")
    return "; ".join(parts) or "no filter chain"


def listener_drift(intent: Sequence[listener_pb2.Listener], served: Sequence[listener_pb2.Listener] | None,
                   applied: Mapping[str, Sequence[listener_pb2.Listener]], *, blocked: bool = False,
                   block_causes: Sequence[str] = (), rejected: Mapping[str, str] | None = None,
                   unpredicted: frozenset[str] = frozenset()) -> list[ListenerDrift]:
    """Classify every listener seen in any source, with the states of route drift.

    Args:
        intent: The translation's listeners.
        served: The control plane's (None when the xDS stream was not read).
        applied: Each replica's active listeners, by node id.
        blocked: Whether the control plane withholds the intended snapshot (last known good).
        block_causes: ``ns/name: <Gloo message>`` of what blocks it.
        rejected: Per replica node id that rejected updates, why.
        unpredicted: HTTP filter names the intent cannot predict (left out of intent-vs-served comparisons; see
            the module docstring).

    Returns:
        One row per listener name, sorted by name.
    """
    sources: dict[str, dict[str, listener_pb2.Listener]] = {"intent": {li.name: li for li in intent}}
    if served is not None:
        sources["served"] = {li.name: li for li in served}
    for node, listeners in applied.items():
        sources[node] = {li.name: li for li in listeners}
    reference = "served" if served is not None else "intent"
    names = sorted({name for by_name in sources.values() for name in by_name})
    out = []
    for name in names:
        seen = {src: by_name.get(name) for src, by_name in sources.items()}
        docs = {src: (comparable_listener(li) if li is not None else None) for src, li in seen.items()}
        summary = {src: (listener_summary(li) if li is not None else None) for src, li in seen.items()}
        where_from = {src: _where(doc, docs[reference]) for src, doc in docs.items()}
        if reference != "intent":
            where_from["intent"] = _where(*_intent_docs(seen["intent"], seen[reference], unpredicted))
        else:
            for src, li in seen.items():
                if src != "intent":
                    where_from[src] = _where(*reversed(_intent_docs(seen["intent"], li, unpredicted)))
        state, cause = "in-sync", ""
        if served is not None and (where := where_from["intent"]) is not None:
            state = "blocked-by-last-known-good" if blocked else "pending"
            cause = ("; ".join(block_causes) if blocked else
                     f"intent and served differ at {where}: the control plane has not served the intended listener")
        else:
            lagging = {src: w for src, w in where_from.items() if src not in ("intent", "served") and w is not None}
            refusing = [src for src in lagging if (rejected or {}).get(src)]
            if refusing:
                state = "rejected-by-envoy"
                cause = "; ".join(f"{src}: {(rejected or {})[src]}" for src in refusing)
            elif lagging:
                state = "replica-lagging"
                cause = "; ".join(f"{src} differs from {reference} at {w}" for src, w in lagging.items())
        out.append(ListenerDrift(name, state, cause, summary))
    return out
