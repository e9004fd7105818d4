"""The Kubernetes-compatible HTTP API server (aiohttp), and helpers to run it and to point kubectl at it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web

from gloo_nb.errors import ParseError
from gloo_nb.models.codec import load_document
from gloo_nb.sandbox import audit, managed_fields
from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.garbage_collector import orphan_dependents
from gloo_nb.sandbox.kinds import Kind, kind_by_plural
from gloo_nb.sandbox.kubeapi import auth, crds, discovery, metrics, patches, protobuf, rbac, tokens
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.kubeapi.tables import table
from gloo_nb.sandbox.object_selectors import field_matcher, label_matcher
from gloo_nb.sandbox.store import ApiError, Identity, Store, WatchEvent, conflict
from gloo_nb.sandbox.validation import unknown_fields

__all__ = ["MAX_BODY_BYTES", "GroupVersionHandler", "KubeApiServer", "ServerThread", "SubresourceHandler",
           "write_kubeconfig"]

log = logging.getLogger(__name__)

SubresourceHandler = Callable[[web.Request, Identity, str, str], Awaitable[web.StreamResponse]]
"""Serves a subresource such as ``pods/portforward``: ``(request, identity, namespace, name) -> response``,
called after authorization."""

GroupVersionHandler = Callable[[web.Request, Identity, list[str]], Awaitable[web.StreamResponse]]
"""Serves a whole group-version the store does not hold, such as ``metrics.k8s.io/v1beta1``: ``(request,
identity, path segments after /apis/GROUP/VERSION) -> response``; it authorizes the request itself."""

_TABLE_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
_JSON = "application/json"
_WATCH_TIMEOUT = 1800.0
_SMP = "application/strategic-merge-patch+json"
_MERGE = "application/merge-patch+json"
_JSON_PATCH = "application/json-patch+json"
_APPLY = "application/apply-patch+yaml"
_CR_PATCH_TYPES = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
MAX_BODY_BYTES = 3 * 1024 * 1024
"""The apiserver's default ``MaxRequestBodyBytes`` (k8s.io/apiserver/pkg/server/config.go)."""
_AUDIT_BODY = web.RequestKey("gloo_nb.audit.body", bytes)
_VERB_BY_METHOD = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete", "POST": "create"}


def _dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


def _json(body: Any, status: int = 200, content_type: str = _JSON,
          headers: dict[str, str] | None = None) -> web.Response:
    resp = web.Response(status=status, text=_dumps(body), headers=headers)
    resp.headers["Content-Type"] = content_type
    return resp


def _status_response(error: ApiError) -> web.Response:
    # The Status as kube-apiserver writes it (see gloo_nb.sandbox.apierror): Go's field order and encoding, and
    # the trailing newline of its json.Encoder; clients compare these bytes.
    resp = web.Response(status=error.code, body=error.body())
    resp.headers["Content-Type"] = _JSON
    return resp


def _internal_error(error: Exception) -> ApiError:
    # k8s.io/apimachinery/pkg/api/errors/errors.go NewInternalError: the error is also the one cause.
    return ApiError(500, "InternalError", f"Internal error occurred: {error}", {"causes": [{"message": str(error)}]})


def _not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _scale_of(dep: dict[str, Any]) -> dict[str, Any]:
    meta = dep["metadata"]
    selector = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if dep.get("kind") == k.REPLICATION_CONTROLLER.kind:
        # pkg/registry/core/replicationcontroller/storage/storage.go scaleFromRC: the selector is a plain map.
        selector = (dep.get("spec") or {}).get("selector") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {key: meta[key] for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if key in meta},
            "spec": {"replicas": (dep.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": (dep.get("status") or {}).get("replicas", 0),
                       "selector": ",".join(f"{a}={b}" for a, b in sorted(selector.items()))}}


def _set_replicas(dep: dict[str, Any], scale: Any) -> dict[str, Any]:
    replicas = ((scale or {}).get("spec") or {}).get("replicas") if isinstance(scale, dict) else None
    name = dep["metadata"]["name"]
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ApiError(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                                       f"{_dumps(replicas)}: must be greater than or equal to 0",
                       {"name": name, "group": "autoscaling", "kind": "Scale",
                        "causes": [{"reason": "FieldValueInvalid", "field": "spec.replicas",
                                    "message": "Invalid value: must be greater than or equal to 0"}]})
    rv = ((scale.get("metadata") or {}).get("resourceVersion"))
    if rv not in (None, "") and rv != dep["metadata"]["resourceVersion"]:
        raise conflict(k.REPLICA_SET if dep.get("kind") == "ReplicaSet" else k.REPLICATION_CONTROLLER
                       if dep.get("kind") == k.REPLICATION_CONTROLLER.kind else k.DEPLOYMENT, name)
    dep.setdefault("spec", {})["replicas"] = replicas
    return dep


class _Target:
    """A parsed resource URL."""

    __slots__ = ("kind", "name", "namespace", "sub")

    def __init__(self, kind: Kind, namespace: str, name: str, sub: str) -> None:
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.sub = sub


