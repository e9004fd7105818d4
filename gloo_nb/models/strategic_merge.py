"""Kubernetes' strategic merge patch on plain documents (pure).

The patch kubectl sends for built-in kinds (``kubectl apply`` and ``kubectl patch`` without ``--type``). Two
readers apply it: the sandbox's API server (:mod:`gloo_nb.sandbox.kubeapi.patches`) and the journal's importer,
which rebuilds objects from a ``Request``-level audit log (:mod:`gloo_nb.journal.importer`). Merge keys and
directives as ``k8s.io/apimachinery/pkg/util/strategicpatch/patch.go`` applies them for the built-in types gloo_nb
reads (``k8s.io/api`` struct tags ``patchMergeKey``/``patchStrategy``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["strategic_merge_patch"]

# patchMergeKey of the built-in types the sandbox serves (k8s.io/api); lists not named here are atomic.
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "imagePullSecrets": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "conditions": "type", "hostAliases": "ip", "ownerReferences": "uid", "topologySpreadConstraints": "topologyKey",
    "envFrom": None, "ports": "port",
}
# Primitive lists with patchStrategy "merge": a patch adds to them instead of replacing.
_PRIMITIVE_SETS = frozenset({"finalizers"})


def _merge_key(field: str, *lists: list[Any]) -> str | None:
    key = _MERGE_KEYS.get(field)
    if field == "ports" and any(isinstance(i, dict) and "containerPort" in i for items in lists for i in items):
        # Container ports merge on containerPort, Service ports on port.
        return "containerPort"
    return key


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return _merge_map({}, value)
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and v.get("$patch") == "delete")]
    return value


def _merge_list(field: str, orig: list[Any], patch: list[Any]) -> list[Any]:
    if field in _PRIMITIVE_SETS and all(not isinstance(v, dict | list) for v in patch):
        return list(orig) + [v for v in patch if v not in orig]
    key = _merge_key(field, orig, patch)
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return [_strip(v) for v in patch if not (isinstance(v, dict) and v.get("$patch") == "replace")]
    if key is None or not all(isinstance(v, dict) for v in patch):
        stripped: list[Any] = _strip(patch)
        return stripped
    out = list(orig)
    for item in patch:
        if item.get("$patch") == "delete":
            out = [o for o in out if not (isinstance(o, dict) and o.get(key) == item.get(key))]
            continue
        for i, o in enumerate(out):
            if isinstance(o, dict) and key in item and o.get(key) == item[key]:
                out[i] = _merge_map(o, item)
                break
        else:
            out.append(_strip(item))
    return out


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(v: Any) -> Any:
        return v.get(key) if key and isinstance(v, dict) else v

    wanted = [ident(v) for v in order]
    ranked = [(wanted.index(ident(v)) if ident(v) in wanted else len(wanted), i, v) for i, v in enumerate(items)]
    return [v for _, _, v in sorted(ranked, key=lambda t: (t[0], t[1]))]


def _merge_map(orig: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    if patch.get("$patch") == "replace":
        return {k: _strip(v) for k, v in patch.items() if k != "$patch"}
    out = dict(orig)
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field) or [] if v not in (value or [])]
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            if value.get("$patch") == "delete":
                out.pop(key, None)
            else:
                cur = out.get(key)
                out[key] = _merge_map(cur if isinstance(cur, dict) else {}, value)
        elif isinstance(value, list):
            cur = out.get(key)
            out[key] = _merge_list(key, cur if isinstance(cur, list) else [], value)
        else:
            out[key] = value
    for key, order in patch.items():
        if key.startswith("$setElementOrder/") and isinstance(order, list):
            field = key.split("/", 1)[1]
            if isinstance(out.get(field), list):
                out[field] = _reorder(out[field], order, _merge_key(field, out[field], order))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain or k.startswith("$")}
    return out



def strategic_merge_patch(obj: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a strategic merge patch to a built-in kind's object.

    Args:
        obj: The object (not modified).
        patch: The decoded patch (an object).

    Returns:
        The patched object.
    """
    return _merge_map(obj, patch)
