"""ServiceAccount tokens: the ``serviceaccounts/token`` subresource (TokenRequest) and their authentication.

As kube-apiserver, the sandbox mints JWTs signed with a key it keeps (``<state dir>/pki/sa.key``, RSA 2048,
RS256, made at first use and kept, so tokens survive a restart), with the claims of pkg/serviceaccount/claims.go
``Claims`` (``iss``, ``sub`` ``system:serviceaccount:NS:NAME``, ``aud``, ``exp``, ``iat``, ``nbf``, ``jti`` and the
private ``kubernetes.io`` claim naming the namespace, the ServiceAccount (name and uid) and a bound Pod or
Secret). Nothing is remembered per token: a token is valid while its signature verifies, it has not expired, and
the ServiceAccount (and a bound object) still exists with the uid it names, as claims.go ``validator.Validate``
checks. Any failure is the apiserver's 401.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.kubeapi import protobuf
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.store import ApiError, Identity, Store, not_found

__all__ = ["AUDIENCE", "DEFAULT_EXPIRATION", "ISSUER", "TokenRequestHandler", "authenticate_token", "mint"]

ISSUER = "https://kubernetes.default.svc.cluster.local"
"""``--service-account-issuer`` as kubeadm and kind configure it; also the default audience."""
AUDIENCE = ISSUER
"""The API server's own audience (``--api-audiences`` defaults to the issuer): what a TokenRequest without
audiences gets, and what the sandbox's API accepts."""
DEFAULT_EXPIRATION = 3600
"""pkg/apis/authentication/v1/defaults.go ``SetDefaults_TokenRequestSpec``: one hour."""
_MIN_EXPIRATION = 10 * 60  # pkg/apis/authentication/validation/validation.go MinTokenAgeSec
_MAX_EXPIRATION = 1 << 32
_LEEWAY = 60  # go-jose jwt.DefaultLeeway, which Claims.Validate allows around exp and nbf
_GROUP = "authentication.k8s.io"
_SA_PREFIX = "system:serviceaccount:"

_keys: dict[Path, rsa.RSAPrivateKey] = {}
_keys_lock = threading.Lock()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signing_key(credentials: Credentials) -> rsa.RSAPrivateKey:
    path = credentials.directory / "sa.key"
    with _keys_lock:
        key = _keys.get(path)
        if key is not None:
            return key
        if path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            key = loaded
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pem)
            tmp.chmod(0o600)
            tmp.replace(path)
        _keys[path] = key
        return key


def _key_id(key: rsa.RSAPrivateKey) -> str:
    # pkg/serviceaccount/jwt.go keyIDFromPublicKey: base64url of the SHA-256 of the DER (PKIX) public key.
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


def mint(credentials: Credentials, service_account: dict[str, Any], expiration_seconds: int,
         audiences: list[str], bound: dict[str, str] | None = None, *, now: float | None = None) -> tuple[str, int]:
    """Sign a ServiceAccount token as kube-apiserver's TokenRequest does.

    Args:
        credentials: The API server's credentials (the signing key lives next to them).
        service_account: The ServiceAccount object.
        expiration_seconds: The token's lifetime.
        audiences: The ``aud`` claim.
        bound: ``{"kind": "Pod"|"Secret", "name", "uid"}`` for a bound token, or None.
        now: The issuing time (epoch seconds); the current time by default.

    Returns:
        The token and its expiry (epoch seconds).
    """
    key = _signing_key(credentials)
    issued = int(now if now is not None else time.time())
    meta = service_account["metadata"]
    private: dict[str, Any] = {"namespace": meta["namespace"],
                               "serviceaccount": {"name": meta["name"], "uid": meta["uid"]}}
    if bound:
        private[bound["kind"].lower()] = {"name": bound["name"], "uid": bound["uid"]}
    claims = {"aud": audiences, "exp": issued + expiration_seconds, "iat": issued, "iss": ISSUER,
              "jti": str(uuid.uuid4()), "kubernetes.io": private, "nbf": issued,
              "sub": f"{_SA_PREFIX}{meta['namespace']}:{meta['name']}"}
    header = {"alg": "RS256", "kid": _key_id(key)}
    signing_input = f"{_b64(json.dumps(header, separators=(',', ':')).encode())}." \
                    f"{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}", issued + expiration_seconds


