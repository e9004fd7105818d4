"""The ``gloo-nb translate`` document: a :class:`Translation` as JSON, and as readable tables.

The JSON shape is the contract of ``design/architecture.md`` (``gloo-nb translate --json``):
Gloo resources in Gloo's own YAML field names, Envoy resources in Envoy's proto JSON names.

The document's sections live in modules of their own: :mod:`gloo_nb.translate.gloo_json` (the
proxy, in Gloo's YAML field names), :mod:`gloo_nb.translate.envoy_json` (Envoy's proto JSON) and
:mod:`gloo_nb.translate.tables` (the readable tables); this module assembles the document and keeps
their names importable from here.
"""

from __future__ import annotations

from collections.abc import Sequence

from gloo_nb._types import JSON
from gloo_nb.models import Finding, Secret, Skipped
from gloo_nb.models.codec import secret_facts_json
from gloo_nb.translate.envoy_json import envoy_json
from gloo_nb.translate.gloo_json import (
    action_json,
    destination_json,
    direct_response_json,
    matcher_json,
    proxy_json,
    redirect_json,
    route_action_json,
    route_json,
)
from gloo_nb.translate.tables import first_message, object_ref, render_text
from gloo_nb.translate.translator import Translation

__all__ = [
    "action_json",
    "destination_json",
    "direct_response_json",
    "envoy_json",
    "first_message",
    "matcher_json",
    "object_ref",
    "proxy_json",
    "redirect_json",
    "render",
    "render_text",
    "route_action_json",
    "route_json",
    "secret_json",
]


def render(translation: Translation, *, parse_findings: Sequence[Finding] = (),
           parse_skipped: Sequence[Skipped] = ()) -> JSON:
    """Return the ``gloo-nb translate --json`` document of a translation.

    Args:
        translation: The translation.
        parse_findings: Findings of the parser (unknown fields...), listed before Gloo's.
        parse_skipped: Documents the parser skipped (unknown kinds), listed before the ones a
            later document replaced.

    Returns:
        The document: ``glooVersion``, ``reports``, ``findings``, ``proxy``, ``envoy``, ``push``,
        ``proxies``, ``skipped``, ``unmodelled`` (``{kind, namespace, name, path, feature[, detail]}`` per
        field gloo_nb does not reproduce on Envoy), ``watch`` when Settings limit the namespaces Gloo reads
        (``{namespaces, rule, unknownLabels[, error]}``; ``envoy.endpoints`` holds the ClusterLoadAssignments
        Gloo's EDS sends), and ``secrets`` when the input holds Secrets (identity, type and
        certificate fingerprint/SANs/expiry of each; never its data). ``proxies`` lists every proxy
        the Gateways name (Gloo's order), each shaped like ``proxy`` plus its own ``envoy``, ``push``
        and xDS ``snapshotKey``; the top-level ``proxy``, ``envoy`` and ``push`` are the default
        proxy's (``gateway-proxy`` when present, else the first), and ``reports``/``findings`` cover
        every proxy.
    """
    proxies = translation.proxies or [translation]
    # The default proxy's sections are built once and shared by the top level and its `proxies` entry
    # (100,000 routes take seconds to render).
    built: dict[int, tuple[JSON, JSON]] = {}

    def sections(t: Translation) -> tuple[JSON, JSON]:
        key = id(t.proxy)
        if key not in built:
            built[key] = (proxy_json(t.proxy), envoy_json(t.envoy))
        return built[key]

    top_proxy, top_envoy = sections(translation)
    doc: JSON = {
        "glooVersion": translation.profile,
        "reports": [r.as_json() for r in translation.reports],
        "findings": [f.as_json() for f in (*parse_findings, *translation.findings)],
        "proxy": top_proxy,
        "envoy": top_envoy,
        "push": {"decision": translation.push.decision, "reason": translation.push.reason},
        "proxies": [{**sections(t)[0], "snapshotKey": t.snapshot_key, "envoy": sections(t)[1],
                     "push": {"decision": t.push.decision, "reason": t.push.reason}} for t in proxies],
        "skipped": [s.as_json() for s in (*parse_skipped, *translation.skipped)],
        # Declared, not problems: every field whose effect on Envoy gloo_nb does not reproduce.
        "unmodelled": [u.as_json() for u in translation.unmodelled],
    }
    if translation.snapshot.secrets:
        doc["secrets"] = [secret_json(s) for s in translation.snapshot.secrets]
    watch = translation.watch
    if watch is not None:
        # Only when Settings limit what Gloo reads (translate/watch.py); every left-out resource has a finding.
        doc["watch"] = {"namespaces": None if watch.namespaces is None else sorted(watch.namespaces),
                        "rule": watch.rule, "unknownLabels": sorted(watch.unknown),
                        **({"error": watch.error} if watch.error else {})}
    return doc


def secret_json(secret: Secret) -> JSON:
    """What gloo_nb may show of a Secret: identity, type, Gloo's TLS shape, data key names, certificate facts.

    Args:
        secret: The Secret.

    Returns:
        ``{namespace, name, type, tls, dataKeys, certificate?, caCertificate?, glooTls?, annotations?}``
        (:func:`gloo_nb.models.codec.secret_facts_json`); never the data.
    """
    out: JSON = secret_facts_json(secret)
    return out
