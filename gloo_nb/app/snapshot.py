"""Snapshot bundles: everything the inspector reads, saved to a folder for offline and post-incident use.

Format (``design/architecture.md``): ``resources.yaml`` (Gloo resources, Services, Pods, Endpoints,
as Kubernetes returned them), ``served.json`` (the xDS resources as proto JSON, with versions) and
``applied/<node-id>.json`` (each replica's config dump and stats), plus ``bundle.json`` (profile,
time, sources) and ``secrets.json``. :func:`open_snapshot` gives back the same inspection as a live connection.

Secrets never enter a bundle. ``secrets.json`` holds each Secret's facts
(:func:`gloo_nb.models.codec.secret_facts_json`: identity, type, certificate facts, and which TLS parts were
set with Go's key-pair verdict, computed at save time from the data), and ``bundle.json`` says
``secretsUnreadable`` when the saving identity could not list Secrets. Reopened, the facts become redacted
Secrets that translate as the real ones did, so a bundle reports no TLS error the live gateway does not have.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format

from gloo_nb._types import Profile, check_profile
from gloo_nb.analysis.inspection import Inspection, collect
from gloo_nb.app.connect import GatewayConnection
from gloo_nb.app.manifests import read_input
from gloo_nb.errors import BadDataError, ParseError
from gloo_nb.journal import redact
from gloo_nb.models.codec import ParseResult, load_document, load_documents, parse_objects, parse_secret_facts
from gloo_nb.models.resources import Secret
from gloo_nb.models.snapshot import Snapshot
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.render import secret_json
from gloo_nb.xds import protos
from gloo_nb.xds.admin import XdsStats, parse_config_dump, parse_xds_stats
from gloo_nb.xds.decode import ServedSnapshot

SERVED_SECTIONS = (("listeners", protos.TYPE_LISTENER), ("routeConfigurations", protos.TYPE_ROUTE),
                   ("clusters", protos.TYPE_CLUSTER), ("endpoints", protos.TYPE_ENDPOINT))
"""``served.json`` keys and the xDS type of their resources."""


class BundleError(BadDataError):
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
        # Gloo serves TLS keys inline (ssl.go); a bundle keeps certificates, never keys.
        doc[key] = [redact(None, json_format.MessageToDict(m)) for m in served.resources(type_url)]
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
        section = _typed(doc.get(key) or [], list, key, file)
        for i, item in enumerate(section):
            _typed(item, dict, f"{key}[{i}]", file)
            try:
                items.append(json_format.ParseDict(item, cls(), ignore_unknown_fields=True))
            except (json_format.ParseError, TypeError, ValueError) as err:
                raise ParseError(f"does not decode: {err}", file=file, field=f"{key}[{i}]") from None
        out[key] = items
    versions = _typed(doc.get("versions") or {}, dict, "versions", file)
    return ServedSnapshot(listeners=out["listeners"], route_configurations=out["routeConfigurations"],
                          clusters=out["clusters"], endpoints=out["endpoints"],
                          versions={str(k): str(v) for k, v in versions.items()})


def _typed(value: Any, expected: type, field: str, file: str) -> Any:
    if not isinstance(value, expected):
        names: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
        want = names.get(expected, expected.__name__)
        raise ParseError(f"expected {want}, found {type(value).__name__}", file=file, field=field or None)
    return value


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
    # Secrets never enter a bundle: resources.yaml leaves them out and secrets.json keeps their facts
    # (identity, type, certificate facts, Gloo's TLS verdict computed here, where the data is at hand),
    # which the bundle's translation reads back as redacted Secrets.
    secrets = [o for o in objects if o.get("kind") == "Secret"]
    objects = [o for o in objects if o.get("kind") != "Secret"]
    (out / "resources.yaml").write_text("".join(map(_yaml_document, objects)), encoding="utf-8")
    facts = [secret_json(r) for r in parse_objects(secrets, file="<kubernetes>", tolerant=True).resources
             if isinstance(r, Secret)]
    (out / "secrets.json").write_text(json.dumps(facts, indent=1) + "\n")
    unreadable = str(getattr(conn, "secrets_unreadable", "") or "")
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
    if unreadable:
        meta["secretsUnreadable"] = unreadable
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

    def read_secrets(self) -> tuple[list[Secret], str]:
        """The bundle's Secrets, known by their facts only (``secrets.json``).

        Returns:
            Redacted Secrets, and why Secrets were not readable when the bundle was saved (``""`` when they
            were; a bundle without ``secrets.json`` predates it and says so).

        Raises:
            ParseError: ``secrets.json`` is not a list of facts documents (the message names the entry and field).
        """
        file = self.path / "secrets.json"
        unreadable = str(self.meta.get("secretsUnreadable") or "")
        if not file.exists():
            return [], unreadable or "the bundle has no secrets.json"
        doc = load_document(_read(file), file=str(file), yaml_allowed=False)
        items = _typed(doc, list, "", str(file))
        return [parse_secret_facts(item, file=str(file), where=f"[{i}].") for i, item in enumerate(items)], unreadable

    def intent(self) -> tuple[Translation, ParseResult]:
        """Translate the bundle's resources (and its Secrets' facts) as a freshly started Gloo of its profile would.

        The top level is the proxy the bundle was saved from (``bundle.json``'s ``role``,
        ``<namespace>~<proxy>``); every proxy's translation is in ``Translation.proxies``.
        """
        parsed = self.read_resources()
        secrets, unreadable = self.read_secrets()
        snapshot = Snapshot.from_resources([*parsed.resources, *secrets])
        if unreadable:
            snapshot = replace(snapshot, secrets_unreadable=unreadable)
        role = str(self.meta.get("role") or "")
        return translate(snapshot, self.profile, proxy=role.split("~", 1)[-1] if "~" in role else None), parsed

    def served(self) -> ServedSnapshot | None:
        """What the control plane served, when it was recorded."""
        file = self.path / "served.json"
        return parse_served(_read_object(file), str(file)) if file.exists() else None

    def applied(self) -> tuple[dict[str, ServedSnapshot], dict[str, XdsStats]]:
        """Each replica's applied configuration and xDS stats, by node id."""
        applied: dict[str, ServedSnapshot] = {}
        stats: dict[str, XdsStats] = {}
        for file in sorted((self.path / "applied").glob("*.json")):
            doc = _read_object(file)
            node = str(_typed(doc.get("nodeId") or file.stem, str, "nodeId", str(file)))
            dump = _typed(doc.get("configDump") or {}, dict, "configDump", str(file))
            counters = _typed(doc.get("stats") or {}, dict, "stats", str(file))
            try:
                applied[node] = parse_config_dump(dump).applied()
                stats[node] = parse_xds_stats(counters)
            except (json_format.ParseError, AttributeError, KeyError, TypeError, ValueError) as err:
                # a hand-edited or truncated dump: name the file rather than fail as a bug
                raise ParseError(f"does not decode as an Envoy config dump and stats: {err}",
                                 file=str(file)) from None
        return applied, stats

    def served_now(self, timeout: float) -> ServedSnapshot | None:
        """What the control plane served (:class:`~gloo_nb.analysis.inspection.InspectionSource`).

        Args:
            timeout: Unused: the bundle holds what was read.

        Returns:
            The served resources, None when the bundle has none.
        """
        return self.served()

    def served_unavailable(self) -> str:
        """Why the bundle holds no served configuration (``InspectionSource``)."""
        return "" if self.served() is not None else "the bundle holds no served configuration"

    def applied_now(self) -> tuple[dict[str, ServedSnapshot], dict[str, XdsStats]]:
        """Each replica's applied configuration and xDS stats (``InspectionSource``)."""
        return self.applied()

    def collect(self) -> Inspection:
        """The same inspection as :meth:`GatewayConnection.collect`, from the files."""
        return collect(self)


def _read(file: Path) -> bytes:
    # regular files only, size-bounded: a FIFO named applied/x.json must not hang the reader
    try:
        return read_input(file)
    except ParseError as err:
        raise BundleError(f"{err.one_line()}; is this a gloo-nb snapshot bundle?") from None


def _read_object(file: Path) -> dict[str, Any]:
    doc = load_document(_read(file), file=str(file), yaml_allowed=False)
    return dict(_typed(doc, dict, "", str(file)))


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
    file = folder / "bundle.json"
    meta = _read_object(file)
    profile = (check_profile(gloo_version, source="--gloo-version") if gloo_version
               else check_profile(meta.get("glooVersion") or "current", source=f"{file}: glooVersion"))
    return SnapshotBundle(folder, profile, meta)
