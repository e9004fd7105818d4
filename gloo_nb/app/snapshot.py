"""Snapshot bundles: everything the inspector reads, saved to a folder for offline and post-incident use.

Format (``design/architecture.md``): ``resources.yaml`` (Gloo resources, Services, Pods, Endpoints,
as Kubernetes returned them), ``served.json`` (the xDS resources as proto JSON, with versions) and
``applied/<node-id>.json`` (each replica's config dump and stats), plus ``bundle.json`` (profile,
time, sources). :func:`open_snapshot` gives back the same inspection as a live connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format

from gloo_nb._types import Profile, check_profile
from gloo_nb.app.connect import GatewayConnection, Inspection
from gloo_nb.errors import GlooNbError, ParseError
from gloo_nb.models.codec import ParseResult, load_documents, parse_objects
from gloo_nb.models.snapshot import Snapshot
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.eds import kube_endpoints_of
from gloo_nb.xds import protos
from gloo_nb.xds.admin import XdsStats, parse_config_dump, parse_xds_stats
from gloo_nb.xds.decode import ServedSnapshot

SERVED_SECTIONS = (("listeners", protos.TYPE_LISTENER), ("routeConfigurations", protos.TYPE_ROUTE),
                   ("clusters", protos.TYPE_CLUSTER), ("endpoints", protos.TYPE_ENDPOINT))
"""``served.json`` keys and the xDS type of their resources."""


class BundleError(GlooNbError):
    """A snapshot bundle is missing or unreadable; the message names the file."""


def served_json(served: ServedSnapshot) -> dict[str, Any]:
    """The ``served.json`` document.

    Args:
        served: What the control plane serves.

    Returns:
        ``{"versions": {type: version}, "listeners": [...], "routeConfigurations": [...], ...}``.
    """
    doc: dict[str, Any] = {"versions": dict(served.versions)}
    for key, type_url in SERVED_SECTIONS:
        doc[key] = [json_format.MessageToDict(m) for m in served.resources(type_url)]
    return doc


def parse_served(doc: Mapping[str, Any], file: str = "served.json") -> ServedSnapshot:
    """Decode a ``served.json`` document.

    Args:
        doc: The document.
        file: Its name, for messages.

    Returns:
        The served resources.

    Raises:
        ParseError: A resource does not decode.
    """
    out: dict[str, list[Any]] = {}
    for key, type_url in SERVED_SECTIONS:
        cls = protos.message_class(type_url)
        assert cls is not None
        items = []
        for i, item in enumerate(doc.get(key) or []):
            try:
                items.append(json_format.ParseDict(item, cls(), ignore_unknown_fields=True))
            except json_format.ParseError as err:
                raise ParseError(f"{key}[{i}] does not decode: {err}", file=file) from None
        out[key] = items
    return ServedSnapshot(listeners=out["listeners"], route_configurations=out["routeConfigurations"],
                          clusters=out["clusters"], endpoints=out["endpoints"],
                          versions=dict(doc.get("versions") or {}))


def save_snapshot(conn: GatewayConnection, out: Path, *, timeout: float = 10.0) -> dict[str, Any]:
    """Write a snapshot bundle of a live gateway.

    Args:
        conn: The connection.
        out: The bundle folder (created; files in it are replaced).
        timeout: Seconds to wait for the xDS stream.

    Returns:
        The ``bundle.json`` document.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "applied").mkdir(exist_ok=True)
    objects = conn.read_objects()
    (out / "resources.yaml").write_text("".join(map(_yaml_document, objects)), encoding="utf-8")
    sources = []
    if conn.xds_address:
        (out / "served.json").write_text(json.dumps(served_json(conn.served(timeout)), indent=1) + "\n")
        sources.append("served")
    for node, admin in conn.admins().items():
        doc = {"nodeId": node, "configDump": admin.config_dump_json(include_eds=True), "stats": admin.stats()}
        (out / "applied" / f"{node}.json").write_text(json.dumps(doc, indent=1) + "\n")
        sources.append(node)
    meta = {"glooVersion": conn.profile, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "namespace": conn.namespace, "role": conn.role, "sources": sources}
    (out / "bundle.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def _yaml_document(obj: Any) -> str:
    # PyYAML's representer recurses a few frames per level and hits Python's recursion limit near
    # 300 levels; a team's deeply nested unknown field must not stop the bundle. JSON is YAML, and
    # the codec's reader has no such limit, so a document too deep for PyYAML is written as JSON.
    try:
        text = yaml.safe_dump(obj, sort_keys=False)
    except RecursionError:
        text = json.dumps(obj, ensure_ascii=False) + "\n"
    return "---\n" + text


@dataclass
class SnapshotBundle:
    """A saved gateway, readable like a live connection.

    Attributes:
        path: The bundle folder.
        profile: The Gloo profile recorded in it.
        meta: ``bundle.json``.
    """

    path: Path
    profile: Profile
    meta: dict[str, Any] = field(default_factory=dict)

    def read_resources(self) -> ParseResult:
        """The Kubernetes objects of the bundle, parsed."""
        file = self.path / "resources.yaml"
        # Tolerant like a live read: the bundle holds what the cluster held, garbage included.
        return parse_objects([d for d in load_documents(_read(file), file=str(file)) if isinstance(d, dict)],
                             file=str(file), tolerant=True)

    def intent(self) -> tuple[Translation, ParseResult]:
        """Translate the bundle's resources as a freshly started Gloo of its profile would."""
        parsed = self.read_resources()
        snapshot = Snapshot.from_resources(parsed.resources)
        return translate(snapshot, self.profile, endpoints=kube_endpoints_of(snapshot, self.profile)), parsed

    def served(self) -> ServedSnapshot | None:
        """What the control plane served, when it was recorded."""
        file = self.path / "served.json"
        return parse_served(json.loads(_read(file)), str(file)) if file.exists() else None

    def applied(self) -> tuple[dict[str, ServedSnapshot], dict[str, XdsStats]]:
        """Each replica's applied configuration and xDS stats, by node id."""
        applied: dict[str, ServedSnapshot] = {}
        stats: dict[str, XdsStats] = {}
        for file in sorted((self.path / "applied").glob("*.json")):
            doc = json.loads(_read(file))
            node = str(doc.get("nodeId") or file.stem)
            applied[node] = parse_config_dump(doc.get("configDump") or {}).applied()
            stats[node] = parse_xds_stats(doc.get("stats") or {})
        return applied, stats

    def collect(self) -> Inspection:
        """The same inspection as :meth:`GatewayConnection.collect`, from the files."""
        translation, parsed = self.intent()
        applied, stats = self.applied()
        return Inspection.build(translation, self.served(), applied, stats, parse_findings=parsed.findings)


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as err:
        raise BundleError(f"{file}: cannot read it ({err.strerror or err}); is this a gloo-nb snapshot bundle?") \
            from None


def open_snapshot(path: str | Path, *, gloo_version: str | None = None) -> SnapshotBundle:
    """Open a snapshot bundle written by ``gloo-nb snapshot save``.

    Args:
        path: The bundle folder.
        gloo_version: Override the recorded profile.

    Returns:
        The bundle.

    Raises:
        BundleError: The folder is not a bundle.
    """
    folder = Path(path)
    meta = json.loads(_read(folder / "bundle.json"))
    return SnapshotBundle(folder, check_profile(gloo_version or meta.get("glooVersion") or "current"), meta)
