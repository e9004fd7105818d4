"""The patch formats the apiserver accepts: strategic merge, JSON merge (RFC 7386) and JSON patch (RFC 6902)."""

from __future__ import annotations

from typing import Any

import jsonpatch

from gloo_nb.models.codec import merge_patch
from gloo_nb.models.strategic_merge import strategic_merge_patch
from gloo_nb.sandbox.store import ApiError

__all__ = ["apply_merge_patch", "apply_json_patch", "apply_server_side", "apply_strategic_merge_patch"]

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
    return strategic_merge_patch(obj, _need_map(patch))


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
