"""``metadata.managedFields``, as kube-apiserver's field manager records them on every write.

What a real apiserver writes (k8s.io/apimachinery/pkg/util/managedfields and its ``internal`` package, which
k8s.io/apiserver/pkg/endpoints/handlers/{create,update,patch}.go call; sigs.k8s.io/structured-merge-diff for the
field sets), and what this module reproduces:

- The manager is the ``fieldManager`` query parameter, else the User-Agent up to its first ``/``
  (handlers/create.go ``managerOrUserAgent``, ``prefixFromUserAgent``): ``kubectl-client-side-apply``,
  ``kubectl-create``, ``kubectl-edit``, ``kubectl-patch``, ``kubectl-label`` (kubectl sends them as
  ``fieldManager``), ``OpenAPI-Generator`` for the Python client (its User-Agent is ``OpenAPI-Generator/...``).
- ``operation`` is ``Apply`` for a server-side apply patch, else ``Update``; ``subresource`` is set for status
  (and scale) writes; ``apiVersion`` is the version written, ``time`` the write's second, ``fieldsType: FieldsV1``.
- An ``Update`` manager owns the fields its write added or changed (structured-merge-diff's ``Compare``:
  ``Added`` and ``Modified``), on top of what it owned; other managers lose them; a manager left with no field is
  dropped (internal/structuredmerge.go ``Update``, internal/managedfields.go). An ``Apply`` manager owns the
  fields of its configuration.
- ``apiVersion``, ``kind`` and the server's metadata (name, namespace, uid, resourceVersion, generation,
  creationTimestamp, managedFields...) are never owned (internal/stripmeta.go ``NewStripMetaManager``).
- Entries are sorted: ``Apply`` before ``Update``, then by time (seconds), manager, apiVersion and subresource
  (internal/managedfields.go ``sortEncodedManagedFields``).
- ``fieldsV1``: ``f:<field>`` for each field; ``k:{"name":"c"}`` for an item of an associative list of a built-in
  kind (containers by ``name``, ports by ``containerPort`` and ``protocol``...), other lists are atomic (a leaf);
  ``.`` marks a map or list item owned as a whole (``f:labels: {".": {}, "f:app": {}}``), as Kubernetes' docs show
  (https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management).

Approximations (said in the README): built-in structs are told from maps by field name, not by Kubernetes' Go
schema (so ``.`` may be missing where a pointer struct, e.g. ``rollingUpdate``, gets one on a cluster); a custom
resource's maps are all granular maps (structured-merge-diff's deduced type for schemaless CRDs); no cap of ten
``Update`` managers (the apiserver merges the oldest into ``ancient-changes``); server-side apply still merges the
crude way the sandbox applies it (gloo_nb.sandbox.kubeapi.patches), conflicts are not detected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["IN_PROCESS_MANAGERS", "current_manager", "field_values", "given_entries", "manager_for",
           "manager_from_request", "managed_fields", "request_manager"]

current_manager: ContextVar[tuple[str, str, Any] | None] = ContextVar("gloo_nb_sandbox_field_manager",
                                                                       default=None)
"""``(manager, operation, applied configuration or None)`` of the API request being served; None for the sandbox's
in-process writes."""

IN_PROCESS_MANAGERS = {
    # client-go's default User-Agent is the binary's name first (rest/config.go DefaultKubernetesUserAgent:
    # adjustCommand(os.Args[0])): kubelet, kube-controller-manager, kube-apiserver (its loopback client), and
    # Gloo's own binary, `gloo` (projects/gloo/cmd/Dockerfile: ENTRYPOINT ["/usr/local/bin/gloo"]).
    "system:node:sandbox": "kubelet",
    "system:kube-controller-manager": "kube-controller-manager",
    "system:serviceaccount:kube-system:service-account-controller": "kube-controller-manager",
    "system:serviceaccount:gloo-system:gloo": "gloo",
    "system:apiserver": "kube-apiserver",
    # The install's objects: on a cluster Helm writes them (helm's kube client names itself `helm`).
    "admin": "helm",
}
"""The field manager of each of the sandbox's in-process writers, by user."""

_FIELD_MANAGER_MAX_LENGTH = 128
"""k8s.io/apimachinery/pkg/apis/meta/v1/validation ``FieldManagerMaxLength``."""

_STRIPPED_META = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                            "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
                            "generateName", "clusterName"})

