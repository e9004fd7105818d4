"""Authorization: the stored Role, RoleBinding, ClusterRole and ClusterRoleBinding objects, evaluated like RBAC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.store import ApiError, Identity, Store

__all__ = ["Request", "authorize", "forbidden"]


@dataclass(frozen=True, slots=True)
class Request:
    """What a request wants to do, in RBAC's terms.

    Attributes:
        verb: get, list, watch, create, update, patch, delete or deletecollection.
        group: API group.
        resource: Plural resource name.
        subresource: Subresource, or ``""``.
        namespace: Namespace, or ``""`` at the cluster scope.
        name: Object name, or ``""`` for collections.
    """

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def _subject_matches(subject: dict[str, Any], identity: Identity, binding_ns: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == identity.user
    if kind == "Group":
        return name in identity.groups
    if kind == "ServiceAccount":
        return identity.user == f"system:serviceaccount:{subject.get('namespace') or binding_ns}:{name}"
    return False


def _rule_allows(rule: dict[str, Any], req: Request) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and req.verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and req.group not in groups:
        return False
    resources = rule.get("resources") or []
    wanted = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
    if not ("*" in resources or wanted in resources
            or (req.subresource and f"*/{req.subresource}" in resources)):
        return False
    names = rule.get("resourceNames") or []
    return not names or req.name in names


def _role_rules(store: Store, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    try:
        if ref.get("kind") == "ClusterRole":
            role = store.get(k.CLUSTER_ROLE, None, ref.get("name", ""))
        elif ref.get("kind") == "Role" and namespace:
            role = store.get(k.ROLE, namespace, ref.get("name", ""))
        else:
            return []
    except ApiError:
        return []
    return [r for r in role.get("rules") or [] if isinstance(r, dict)]


def authorize(store: Store, identity: Identity, req: Request) -> bool:
    """Tell whether an identity may do something. ``system:masters`` may do everything.

    Args:
        store: Where the RBAC objects are.
        identity: Who asks.
        req: What they want.

    Returns:
        True when some binding of the identity grants it.
    """
    if "system:masters" in identity.groups:
        return True
    bindings, _ = store.list(k.CLUSTER_ROLE_BINDING)
    for b in bindings:
        if any(_subject_matches(s, identity, "") for s in b.get("subjects") or []):
            if any(_rule_allows(r, req) for r in _role_rules(store, b.get("roleRef") or {}, "")):
                return True
    if req.namespace:
        bindings, _ = store.list(k.ROLE_BINDING, req.namespace)
        for b in bindings:
            if any(_subject_matches(s, identity, req.namespace) for s in b.get("subjects") or []):
                if any(_rule_allows(r, req) for r in _role_rules(store, b.get("roleRef") or {}, req.namespace)):
                    return True
    return False


def forbidden(identity: Identity, req: Request) -> ApiError:
    """Return the apiserver's 403 for a refused request.

    Args:
        identity: Who asked.
        req: What they wanted.

    Returns:
        The error, e.g. ``routetables.gateway.solo.io "x" is forbidden: User "u" cannot patch resource
        "routetables" in API group "gateway.solo.io" in the namespace "ns"`` (not raised).
    """
    qualified = f"{req.resource}.{req.group}" if req.group else req.resource
    subject = f'{qualified} "{req.name}"' if req.name else qualified
    resource = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
    scope = f'in the namespace "{req.namespace}"' if req.namespace else "at the cluster scope"
    message = (f'{subject} is forbidden: User "{identity.user}" cannot {req.verb} resource "{resource}" '
               f'in API group "{req.group}" {scope}')
    details: dict[str, Any] = {"group": req.group, "kind": req.resource}
    if req.name:
        details["name"] = req.name
    return ApiError(403, "Forbidden", message, details)