def authenticate_token(credentials: Credentials, store: Store, token: str) -> Identity | None:
    """Say whose ServiceAccount token this is, or None when it is not a valid one.

    pkg/serviceaccount/jwt.go ``jwtTokenAuthenticator.AuthenticateToken`` (signature, issuer, audience) and
    claims.go ``validator.Validate`` (expiry with go-jose's leeway; the ServiceAccount and a bound Pod or Secret
    exist, not being deleted, with the uid the token names).

    Args:
        credentials: The API server's credentials.
        store: Where the ServiceAccounts are.
        token: The bearer token.

    Returns:
        ``system:serviceaccount:NS:NAME`` with groups ``system:serviceaccounts``, ``system:serviceaccounts:NS``
        and ``system:authenticated`` (serviceaccount.MakeGroupNames, then the authenticated group), or None.
    """
    parts = token.split(".")
    if len(parts) != 3 or not (credentials.directory / "sa.key").exists():
        return None
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
        return None
    key = _signing_key(credentials)
    try:
        key.public_key().verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return None
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if claims.get("iss") != ISSUER or AUDIENCE not in audiences:
        return None
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int) or now > exp + _LEEWAY:
        return None  # "service account token has expired"
    if isinstance(nbf, int) and now < nbf - _LEEWAY:
        return None  # "service account token is not valid yet"
    private = claims.get("kubernetes.io")
    if not isinstance(private, dict) or not isinstance(private.get("serviceaccount"), dict):
        return None
    namespace = str(private.get("namespace") or "")
    sa_ref = private["serviceaccount"]
    for kind, ref in ((k.SERVICE_ACCOUNT, sa_ref), (k.POD, private.get("pod")), (k.SECRET, private.get("secret"))):
        if ref is None:
            continue
        if not isinstance(ref, dict):
            return None
        obj = store.find(kind, namespace, str(ref.get("name") or ""))
        if obj is None or obj["metadata"].get("uid") != ref.get("uid") \
                or obj["metadata"].get("deletionTimestamp"):
            return None  # deleted, or deleted and made again: the token named the old one
    name = str(sa_ref.get("name") or "")
    return Identity(f"{_SA_PREFIX}{namespace}:{name}",
                    ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"))


def _invalid(name: str, field: str, value: Any, detail: str) -> ApiError:
    shown = json.dumps(value)
    return ApiError(422, "Invalid", f'TokenRequest.{_GROUP} "{name}" is invalid: {field}: Invalid value: {shown}: '
                                    f"{detail}",
                    {"name": name, "group": _GROUP, "kind": "TokenRequest",
                     "causes": [{"reason": "FieldValueInvalid", "message": f"Invalid value: {shown}: {detail}",
                                 "field": field}]})


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenRequestHandler:
    """The ``serviceaccounts/token`` subresource (``create``), for :meth:`KubeApiServer.register_subresource`.

    pkg/registry/core/serviceaccount/storage/token.go ``TokenREST.Create``: the ServiceAccount must exist;
    ``expirationSeconds`` defaults to an hour and must lie within 10 minutes and 2^32 seconds; audiences default
    to the API server's; a ``boundObjectRef`` to a Pod (running as that ServiceAccount) or a Secret binds the
    token to that object's life.

    Args:
        store: Where the ServiceAccounts are.
        credentials: The API server's credentials (the signing key lives next to them).
    """

    def __init__(self, store: Store, credentials: Credentials) -> None:
        self.store = store
        self.credentials = credentials

    async def __call__(self, request: web.Request, identity: Identity, namespace: str,
                       name: str) -> web.StreamResponse:
        """Mint a token (RBAC's ``create`` on ``serviceaccounts/token`` was checked by the server).

        Args:
            request: The POST carrying a TokenRequest.
            identity: Who asks.
            namespace: The ServiceAccount's namespace.
            name: The ServiceAccount's name.

        Returns:
            201 with the TokenRequest, its ``status`` holding the token and ``expirationTimestamp``.

        Raises:
            ApiError: 404 when the ServiceAccount does not exist, 422 for a duration out of bounds, 400 for a bad
                body or bound object, 405 for anything but POST.
        """
        if request.method != "POST":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        raw = await request.read()
        if "protobuf" in request.content_type:
            # kubectl create token sends the TokenRequest as protobuf (its typed client's default).
            body: Any = protobuf.decode(raw)
        else:
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise ApiError(400, "BadRequest", "error decoding the request body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be a TokenRequest object")
        given = body.get("spec")
        spec: dict[str, Any] = given if isinstance(given, dict) else {}
        expiration = spec.get("expirationSeconds")
        if expiration is None:
            expiration = DEFAULT_EXPIRATION
        if isinstance(expiration, bool) or not isinstance(expiration, int):
            raise ApiError(400, "BadRequest", "spec.expirationSeconds must be an integer")
        if expiration < _MIN_EXPIRATION:
            raise _invalid(name, "spec.expirationSeconds", expiration,
                           "may not specify a duration less than 10 minutes")
        if expiration > _MAX_EXPIRATION:
            raise _invalid(name, "spec.expirationSeconds", expiration,
                           "may not specify a duration larger than 2^32 seconds")
        account = self.store.find(k.SERVICE_ACCOUNT, namespace, name)
        if account is None:
            raise not_found(k.SERVICE_ACCOUNT, name)
        bound = self._bound(namespace, name, spec.get("boundObjectRef"))
        audiences = [str(a) for a in spec.get("audiences") or []] or [AUDIENCE]
        token, expiry = mint(self.credentials, account, expiration, audiences, bound)
        out_spec: dict[str, Any] = {"audiences": audiences, "expirationSeconds": expiration,
                                    "boundObjectRef": spec.get("boundObjectRef")}
        answer = {"kind": "TokenRequest", "apiVersion": f"{_GROUP}/v1",
                  "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
                  "spec": out_spec, "status": {"token": token, "expirationTimestamp": _rfc3339(expiry)}}
        return web.Response(status=201, text=json.dumps(answer, separators=(",", ":")),
                            content_type="application/json")

    def _bound(self, namespace: str, name: str, ref: Any) -> dict[str, str] | None:
        if not ref:
            return None
        if not isinstance(ref, dict):
            raise ApiError(400, "BadRequest", "spec.boundObjectRef must be an object")
        api, kind, ref_name = str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""), str(ref.get("name") or "")
        if api == "v1" and kind == "Pod":
            pod = self.store.find(k.POD, namespace, ref_name)
            if pod is None:
                raise not_found(k.POD, ref_name)
            running_as = str((pod.get("spec") or {}).get("serviceAccountName") or "")
            if running_as != name:
                raise ApiError(400, "BadRequest", f'cannot bind token for serviceaccount "{name}" to pod running '
                                                  f'with serviceaccount "{running_as}"')
            uid = pod["metadata"]["uid"]
        elif api == "v1" and kind == "Secret":
            secret = self.store.find(k.SECRET, namespace, ref_name)
            if secret is None:
                raise not_found(k.SECRET, ref_name)
            uid = secret["metadata"]["uid"]
        else:
            # schema.FromAPIVersionAndKind, then GroupVersionKind.String(): "group/version, Kind=kind".
            group, _, version = api.rpartition("/")
            raise ApiError(400, "BadRequest", f"cannot bind token to object of type {group}/{version}, Kind={kind}")
        if ref.get("uid") and ref["uid"] != uid:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {kind} "{ref_name}": the UID in the '
                                            f"bound object reference ({ref['uid']}) does not match the UID in "
                                            f"record ({uid}). The object might have been deleted and then "
                                            "recreated", {"name": ref_name, "kind": kind})
        return {"kind": kind, "name": ref_name, "uid": uid}
