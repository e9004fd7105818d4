"""The Kubernetes adapter: the official ``kubernetes`` client, objects as plain dicts."""

from gloo_nb.kube.client import ConflictError, KubeClient, KubeError, pod_ready, resource_for

__all__ = ["ConflictError", "KubeClient", "KubeError", "pod_ready", "resource_for"]
