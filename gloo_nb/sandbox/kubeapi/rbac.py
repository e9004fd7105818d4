"""Authorization: the stored Role, RoleBinding, ClusterRole and ClusterRoleBinding objects, evaluated like RBAC."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.store import ApiError, Identity, Store

__all__ = ["Request", "access_review", "allowed_by", "authorize", "forbidden", "rules_for", "rules_review"]


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


# system:masters is bound to cluster-admin by the bootstrap policy; the sandbox keeps the group's power built in.
_CLUSTER_ADMIN = ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                  {"verbs": ["*"], "nonResourceURLs": ["*"]})
# What every authenticated user gets from the bootstrap ClusterRoles system:basic-user, system:discovery and
# system:public-info-viewer (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go), bound to
# system:authenticated: asking about oneself, and reading discovery and version.
_AUTHENTICATED = (
    {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
    {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                           "/openapi/*", "/readyz", "/version", "/version/"]},
)


def rules_for(store: Store, identity: Identity, namespace: str) -> list[dict[str, Any]]:
    """Return every RBAC rule that applies to an identity in a namespace (cluster-wide ones included).

    Args:
        store: Where the RBAC objects are.
        identity: Who.
        namespace: The namespace; ``""`` for the cluster scope only.

    Returns:
        The rules (``PolicyRule`` dicts), in binding order.
    """
    rules: list[dict[str, Any]] = []
    if "system:masters" in identity.groups:
        rules.extend(_CLUSTER_ADMIN)
    if "system:authenticated" in identity.groups:
        rules.extend(_AUTHENTICATED)
    bindings, _ = store.list(k.CLUSTER_ROLE_BINDING)
    for b in bindings:
        if any(_subject_matches(s, identity, "") for s in b.get("subjects") or []):
            rules.extend(_role_rules(store, b.get("roleRef") or {}, ""))
    if namespace:
        bindings, _ = store.list(k.ROLE_BINDING, namespace)
        for b in bindings:
            if any(_subject_matches(s, identity, namespace) for s in b.get("subjects") or []):
                rules.extend(_role_rules(store, b.get("roleRef") or {}, namespace))
    return rules


def _describe_subject(subject: dict[str, Any], binding_ns: str) -> str:
    # k8s.io/kubernetes pkg/registry/rbac/validation/rule.go describeSubject (Go's %q is JSON's quoting here).
    name = str(subject.get("name", ""))
    if subject.get("kind") == "ServiceAccount":
        name = f"{name}/{subject.get('namespace') or binding_ns}"
    return f"{subject.get('kind')} {json.dumps(name)}"


def allowed_by(store: Store, identity: Identity, req: Request) -> str | None:
    """Authorize as :func:`authorize`, and say why, in the words of the audit log's ``authorization.k8s.io/reason``.

    kube-apiserver's RBAC authorizer (``plugin/pkg/auth/authorizer/rbac/rbac.go`` ``authorizingVisitor``) visits
    ClusterRoleBindings, then the namespace's RoleBindings, and names the first binding whose rule allows:
    ``RBAC: allowed by RoleBinding "team-echo/echo" of ClusterRole "service-team" to Group "team-echo"``
    (``pkg/registry/rbac/validation/rule.go`` describers). ``system:masters`` is allowed before RBAC by the
    privileged-group authorizer, with an empty reason.

    Args:
        store: Where the RBAC objects are.
        identity: Who asks.
        req: What they want.

    Returns:
        The reason when allowed (``""`` for ``system:masters``), None when not.
    """
    if "system:masters" in identity.groups:
        return ""
    if "system:authenticated" in identity.groups and any(_rule_allows(r, req) for r in _AUTHENTICATED):
        return ('RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to '
                'Group "system:authenticated"')
    scopes: list[tuple[str, list[dict[str, Any]]]] = [("", store.list(k.CLUSTER_ROLE_BINDING)[0])]
    if req.namespace:
        scopes.append((req.namespace, store.list(k.ROLE_BINDING, req.namespace)[0]))
    for namespace, bindings in scopes:
        for b in bindings:
            ref = b.get("roleRef") or {}
            for subject in b.get("subjects") or []:
                if not _subject_matches(subject, identity, namespace):
                    continue
                if any(_rule_allows(r, req) for r in _role_rules(store, ref, namespace)):
                    name = b["metadata"]["name"]
                    what = (f"RoleBinding {json.dumps(f'{name}/{namespace}')}" if namespace
                            else f"ClusterRoleBinding {json.dumps(name)}")
                    role = f"{ref.get('kind')} {json.dumps(str(ref.get('name', '')))}"
                    return f"RBAC: allowed by {what} of {role} to {_describe_subject(subject, namespace)}"
    return None


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
    return any(_rule_allows(r, req) for r in rules_for(store, identity, req.namespace))


def _non_resource_allows(rule: dict[str, Any], verb: str, path: str) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and verb not in verbs:
        return False
    # NonResourceURLMatches: exact, or a trailing `*` matching any suffix.
    return any(u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1]))
               for u in rule.get("nonResourceURLs") or [])


def _review_spec(body: Any, kind: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("spec") or {}, dict):
        raise ApiError(400, "BadRequest", f"the body must be a {kind} object with a spec")
    return dict(body.get("spec") or {})


def access_review(store: Store, identity: Identity, body: Any) -> dict[str, Any]:
    """Answer a ``SelfSubjectAccessReview`` (``kubectl auth can-i``) for the (possibly impersonated) requester.

    Args:
        store: Where the RBAC objects are.
        identity: Who asks (about itself).
        body: The request body.

    Returns:
        The review with ``status.allowed``.

    Raises:
        ApiError: 400 for a body that is no review, 422 unless exactly one of ``resourceAttributes`` and
            ``nonResourceAttributes`` is given.
    """
    kind = "SelfSubjectAccessReview"
    spec = _review_spec(body, kind)
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (res is None) == (non is None) or not isinstance(res or non, dict):
        raise ApiError(422, "Invalid", f'{kind}.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
                                       "Invalid value: exactly one of nonResourceAttributes or resourceAttributes "
                                       "must be specified", {"group": "authorization.k8s.io", "kind": kind})
    if isinstance(res, dict):
        req = Request(str(res.get("verb") or ""), str(res.get("group") or ""), str(res.get("resource") or ""),
                      str(res.get("subresource") or ""), str(res.get("namespace") or ""), str(res.get("name") or ""))
        allowed = authorize(store, identity, req)
    else:
        assert isinstance(non, dict)
        verb, path = str(non.get("verb") or ""), str(non.get("path") or "")
        allowed = any(_non_resource_allows(r, verb, path) for r in rules_for(store, identity, "")
                      if "nonResourceURLs" in r)
    status: dict[str, Any] = {"allowed": allowed}
    return {"kind": kind, "apiVersion": "authorization.k8s.io/v1", "metadata": {"creationTimestamp": None},
            "spec": spec, "status": status}


def rules_review(store: Store, identity: Identity, body: Any) -> dict[str, Any]:
    """Answer a ``SelfSubjectRulesReview`` (``kubectl auth can-i --list``): the requester's rules in a namespace.

    Args:
        store: Where the RBAC objects are.
        identity: Who asks (about itself).
        body: The request body (``spec.namespace``).

    Returns:
        The review with ``status.resourceRules`` and ``status.nonResourceRules``.
    """
    spec = _review_spec(body, "SelfSubjectRulesReview")
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    for rule in rules_for(store, identity, str(spec.get("namespace") or "")):
        verbs = list(rule.get("verbs") or [])
        if rule.get("nonResourceURLs"):
            non_resource_rules.append({"verbs": verbs, "nonResourceURLs": list(rule["nonResourceURLs"])})
        if rule.get("resources"):
            entry: dict[str, Any] = {"verbs": verbs, "apiGroups": list(rule.get("apiGroups") or []),
                                     "resources": list(rule["resources"])}
            if rule.get("resourceNames"):
                entry["resourceNames"] = list(rule["resourceNames"])
            resource_rules.append(entry)
    return {"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None}, "spec": spec,
            "status": {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": False}}


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
