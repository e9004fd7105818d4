"""Discovery (aggregated and legacy), ``/version`` and the OpenAPI v3 stubs kubectl needs."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from gloo_nb.sandbox.kinds import KINDS, SERVED_KINDS, Kind

__all__ = ["AGGREGATED_CONTENT_TYPE", "OPENAPI_V2_PROTOBUF", "VERSION", "aggregated", "api_group",
           "api_resource_list", "api_versions", "custom_resource_schema", "group_versions", "openapi_document",
           "openapi_index", "openapi_v2"]

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-sandbox",
           "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
           "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4", "compiler": "gc", "platform": "linux/amd64"}
"""``/version``: kubectl's GKE dispatcher picks the client binary from ``minor``, so it must say 32."""

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_SUB_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
              "portforward": ["create", "get"], "log": ["get"], "exec": ["create", "get"], "token": ["create"]}


def group_versions() -> list[tuple[str, str]]:
    """Return the served (group, version) pairs, core first."""
    seen: list[tuple[str, str]] = []
    for kind in (*KINDS, *SERVED_KINDS):
        if (kind.group, kind.version) not in seen:
            seen.append((kind.group, kind.version))
    return seen


def _kinds(group: str, version: str) -> list[Kind]:
    # Sorted by resource name as kube-apiserver lists them (k8s.io/apiserver/pkg/endpoints/installer.go
    # APIInstaller.Install: `sort.Strings(paths)`): kubectl's `get all` prints its categories in this order
    # (pods before services).
    return sorted((kind for kind in (*KINDS, *SERVED_KINDS) if kind.group == group and kind.version == version),
                  key=lambda kind: kind.plural)


def _sub_kind(kind: Kind, sub: str) -> dict[str, str]:
    if sub == "scale":
        return {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    if sub == "token":
        # pkg/registry/core/serviceaccount/storage/token.go GroupVersionKind: authentication.k8s.io/v1 TokenRequest.
        return {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}
    return {"group": kind.group, "version": kind.version, "kind": kind.kind}


def _resource(kind: Kind) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": kind.plural, "responseKind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
        "scope": "Namespaced" if kind.namespaced else "Cluster", "singularResource": kind.singular,
        "verbs": list(kind.verbs) or _VERBS}
    if kind.short_names:
        entry["shortNames"] = list(kind.short_names)
    if kind.categories:
        entry["categories"] = list(kind.categories)
    if kind.subresources:
        entry["subresources"] = [{"subresource": s, "responseKind": _sub_kind(kind, s),
                                  "verbs": _SUB_VERBS.get(s, ["get"])} for s in sorted(kind.subresources)]
    return entry