_LIST_KEYS: dict[str, tuple[str, ...]] = {
    # The +listMapKey tags of k8s.io/api (core/v1/types.go, meta/v1/types.go) for the lists the sandbox's kinds hold.
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "env": ("name",), "volumes": ("name",), "imagePullSecrets": ("name",), "volumeMounts": ("mountPath",),
    "conditions": ("type",), "ownerReferences": ("uid",), "hostAliases": ("ip",), "readinessGates": (),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
}
_PORT_KEYS = {"containerPorts": ("containerPort", "protocol"), "servicePorts": ("port", "protocol")}
_MAPS = frozenset({"labels", "annotations", "data", "binaryData", "stringData", "nodeSelector", "matchLabels",
                   "limits", "requests", "capacity", "allocatable"})
_SET_LISTS = frozenset({"finalizers"})


def manager_from_request(field_manager: str | None, user_agent: str) -> str:
    """The manager of an API write: ``fieldManager``, else the User-Agent's prefix.

    k8s.io/apiserver/pkg/endpoints/handlers/create.go ``managerOrUserAgent`` and ``prefixFromUserAgent``: the part
    before the first ``/``, without unprintable characters, cut at ``FieldManagerMaxLength`` (128 bytes).

    Args:
        field_manager: The ``fieldManager`` query parameter, if any.
        user_agent: The ``User-Agent`` header.

    Returns:
        The manager name.
    """
    if field_manager:
        return field_manager
    out, size = [], 0
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        n = len(ch.encode("utf-8"))
        if size + n > _FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += n
    return "".join(out)


def manager_for(user: str) -> tuple[str, str, Any]:
    """``(manager, operation, applied)`` of a write: the API request's, else the in-process writer's by user.

    Args:
        user: The writing identity's user name.

    Returns:
        The triple (``Update`` and None for in-process writes).
    """
    found = current_manager.get()
    if found is not None:
        return found
    return IN_PROCESS_MANAGERS.get(user, "gloo-nb-sandbox"), "Update", None


@contextmanager
def request_manager(manager: str, operation: str, applied: Any = None) -> Iterator[None]:
    """Make the writes of the code inside the ones of ``manager`` with ``operation`` (``Update`` or ``Apply``).

    Args:
        manager: The field manager.
        operation: ``Update`` or ``Apply``.
        applied: For ``Apply``: the configuration applied.

    Yields:
        Nothing; the writes inside are the manager's.
    """
    token = current_manager.set((manager, operation, applied))
    try:
        yield
    finally:
        current_manager.reset(token)


