"""THE parser: Kubernetes manifests (YAML, JSON or live objects) -> typed Gloo resources.

Pure: it parses the text, bytes and mappings handed to it and never touches a file or the
network (:mod:`gloo_nb.app.manifests` reads files). Every source (files, stdin, the cluster,
recorded journals) goes through the same functions, so that a field means the same everywhere.

Rules (``design/architecture.md``, ``gloo-nb translate``; ``spec/gloo-semantics.md`` section 1):

* Field names are the protobuf JSON (lowerCamel) names of the Gloo protos. Like every protobuf
  JSON parser (jsonpb, which solo-kit uses), the original proto names (``case_sensitive``) are
  accepted as well; v1 Services and ``metadata`` are plain Kubernetes JSON and take only their
  own names.
* ``null`` means "not set", as in protobuf JSON.
* A document that cannot be read (bad YAML or JSON, a wrong type for a known field, several
  members of one oneof, no kind, no ``metadata.name``) raises :class:`~gloo_nb.errors.ParseError`
  naming the file, the document index and the field path.
* Unknown fields in a known kind are warning findings (layer ``parse``); reading goes on. Option
  blocks (``options``, ``sslConfig``, ``destinationSpec``...) are kept raw and not checked.
* Kinds gloo_nb does not translate are returned as :class:`~gloo_nb.models.findings.Skipped`.
  v1 ``Endpoints`` and ``Pod`` are read (only what Gloo's kube EDS uses: addresses, ports, pod
  labels, IP, phase and readiness; a Pod's other spec and status fields are not checked).
* ``metadata.namespace`` absent is kept as ``""``: kubectl would apply the object to its current
  namespace (usually ``default``), and only the caller knows which one that is.
* YAML timestamps are kept as the strings written, as Kubernetes (which reads YAML as JSON) does.

The codec is split along its seams, one private module each; this package is its public face and
re-exports the names above (import them from ``gloo_nb.models.codec``, not from the modules):

* ``_fields``: the field catalogue (the fields of each Gloo and Kubernetes message, proto ranges).
* ``_reader``: the field reader (typing one value, unknown fields, problems worded with their path).
* ``_builders``: the per-kind builders and :func:`parse_object`.
* ``_collect``: :class:`ParseResult`, List expansion, tolerance, :func:`parse_objects`.
* ``_json_stream``: the streaming JSON reader (a List decoded one item at a time).
* ``_yaml_events``: the event-based YAML loader (bounded depth and aliases).
* ``_streams``: :func:`parse_stream`, which picks the JSON or the YAML reader.
* ``_secret_facts``: a Secret's facts as JSON and back (:func:`secret_facts_json`, :func:`parse_secret_facts`).
* ``_documents``: raw documents for writing back to an API (:func:`load_documents`, :func:`load_document`).

:func:`merge_patch` lives in :mod:`gloo_nb.models.merge_patch` (a document operation, not parsing).
"""

from __future__ import annotations

from gloo_nb.models.codec._builders import ParsedObject, parse_object
from gloo_nb.models.codec._collect import ParseResult, parse_objects, unreadable_finding
from gloo_nb.models.codec._documents import load_document, load_documents
from gloo_nb.models.codec._secret_facts import parse_secret_facts, secret_facts_json
from gloo_nb.models.codec._streams import parse_stream
from gloo_nb.models.codec._yaml_events import MAX_YAML_DEPTH
from gloo_nb.models.merge_patch import merge_patch

__all__ = [
    "MAX_YAML_DEPTH",
    "ParseResult",
    "ParsedObject",
    "load_document",
    "load_documents",
    "merge_patch",
    "parse_object",
    "parse_objects",
    "parse_secret_facts",
    "parse_stream",
    "secret_facts_json",
    "unreadable_finding",
]
