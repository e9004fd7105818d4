"""Gloo's validation webhook on its real port: an HTTPS server that answers AdmissionReviews as Gloo does.

The daemon serves it on 127.0.0.1 (an ephemeral port) with the certificate and key of the ``gateway-validation-certs``
Secret the store holds (what Gloo mounts at ``/etc/gateway/validation-certs``), so that a client that trusts the
webhook configuration's ``caBundle`` and asks for ``<service>.gloo-system.svc`` verifies it. The ``gloo`` pod's
container port 8443 (``current``) and the ``gateway`` pod's (``1.3``) map to it, so ``kubectl port-forward`` reaches
it as on a cluster. The decision is :meth:`gloo_nb.sandbox.gloo_webhook.GlooWebhook.review`, the one the API server's
in-process call makes.

Gloo's HTTP side, ``projects/gateway/pkg/services/k8sadmission/validating_admission_webhook.go`` at main
(``k8sadmisssion/``, three s, at v1.3.20), ``NewGatewayValidatingWebhook`` and ``ServeHTTP``:

* one path, ``/validation`` (``ValidationPath``, on an ``http.ServeMux``): any other path is the mux's
  ``404 page not found``; any method is handled.
* the ``Content-Type`` must be exactly ``application/json`` (main also takes ``application/x-yaml``), else 400
  ``empty body``; an empty body: 400 ``empty body`` (``http.Error``: ``text/plain; charset=utf-8``, a newline,
  ``X-Content-Type-Options: nosniff``). Protobuf is not accepted (any other content type is refused).
* the body is decoded by ``codecs.UniversalDeserializer()`` into Gloo's own (unregistered) type: a JSON body (one
  that starts with ``{``) must parse, anything else is read as YAML; the AdmissionReview's ``apiVersion`` is not
  checked, so ``admission.k8s.io/v1`` bodies are read too. A body that cannot be decoded gets a 200 whose response
  says ``allowed: false`` with the decoder's error as ``status.message`` and an empty ``uid``.
* the answer is ``json.Marshal`` of an AdmissionReview holding only ``response`` (its ``kind`` and ``apiVersion``
  are empty, so left out): ``uid`` echoed, ``allowed``, and for a denial ``status`` with ``metadata: {}``, Gloo's
  message and ``details`` (name, group, kind, causes). Written without a ``Content-Type``, which Go's server sniffs
  as ``text/plain; charset=utf-8``. Without ``kind``/``apiVersion`` the answer only satisfies a ``v1beta1`` caller
  (kube-apiserver's ``VerifyAdmissionResponse`` demands them for ``v1``): that is why the charts list
  ``admissionReviewVersions: [v1beta1]`` only.
* a decodable review without ``request``: Gloo dereferences it (``req.Kind``) and panics; Go's server recovers and
  closes the connection without an answer. So does this server.
* ``returnProxies`` (main: the Proxies Gloo would build, for glooctl) is not answered: the sandbox does not render
  Gloo's Proxy objects.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from gloo_nb._types import Profile
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.apierror import ApiError, go_json
from gloo_nb.sandbox.gloo_webhook import GlooWebhook
from gloo_nb.sandbox.statedir import private_dir
from gloo_nb.sandbox.store import Store

log = logging.getLogger(__name__)

VALIDATION_PATH = "/validation"
"""``k8sadmission.ValidationPath``."""
MAX_BODY = 64 << 20
"""Go's server reads any size (``io.ReadAll``); the sandbox stops at 64 MiB."""

_FIND_KIND = ('struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
              'Kind string "json:\\"kind,omitempty\\"" }')
"""How Go prints the type ``json.SimpleMetaFactory.Interpret`` decodes into (apimachinery serializer/json/meta.go)."""
_JSON_TYPES = {str: "string", list: "array", bool: "bool", int: "number", float: "number"}