def aggregated(core: bool) -> dict[str, Any]:
    """Return the aggregated discovery document (``APIGroupDiscoveryList``).

    Args:
        core: True for ``/api`` (the core group), False for ``/apis``.

    Returns:
        The body; serve it with :data:`AGGREGATED_CONTENT_TYPE`.
    """
    items = []
    for group, version in group_versions():
        if (group == "") != core:
            continue
        meta: dict[str, Any] = {"creationTimestamp": None}
        if group:
            meta["name"] = group
        items.append({"metadata": meta, "versions": [{"version": version, "freshness": "Current",
                                                      "resources": [_resource(k) for k in _kinds(group, version)]}]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


def api_versions(address: str) -> dict[str, Any]:
    """Return the legacy ``/api`` body (``APIVersions``).

    Args:
        address: ``host:port`` the server is reached at.

    Returns:
        The body.
    """
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def api_group(group: str) -> dict[str, Any] | None:
    """Return one group's legacy ``APIGroup`` body, or None when it is not served.

    Args:
        group: The group name.

    Returns:
        The body or None.
    """
    versions = [{"groupVersion": f"{g}/{v}", "version": v} for g, v in group_versions() if g == group and g]
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    """Return the legacy ``/apis`` body (``APIGroupList``)."""
    groups: list[dict[str, Any]] = []
    for group, _ in group_versions():
        if group and all(g["name"] != group for g in groups):
            body = api_group(group)
            assert body is not None
            groups.append({k: v for k, v in body.items() if k not in ("kind", "apiVersion")})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """Return the legacy ``APIResourceList`` of one group-version, or None when it is not served.

    Args:
        group: The group (``""`` for core).
        version: The version.

    Returns:
        The body or None.
    """
    kinds = _kinds(group, version)
    if not kinds:
        return None
    resources: list[dict[str, Any]] = []
    for kind in kinds:
        entry: dict[str, Any] = {"name": kind.plural, "singularName": kind.singular, "namespaced": kind.namespaced,
                                 "kind": kind.kind, "verbs": list(kind.verbs) or _VERBS}
        if kind.short_names:
            entry["shortNames"] = list(kind.short_names)
        if kind.categories:
            entry["categories"] = list(kind.categories)
        resources.append(entry)
        for sub in sorted(kind.subresources):
            sk = _sub_kind(kind, sub)
            resources.append({"name": f"{kind.plural}/{sub}", "singularName": "", "namespaced": kind.namespaced,
                              "kind": sk["kind"], "verbs": _SUB_VERBS.get(sub, ["get"]),
                              **({"group": sk["group"], "version": sk["version"]}
                                 if sub in ("scale", "token") else {})})
    resources.sort(key=lambda entry: entry["name"])  # installer.go sorts the paths, subresources included
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


_PARAMS = [{"name": name, "in": "query", "schema": {"type": t}}
           for name, t in (("dryRun", "string"), ("fieldManager", "string"), ("force", "boolean"),
                           ("fieldValidation", "string"))]


_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
_OBJECT_META: dict[str, Any] = {
    "type": "object", "description": "Standard object's metadata.",
    "properties": {
        "name": {"type": "string"}, "namespace": {"type": "string"}, "generateName": {"type": "string"},
        "labels": {**_STRING_MAP, "description": "Map of string keys and values to organize objects."},
        "annotations": {**_STRING_MAP, "description": "Unstructured key value map set by tools."},
        "uid": {"type": "string"}, "resourceVersion": {"type": "string"},
        "generation": {"type": "integer", "format": "int64"},
        "creationTimestamp": {"type": "string", "format": "date-time"},
        "deletionTimestamp": {"type": "string", "format": "date-time"},
        "finalizers": {"type": "array", "items": {"type": "string", "default": ""},
                       "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
        "ownerReferences": {"type": "array", "items": {"type": "object",
                                                       "x-kubernetes-preserve-unknown-fields": True}},
        "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    },
}


def custom_resource_schema(kind: Kind) -> dict[str, Any]:
    """Return a Gloo kind's structural OpenAPI v3 schema, as its CustomResourceDefinition carries it.

    Gloo Edge's own CRDs leave ``spec`` and ``status`` open (``x-kubernetes-preserve-unknown-fields``): the
    control plane validates them, not the apiserver. The sandbox does the same.

    Args:
        kind: A Gloo kind.

    Returns:
        A fresh schema (callers may change it).
    """
    return {
        "type": "object", "description": f"{kind.kind} is a Gloo resource ({kind.group}).",
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of "
                                                            "this representation of an object."},
            "kind": {"type": "string", "description": "Kind is a string value representing the REST "
                                                      "resource this object represents."},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "description": f"The {kind.kind} specification, as Gloo reads it.",
                     "x-kubernetes-preserve-unknown-fields": True},
            "status": {"type": "object", "description": "Written by Gloo.",
                       "x-kubernetes-preserve-unknown-fields": True}}}


@cache
def openapi_document(group: str, version: str) -> str | None:
    """Return one group-version's OpenAPI v3 stub as JSON text, or None when it is not served.

    One ``patch`` operation per kind carries ``x-kubernetes-group-version-kind`` and a ``fieldValidation``
    parameter, so kubectl leaves validation to the server. Only the Gloo custom resources get schemas (for
    ``kubectl explain``): partial schemas for built-in kinds would break kubectl's strategic merge patches.

    Args:
        group: The group (``""`` for core).
        version: The version.

    Returns:
        The JSON text.
    """
    kinds = _kinds(group, version)
    if not kinds:
        return None
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for kind in kinds:
        if kind.verbs and "patch" not in kind.verbs:
            continue  # computed kinds (reviews, CRDs): nothing to patch
        path = (f"{prefix}/namespaces/{{namespace}}/{kind.plural}/{{name}}" if kind.namespaced
                else f"{prefix}/{kind.plural}/{{name}}")
        gvk = {"group": kind.group, "version": kind.version, "kind": kind.kind}
        paths[path] = {"patch": {
            "operationId": f"patch{'Namespaced' if kind.namespaced else ''}{kind.kind}",
            "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk, "parameters": _PARAMS,
            # No strategic-merge-patch+json here: kubectl would then compute the patch from these schema-less
            # documents and warn; without it kubectl uses its compiled-in types (built-ins) or a merge patch (CRs).
            "requestBody": {"content": {t: {"schema": {"type": "object"}} for t in (
                "application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")}},
            "responses": {"200": {"description": "OK"}}}}
        if not kind.builtin:
            reverse = ".".join(reversed(kind.group.split(".")))
            schema = custom_resource_schema(kind)
            schema["properties"]["metadata"] = _OBJECT_META
            schemas[f"{reverse}.{kind.version}.{kind.kind}"] = {**schema, "x-kubernetes-group-version-kind": [gvk]}
    doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
           "components": {"schemas": schemas}}
    return json.dumps(doc, separators=(",", ":"))


