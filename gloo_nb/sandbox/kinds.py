"""The kinds of object the sandbox's Kubernetes-compatible API serves.

One :class:`Kind` per resource type, with what discovery, routing and the store need to know about it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gloo_nb.sandbox.apierror import ApiError

__all__ = [
    "API_SERVICE",
    "CLUSTER_ROLE",
    "CLUSTER_ROLE_BINDING",
    "CONFIGMAP",
    "CONTROLLER_REVISION",
    "CUSTOM_RESOURCE_DEFINITION",
    "DAEMON_SET",
    "DEPLOYMENT",
    "ENDPOINTS",
    "EVENT",
    "GATEWAY",
    "JOB",
    "KINDS",
    "NAMESPACE",
    "NODE",
    "POD",
    "PROXY",
    "REPLICATION_CONTROLLER",
    "REPLICA_SET",
    "ROLE",
    "ROLE_BINDING",
    "ROUTE_TABLE",
    "SECRET",
    "SELF_SUBJECT_ACCESS_REVIEW",
    "SELF_SUBJECT_RULES_REVIEW",
    "SERVED_KINDS",
    "SERVICE",
    "SERVICE_ACCOUNT",
    "SETTINGS",
    "UPSTREAM",
    "UPSTREAM_GROUP",
    "VALIDATING_WEBHOOK_CONFIGURATION",
    "ROUTE_OPTION",
    "VIRTUAL_HOST_OPTION",
    "VIRTUAL_SERVICE",
    "Kind",
    "kind_by_plural",
    "kind_of",
]


@dataclass(frozen=True, slots=True)
class Kind:
    """One resource type.

    Attributes:
        group: API group; ``""`` for the core group.
        version: API version within the group, e.g. ``v1``.
        kind: Object kind, e.g. ``Pod``.
        plural: Resource name in URLs, e.g. ``pods``.
        singular: Singular resource name, e.g. ``pod``.
        namespaced: Whether objects live in a namespace.
        short_names: kubectl short names, e.g. ``("po",)``.
        builtin: Whether strategic merge patch is allowed (False for the Gloo custom resources).
        subresources: Subresources served, e.g. ``("status", "scale")``.
        categories: Discovery categories, e.g. ``("all",)``.
        verbs: The verbs discovery lists for a kind the API server computes rather than stores (see
            :data:`SERVED_KINDS`); empty for stored kinds (all of CRUD, list and watch).
    """

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    builtin: bool = True
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` of objects of this kind: ``v1`` or ``apps/v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """The qualified resource name used in messages: ``pods`` or ``routetables.gateway.solo.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """The kind as the apiserver names it in Invalid messages: ``Service`` or ``Deployment.apps``."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def __str__(self) -> str:
        return f"{self.api_version}/{self.kind}"


_RBAC = "rbac.authorization.k8s.io"

NAMESPACE = Kind("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",), subresources=("status",))
SERVICE = Kind("", "v1", "Service", "services", "service", True, ("svc",), subresources=("status",),
               categories=("all",))
POD = Kind("", "v1", "Pod", "pods", "pod", True, ("po",), subresources=("status", "portforward", "log", "exec"),
           categories=("all",))
ENDPOINTS = Kind("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",))
CONFIGMAP = Kind("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",))
SECRET = Kind("", "v1", "Secret", "secrets", "secret", True)
DEPLOYMENT = Kind("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",),
                  subresources=("status", "scale"), categories=("all",))
# pkg/registry/apps/replicaset/storage/storage.go: short name rs, category all, status and scale subresources.
REPLICA_SET = Kind("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",),
                   subresources=("status", "scale"), categories=("all",))
VIRTUAL_SERVICE = Kind("gateway.solo.io", "v1", "VirtualService", "virtualservices", "virtualservice", True,
                       ("vs",), builtin=False, subresources=("status",), categories=("solo-io", "gateway"))
ROUTE_TABLE = Kind("gateway.solo.io", "v1", "RouteTable", "routetables", "routetable", True, ("rt",),
                   builtin=False, subresources=("status",), categories=("solo-io", "gateway"))
GATEWAY = Kind("gateway.solo.io", "v1", "Gateway", "gateways", "gateway", True, ("gw",), builtin=False,
               subresources=("status",), categories=("solo-io", "gateway"))
UPSTREAM = Kind("gloo.solo.io", "v1", "Upstream", "upstreams", "upstream", True, ("us",), builtin=False,
                subresources=("status",), categories=("solo-io", "gloo"))
UPSTREAM_GROUP = Kind("gloo.solo.io", "v1", "UpstreamGroup", "upstreamgroups", "upstreamgroup", True, ("ug",),
                      builtin=False, subresources=("status",), categories=("solo-io", "gloo"))
# projects/gateway/api/v1/external_options.proto: short names vhopts / rtopts (solo-kit resource options).
VIRTUAL_HOST_OPTION = Kind("gateway.solo.io", "v1", "VirtualHostOption", "virtualhostoptions", "virtualhostoption",
                           True, ("vhopts",), builtin=False, subresources=("status",),
                           categories=("solo-io", "gateway"))
ROUTE_OPTION = Kind("gateway.solo.io", "v1", "RouteOption", "routeoptions", "routeoption", True, ("rtopts",),
                    builtin=False, subresources=("status",), categories=("solo-io", "gateway"))
SETTINGS = Kind("gloo.solo.io", "v1", "Settings", "settings", "settings", True, ("st",), builtin=False,
                subresources=("status",), categories=("solo-io", "gloo"))
# No status subresource: the control plane writes a Proxy's spec and status together, as Gloo does.
PROXY = Kind("gloo.solo.io", "v1", "Proxy", "proxies", "proxy", True, ("px",), builtin=False,
             categories=("solo-io", "gloo"))
ROLE = Kind(_RBAC, "v1", "Role", "roles", "role", True)
ROLE_BINDING = Kind(_RBAC, "v1", "RoleBinding", "rolebindings", "rolebinding", True)
CLUSTER_ROLE = Kind(_RBAC, "v1", "ClusterRole", "clusterroles", "clusterrole", False)
CLUSTER_ROLE_BINDING = Kind(_RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", False)
# What the kubelet and the controllers report (core/v1 Events, as kubectl get/describe show them).
EVENT = Kind("", "v1", "Event", "events", "event", True, ("ev",))
# Issue 18: a default ServiceAccount in every namespace (gloo_nb.sandbox.serviceaccounts_controller), and the
# sandbox's one Node (gloo_nb.sandbox.node). Discovery as kube-apiserver 1.32 lists them: sa, and no for nodes.
SERVICE_ACCOUNT = Kind("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",))
NODE = Kind("", "v1", "Node", "nodes", "node", False, ("no",), subresources=("status",))
# Issue 18: batch/v1 Jobs (gloo_nb.sandbox.job_controller). pkg/registry/batch/job/storage/storage.go: category
# all, status subresource, no short name. CronJobs are not served (a 404, as for any resource not served).
JOB = Kind("batch", "v1", "Job", "jobs", "job", True, subresources=("status",), categories=("all",))
# Issue 18: kube-aggregator's APIServices (gloo_nb.sandbox.apiservices). staging/src/k8s.io/kube-aggregator/pkg/
# registry/apiservice/etcd/etcd.go: cluster-scoped, a status subresource, category api-extensions, no short name.
API_SERVICE = Kind("apiregistration.k8s.io", "v1", "APIService", "apiservices", "apiservice", False,
                   subresources=("status",), categories=("api-extensions",))
# Issue 18: ReplicationControllers (gloo_nb.sandbox.replication_controller), DaemonSets and their ControllerRevisions
# (gloo_nb.sandbox.daemonset_controller). pkg/registry/core/replicationcontroller/storage/storage.go: short name
# rc, category all, status and scale; pkg/registry/apps/daemonset/storage/storage.go: ds, category all, status;
# pkg/registry/apps/controllerrevision/storage/storage.go: no short name, no category, no subresource.
REPLICATION_CONTROLLER = Kind("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller",
                              True, ("rc",), subresources=("status", "scale"), categories=("all",))
DAEMON_SET = Kind("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",), subresources=("status",),
                  categories=("all",))
CONTROLLER_REVISION = Kind("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", True)
# Issue 20: the ValidatingWebhookConfiguration a Gloo install with validation holds (gloo_nb.sandbox.install).
# pkg/registry/admissionregistration/validatingwebhookconfiguration/storage/storage.go: cluster-scoped, category
# api-extensions, no short name, no subresource. Stored and shown only: the sandbox calls no webhook it names (Gloo's
# own admission runs in-process, gloo_nb.sandbox.gloo_webhook).
VALIDATING_WEBHOOK_CONFIGURATION = Kind("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
                                        "validatingwebhookconfigurations", "validatingwebhookconfiguration", False,
                                        categories=("api-extensions",))

# Served by the API server from other state, never stored: the Gloo kinds' definitions (read-only, the kinds
# are built in) and the self-service access reviews (create only, answered from RBAC).
CUSTOM_RESOURCE_DEFINITION = Kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                                  "customresourcedefinitions", "customresourcedefinition", False, ("crd", "crds"),
                                  categories=("api-extensions",), verbs=("get", "list"))
SELF_SUBJECT_ACCESS_REVIEW = Kind("authorization.k8s.io", "v1", "SelfSubjectAccessReview",
                                  "selfsubjectaccessreviews", "selfsubjectaccessreview", False, verbs=("create",))
SELF_SUBJECT_RULES_REVIEW = Kind("authorization.k8s.io", "v1", "SelfSubjectRulesReview",
                                 "selfsubjectrulesreviews", "selfsubjectrulesreview", False, verbs=("create",))

KINDS: tuple[Kind, ...] = (
    NAMESPACE, SERVICE, POD, ENDPOINTS, CONFIGMAP, SECRET, DEPLOYMENT, VIRTUAL_SERVICE, ROUTE_TABLE, GATEWAY,
    UPSTREAM, SETTINGS, PROXY, ROLE, ROLE_BINDING, CLUSTER_ROLE, CLUSTER_ROLE_BINDING, EVENT,
    UPSTREAM_GROUP, VIRTUAL_HOST_OPTION, ROUTE_OPTION, SERVICE_ACCOUNT, NODE, REPLICA_SET, JOB,
    API_SERVICE,
    REPLICATION_CONTROLLER, DAEMON_SET, CONTROLLER_REVISION,
    VALIDATING_WEBHOOK_CONFIGURATION,
)
"""The kinds the store keeps."""

SERVED_KINDS: tuple[Kind, ...] = (CUSTOM_RESOURCE_DEFINITION, SELF_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_RULES_REVIEW)
"""Kinds discovery lists that the API server answers itself (see :attr:`Kind.verbs`)."""

_BY_GVK = {(k.api_version, k.kind): k for k in KINDS}
_BY_PLURAL = {(k.group, k.version, k.plural): k for k in KINDS}


def kind_of(api_version: str, kind: str) -> Kind:
    """Return the kind of objects with this ``apiVersion`` and ``kind``.

    Args:
        api_version: e.g. ``apps/v1``.
        kind: e.g. ``Deployment``.

    Returns:
        The kind.

    Raises:
        ApiError: 400 BadRequest when the sandbox does not serve that kind.
    """
    found = _BY_GVK.get((api_version, kind))
    if found is None:
        raise ApiError(400, "BadRequest", f'no kind "{kind}" is registered for version "{api_version}"')
    return found


def kind_by_plural(group: str, version: str, plural: str) -> Kind | None:
    """Return the kind served at ``/apis/{group}/{version}/{plural}``, or None.

    Args:
        group: API group (``""`` for core).
        version: API version.
        plural: Resource name.

    Returns:
        The kind, or None when the sandbox does not serve it.
    """
    return _BY_PLURAL.get((group, version, plural))
