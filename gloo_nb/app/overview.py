"""Reading what the gateway overview needs: the resources' YAML and each replica's ``/clusters``.

The overview itself is pure (:mod:`gloo_nb.analysis.overview`); this module does the reading: files for
resources read from files (a bundle's ``resources.yaml``, ``gloo-nb translate`` input), the API server's objects
for live ones, and each Envoy replica's admin ``/clusters``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from gloo_nb.analysis.inspection import Inspection
from gloo_nb.analysis.overview import GatewayOverview, ResourceYaml, gateway_overview
from gloo_nb.errors import GlooNbError
from gloo_nb.models import ResourceKey
from gloo_nb.translate import Translation
from gloo_nb.xds.cluster_status import ClusterHosts

__all__ = ["LIVE_FILE", "file_documents", "object_documents", "read_overview", "resource_documents"]

LIVE_FILE = "<kubernetes>"
"""The ``file`` of a live object's YAML (:class:`~gloo_nb.analysis.overview.ResourceYaml`)."""


def file_documents(path: Path) -> list[tuple[int, str] | None]:
    """Each YAML document of a file with the line it begins at.

    Documents are counted as the parser counts them (``Location.document``; empty documents count).

    Args:
        path: The file.

    Returns:
        Per document, ``(first line (1-based), text)``; None for a document that cannot be cut out.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    out: list[tuple[int, str] | None] = []
    start: int | None = None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.DocumentStartEvent) and event.end_mark is not None:
                # An explicit ``---`` line belongs to no document's content.
                start = event.end_mark.line + (1 if event.explicit else 0)
            elif isinstance(event, yaml.DocumentEndEvent) and start is not None and event.start_mark is not None:
                end = event.start_mark.line + (1 if event.start_mark.column else 0)
                body = lines[start:end]
                while body and not body[-1].strip():
                    body.pop()
                out.append((start + 1, "\n".join(body) + "\n"))
                start = None
    except yaml.YAMLError:
        return out
    return out


def resource_documents(translation: Translation) -> dict[ResourceKey, ResourceYaml]:
    """The YAML of every resource of a translation that was read from a file.

    Args:
        translation: The translation.

    Returns:
        By resource key; resources read from the API server (``<kubernetes>``) are left to
        :func:`object_documents`.
    """
    snap = translation.snapshot
    cache: dict[str, list[tuple[int, str] | None]] = {}
    out: dict[ResourceKey, ResourceYaml] = {}
    metas = [*((r.key, r.meta) for r in snap.virtual_services), *((r.key, r.meta) for r in snap.route_tables),
             *((r.key, r.meta) for r in snap.upstreams), *((r.key, r.meta) for r in snap.gateways)]
    for key, meta in metas:
        loc = meta.location
        if loc.document is None or not loc.file or loc.file.startswith("<") or not Path(loc.file).is_file():
            continue
        if loc.file not in cache:
            try:
                cache[loc.file] = file_documents(Path(loc.file))
            except OSError:
                cache[loc.file] = []
        docs = cache[loc.file]
        doc = docs[loc.document] if loc.document < len(docs) else None
        if doc is not None:
            out[key] = ResourceYaml(doc[1], loc.file, doc[0])
    return out


def object_documents(objects: Iterable[Mapping[str, Any]]) -> dict[ResourceKey, ResourceYaml]:
    """The YAML of live objects, as ``kubectl get -o yaml`` prints them (without ``managedFields``).

    Args:
        objects: Objects as the API server returns them (``GatewayConnection.read_objects()``).

    Returns:
        By resource key, each with file :data:`LIVE_FILE` and line 1 at its ``apiVersion``.
    """
    out: dict[ResourceKey, ResourceYaml] = {}
    for obj in objects:
        meta = dict(obj.get("metadata") or {})
        meta.pop("managedFields", None)
        shown = {**obj, "metadata": meta}
        key = ResourceKey(str(obj.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", "")))
        out[key] = ResourceYaml(yaml.safe_dump(shown, sort_keys=False), LIVE_FILE)
    return out


def read_overview(gateway: Any, inspection: Inspection) -> GatewayOverview:
    """Read what the overview needs from a notebook's gateway and build it.

    Args:
        gateway: ``open_gateway(...)``'s result: a live ``NotebookGateway`` (its connection's objects and each
            replica's ``/clusters`` are read) or a ``NotebookSnapshot`` (the bundle's files; no ``/clusters``).
        inspection: The inspection the notebook shows (its translation is counted).

    Returns:
        The overview. A replica whose ``/clusters`` cannot be read is in its ``unread``, with why.
    """
    translation = inspection.translation
    documents = resource_documents(translation)
    clusters: dict[str, list[ClusterHosts]] = {}
    unread: dict[str, str] = {}
    conn = getattr(gateway, "conn", None)
    if conn is not None:
        live = object_documents(conn.read_objects())
        documents = {**live, **documents}
        for node, admin in conn.admins().items():
            try:
                clusters[node] = admin.clusters()
            except (GlooNbError, OSError) as err:
                unread[node] = str(err)
    return gateway_overview(translation, documents=documents, clusters=clusters, unread=unread)