@cache
def openapi_index() -> dict[str, Any]:
    """Return the ``/openapi/v3`` index, with a content hash in each URL (kubectl caches by URL)."""
    paths = {}
    for group, version in group_versions():
        text = openapi_document(group, version)
        assert text is not None
        digest = hashlib.sha512(text.encode()).hexdigest()[:16].upper()
        gv = _gv_path(group, version)
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": paths}


OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
"""The content type of ``/openapi/v2`` in protobuf. kubectl asks for ``...spec.v2@v1.0+protobuf`` (client-go
discovery/discovery_client.go ``openAPIV2mimePb``), which kube-openapi's handler (pkg/handler/handler.go) answers
with this spelling: Go's mime parser refuses the ``@`` in an answer ("mime: unexpected content after media
subtype")."""


def openapi_v2(accept: str) -> tuple[bytes, str]:
    """Return the ``/openapi/v2`` document and its content type, protobuf when ``accept`` asks for it.

    kubectl fetches it only to validate on the client what the server cannot validate, e.g. the items of a
    ``kind: List`` file (there is no ``List`` resource whose ``fieldValidation`` support it could check:
    k8s.io/kubectl/pkg/validation ``paramVerifyingSchema.ValidateBytes`` falls back to ``schemaValidation``,
    which loads ``/openapi/v2`` through discovery_client.go ``OpenAPISchema``, protobuf only). A 404 made every
    ``kubectl apply -f list.yaml`` fail with "error validating data: the server could not find the requested
    resource". The document has no definitions: kubectl's ``schemaValidation.validateResource`` skips a kind it
    finds none for ("resource is not present, let's just skip validation"), and the server still checks each
    item's fields (kubectl sends ``fieldValidation=Strict`` with each). A real apiserver's document holds every
    kind's swagger schema (out: the sandbox's schemas are OpenAPI v3, ``/openapi/v3``).

    Args:
        accept: The request's ``Accept`` header.

    Returns:
        ``(body, content type)``.
    """
    if "protobuf" in accept:
        # gnostic's openapi_v2.Document with field 1 (swagger) "2.0", proto3 wire format: tag 0x0a, length 3.
        return b"\x0a\x032.0", OPENAPI_V2_PROTOBUF
    doc = {"swagger": "2.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]}, "paths": {},
           "definitions": {}}
    return json.dumps(doc).encode(), "application/json"
