"""The patch formats the apiserver accepts: strategic merge, JSON merge (RFC 7386) and JSON patch (RFC 6902)."""

from __future__ import annotations

from typing import Any

import jsonpatch

from gloo_nb.models.codec import merge_patch
from gloo_nb.sandbox.store import ApiError

__all__ = ["apply_merge_patch", "apply_json_patch", "apply_server_side", "apply_strategic_merge_patch"]

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
        return _strip(patch)
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


def _need_map(patch: Any) -> dict[str, Any]:
    if not isinstance(patch, dict):
        what = "array" if isinstance(patch, list) else "string" if isinstance(patch, str) else "number"
        raise ApiError(400, "BadRequest", f"json: cannot unmarshal {what} into Go value of type "
                                          "map[string]interface {}")
    return patch


def apply_strategic_merge_patch(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a strategic merge patch (built-in kinds), as the apiserver does for kubectl apply.

    Args:
        obj: The stored object (not modified).
        patch: The decoded patch.

    Returns:
        The patched object.

    Raises:
        ApiError: 400 when the patch is not a JSON object.
    """
    return _merge_map(obj, _need_map(patch))


def apply_merge_patch(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a JSON merge patch (RFC 7386).

    Args:
        obj: The stored object (not modified).
        patch: The decoded patch; it must be an object.

    Returns:
        The patched object.

    Raises:
        ApiError: 400 with Go's message when the patch is not a JSON object.
    """
    patched: dict[str, Any] = merge_patch(obj, _need_map(patch))
    return patched


def apply_json_patch(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a JSON patch (RFC 6902), ``test`` operations included.

    Args:
        obj: The stored object (not modified).
        patch: The decoded list of operations.

    Returns:
        The patched object.

    Raises:
        ApiError: 400 when the patch is malformed, 422 Invalid when an operation cannot be applied.
    """
    if not isinstance(patch, list):
        raise ApiError(400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        ops = jsonpatch.JsonPatch(patch)
    except (jsonpatch.InvalidJsonPatch, TypeError) as error:
        raise ApiError(400, "BadRequest", f"invalid JSON patch: {error}") from None
    try:
        result = ops.apply(obj, in_place=False)
    except jsonpatch.JsonPatchTestFailed as error:
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: "
                                       f"testing value failed: {error}") from None
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError) as error:
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: "
                                       f"{error}") from None
    if not isinstance(result, dict):
        raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request: "
                                       "the result is not an object")
    return result


def _apply(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return patch
    out = dict(target)
    for key, value in patch.items():
        out[key] = _apply(out.get(key), value)
    return out


def apply_server_side(obj: dict[str, Any], config: Any) -> dict[str, Any]:
    """Apply a server-side apply configuration crudely: maps merge, everything else is replaced.

    Field ownership is not tracked, so fields dropped from the configuration are not removed.

    Args:
        obj: The stored object (not modified).
        config: The decoded apply configuration.

    Returns:
        The merged object.

    Raises:
        ApiError: 400 when the configuration is not an object.
    """
    return _apply(obj, _need_map(config))