class KubeApiServer:
    """The Kubernetes-compatible API over a store, on 127.0.0.1, over HTTPS with bearer-token authentication.

    Args:
        store: The objects served.
        credentials: The serving certificate and the admin token (see :mod:`~gloo_nb.sandbox.kubeapi.pki`).
        host: Address to bind.
        port: Port to bind; 0 picks a free one.

    Attributes:
        url: ``https://127.0.0.1:PORT`` once started.
        app: The aiohttp application.
        max_body_bytes: Largest request body accepted (413 above it); the apiserver's 3 MiB by default.
    """

    max_body_bytes: int = MAX_BODY_BYTES

    def __init__(self, store: Store, credentials: Credentials, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = store
        self.credentials = credentials
        self.host = host
        self.port = port
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._watches: set[asyncio.Queue[WatchEvent | None]] = set()
        self._stopping = False
        self._subresources: dict[tuple[Kind, str], SubresourceHandler] = {}
        self._group_versions: dict[tuple[str, str], GroupVersionHandler] = {}
        # Discovery always lists metrics.k8s.io (kinds.SERVED_KINDS): serve it with the node's usage and no pod
        # processes until an owner that runs pods registers its own (the daemon does, with the kubelet's).
        self.register_group_version(metrics.GROUP, metrics.VERSION, metrics.MetricsApi(store, dict))
        # kubectl create token: ServiceAccount tokens signed with a key kept next to the credentials.
        self.register_subresource(k.SERVICE_ACCOUNT, "token", tokens.TokenRequestHandler(store, credentials))
        self.app = web.Application(client_max_size=256 * 1024 * 1024, middlewares=[self._errors])
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)

    def register_subresource(self, kind: Kind, subresource: str, handler: SubresourceHandler) -> None:
        """Serve a subresource the store does not handle itself (``pods/portforward``, ``pods/log``...).

        Args:
            kind: The kind, e.g. ``POD``.
            subresource: e.g. ``portforward``.
            handler: Called with ``(request, identity, namespace, name)`` once RBAC allowed the request.
        """
        self._subresources[(kind, subresource)] = handler

    def register_group_version(self, group: str, version: str, handler: GroupVersionHandler) -> None:
        """Serve a group-version computed rather than stored (``metrics.k8s.io/v1beta1``).

        Args:
            group: e.g. ``metrics.k8s.io``.
            version: e.g. ``v1beta1``.
            handler: Called with ``(request, identity, rest)`` for every request under ``/apis/GROUP/VERSION/``.
        """
        self._group_versions[(group, version)] = handler

    async def start(self) -> None:
        """Bind and serve; :attr:`url` is set afterwards."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.credentials.server_context())
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        self.url = f"https://{self.host}:{self.port}"

    async def stop(self) -> None:
        """Close the listener and every open watch."""
        self._stopping = True
        for queue in list(self._watches):
            queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- plumbing -----------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return _status_response(error)
        except web.HTTPException:
            raise
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as error:
            log.exception("internal error on %s %s", request.method, request.path_qs)
            return _status_response(_internal_error(error))

    async def _body(self, request: web.Request) -> Any:
        raw = await self._read_body(request)
        ctype = request.content_type
        if "protobuf" in ctype:
            return protobuf.decode(raw)
        if not raw.strip():
            raise ApiError(400, "BadRequest", "the request body is empty")
        try:
            # The project's one parser: bounded nesting and alias expansion, no NaN/Infinity (Go's
            # encoding/json has none, and one stored NaN breaks every later `kubectl get -o yaml`).
            return load_document(raw, file="request body", yaml_allowed="yaml" in ctype)
        except ParseError as error:
            raise ApiError(400, "BadRequest", f"error decoding the request body: {error.problem}") from None

    async def _read_body(self, request: web.Request) -> bytes:
        """Read a request body of at most :attr:`max_body_bytes`, else answer 413 as the apiserver does.

        k8s.io/apiserver/pkg/endpoints/handlers/rest.go (limitedReadBody) reads one byte more than the
        limit and refuses with ``Request entity too large: limit is N``; the limit is
        ``MaxRequestBodyBytes`` (3 MiB) of k8s.io/apiserver/pkg/server/config.go.
        """
        limit = self.max_body_bytes
        too_large = ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        data = bytearray()
        while chunk := await request.content.read(65536):
            data += chunk
            if len(data) > limit:
                raise too_large
        body = bytes(data)
        request[_AUDIT_BODY] = body  # the body as sent, for the audit log's requestObject
        return body

    def _target(self, group: str, version: str, rest: list[str]) -> _Target:
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            inner = kind_by_plural(group, version, rest[2])
            if inner is not None and inner.namespaced:
                namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise _not_found_path()
        kind = kind_by_plural(group, version, rest[0])
        if kind is None:
            raise _not_found_path()
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if (kind.namespaced and name and not namespace) or (not kind.namespaced and namespace):
            raise _not_found_path()
        if sub and sub not in kind.subresources and (kind, sub) not in self._subresources:
            raise _not_found_path()
        return _Target(kind, namespace, name, sub)

    # --- routing ----------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        segs = [s for s in request.path.split("/") if s]
        identity = auth.identity_of(self.store, self.credentials, request.path, request.headers)
        if identity is None:  # the anonymous health probes
            return web.Response(text="ok")
        if not segs:
            return _json({"paths": ["/api", "/api/v1", "/apis", "/openapi/v2", "/openapi/v3", "/version"]})
        if segs == ["version"]:
            return _json(discovery.VERSION)
        if request.method == "GET":
            found = self._discovery(request, segs)
            if found is not None:
                return found
        if segs[0] == "api" and len(segs) >= 3:
            group, version, rest = "", segs[1], segs[2:]
        elif segs[0] == "apis" and len(segs) >= 4:
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise _not_found_path()
        served = self._group_versions.get((group, version))
        if served is not None:
            return await served(request, identity, rest)
        if (group, version) == (k.SELF_SUBJECT_ACCESS_REVIEW.group, "v1") and len(rest) == 1 and rest[0] in (
                k.SELF_SUBJECT_ACCESS_REVIEW.plural, k.SELF_SUBJECT_RULES_REVIEW.plural):
            return await self._review(request, identity, rest[0])
        if (group, version, rest) == (k.SELF_SUBJECT_REVIEW.group, "v1", [k.SELF_SUBJECT_REVIEW.plural]):
            return await self._whoami(request, identity)
        if (group, version, rest[0]) == (k.CUSTOM_RESOURCE_DEFINITION.group, "v1", k.CUSTOM_RESOURCE_DEFINITION.plural):
            return self._crds(request, identity, rest)
        return await self._resource(request, identity, self._target(group, version, rest))

    async def _review(self, request: web.Request, identity: Identity, plural: str) -> web.Response:
        # Any authenticated user may ask about itself: the bootstrap ClusterRole system:basic-user, bound to
        # system:authenticated, grants create on both reviews (plugin/pkg/auth/authorizer/rbac/bootstrappolicy).
        if request.method != "POST":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        body = await self._body(request)
        if plural == k.SELF_SUBJECT_ACCESS_REVIEW.plural:
            return _json(rbac.access_review(self.store, identity, body), 201)
        return _json(rbac.rules_review(self.store, identity, body), 201)

    async def _whoami(self, request: web.Request, identity: Identity) -> web.Response:
        # pkg/registry/authentication/selfsubjectreview/rest.go Create: the requester's user info as authenticated
        # (impersonation applied), allowed to every authenticated user by system:basic-user.
        if request.method != "POST":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        await self._body(request)
        if not rbac.authorize(self.store, identity, rbac.Request("create", k.SELF_SUBJECT_REVIEW.group,
                                                                 k.SELF_SUBJECT_REVIEW.plural)):
            raise rbac.forbidden(identity, rbac.Request("create", k.SELF_SUBJECT_REVIEW.group,
                                                        k.SELF_SUBJECT_REVIEW.plural))
        user_info: dict[str, Any] = {"username": identity.user}
        if identity.groups:
            user_info["groups"] = list(identity.groups)
        return _json({"kind": k.SELF_SUBJECT_REVIEW.kind, "apiVersion": k.SELF_SUBJECT_REVIEW.api_version,
                      "metadata": {"creationTimestamp": None}, "status": {"userInfo": user_info}}, 201)

    def _crds(self, request: web.Request, identity: Identity, rest: list[str]) -> web.Response:
        kind = k.CUSTOM_RESOURCE_DEFINITION
        if len(rest) > 2:
            raise _not_found_path()
        name = rest[1] if len(rest) == 2 else ""
        if request.method != "GET" or request.query.get("watch") in ("true", "1"):
            # The Gloo kinds are compiled into the sandbox: their definitions are served, not stored.
            raise ApiError(405, "MethodNotAllowed", f"{kind.resource} are read-only in the sandbox (the Gloo kinds "
                                                    "are built in); the server does not allow this method")
        req = rbac.Request("get" if name else "list", kind.group, kind.plural, name=name)
        if not rbac.authorize(self.store, identity, req):
            raise rbac.forbidden(identity, req)
        rv = self.store.resource_version
        if name:
            return self._object(request, kind, crds.get(self.store, name))
        q = request.query
        by_label, by_field = label_matcher(q.get("labelSelector", "")), field_matcher(q.get("fieldSelector", ""))
        items = [c for c in crds.all_crds(self.store) if by_label(c) and by_field(c)]
        if self._wants_table(request):
            return _json(table(kind, items, rv, time.time(), include_object=q.get("includeObject", "Metadata")),
                         content_type=_TABLE_TYPE)
        return _json({"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": {"resourceVersion": rv},
                      "items": items})

    def _discovery(self, request: web.Request, segs: list[str]) -> web.Response | None:
        aggregated = "as=APIGroupDiscoveryList" in request.headers.get("Accept", "")
        cache = {"Cache-Control": "no-cache, private"}
        if segs in (["api"], ["apis"]):
            if aggregated:
                return _json(discovery.aggregated(segs == ["api"]), content_type=discovery.AGGREGATED_CONTENT_TYPE,
                             headers=cache)
            if segs == ["api"]:
                return _json(discovery.api_versions(f"{self.host}:{self.port}"), headers=cache)
            return _json(discovery.api_group_list(), headers=cache)
        if segs[0] == "openapi":
            if segs == ["openapi", "v3"]:
                return _json(discovery.openapi_index(), headers=cache)
            if segs == ["openapi", "v2"]:  # issue 20: kubectl validates a kind: List's items with it
                v2, ctype = discovery.openapi_v2(request.headers.get("Accept", ""))
                return web.Response(body=v2, headers={**cache, "Content-Type": ctype})
            if segs[:2] == ["openapi", "v3"] and len(segs) >= 4:
                gv = segs[2:]
                group, version = ("", gv[1]) if gv[0] == "api" and len(gv) == 2 else (
                    (gv[1], gv[2]) if gv[0] == "apis" and len(gv) == 3 else (None, None))
                text = discovery.openapi_document(group, version) if group is not None and version else None
                if text is not None:
                    return web.Response(text=text, content_type=_JSON,
                                        headers={"Cache-Control": "public, immutable"})
            raise _not_found_path()
        if segs[0] == "api" and len(segs) == 2:
            body = discovery.api_resource_list("", segs[1])
            return _json(body) if body else None
        if segs[0] == "apis" and len(segs) == 2:
            body = discovery.api_group(segs[1])
            return _json(body) if body else None
        if segs[0] == "apis" and len(segs) == 3:
            body = discovery.api_resource_list(segs[1], segs[2])
            return _json(body) if body else None
        return None

    async def _resource(self, request: web.Request, identity: Identity, t: _Target) -> web.StreamResponse:
        method = request.method
        q = request.query
        watch = q.get("watch") in ("true", "1")
        if not t.name:
            verb = {"GET": "watch" if watch else "list", "POST": "create", "DELETE": "deletecollection"}.get(method)
        else:
            verb = _VERB_BY_METHOD.get(method)
        if verb is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if verb not in audit.MUTATING_VERBS or (t.kind, t.sub) in self._subresources:
            # Reads are level None in the sandbox's policy; connect-like subresources (pods/portforward) stream.
            return await self._serve(request, identity, t, verb, None)
        return await self._audited(request, identity, t, verb)

    async def _audited(self, request: web.Request, identity: Identity, t: _Target,
                       verb: str) -> web.StreamResponse:
        """Serve one mutating request and write its audit event: the one place where its outcome is known.

        Every write that reaches a handler ends here, answered or refused (RBAC's 403, 404, 409, 422), dry runs
        included; the store hands the objects it committed to :data:`audit.current_request` instead of writing
        the event itself. The line is appended before this coroutine yields, so before any watch sees the write
        (the recorder matches watch events to audit lines).
        """
        received = time.time()
        collected = audit.RequestAudit()
        state: dict[str, str] = {}
        token = audit.current_request.set(collected)
        # Issue 20: the field manager of the request's writes (gloo_nb.sandbox.managed_fields).
        manager = managed_fields.manager_from_request(request.query.get("fieldManager"),
                                                      request.headers.get("User-Agent", ""))
        manager_token = managed_fields.current_manager.set((manager, "Update", None))
        resp: web.StreamResponse | None = None
        failure: ApiError | None = None
        try:
            resp = await self._serve(request, identity, t, verb, state)
            return resp
        except ApiError as error:
            failure = error
            raise
        except Exception as error:
            # The middleware answers 500; the audit says so too.
            failure = _internal_error(error)
            raise
        finally:
            collected.open = False
            audit.current_request.reset(token)
            managed_fields.current_manager.reset(manager_token)
            try:
                self._write_audit(request, identity, t, verb, received, collected, state, resp, failure)
            except Exception:  # the request's answer must not depend on its audit line
                log.exception("could not write the audit event of %s %s", request.method, request.path_qs)

    def _write_audit(self, request: web.Request, identity: Identity, t: _Target, verb: str, received: float,
                     collected: audit.RequestAudit, state: dict[str, str], resp: web.StreamResponse | None,
                     failure: ApiError | None) -> None:
        if self.store.audit_path is None:
            return
        kind = t.kind
        level = self.store.audit_policy.level_for(verb, kind.group, kind.plural)
        if level == "None":
            return
        # k8s.io/apiserver/pkg/endpoints/request/requestinfo.go: for the namespaces resource, the namespace is the
        # object's name.
        namespace = t.name if kind is k.NAMESPACE else t.namespace
        name, request_rv = t.name, ""
        request_object = self._audit_request_object(request) if level != "Metadata" else None
        if verb in ("create", "update") and not t.sub:
            # k8s.io/apiserver/pkg/audit/context.go LogRequestObject fills an empty objectRef name and namespace,
            # and the resourceVersion, from the decoded object (a generateName create has no name yet).
            body = request_object if request_object is not None else self._audit_request_object(request)
            meta = body.get("metadata") if isinstance(body, dict) else None
            if isinstance(meta, dict):
                name = name or str(meta.get("name") or "")
                if kind.namespaced and not namespace:
                    namespace = str(meta.get("namespace") or "")
                request_rv = str(meta.get("resourceVersion") or "")
        requester = auth.authenticate(self.credentials, request.headers.get("Authorization"), self.store)
        impersonated = ((identity.user, identity.groups) if request.headers.get("Impersonate-User") else None)
        status: dict[str, Any] | None = None
        response_object: Any = None
        if failure is not None:
            code = failure.code
            status = failure.status()
            response_object = status
        else:
            assert resp is not None
            code = resp.status
            if level == "RequestResponse" and isinstance(resp, web.Response) and isinstance(resp.body, bytes):
                try:
                    response_object = orjson.loads(resp.body)  # the body answered, as answered
                except orjson.JSONDecodeError:
                    response_object = None
        line = audit.event_line(
            level=level, verb=verb, request_uri=request.raw_path, user=requester.user, groups=requester.groups,
            impersonated=impersonated, user_agent=request.headers.get("User-Agent", ""),
            ref=audit.object_ref(kind.plural, namespace, name, kind.group, kind.version,
                                 resource_version=request_rv, subresource=t.sub),
            code=code, status=status, request_object=request_object, response_object=response_object,
            received=received, completed=time.time(), decision=state.get("decision", "allow"),
            reason=state.get("reason", ""),
            written=[rv for rv, _ in collected.committed], source_ip=request.remote or "127.0.0.1")
        self.store.append_audit(line)

    @staticmethod
    def _audit_request_object(request: web.Request) -> Any:
        # The body as the client sent it (the patch itself for a patch), YAML and protobuf converted to JSON.
        raw = request.get(_AUDIT_BODY)
        if not raw or not raw.strip():
            return None
        ctype = request.content_type
        try:
            if "protobuf" in ctype:
                return protobuf.decode(raw)
            if "yaml" in ctype:
                return load_document(raw, file="request body", yaml_allowed=True)
            # The handler already checked it with the project's parser (or refused it, and then only the log
            # needs it): orjson is the fast way to JSON again.
            return orjson.loads(raw)
        except (ParseError, ValueError):
            return None

    async def _serve(self, request: web.Request, identity: Identity, t: _Target, verb: str,
                     state: dict[str, str] | None) -> web.StreamResponse:
        namespace = t.name if t.kind is k.NAMESPACE else t.namespace
        req = rbac.Request(verb, t.kind.group, t.kind.plural, t.sub, namespace, t.name)
        if state is None:
            allowed = rbac.authorize(self.store, identity, req)
        else:
            # k8s.io/apiserver/pkg/endpoints/filters/authorization.go: the decision and reason annotations (the
            # reason of a refusal is RBAC's, empty).
            reason = rbac.allowed_by(self.store, identity, req)
            allowed = reason is not None
            state["decision"] = "allow" if allowed else "forbid"
            state["reason"] = reason or ""
        if not allowed:
            raise rbac.forbidden(identity, req)
        handler = self._subresources.get((t.kind, t.sub)) if t.sub else None
        if handler is not None:
            return await handler(request, identity, t.namespace, t.name)
        if t.sub and t.sub not in ("status", "scale"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if verb == "watch":
            return await self._watch(request, t)
        if verb == "list":
            return self._list(request, t)
        if verb == "get":
            obj = self.store.get(t.kind, t.namespace, t.name)
            if t.sub == "scale":
                return _json(_scale_of(obj))
            return self._object(request, t.kind, obj)
        if verb == "create":
            return await self._create(request, identity, t)
        if verb == "update":
            return await self._replace(request, identity, t)
        if verb == "patch":
            return await self._patch(request, identity, t)
        if verb == "delete":
            return await self._delete(request, identity, t)
        return await self._delete_collection(request, identity, t)

    # --- reads ------------------------------------------------------------------------------

    def _wants_table(self, request: web.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    def _object(self, request: web.Request, kind: Kind, obj: dict[str, Any]) -> web.Response:
        if self._wants_table(request):
            body = table(kind, [obj], obj["metadata"].get("resourceVersion", ""), time.time(),
                         include_object=request.query.get("includeObject", "Metadata"))
            return _json(body, content_type=_TABLE_TYPE)
        return _json(obj)

    def _list(self, request: web.Request, t: _Target) -> web.Response:
        q = request.query
        items, rv = self.store.list(t.kind, t.namespace or None, label_selector=q.get("labelSelector", ""),
                                    field_selector=q.get("fieldSelector", ""))
        if self._wants_table(request):
            return _json(table(t.kind, items, rv, time.time(), include_object=q.get("includeObject", "Metadata")),
                         content_type=_TABLE_TYPE)
        return _json({"kind": f"{t.kind.kind}List", "apiVersion": t.kind.api_version,
                      "metadata": {"resourceVersion": rv}, "items": items})

    async def _watch(self, request: web.Request, t: _Target) -> web.StreamResponse:
        q = request.query
        by_label = label_matcher(q.get("labelSelector", ""))
        by_field = field_matcher(q.get("fieldSelector", ""))
        as_table = self._wants_table(request)
        include = q.get("includeObject", "Metadata")
        try:
            timeout = float(q["timeoutSeconds"]) if "timeoutSeconds" in q else _WATCH_TIMEOUT
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid timeoutSeconds: {q['timeoutSeconds']}") from None
        rv_param = q.get("resourceVersion", "")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        kind, namespace = t.kind, t.namespace

        def on_event(event: WatchEvent) -> None:
            if event.kind is kind:
                loop.call_soon_threadsafe(queue.put_nowait, event)

        def matches(obj: dict[str, Any]) -> bool:
            if namespace and (obj.get("metadata") or {}).get("namespace") != namespace:
                return False
            return by_label(obj) and by_field(obj)

        seen: set[tuple[str, str]] = set()

        def shown_as(etype: str, obj: dict[str, Any]) -> str | None:
            # As the apiserver's filtered watch: an object that starts matching the selectors is
            # ADDED, one that stops matching is DELETED, whatever the underlying event was.
            meta = obj.get("metadata") or {}
            key = (meta.get("namespace", ""), meta.get("name", ""))
            now = matches(obj)
            if etype == "DELETED":
                was = key in seen
                seen.discard(key)
                return "DELETED" if was or now else None
            if now:
                out = "ADDED" if key not in seen else etype
                seen.add(key)
                return out
            if key in seen:
                seen.discard(key)
                return "DELETED"
            return None

        unsubscribe = self.store.subscribe(on_event)
        self._watches.add(queue)
        resp = web.StreamResponse(headers={"Content-Type": _TABLE_TYPE if as_table else _JSON,
                                           "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()

        async def send(etype: str, obj: dict[str, Any]) -> None:
            if as_table and etype != "ERROR":
                obj = table(kind, [obj], obj["metadata"].get("resourceVersion", ""), time.time(),
                            include_object=include)
            await resp.write((_dumps({"type": etype, "object": obj}) + "\n").encode())

        try:
            initial: list[tuple[str, dict[str, Any]]] = []
            if rv_param in ("", "0"):
                items, rv = self.store.list(kind, namespace or None)
                initial = [("ADDED", obj) for obj in items if shown_as("ADDED", obj)]
                last = int(rv)
            else:
                try:
                    last = int(rv_param)
                except ValueError:
                    raise ApiError(400, "BadRequest", f"invalid resource version: {rv_param}") from None
                try:
                    events = [e for e in self.store.events_since(last) if e.kind is kind]
                except ApiError as error:
                    await resp.prepare(request)
                    await send("ERROR", error.status())
                    return resp
                # What the client knew at that version: objects that existed then and matched. An
                # object's first later event tells (its object then is the one after the change, the
                # best evidence kept); an object without later events is as it is now.
                first: dict[tuple[str, str], WatchEvent] = {}
                for event in events:
                    meta = event.object.get("metadata") or {}
                    first.setdefault((meta.get("namespace", ""), meta.get("name", "")), event)
                items, _ = self.store.list(kind, namespace or None)
                seen.update(k for o in items if matches(o)
                            and (k := (o["metadata"].get("namespace", ""), o["metadata"]["name"])) not in first)
                seen.update(k for k, e in first.items() if e.type != "ADDED" and matches(e.object))
                for event in events:
                    last = event.resource_version
                    etype = shown_as(event.type, event.object)
                    if etype is not None:
                        initial.append((etype, event.object))
            await resp.prepare(request)
            for etype, obj in initial:
                await send(etype, obj)
            deadline = loop.time() + timeout
            while not self._stopping:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    change = await asyncio.wait_for(queue.get(), timeout=min(remaining, 1.0))
                except TimeoutError:
                    # aiohttp does not cancel a handler whose client went away: look.
                    if request.transport is None or request.transport.is_closing():
                        break
                    continue
                if change is None:
                    break
                if change.resource_version <= last:
                    continue
                last = change.resource_version
                etype = shown_as(change.type, change.object)
                if etype is not None:
                    await send(etype, change.object)
            try:
                await resp.write_eof()
            except ConnectionError:
                pass
        except ConnectionError:
            pass
        finally:
            unsubscribe()
            self._watches.discard(queue)
        return resp

    # --- writes -----------------------------------------------------------------------------

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        return "All" in request.query.getall("dryRun", [])

    @staticmethod
    def _check_fields(request: web.Request, kind: Kind, new: dict[str, Any], old: dict[str, Any] | None,
                      warnings: list[str]) -> None:
        mode = request.query.get("fieldValidation", "Warn")
        if mode == "Ignore":
            return
        fresh = unknown_fields(kind, new)
        if old is not None and fresh:
            known = set(unknown_fields(kind, old))
            fresh = [f for f in fresh if f not in known]
        if not fresh:
            return
        texts = [f'unknown field "{f}"' for f in fresh]
        if mode == "Strict":
            raise ApiError(400, "BadRequest", "strict decoding error: " + ", ".join(texts))
        warnings.extend(texts)

    @staticmethod
    def _respond(obj: dict[str, Any], status: int, warnings: list[str]) -> web.Response:
        resp = _json(obj, status)
        for text in warnings:
            escaped = text.replace("\\", "\\\\").replace('"', '\\"')
            resp.headers.add("Warning", f'299 - "{escaped}"')
        return resp

    @staticmethod
    def _check_body(t: _Target, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "json: cannot unmarshal array into Go value of type "
                                              "map[string]interface {}")
        api, kind = body.get("apiVersion"), body.get("kind")
        if (api and api != t.kind.api_version) or (kind and kind != t.kind.kind):
            raise ApiError(400, "BadRequest", f"the API version in the data ({api}) does not match the expected "
                                              f"API version ({t.kind.api_version})" if api != t.kind.api_version
                           else f"the kind in the data ({kind}) does not match the expected kind ({t.kind.kind})")
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if t.kind.namespaced:
            if meta.get("namespace") and meta["namespace"] != t.namespace:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the "
                                                  "namespace sent on the request")
            meta["namespace"] = t.namespace
        if t.name and meta.get("name") and meta["name"] != t.name:
            raise ApiError(400, "BadRequest", f"the name of the object ({meta['name']}) does not match the name on "
                                              f"the URL ({t.name})")
        if t.name:
            meta["name"] = t.name
        return body

    async def _create(self, request: web.Request, identity: Identity, t: _Target) -> web.Response:
        body = self._check_body(t, await self._body(request))
        warnings: list[str] = []
        self._check_fields(request, t.kind, body, None, warnings)
        obj = self.store.create(t.kind, body, identity=identity, dry_run=self._dry_run(request))
        return self._respond(obj, 201, warnings)

    async def _replace(self, request: web.Request, identity: Identity, t: _Target) -> web.Response:
        body = await self._body(request)
        dry_run = self._dry_run(request)
        if t.sub == "scale":
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the body must be a Scale object")
            dep = self.store.patch(t.kind, t.namespace, t.name, lambda d: _set_replicas(d, body), identity=identity,
                                   subresource="scale", dry_run=dry_run)
            return _json(_scale_of(dep))
        body = self._check_body(t, body)
        warnings: list[str] = []
        if t.sub != "status":
            self._check_fields(request, t.kind, body, None, warnings)
        obj = self.store.replace(t.kind, body, identity=identity, subresource=t.sub or None, dry_run=dry_run)
        return self._respond(obj, 200, warnings)

    async def _patch(self, request: web.Request, identity: Identity, t: _Target) -> web.Response:
        ctype = request.content_type
        builtin = t.kind.builtin or t.sub == "scale"
        apply: Callable[[dict[str, Any], Any], dict[str, Any]]
        if ctype == _SMP and builtin:
            apply = patches.apply_strategic_merge_patch
        elif ctype == _MERGE:
            apply = patches.apply_merge_patch
        elif ctype == _JSON_PATCH:
            apply = patches.apply_json_patch
        elif ctype == _APPLY:
            apply = patches.apply_server_side
        else:
            accepted = _CR_PATCH_TYPES + (f", {_SMP}" if builtin else "")
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                        f"accepted media types include: {accepted}")
        patch = await self._body(request)
        dry_run = self._dry_run(request)
        if ctype == _APPLY:
            # Server-side apply: the manager owns the fields of its configuration (operation Apply).
            found = managed_fields.current_manager.get()
            managed_fields.current_manager.set((found[0] if found else "", "Apply", patch))
        if t.sub == "scale":
            dep = self.store.patch(t.kind, t.namespace, t.name,
                                   lambda d: _set_replicas(d, apply(_scale_of(d), patch)), identity=identity,
                                   subresource="scale", dry_run=dry_run)
            return _json(_scale_of(dep))
        warnings: list[str] = []

        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            new = apply(obj, patch)
            if t.sub != "status":
                self._check_fields(request, t.kind, new, obj, warnings)
            return new

        try:
            obj = self.store.patch(t.kind, t.namespace, t.name, mutate, identity=identity,
                                   subresource=t.sub or None, dry_run=dry_run)
        except ApiError as error:
            if error.code != 404 or ctype != _APPLY or t.sub:
                raise
            # Server-side apply creates what does not exist yet.
            body = self._check_body(t, patch)
            self._check_fields(request, t.kind, body, None, warnings)
            obj = self.store.create(t.kind, body, identity=identity, dry_run=dry_run)
            return self._respond(obj, 201, warnings)
        return self._respond(obj, 200, warnings)

    async def _delete(self, request: web.Request, identity: Identity, t: _Target) -> web.Response:
        dry_run = self._dry_run(request)
        if request.can_read_body:
            try:
                options = json.loads(await self._read_body(request) or b"{}")
            except ValueError:
                options = {}
            if isinstance(options, dict) and "All" in (options.get("dryRun") or []):
                dry_run = True
        else:
            options = {}
        policy = request.query.get("propagationPolicy") or (
            options.get("propagationPolicy") if isinstance(options, dict) else None)
        if isinstance(options, dict) and options.get("orphanDependents") is True:
            policy = "Orphan"  # the deprecated DeleteOptions field (apimachinery's DeletionPropagation doc)
        warning = None
        if policy is None and t.kind is k.JOB:
            # pkg/registry/batch/job/strategy.go DefaultGarbageCollectionPolicy: batch/v1 Jobs orphan their
            # pods unless the request says otherwise (kubectl delete sends Background); storage/storage.go
            # Delete warns about it (deleteOptionWarnings).
            policy = "Orphan"
            warning = ("child pods are preserved by default when jobs are deleted; set propagationPolicy=Background "
                       "to remove them or set propagationPolicy=Orphan to suppress this warning")
        if policy == "Orphan" and not dry_run and t.kind in (k.DEPLOYMENT, k.REPLICA_SET, k.JOB,
                                                             k.REPLICATION_CONTROLLER, k.DAEMON_SET):
            # kubectl delete --cascade=orphan: the dependents lose their ownerReference and stay
            # (pkg/controller/garbagecollector/garbagecollector.go orphanDependents).
            uid = self.store.get(t.kind, t.namespace, t.name)["metadata"]["uid"]
            orphan_dependents(self.store, t.kind.kind, t.namespace or "", uid)
        obj = self.store.delete(t.kind, t.namespace, t.name, identity=identity, dry_run=dry_run)
        return _json(obj, headers={"Warning": f'299 - "{warning}"'} if warning else None)

    async def _delete_collection(self, request: web.Request, identity: Identity, t: _Target) -> web.Response:
        q = request.query
        items, _ = self.store.list(t.kind, t.namespace or None, label_selector=q.get("labelSelector", ""),
                                   field_selector=q.get("fieldSelector", ""))
        gone = []
        for obj in items:
            meta = obj["metadata"]
            try:
                gone.append(self.store.delete(t.kind, meta.get("namespace"), meta["name"], identity=identity,
                                              dry_run=self._dry_run(request)))
            except ApiError as error:
                if error.code != 404:
                    raise
        return _json({"kind": f"{t.kind.kind}List", "apiVersion": t.kind.api_version,
                      "metadata": {"resourceVersion": self.store.resource_version}, "items": gone})


class ServerThread:
    """Runs a :class:`KubeApiServer` in a background thread with its own event loop.

    Usable as a context manager: ``with ServerThread(store) as url: ...``.

    Args:
        store: The objects served.
        credentials: The serving certificate and the admin token.
        port: Port to bind; 0 picks a free one.
    """

    def __init__(self, store: Store, credentials: Credentials, port: int = 0) -> None:
        self.store = store
        self.credentials = credentials
        self.port = port
        self.server: KubeApiServer | None = None
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Start serving.

        Returns:
            The server's URL.

        Raises:
            OSError: The port could not be bound.
        """
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self.server = KubeApiServer(self.store, self.credentials, port=self.port)
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as error:  # handed to the starting thread
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="sandbox-kubeapi", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        assert self.server is not None
        self.url = self.server.url
        return self.url

    def stop(self) -> None:
        """Stop serving and join the thread (closes open watches)."""
        loop, server = self._loop, self.server
        if loop is None or server is None or self._thread is None:
            return
        if loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(server.stop(), loop).result(15)
            finally:
                loop.call_soon_threadsafe(loop.stop)
        self._thread.join(15)
        self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_kubeconfig(path: Path, url: str, credentials: Credentials) -> None:
    """Write a kubeconfig for the sandbox: cluster and context ``sandbox``, user ``admin``, namespace ``default``.

    The CA is embedded (``certificate-authority-data``) and so is the admin's bearer token: the file is a
    credential, written mode 0600.

    Args:
        path: Where to write it.
        url: The API server's URL (``https://127.0.0.1:PORT``).
        credentials: The CA and the admin token.
    """
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "sandbox", "cluster": {"server": url,
                                                     "certificate-authority-data": credentials.ca_data()}}],
        "users": [{"name": "admin", "user": {"token": credentials.token}}],
        "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "admin", "namespace": "default"}}],
        "current-context": "sandbox",
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(yaml.safe_dump(config, sort_keys=False))
    os.chmod(path, 0o600)
