"""Authentication and impersonation, in the order a kube-apiserver's filters apply them.

Every request on the API port must carry the admin's bearer token (or a ServiceAccount token the server minted,
see :mod:`~gloo_nb.sandbox.kubeapi.tokens`), except the health probes (``/healthz``,
``/livez``, ``/readyz``), which Kubernetes 1.32's structured authentication configuration lets through
anonymously when limited to those paths (``anonymous.conditions``). A missing or wrong token is 401, with the
apiserver's Status body. The sandbox's own components (kubelet, controllers, Gloo) call the store in-process
and never cross this port.

Impersonation (``Impersonate-User``/``-Group``/``-Uid``/``-Extra-*``) is then authorized per attribute with
RBAC's ``impersonate`` verb, as ``k8s.io/apiserver/pkg/endpoints/filters/impersonation.go`` does.
"""

from __future__ import annotations

from urllib.parse import unquote

from multidict import MultiMapping

from gloo_nb.sandbox.kubeapi import rbac, tokens
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.store import ADMIN, ApiError, Identity, Store

__all__ = ["ANONYMOUS_PATHS", "authenticate", "identity_of", "impersonate", "unauthorized"]

ANONYMOUS_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
"""Paths served without credentials (the kube-apiserver's anonymous ``conditions`` for health probes)."""

_SA_PREFIX = "system:serviceaccount:"
_AUTH_GROUP = "authentication.k8s.io"


def unauthorized() -> ApiError:
    """Return the apiserver's 401 (``{"reason": "Unauthorized", "message": "Unauthorized", "code": 401}``)."""
    return ApiError(401, "Unauthorized", "Unauthorized")


def authenticate(credentials: Credentials, authorization: str | None, store: Store | None = None) -> Identity:
    """Say who sent a request, from its ``Authorization`` header.

    Args:
        credentials: The server's credentials (the admin token).
        authorization: The header's value, or None.
        store: Where the ServiceAccounts are; with it, a ServiceAccount token the server minted
            (:mod:`~gloo_nb.sandbox.kubeapi.tokens`) is accepted as that account, as kube-apiserver's union of
            token authenticators does.

    Returns:
        The admin (user ``admin``, groups ``system:masters`` and ``system:authenticated``), or a ServiceAccount.

    Raises:
        ApiError: 401 when the header is missing or is neither the admin's bearer token nor a valid ServiceAccount
            token.
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    if credentials.is_admin_token(token):
        return ADMIN
    account = tokens.authenticate_token(credentials, store, token) if store is not None else None
    if account is None:
        raise unauthorized()
    return account


def _check(store: Store, requester: Identity, req: rbac.Request) -> None:
    if not rbac.authorize(store, requester, req):
        raise rbac.forbidden(requester, req)


def impersonate(store: Store, requester: Identity, headers: MultiMapping[str]) -> Identity:
    """Apply ``Impersonate-*`` headers: return the identity the request acts as.

    Each impersonated attribute needs ``impersonate`` on it: ``users`` (or ``serviceaccounts`` in the
    account's namespace for ``system:serviceaccount:NS:NAME``), ``groups``, and in ``authentication.k8s.io``
    ``uids`` and ``userextras/KEY``. As Kubernetes, an impersonated user gets ``system:authenticated``
    (and a service account its ``system:serviceaccounts`` groups) unless groups are given explicitly.

    Args:
        store: Where the RBAC objects are.
        requester: The authenticated identity.
        headers: The request's headers.

    Returns:
        ``requester`` when nothing is impersonated, else the impersonated identity.

    Raises:
        ApiError: 403 in the apiserver's words (``users "x" is forbidden: User "y" cannot impersonate resource
            "users" in API group "" at the cluster scope``), or 400 for groups, uid or extras without a user.
    """
    user = headers.get("Impersonate-User")
    groups = headers.getall("Impersonate-Group", [])
    uid = headers.get("Impersonate-Uid")
    extras = [(h[len("Impersonate-Extra-"):], v) for h in dict.fromkeys(headers)
              if h.lower().startswith("impersonate-extra-") for v in headers.getall(h, [])]
    if not user:
        if groups or uid or extras:
            raise ApiError(400, "BadRequest", "impersonating groups, a uid or extras requires impersonating a user")
        return requester
    if user.startswith(_SA_PREFIX) and user.count(":") == 3:
        namespace, name = user[len(_SA_PREFIX):].split(":")
        _check(store, requester, rbac.Request("impersonate", "", "serviceaccounts", namespace=namespace, name=name))
        implied = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    else:
        _check(store, requester, rbac.Request("impersonate", "", "users", name=user))
        implied = []
    for group in dict.fromkeys(groups):
        _check(store, requester, rbac.Request("impersonate", "", "groups", name=group))
    if uid:
        _check(store, requester, rbac.Request("impersonate", _AUTH_GROUP, "uids", name=uid))
    for key, value in extras:
        # The header name carries the key percent-encoded (client-go escapes it), lower-cased by HTTP.
        _check(store, requester, rbac.Request("impersonate", _AUTH_GROUP, "userextras", unquote(key).lower(),
                                              name=value))
    names = [*groups] if groups else implied
    return Identity(user, tuple(dict.fromkeys([*names, "system:authenticated"])))


def identity_of(store: Store, credentials: Credentials, path: str, headers: MultiMapping[str]) -> Identity | None:
    """Authenticate a request and apply its impersonation; None for the anonymous health probes.

    Args:
        store: Where the RBAC objects are.
        credentials: The server's credentials.
        path: The request's path.
        headers: The request's headers.

    Returns:
        The identity the request acts as, or None when the path is served anonymously.

    Raises:
        ApiError: 401 or 403 as :func:`authenticate` and :func:`impersonate`.
    """
    if path.rstrip("/") in ANONYMOUS_PATHS:
        return None
    requester = authenticate(credentials, headers.get("Authorization"), store)
    return impersonate(store, requester, headers)
