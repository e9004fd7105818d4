"""A Kubernetes-compatible HTTP API over the sandbox :class:`~gloo_nb.sandbox.store.Store`.

Real ``kubectl`` (1.32) and the official Python client work against it: discovery, OpenAPI v3 stubs,
CRUD, watch, tables, patches, impersonation and RBAC. ``KubeApiServer`` runs in the caller's event loop;
``ServerThread`` runs one in a background thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gloo_nb.sandbox.kubeapi.server import KubeApiServer, ServerThread, write_kubeconfig

__all__ = ["KubeApiServer", "ServerThread", "write_kubeconfig"]


def __getattr__(name: str) -> Any:
    # Lazy: the store imports the selector and validation modules of this package, and the server imports the store.
    if name in __all__:
        from gloo_nb.sandbox.kubeapi import server

        return getattr(server, name)
    raise AttributeError(name)
