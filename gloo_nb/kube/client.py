"""A Kubernetes adapter on the official ``kubernetes`` client: read, apply, patch and delete objects.

One :class:`KubeClient` per identity (the client sends impersonation as default headers, and only
one ``Impersonate-Group`` value; see ``notes/runtime.md``).
"""

from __future__ import annotations

import builtins
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from gloo_nb.errors import RolloutConflict, UnreachableError


class KubeError(UnreachableError):
    """The Kubernetes API refused a request; ``status`` and ``reason`` are Kubernetes' own."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class ConflictError(KubeError, RolloutConflict):
    """Someone else changed the object since it was read (HTTP 409 Conflict).

    Also a :class:`~gloo_nb.errors.RolloutConflict`: a writer that loses this race stops, as a rollout does.
    """


@dataclass(frozen=True, slots=True)
class ApiResource:
    """Where a kind lives in the API.

    Attributes:
        api_version: ``v1`` or ``group/version``.
        plural: The resource name in URLs.
        namespaced: Whether objects live in namespaces.
    """

    api_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The URL path of a collection or an object.

        Args:
            namespace: The namespace (ignored for cluster-scoped kinds; None lists all namespaces).
            name: The object name, or None for the collection.

        Returns:
            The path.
        """
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


KNOWN: dict[str, ApiResource] = {
    "Namespace": ApiResource("v1", "namespaces", namespaced=False),
    "Service": ApiResource("v1", "services"),
    "Pod": ApiResource("v1", "pods"),
    "Endpoints": ApiResource("v1", "endpoints"),
    "ConfigMap": ApiResource("v1", "configmaps"),
    "Secret": ApiResource("v1", "secrets"),
    "Deployment": ApiResource("apps/v1", "deployments"),
    "VirtualService": ApiResource("gateway.solo.io/v1", "virtualservices"),
    "RouteTable": ApiResource("gateway.solo.io/v1", "routetables"),
    "Gateway": ApiResource("gateway.solo.io/v1", "gateways"),
    "Upstream": ApiResource("gloo.solo.io/v1", "upstreams"),
    "UpstreamGroup": ApiResource("gloo.solo.io/v1", "upstreamgroups"),
    "VirtualHostOption": ApiResource("gateway.solo.io/v1", "virtualhostoptions"),
    "RouteOption": ApiResource("gateway.solo.io/v1", "routeoptions"),
    "Settings": ApiResource("gloo.solo.io/v1", "settings"),
    "Proxy": ApiResource("gloo.solo.io/v1", "proxies"),
    "Role": ApiResource("rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ApiResource("rbac.authorization.k8s.io/v1", "rolebindings"),
    "ClusterRole": ApiResource("rbac.authorization.k8s.io/v1", "clusterroles", namespaced=False),
    "ClusterRoleBinding": ApiResource("rbac.authorization.k8s.io/v1", "clusterrolebindings", namespaced=False),
}
"""The kinds gloo_nb reads and writes."""


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """Whether a pod is Ready: the kubelet's condition (pkg/kubelet/status/generate.go) a Service's endpoints follow.

    Args:
        pod: The Pod as the API returns it.

    Returns:
        True when its ``Ready`` condition is ``True``.
    """
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def resource_for(kind: str) -> ApiResource:
    """Return where a kind lives.

    Args:
        kind: The kind.

    Returns:
        Its API resource.

    Raises:
        KubeError: For a kind gloo_nb does not handle.
    """
    try:
        return KNOWN[kind]
    except KeyError:
        raise KubeError(f"gloo_nb does not handle kind {kind!r}; known kinds: {', '.join(sorted(KNOWN))}") from None


class KubeClient:
    """Read and write Kubernetes objects as plain dicts.

    Args:
        api_client: A configured ``kubernetes.client.ApiClient`` (one per identity).
    """

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.api_client = api_client

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, *, context: str | None = None, as_user: str | None = None,
                        as_group: str | None = None) -> KubeClient:
        """Build a client from a kubeconfig (or in a pod, its service account), optionally impersonating.

        Args:
            path: The kubeconfig file (default: ``$KUBECONFIG`` or ``~/.kube/config``; in a pod with
                neither, the in-cluster service account).
            context: The context (default: the current one).
            as_user: Impersonate this user.
            as_group: Impersonate this group (with ``as_user``).

        Returns:
            The client.
        """
        configuration = k8s.Configuration()
        try:
            if path is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST") \
                    and not os.environ.get("KUBECONFIG"):
                # Inside a pod (a notebook server in the cluster): the service account's credentials.
                k8s_config.load_incluster_config(client_configuration=configuration)
            else:
                k8s_config.load_kube_config(config_file=path, context=context, client_configuration=configuration)
        except (k8s_config.ConfigException, OSError, ValueError) as exc:
            where = path or os.environ.get("KUBECONFIG") or "~/.kube/config"
            raise KubeError(f"cannot use the kubeconfig {where}"
                            + (f" (context {context})" if context else "")
                            + f": {str(exc).strip() or type(exc).__name__}; check the file and the context") from None
        api_client = k8s.ApiClient(configuration)
        if as_user:
            api_client.set_default_header("Impersonate-User", as_user)
        if as_group:
            api_client.set_default_header("Impersonate-Group", as_group)
        return cls(api_client)

    def _call(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
              query: Mapping[str, str] | None = None) -> dict[str, Any]:
        api = self.api_client
        _, url, headers, payload, _ = api.param_serialize(
            method, path, query_params=list((query or {}).items()), body=body,
            header_params={"Accept": "application/json", "Content-Type": content_type},
            auth_settings=["BearerToken"])
        try:
            resp = api.call_api(method, url, header_params=headers, body=payload)
            data = resp.read()
        except ApiException as exc:
            raise _error(int(exc.status or 0), str(exc.reason), exc.body, method, path) from None
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise KubeError(f"{method} {path}: cannot reach the Kubernetes API at {api.configuration.host}: "
                            f"{type(exc).__name__}") from None
        if not 200 <= resp.status < 300:
            raise _error(resp.status, str(resp.reason), data, method, path)
        return _loads(data) if data else {}

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        """Read one object.

        Args:
            kind: The kind.
            namespace: The namespace (None for cluster-scoped kinds).
            name: The name.

        Returns:
            The object.
        """
        return self._call("GET", resource_for(kind).path(namespace, name))

    def can_i(self, verb: str, resource: str, namespace: str, *, group: str = "",
              subresource: str = "") -> bool:
        """Whether this identity may do ``verb`` on a resource, as ``kubectl auth can-i`` asks.

        A ``SelfSubjectAccessReview`` of the (impersonated) identity, as kubectl's
        ``staging/src/k8s.io/kubectl/pkg/cmd/auth/cani.go`` (``CanIOptions.RunAccessCheck``) sends it.

        Args:
            verb: The verb (``get``, ``create``...).
            resource: The resource (``pods``).
            namespace: The namespace.
            group: The API group (``""`` for the core group).
            subresource: The subresource (``portforward``).

        Returns:
            ``status.allowed``.

        Raises:
            KubeError: The review itself was refused.
        """
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"namespace": namespace, "verb": verb, "group": group,
                                                  "resource": resource, "subresource": subresource}}}
        answer = self._call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
        return bool((answer.get("status") or {}).get("allowed"))

    def list(self, kind: str, namespace: str | None = None, *, label_selector: str = "") -> dict[str, Any]:
        """List objects (all namespaces when ``namespace`` is None).

        Args:
            kind: The kind.
            namespace: The namespace.
            label_selector: A Kubernetes label selector.

        Returns:
            The list object (``items`` and the list's ``metadata.resourceVersion``).
        """
        query = {"labelSelector": label_selector} if label_selector else None
        return self._call("GET", resource_for(kind).path(namespace), query=query)

    def watch(self, kind: str, namespace: str | None = None, *, resource_version: str = "",
              timeout_seconds: int = 300, label_selector: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
        """Follow changes: ``(ADDED|MODIFIED|DELETED, object)`` as the API sends them.

        Without ``resource_version`` every current object comes first as ``ADDED``; with the
        ``metadata.resourceVersion`` of a :meth:`list`, only later changes. The stream ends when
        the server closes it (``timeout_seconds``); a ``410 Expired`` raises :class:`KubeError`
        (list again and watch from the new version).

        Args:
            kind: The kind.
            namespace: The namespace (None: all namespaces).
            resource_version: Where to start.
            timeout_seconds: How long the server keeps the stream open.
            label_selector: A Kubernetes label selector.

        Yields:
            Event type and object.

        Raises:
            KubeError: The watch cannot start or the server reports an error.
        """
        path = resource_for(kind).path(namespace)
        query = {"watch": "1", "timeoutSeconds": str(timeout_seconds)}
        if resource_version:
            query["resourceVersion"] = resource_version
        if label_selector:
            query["labelSelector"] = label_selector
        api = self.api_client
        _, url, headers, _, _ = api.param_serialize("GET", path, query_params=list(query.items()),
                                                    header_params={"Accept": "application/json"},
                                                    auth_settings=["BearerToken"])
        try:
            resp = api.rest_client.pool_manager.request("GET", url, headers=headers, preload_content=False,
                                                        timeout=urllib3.Timeout(connect=10, read=timeout_seconds + 30))
        except urllib3.exceptions.HTTPError as exc:
            raise KubeError(f"GET {path}: cannot reach the Kubernetes API: {type(exc).__name__}") from None
        try:
            if resp.status != 200:
                raise _error(resp.status, str(resp.reason), resp.read(), "GET", path)
            buffer = b""
            for chunk in resp.stream(65536, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise KubeError(f"watch {path}: {status.get('message', 'error')}",
                                        status=int(status.get("code") or 0), reason=str(status.get("reason", "")))
                    yield str(event["type"]), dict(event["object"])
        finally:
            resp.release_conn()

    def apply(self, obj: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Make the object exist as given: create it, or merge-patch the live one into it.

        The patch carries exactly the differences between the live object and the manifest (keys
        the manifest lacks are removed; labels and annotations are compared too; the status and
        server-set metadata are left alone), so, like ``kubectl apply``, it does not conflict
        with a controller writing the status meanwhile.

        Args:
            obj: The manifest.

        Returns:
            ``created``, ``configured`` or ``unchanged``, and the stored object.
        """
        res = resource_for(str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace"), meta["name"]
        if res.namespaced and not ns:
            ns = "default"
        try:
            live = self._call("GET", res.path(ns, name))
        except KubeError as exc:
            if exc.status != 404:
                raise
            return "created", self._call("POST", res.path(ns), dict(obj))
        patch = merge_diff(_applied_view(live), _applied_view(obj))
        if not patch:
            return "unchanged", live
        stored = self._call("PATCH", res.path(ns, name), patch, content_type="application/merge-patch+json")
        changed = stored["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"]
        return ("configured" if changed else "unchanged"), stored

    def replace(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Replace an object (PUT), guarded by the ``metadata.resourceVersion`` it carries.

        Unlike :meth:`apply`, this never overwrites a change made since the object was read: the
        API server answers 409 when the stored version differs.

        Args:
            obj: The whole object, with the ``metadata.resourceVersion`` it was computed from.
            dry_run: Send ``dryRun=All``: the API server validates and admits the request (admission webhooks
                included) and writes nothing (``k8s.io/apiserver/pkg/endpoints/handlers/update.go``
                ``UpdateResource``; ``kubectl replace --dry-run=server`` sends the same).

        Returns:
            The stored object (with ``dry_run``, the object as it would be stored).

        Raises:
            ConflictError: The object changed since that version.
            KubeError: Any other refusal (403, 404, 422, ...).
        """
        res = resource_for(str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        if not meta.get("resourceVersion"):
            raise KubeError(f"replace {obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}: "
                            "metadata.resourceVersion is missing; read the object first and change that copy")
        return self._call("PUT", res.path(meta.get("namespace") or ("default" if res.namespaced else None),
                                          meta["name"]), dict(obj), query={"dryRun": "All"} if dry_run else None)

    def patch(self, kind: str, namespace: str | None, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a JSON merge patch (RFC 7386).

        Args:
            kind: The kind.
            namespace: The namespace.
            name: The name.
            patch: The merge patch.

        Returns:
            The patched object.
        """
        return self._call("PATCH", resource_for(kind).path(namespace, name), dict(patch),
                          content_type="application/merge-patch+json")

    def delete(self, kind: str, namespace: str | None, name: str, *, missing_ok: bool = True) -> bool:
        """Delete one object.

        Args:
            kind: The kind.
            namespace: The namespace.
            name: The name.
            missing_ok: Whether a missing object is fine.

        Returns:
            Whether something was deleted.
        """
        try:
            self._call("DELETE", resource_for(kind).path(namespace, name))
        except KubeError as exc:
            if exc.status == 404 and missing_ok:
                return False
            raise
        return True

    def apply_all(self, objs: Iterable[Mapping[str, Any]]) -> builtins.list[tuple[str, str]]:
        """Apply objects in order.

        Args:
            objs: The manifests.

        Returns:
            ``(kind/namespace/name, outcome)`` per object.
        """
        out = []
        for obj in objs:
            outcome, stored = self.apply(obj)
            meta = stored.get("metadata", {})
            out.append((f"{obj.get('kind')}/{meta.get('namespace', '')}/{meta.get('name')}", outcome))
        return out


_SERVER_SET = ("apiVersion", "kind", "metadata", "status")


def _applied_view(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What ``apply`` owns of an object: its content, labels and annotations."""
    meta = obj.get("metadata") or {}
    view = {k: v for k, v in obj.items() if k not in _SERVER_SET}
    view["metadata"] = {"labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {}}
    return view


def merge_diff(current: Any, desired: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns ``current`` into ``desired``.

    Args:
        current: The document now.
        desired: The document wanted (its ``null`` values cannot be expressed and mean "remove").

    Returns:
        The patch: only what differs, ``None`` for keys to remove; ``{}`` when nothing differs.
    """
    if not isinstance(current, Mapping) or not isinstance(desired, Mapping):
        return desired
    patch: dict[str, Any] = {key: None for key in current if key not in desired}
    for key, value in desired.items():
        if key not in current:
            patch[key] = value
        elif isinstance(value, Mapping) and isinstance(current[key], Mapping):
            sub = merge_diff(current[key], value)
            if sub:
                patch[key] = sub
        elif value != current[key]:
            patch[key] = value
    return patch


# 19 digits in a row: maybe an integer beyond 64 bits, which orjson would read as a float.
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def _loads(data: bytes | str) -> Any:
    """Decode a response body: orjson (a 10,000-RouteTable list is ~40 MB), the stdlib where orjson differs.

    orjson reads integers beyond 64 bits as floats and refuses more than 1024 levels; a body that
    may hold such an integer (19 digits in a row anywhere, even in a string) or that orjson refuses
    is read by the stdlib, so the result is always the stdlib's.
    """
    raw = data.encode() if isinstance(data, str) else data
    if not _LONG_NUMBER.search(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def _error(status: int, reason_phrase: str, body: Any, method: str, path: str) -> KubeError:
    message, reason = reason_phrase, ""
    try:
        doc = json.loads(body or "{}")
        message, reason = doc.get("message", message), doc.get("reason", "")
    except (ValueError, AttributeError):
        pass
    cls = ConflictError if status == 409 and reason == "Conflict" else KubeError
    return cls(f"{method} {path}: {message}", status=status, reason=reason)
