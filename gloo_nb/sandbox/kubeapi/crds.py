"""Read-only CustomResourceDefinitions for the Gloo kinds, derived from the kinds table.

The sandbox's Gloo kinds are compiled in (:mod:`gloo_nb.sandbox.kinds`), so their definitions are computed on
each read rather than stored: ``kubectl get crd`` lists what a Gloo install would have registered, and writes
are refused (405) because there is nothing to change.
"""

from __future__ import annotations

import uuid
from typing import Any

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.kinds import KINDS, Kind
from gloo_nb.sandbox.kubeapi.discovery import custom_resource_schema
from gloo_nb.sandbox.store import ApiError, Store

__all__ = ["all_crds", "crd", "get"]

_EPOCH = "1970-01-01T00:00:00Z"


def _installed_at(store: Store) -> str:
    # The definitions come with the cluster: date them as the `default` namespace (persisted across restarts).
    try:
        return str(store.get(k.NAMESPACE, None, "default")["metadata"].get("creationTimestamp") or _EPOCH)
    except ApiError:
        return _EPOCH


def crd(kind: Kind, created: str) -> dict[str, Any]:
    """Return the CustomResourceDefinition of one Gloo kind.

    Args:
        kind: A Gloo kind (``builtin`` False).
        created: Its ``creationTimestamp``.

    Returns:
        The object, with an ``Established`` status as the apiextensions-apiserver writes it.
    """
    name = kind.resource
    names: dict[str, Any] = {"kind": kind.kind, "listKind": f"{kind.kind}List", "plural": kind.plural,
                             "singular": kind.singular}
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    if kind.categories:
        names["categories"] = list(kind.categories)
    version: dict[str, Any] = {"name": kind.version, "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": custom_resource_schema(kind)}}
    if "status" in kind.subresources:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": k.CUSTOM_RESOURCE_DEFINITION.api_version, "kind": k.CUSTOM_RESOURCE_DEFINITION.kind,
        "metadata": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"crd:{name}")),
                     "resourceVersion": "1", "generation": 1, "creationTimestamp": created,
                     "labels": {"app": "gloo", "app.kubernetes.io/name": "gloo"}},
        "spec": {"group": kind.group, "names": names, "scope": "Namespaced" if kind.namespaced else "Cluster",
                 "versions": [version], "conversion": {"strategy": "None"}},
        "status": {"acceptedNames": names, "storedVersions": [kind.version], "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": created, "reason": "NoConflicts",
             "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": created,
             "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}]},
    }


def all_crds(store: Store) -> list[dict[str, Any]]:
    """Return the definitions of every Gloo kind the sandbox serves, sorted by name as the apiserver lists."""
    created = _installed_at(store)
    return sorted((crd(kind, created) for kind in KINDS if not kind.builtin), key=lambda c: c["metadata"]["name"])


def get(store: Store, name: str) -> dict[str, Any]:
    """Return one definition by name (``routetables.gateway.solo.io``).

    Args:
        store: The store (for the creation date).
        name: The CRD's name.

    Returns:
        The object.

    Raises:
        ApiError: 404 in the apiserver's words when no Gloo kind has that name.
    """
    for kind in KINDS:
        if not kind.builtin and kind.resource == name:
            return crd(kind, _installed_at(store))
    raise ApiError(404, "NotFound", f'{k.CUSTOM_RESOURCE_DEFINITION.resource} "{name}" not found',
                   {"name": name, "group": k.CUSTOM_RESOURCE_DEFINITION.group,
                    "kind": k.CUSTOM_RESOURCE_DEFINITION.plural})
