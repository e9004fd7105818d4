"""JSON merge patch (RFC 7386) on plain documents.

Not parsing: a document operation the sandbox's API server uses for ``kubectl patch --type merge``
(and tests use to apply the seed scenario's ``settings-patch.yaml``). It lives in ``models`` rather
than ``sandbox`` because ``gloo_nb.models.codec.merge_patch`` is a public name, and the model layer
must not import the sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["merge_patch"]


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON merge patch (RFC 7386), as ``kubectl patch --type merge`` does.

    The seed scenario's ``settings-patch.yaml`` is such a patch: it has no kind and is applied to
    the ``gloo-system/default`` Settings, not read as a manifest.

    Args:
        target: The document to patch (not modified).
        patch: The patch; ``null`` values delete keys.

    Returns:
        The patched document (new mappings wherever the patch reaches).
    """
    if not isinstance(patch, Mapping):
        return patch
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out