def _key_of(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    # structured-merge-diff's PathElement.String for a key: k:{"name":"c"}, keys in sorted order, compact JSON.
    return "k:" + json.dumps({k: item[k] for k in sorted(keys) if k in item}, separators=(",", ":"))


def _list_keys(name: str, parent: str, items: list[Any]) -> tuple[str, ...] | None:
    keys: tuple[str, ...] | None
    if name == "ports":
        keys = _PORT_KEYS["containerPorts" if parent in ("containers", "initContainers") else "servicePorts"]
        return keys if parent in ("containers", "initContainers", "spec") else None
    keys = _LIST_KEYS.get(name)
    if not keys or not all(isinstance(i, dict) and keys[0] in i for i in items):
        return None
    return keys


def _walk(value: dict[str, Any], prefix: tuple[str, ...], parent: str, builtin: bool,
          out: dict[tuple[str, ...], Any]) -> None:
    for key, v in value.items():
        path = (*prefix, "f:" + key)
        if builtin and key == "selector" and isinstance(v, dict) and ("matchLabels" in v or "matchExpressions" in v):
            # A LabelSelector is atomic (+structType=atomic in k8s.io/apimachinery meta/v1/types.go).
            out[path] = v
        elif isinstance(v, dict) and v:
            if key in _MAPS or not builtin:
                out[(*path, ".")] = None
            _walk(v, path, key, builtin, out)
        elif isinstance(v, list) and v and builtin and key in _SET_LISTS:
            for item in v:
                out[(*path, "v:" + json.dumps(item, separators=(",", ":")))] = None
        elif isinstance(v, list) and v and builtin and (keys := _list_keys(key, parent, v)) is not None:
            for item in v:
                item_path = (*path, _key_of(item, keys))
                out[(*item_path, ".")] = None
                _walk(item, item_path, key, builtin, out)
        else:
            out[path] = v


def field_values(obj: dict[str, Any], *, builtin: bool, status: bool = True) -> dict[tuple[str, ...], Any]:
    """Every path a manager can own in ``obj`` (leaves with their values; ``.`` nodes with None).

    Args:
        obj: The object.
        builtin: Whether its kind is a built-in one (custom resources' maps are all granular).
        status: Whether ``.status`` counts (not in a write of a kind with a status subresource but the status
            itself: the strategies' ``GetResetFields`` reset it, so nobody owns it through the main resource).

    Returns:
        ``{path: value}``; a path is a tuple of fieldsV1 keys.
    """
    out: dict[tuple[str, ...], Any] = {}
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        kept = {k: v for k, v in meta.items() if k not in _STRIPPED_META}
        if kept:
            # ObjectMeta is typed for every kind, custom resources included.
            _walk({"metadata": kept}, (), "", True, out)
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata") and (status or k != "status")}
    _walk(body, (), "", builtin, out)
    return out


def _to_fields_v1(paths: set[tuple[str, ...]] | list[tuple[str, ...]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(part, {})
    return tree


def _from_fields_v1(tree: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    if not isinstance(tree, dict):
        return out
    for key, sub in tree.items():
        path = (*prefix, key)
        if isinstance(sub, dict) and sub:
            out |= _from_fields_v1(sub, path)
        else:
            out.add(path)
    return out


def _seconds(entry: dict[str, Any]) -> str:
    return str(entry.get("time") or "")


def given_entries(value: Any) -> list[dict[str, Any]] | None:
    """The ``managedFields`` a request body sets, when usable, else None.

    The apiserver takes a body's own entries when they decode (internal/fieldmanager.go ``Update``: "This is
    necessary to allow directly updating managed fields"), else keeps the stored ones.

    Args:
        value: The body's ``metadata.managedFields``.

    Returns:
        The entries, or None.
    """
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(e, dict) and isinstance(e.get("manager", ""), str)
               and isinstance(e.get("fieldsV1", {}), dict) for e in value):
        return None
    return [dict(e) for e in value]


def managed_fields(old: dict[str, Any] | None, new: dict[str, Any], *, manager: str, operation: str,
                   subresource: str | None, now: str, builtin: bool, status: bool = True,
                   applied: Any = None, entries_so_far: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The ``metadata.managedFields`` of ``new`` after ``manager`` wrote it over ``old``.

    Args:
        old: The stored object before the write (None: a create); its managedFields are the entries so far.
        new: The object written.
        manager: The field manager.
        operation: ``Update`` or ``Apply``.
        subresource: ``status`` or ``scale`` for a subresource write, else None.
        now: The write's time (RFC 3339, seconds).
        builtin: Whether the kind is built in (see :func:`field_values`).
        status: Whether ``.status`` is owned by this write (see :func:`field_values`).
        applied: For ``Apply``: the configuration applied (the manager owns its fields).
        entries_so_far: The entries before the write (default: ``old``'s).

    Returns:
        The entries, sorted as the apiserver sorts them.
    """
    before = field_values(old, builtin=builtin) if old is not None else {}
    after = field_values(new, builtin=builtin)
    changed = {p for p, v in after.items() if (p not in before or before[p] != v) and (status or p[0] != "f:status")}
    if entries_so_far is None:
        entries_so_far = list((old.get("metadata") or {}).get("managedFields") or []) if old is not None else []
    if not changed and old is not None:
        return entries_so_far
    present = set(after)
    api_version = str(new.get("apiVersion") or "")
    mine_key = (manager, operation, subresource or "")
    entries: list[dict[str, Any]] = []
    mine: set[tuple[str, ...]] = set()
    mine_api = api_version
    for entry in entries_so_far:
        if not isinstance(entry, dict):
            continue
        owned = {p for p in _from_fields_v1(entry.get("fieldsV1")) if p in present}
        if (entry.get("manager"), entry.get("operation"), entry.get("subresource") or "") == mine_key:
            mine |= owned
            continue
        owned -= changed
        if isinstance(applied, dict) and operation == "Apply":
            owned -= set(field_values(applied, builtin=builtin))
        if owned:
            entries.append({**entry, "fieldsV1": _to_fields_v1(owned)})
    if operation == "Apply" and isinstance(applied, dict):
        # An applied configuration's set is its own fields (typed.ToFieldSet), with no `.` for a map that is a
        # field (`f:data: {f:key: {}}` in the docs' example); list items keep theirs.
        mine = {p for p in field_values(applied, builtin=builtin) if p in present
                and not (p[-1] == "." and len(p) > 1 and p[-2].startswith("f:"))}
    else:
        mine |= changed
    if mine:
        entry = {"manager": manager, "operation": operation, "apiVersion": mine_api, "time": now,
                 "fieldsType": "FieldsV1", "fieldsV1": _to_fields_v1(mine)}
        if subresource:
            entry["subresource"] = subresource
        entries.append(entry)
    entries.sort(key=lambda e: (str(e.get("operation")), _seconds(e), str(e.get("manager")),
                                str(e.get("apiVersion")), str(e.get("subresource") or "")))
    return entries
