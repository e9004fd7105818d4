"""A Kubernetes-compatible HTTP API over the sandbox :class:`~gloo_nb.sandbox.store.Store`.

Real ``kubectl`` (1.32) and the official Python client work against it: discovery, OpenAPI v3 stubs,
CRUD, watch, tables, patches, impersonation and RBAC. ``KubeApiServer`` runs in the caller's event loop;
``ServerThread`` runs one in a background thread.

This package sits above the store: the store and its rules (:mod:`gloo_nb.sandbox.object_selectors`,
:mod:`gloo_nb.sandbox.validation`) never import it (an import-linter contract says so).
"""

from __future__ import annotations

from gloo_nb.sandbox.kubeapi.server import KubeApiServer, ServerThread, write_kubeconfig

__all__ = ["KubeApiServer", "ServerThread", "write_kubeconfig"]