class WebhookServer:
    """The HTTPS server of Gloo's validation webhook.

    Args:
        store: The store (the Secret with the certificate).
        webhook: The webhook whose :meth:`~gloo_nb.sandbox.gloo_webhook.GlooWebhook.review` answers.
        cert_dir: A private directory for the certificate and key files (Python's TLS reads files).
        secret: The Secret's name.
    """

    def __init__(self, store: Store, webhook: GlooWebhook, cert_dir: Path, *,
                 secret: str = "gateway-validation-certs") -> None:
        self.store = store
        self.webhook = webhook
        self.profile: Profile = webhook.profile
        self.cert_dir = cert_dir
        self.secret = secret
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> bool:
        """Serve on 127.0.0.1, a free port, when the store holds the Secret (validation is on).

        Returns:
            Whether it serves (Gloo runs no webhook server without validation either).
        """
        found = self.store.find(kinds.SECRET, self.webhook.namespace, self.secret)
        data = (found or {}).get("data") or {}
        if not data.get("tls.crt") or not data.get("tls.key"):
            return False
        private_dir(self.cert_dir)
        cert, key = self.cert_dir / "tls.crt", self.cert_dir / "tls.key"
        cert.write_bytes(base64.b64decode(data["tls.crt"]))
        key.write_bytes(base64.b64decode(data["tls.key"]))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", VALIDATION_PATH, self._validation)
        app.router.add_route("*", "/{tail:.*}", _not_found)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("Gloo's validation webhook serves https://127.0.0.1:%d%s", self.port, VALIDATION_PATH)
        return True

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _validation(self, request: web.Request) -> web.StreamResponse:
        content_type = request.headers.get("Content-Type", "")
        accepted = ("application/json",) if self.profile == "1.3" else ("application/json", "application/x-yaml")
        if content_type not in accepted:
            log.error("contentType=%s, expecting %s", content_type, " or ".join(accepted))
            return _go_error(400, "empty body")
        body = await request.read()
        if not body:
            return _go_error(400, "empty body")
        review, error = _decode(body, yaml_body=content_type == "application/x-yaml")
        if error:
            log.error("Can't decode body: %s", error)
            answer: dict[str, Any] = {"uid": "", "allowed": False, "status": {"metadata": {}, "message": error}}
        else:
            req = review.get("request")
            if not isinstance(req, dict):
                # makeAdmissionResponse dereferences review.Request: a nil pointer panic, which net/http recovers
                # from by closing the connection.
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            answer = await asyncio.to_thread(self._answer, req)
        return web.Response(body=go_json({"response": answer}).encode(),
                            headers={"Content-Type": "text/plain; charset=utf-8"})

    def _answer(self, req: dict[str, Any]) -> dict[str, Any]:
        gvk = req.get("kind") or {}
        group, version, kind_name = str(gvk.get("group") or ""), str(gvk.get("version") or ""), str(gvk.get("kind"))
        try:
            kind: kinds.Kind | None = kinds.kind_of(f"{group}/{version}" if group else version, kind_name)
        except ApiError:  # a kind the sandbox does not serve: not one Gloo validates either
            kind = None
        obj, old = _raw(req.get("object")), _raw(req.get("oldObject"))
        decision = self.webhook.review(str(req.get("operation") or ""), kind, obj, old,
                                       dry_run=bool(req.get("dryRun")), namespace=str(req.get("namespace") or ""),
                                       name=str(req.get("name") or ""))
        answer: dict[str, Any] = {"uid": str(req.get("uid") or ""), "allowed": decision.allowed}
        if not decision.allowed:
            details: dict[str, Any] = {k: v for k, v in (("name", req.get("name")), ("group", group),
                                                          ("kind", kind_name)) if v}
            if decision.causes:
                details["causes"] = [{"message": c} for c in decision.causes]
            answer["status"] = {"metadata": {}, "message": decision.message, "details": details}
        return answer


def _raw(value: Any) -> dict[str, Any] | None:
    # A RawExtension: the object's JSON (the apiserver sends objects inline); null or absent: none.
    return value if isinstance(value, dict) else None


def _decode(body: bytes, *, yaml_body: bool) -> tuple[dict[str, Any], str]:
    """The review, or the decoder's error as Go prints it (the common cases; others in the same shape)."""
    text = body.decode("utf-8", errors="replace")
    if yaml_body or not text.lstrip().startswith("{"):
        # main's application/x-yaml: sigs.k8s.io/yaml; a non-JSON body under application/json: the universal
        # deserializer's YAML serializer (recognizer.go: JSON recognizes only `{`).
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            return {}, f"error converting YAML to JSON: yaml: {str(exc).splitlines()[0]}"
        if yaml_body:
            return (value, "") if isinstance(value, dict) else ({}, "error unmarshaling JSON: while decoding JSON: "
                                                                    f"json: cannot unmarshal {_go_type(value)} into "
                                                                    "Go value of type k8sadmission."
                                                                    "AdmissionReviewWithProxies")
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return {}, "couldn't get version/kind; json parse error: " + _go_json_error(text, exc)
    if not isinstance(value, dict):
        # json.SimpleMetaFactory.Interpret: the apiVersion and kind are read first.
        return {}, f"couldn't get version/kind; json parse error: json: cannot unmarshal {_go_type(value)} into Go " \
                   f"value of type {_FIND_KIND}"
    return value, ""


def _go_type(value: Any) -> str:
    return "object" if isinstance(value, dict) else _JSON_TYPES.get(type(value), "string")


def _go_json_error(text: str, exc: json.JSONDecodeError) -> str:
    # encoding/json's SyntaxError texts: truncated input, or the first byte it cannot take.
    if exc.pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    char = text[exc.pos]
    if exc.msg.startswith("Expecting property name"):
        return f"invalid character {char!r} looking for beginning of object key string"
    if exc.msg.startswith("Expecting ':'"):
        return f"invalid character {char!r} after object key"
    if exc.msg.startswith("Expecting ',' delimiter"):
        return f"invalid character {char!r} after object key:value pair"
    return f"invalid character {char!r} looking for beginning of value"


def _go_error(status: int, text: str) -> web.Response:
    # net/http.Error.
    return web.Response(status=status, body=(text + "\n").encode(),
                        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"})


async def _not_found(request: web.Request) -> web.Response:
    del request
    return _go_error(404, "404 page not found")
