"""Server-side printing: ``Table`` responses with the columns a real apiserver prints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.kinds import Kind

__all__ = ["human_duration", "table"]

_Cell = str | int
_Column = tuple[str, str, int, str]  # name, type, priority, description


def human_duration(seconds: int) -> str:
    """Format an age like apimachinery's ``HumanDuration`` (what kubectl's AGE column shows).

    Args:
        seconds: Whole seconds.

    Returns:
        e.g. ``59s``, ``2m30s``, ``4h5m``, ``2d2h``, ``2y70d``.
    """
    s = seconds
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 192:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        return f"{h // 24 // 365}y{(h // 24) % 365}d" if (h // 24) % 365 else f"{h // 24 // 365}y"
    return f"{h // 24 // 365}y"


def _since(stamp: Any, now: float) -> str:
    if not stamp or not isinstance(stamp, str):
        return "<unknown>"
    try:
        then = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return "<unknown>"
    return human_duration(int(now - then))


def _age(obj: dict[str, Any], now: float) -> str:
    return _since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def _event(obj: dict[str, Any], now: float) -> list[_Cell]:
    # printEvent in kubernetes/pkg/printers/internalversion/printers.go (the wide cells: the server always
    # sends them, kubectl hides priority-1 columns without -o wide).
    first = _since(obj.get("firstTimestamp") or obj.get("eventTime"), now)
    last = _since(obj["lastTimestamp"], now) if obj.get("lastTimestamp") else first
    count = int(obj.get("count") or 0)
    if count > 1:
        last = f"{last} (x{count} over {first})"
    involved = obj.get("involvedObject") or {}
    target = str(involved.get("kind", "")).lower()
    if involved.get("name"):
        target = f"{target}/{involved['name']}"
    source = obj.get("source") or {}
    origin = source.get("component") or obj.get("reportingComponent") or ""
    if source.get("host"):
        origin = f"{origin}, {source['host']}"
    return [last, obj.get("type", ""), obj.get("reason", ""), target, involved.get("fieldPath", ""), origin,
            str(obj.get("message", "")).strip(), first, count, (obj.get("metadata") or {}).get("name", "")]


def _selector(sel: dict[str, Any] | None) -> str:
    if not sel:
        return "<none>"
    labels = sel.get("matchLabels", sel) if "matchLabels" in sel or "matchExpressions" in sel else sel
    parts = [f"{a}={b}" for a, b in sorted((labels or {}).items()) if isinstance(b, str)]
    for expr in sel.get("matchExpressions") or []:
        values = ",".join(expr.get("values") or [])
        parts.append(f"{expr.get('key')} {str(expr.get('operator', '')).lower()} ({values})")
    return ",".join(parts) or "<none>"


_NAME: _Column = ("Name", "string", 0, "Name must be unique within a namespace. More info: "
                                         "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_AGE: _Column = ("Age", "string", 0, "CreationTimestamp is a timestamp representing the server time when this object "
                                     "was created.")


def _pod(obj: dict[str, Any]) -> list[_Cell]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    phase = status.get("reason") or status.get("phase") or "Unknown"
    for c in statuses:
        waiting = (c.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            phase = waiting["reason"]
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        phase = "Terminating"
    return [f"{ready}/{len(spec.get('containers') or [])}", phase, restarts,
            "§AGE", status.get("podIP") or "<none>", spec.get("nodeName") or "<none>", "<none>", "<none>"]


def _deployment(obj: dict[str, Any]) -> list[_Cell]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", int(status.get("updatedReplicas", 0)),
            int(status.get("availableReplicas", 0)), "§AGE", ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers), _selector(spec.get("selector"))]


def _replica_set(obj: dict[str, Any]) -> list[_Cell]:
    # printReplicaSet in pkg/printers/internalversion/printers.go: desired, current, ready as integers.
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [int(spec.get("replicas", 0)), int(status.get("replicas", 0)), int(status.get("readyReplicas", 0)),
            "§AGE", ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers), _selector(spec.get("selector"))]


def _service(obj: dict[str, Any]) -> list[_Cell]:
    spec = obj.get("spec") or {}
    ports = []
    for p in spec.get("ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        ports.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    # printers.go getServiceExternalIP: ExternalName shows the name; ClusterIP and NodePort their externalIPs;
    # LoadBalancer the ingress points (then externalIPs), "<pending>" without any.
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external_ips = [str(ip) for ip in spec.get("externalIPs") or []]
    if spec.get("type") == "ExternalName":
        external = str(spec.get("externalName") or "<none>")
    elif spec.get("type") == "LoadBalancer":
        external = ",".join([*(i.get("ip") or i.get("hostname", "") for i in ingress), *external_ips]) or "<pending>"
    else:
        external = ",".join(external_ips) or "<none>"
    return [spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", external, ",".join(ports) or "<none>",
            "§AGE", _selector(spec.get("selector"))]


def _endpoints(obj: dict[str, Any]) -> list[_Cell]:
    addrs = []
    for subset in obj.get("subsets") or []:
        for a in subset.get("addresses") or []:
            for p in subset.get("ports") or [{}]:
                addrs.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else str(a.get("ip")))
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [text or "<none>", "§AGE"]


def _node(obj: dict[str, Any]) -> list[_Cell]:
    # printNode in kubernetes/pkg/printers/internalversion/printers.go: the Ready condition (Unknown without
    # one), SchedulingDisabled when cordoned; roles from node-role.kubernetes.io/<role> (and kubernetes.io/role)
    # labels; the wide cells from the addresses and nodeInfo.
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    states = [("" if c.get("status") == "True" else "Not") + str(c.get("type"))
              for c in status.get("conditions") or [] if c.get("type") == "Ready"] or ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    labels = (obj.get("metadata") or {}).get("labels") or {}
    roles = sorted({key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")
                    and key.split("/", 1)[1]} | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role")
                                                 else set()))
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        return next((a.get("address", "") for a in status.get("addresses") or [] if a.get("type") == kind), "<none>")

    return [",".join(states), ",".join(roles) or "<none>", "§AGE", info.get("kubeletVersion", ""),
            address("InternalIP"), address("ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


_ADDRESSES_DOC = ("List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
                  "https://kubernetes.io/docs/reference/node/node-status/#addresses")

_COLUMNS: dict[Kind, tuple[list[_Column], Callable[[dict[str, Any]], list[_Cell]]]] = {
    # printServiceAccount (Name, Secrets, Age) and printNode, with their column descriptions.
    k.SERVICE_ACCOUNT: ([("Secrets", "string", 0, "Secrets is a list of the secrets in the same namespace that pods "
                                                  "running using this ServiceAccount are allowed to use."), _AGE],
                        lambda o: [len(o.get("secrets") or []), "§AGE"]),
    k.NODE: ([("Status", "string", 0, "The status of the node"), ("Roles", "string", 0, "The roles of the node"),
              _AGE, ("Version", "string", 0, "Kubelet Version reported by the node."),
              ("Internal-IP", "string", 1, _ADDRESSES_DOC), ("External-IP", "string", 1, _ADDRESSES_DOC),
              ("OS-Image", "string", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux "
                                        "7 (wheezy))."),
              ("Kernel-Version", "string", 1, "Kernel Version reported by the node from 'uname -r' (e.g. "
                                              "3.16.0-0.bpo.4-amd64)."),
              ("Container-Runtime", "string", 1, "ContainerRuntime Version reported by the node through runtime "
                                                 "remote API (e.g. containerd://1.4.2).")], _node),
    k.POD: ([("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
             ("Status", "string", 0, "The aggregate status of the containers in this pod."),
             ("Restarts", "string", 0, "The number of times the containers in this pod have been restarted."),
             _AGE, ("IP", "string", 1, "IP address allocated to the pod. Routable at least within the cluster."),
             ("Node", "string", 1, "Name of the Node this Pod is scheduled on."),
             ("Nominated Node", "string", 1, "Name of the Node this Pod is nominated on."),
             ("Readiness Gates", "string", 1, "Pod's readiness gates.")], _pod),
    k.DEPLOYMENT: ([("Ready", "string", 0, "Number of the pod with ready state"),
                    ("Up-to-date", "string", 0, "Total number of non-terminated pods targeted by this deployment "
                                                "that have the desired template spec."),
                    ("Available", "string", 0, "Total number of available pods (ready for at least minReadySeconds) "
                                               "targeted by this deployment."),
                    _AGE, ("Containers", "string", 1, "Names of each container in the template."),
                    ("Images", "string", 1, "Images referenced by each container in the template."),
                    ("Selector", "string", 1, "Label selector for pods.")], _deployment),
    # replicaSetColumnDefinitions in pkg/printers/internalversion/printers.go (descriptions from the API's
    # swagger docs of ReplicaSetSpec/ReplicaSetStatus).
    k.REPLICA_SET: ([("Desired", "integer", 0, "Replicas is the number of desired replicas. This is a pointer to "
                                               "distinguish between explicit zero and unspecified. Defaults to 1. "
                                               "More info: https://kubernetes.io/docs/concepts/workloads/controllers/"
                                               "replicationcontroller/#what-is-a-replicationcontroller"),
                     ("Current", "integer", 0, "Replicas is the most recently observed number of replicas. More "
                                               "info: https://kubernetes.io/docs/concepts/workloads/controllers/"
                                               "replicationcontroller/#what-is-a-replicationcontroller"),
                     ("Ready", "integer", 0, "readyReplicas is the number of pods targeted by this ReplicaSet with "
                                             "a Ready Condition."),
                     _AGE, ("Containers", "string", 1, "Names of each container in the template."),
                     ("Images", "string", 1, "Images referenced by each container in the template."),
                     ("Selector", "string", 1, "Selector is a label query over pods that should match the replica "
                                               "count. Label keys and values that must match in order to be "
                                               "controlled by this replica set. It must match the pod template's "
                                               "labels. More info: https://kubernetes.io/docs/concepts/overview/"
                                               "working-with-objects/labels/#label-selectors")], _replica_set),
    k.SERVICE: ([("Type", "string", 0, "The type of the service."),
                 ("Cluster-IP", "string", 0, "The IP address of the service."),
                 ("External-IP", "string", 0, "The external IP addresses of the service."),
                 ("Port(s)", "string", 0, "The ports of the service."), _AGE,
                 ("Selector", "string", 1, "Route service traffic to pods with label keys and values matching "
                                           "this selector.")], _service),
    k.NAMESPACE: ([("Status", "string", 0, "The status of the namespace"), _AGE],
                  lambda o: [(o.get("status") or {}).get("phase", "Active"), "§AGE"]),
    k.ENDPOINTS: ([("Endpoints", "string", 0, "Endpoints of the service"), _AGE], _endpoints),
    k.CONFIGMAP: ([("Data", "string", 0, "Number of keys in the ConfigMap."), _AGE],
                  lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), "§AGE"]),
    k.SECRET: ([("Type", "string", 0, "The type of the secret"), ("Data", "string", 0, "The number of keys"), _AGE],
               lambda o: [o.get("type", "Opaque"), len(o.get("data") or {}), "§AGE"]),
    k.CUSTOM_RESOURCE_DEFINITION: ([("Created At", "date", 0, "CreationTimestamp is a timestamp representing the "
                                                              "server time when this object was created.")],
                                   lambda o: [(o.get("metadata") or {}).get("creationTimestamp", "")]),
}


# Kinds whose row does not start with the name (printEvent puts it last, shown with -o wide only).
_ROWS: dict[Kind, tuple[list[_Column], Callable[[dict[str, Any], float], list[_Cell]]]] = {
    k.EVENT: ([("Last Seen", "string", 0, "The time at which the most recent occurrence of this event was recorded."),
               ("Type", "string", 0, "Type of this event (Normal, Warning), new types could be added in the future."),
               ("Reason", "string", 0, "This should be a short, machine understandable string that gives the "
                                       "reason for the transition into the object's current status."),
               ("Object", "string", 0, "The object that this event is about."),
               ("Subobject", "string", 1, "The field of the object this event is about."),
               ("Source", "string", 1, "The component reporting this event."),
               ("Message", "string", 0, "A human-readable description of the status of this operation."),
               ("First Seen", "string", 1, "The time at which the event was first recorded."),
               ("Count", "string", 1, "The number of times this event has occurred."),
               ("Name", "string", 1, _NAME[3])], _event),
}


def _stamp(value: Any) -> float | None:
    try:
        return datetime.strptime(str(value)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _job(obj: dict[str, Any], now: float) -> list[_Cell]:
    # printJob in pkg/printers/internalversion/printers.go: STATUS from the conditions (Complete, Failed,
    # Terminating, Suspended, FailureTarget, else Running), COMPLETIONS "succeeded/completions" (or "n/1 of
    # parallelism" without completions), DURATION from startTime to completionTime (or to now), empty before
    # the Job starts.
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    conditions = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    succeeded = int(status.get("succeeded", 0))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif int(spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    start, end = _stamp(status.get("startTime")), _stamp(status.get("completionTime"))
    duration = "" if start is None else human_duration(int((end if end is not None else now) - start))
    if "Complete" in conditions:
        state = "Complete"
    elif "Failed" in conditions:
        state = "Failed"
    elif meta.get("deletionTimestamp"):
        state = "Terminating"
    elif "Suspended" in conditions:
        state = "Suspended"
    elif "FailureTarget" in conditions:
        state = "FailureTarget"
    else:
        state = "Running"
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [meta.get("name", ""), state, completions, duration, _age(obj, now),
            ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers),
            _selector(spec.get("selector"))]


# jobColumnDefinitions in pkg/printers/internalversion/printers.go (descriptions from the swagger docs).
_ROWS[k.JOB] = ([_NAME, ("Status", "string", 0, "Status of the job."),
                 ("Completions", "string", 0, "The number of pods which reached phase Succeeded."),
                 ("Duration", "string", 0, "Time required to complete the job."), _AGE,
                 ("Containers", "string", 1, "Names of each container in the template."),
                 ("Images", "string", 1, "Images referenced by each container in the template."),
                 ("Selector", "string", 1, "A label query over pods that should match the pod count.")], _job)


def _api_service(obj: dict[str, Any]) -> list[_Cell]:
    # staging/src/k8s.io/kube-aggregator/pkg/registry/apiservice/etcd/etcd.go ConvertToTable: Local without a
    # service; the Available condition's status, with its reason in parentheses unless True; Unknown without one.
    spec = obj.get("spec") or {}
    service = spec.get("service")
    where = f"{service.get('namespace', '')}/{service.get('name', '')}" if isinstance(service, dict) else "Local"
    available = "Unknown"
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Available":
            status = str(cond.get("status", ""))
            available = status if status == "True" or not cond.get("reason") else f"{status} ({cond['reason']})"
            break
    return [where, available, "§AGE"]


_COLUMNS[k.API_SERVICE] = ([("Service", "string", 0, "The reference to the service that hosts this API endpoint."),
                            ("Available", "string", 0, "Whether this service is available."), _AGE], _api_service)
# pkg/printers/internalversion/printers.go: validatingWebhookColumnDefinitions (Name, Webhooks, Age) and
# printValidatingWebhook (the number of webhooks).
_COLUMNS[k.VALIDATING_WEBHOOK_CONFIGURATION] = (
    [("Webhooks", "integer", 0, "Webhooks indicates the number of webhooks registered in this configuration"), _AGE],
    lambda o: [len(o.get("webhooks") or []), "§AGE"])
def _labels_text(labels: Any) -> str:
    # labels.FormatLabels: key=value sorted by key, "<none>" when empty.
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{a}={b}" for a, b in sorted(labels.items()))


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []


def _replication_controller(obj: dict[str, Any]) -> list[_Cell]:
    # printReplicationController in pkg/printers/internalversion/printers.go: desired, current, ready; the wide
    # cells the containers, images and labels.FormatLabels of the map selector.
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = _containers(obj)
    return [int(spec.get("replicas", 0)), int(status.get("replicas", 0)), int(status.get("readyReplicas", 0)),
            "§AGE", ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers), _labels_text(spec.get("selector"))]


def _daemon_set(obj: dict[str, Any]) -> list[_Cell]:
    # printDaemonSet: desiredNumberScheduled, currentNumberScheduled, numberReady, updatedNumberScheduled,
    # numberAvailable, the template's nodeSelector (labels.FormatLabels), age; wide: containers, images, selector.
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = _containers(obj)
    node_selector = (((spec.get("template") or {}).get("spec") or {}).get("nodeSelector"))
    return [int(status.get("desiredNumberScheduled", 0)), int(status.get("currentNumberScheduled", 0)),
            int(status.get("numberReady", 0)), int(status.get("updatedNumberScheduled", 0)),
            int(status.get("numberAvailable", 0)), _labels_text(node_selector), "§AGE",
            ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers),
            _selector(spec.get("selector"))]


def _controller_revision(obj: dict[str, Any]) -> list[_Cell]:
    # printControllerRevision: the controller as printers.FormatResourceName(kind.group/name), "<none>" without
    # one; the revision number.
    controller = "<none>"
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")).lower()
            controller = f"{kind}.{group}/{ref.get('name', '')}" if group else f"{kind}/{ref.get('name', '')}"
            break
    return [controller, int(obj.get("revision") or 0), "§AGE"]


_TEMPLATE_WIDE: list[_Column] = [("Containers", "string", 1, "Names of each container in the template."),
                                 ("Images", "string", 1, "Images referenced by each container in the template.")]
# replicationControllerColumnDefinitions, daemonSetColumnDefinitions and controllerRevisionColumnDefinitions in
# pkg/printers/internalversion/printers.go (descriptions from the API's swagger docs).
_COLUMNS[k.REPLICATION_CONTROLLER] = (
    [("Desired", "integer", 0, "Replicas is the number of desired replicas. This is a pointer to distinguish between "
                               "explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/"
                               "concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
     ("Current", "integer", 0, "Replicas is the most recently observed number of replicas. More info: https://"
                               "kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-"
                               "replicationcontroller"),
     ("Ready", "integer", 0, "The number of ready replicas for this replication controller."), _AGE,
     *_TEMPLATE_WIDE,
     ("Selector", "string", 1, "Selector is a label query over pods that should match the Replicas count. If "
                               "Selector is empty, it is defaulted to the labels present on the Pod template. Label "
                               "keys and values that must match in order to be controlled by this replication "
                               "controller, if empty defaulted to labels on Pod template. More info: https://"
                               "kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors")],
    _replication_controller)
_COLUMNS[k.DAEMON_SET] = (
    [("Desired", "integer", 0, "The total number of nodes that should be running the daemon pod (including nodes "
                               "correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/"
                               "workloads/controllers/daemonset/"),
     ("Current", "integer", 0, "The number of nodes that are running at least 1 daemon pod and are supposed to run "
                               "the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/"
                               "daemonset/"),
     ("Ready", "integer", 0, "numberReady is the number of nodes that should be running the daemon pod and have one "
                             "or more of the daemon pod running with a Ready Condition."),
     ("Up-to-date", "integer", 0, "The total number of nodes that are running updated daemon pod"),
     ("Available", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of "
                                 "the daemon pod running and available (ready for at least spec.minReadySeconds)"),
     ("Node Selector", "string", 0, "NodeSelector is a selector which must be true for the pod to fit on a node. "
                                    "Selector which must match a node's labels for the pod to be scheduled on that "
                                    "node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-"
                                    "node/"),
     _AGE, *_TEMPLATE_WIDE,
     ("Selector", "string", 1, "A label query over pods that are managed by the daemon set. Must match in order to "
                               "be controlled. It must match the pod template's labels. More info: https://"
                               "kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors")],
    _daemon_set)
_COLUMNS[k.CONTROLLER_REVISION] = (
    [("Controller", "string", 0, "Controller of the object"),
     ("Revision", "string", 0, "Revision indicates the revision of the state represented by Data."), _AGE],
    _controller_revision)


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def table(kind: Kind, objects: list[dict[str, Any]], resource_version: str, now: float, *,
          include_object: str = "Metadata") -> dict[str, Any]:
    """Render objects as a ``meta.k8s.io/v1`` Table.

    Args:
        kind: The objects' kind.
        objects: The objects, in display order.
        resource_version: The list's resourceVersion.
        now: Current time, for AGE.
        include_object: ``Metadata`` (PartialObjectMetadata rows), ``Object`` (full objects) or ``None``.

    Returns:
        The Table body.
    """
    columns, cells_of = _COLUMNS.get(kind, ([_AGE], lambda o: ["§AGE"]))
    own = _ROWS.get(kind)
    definitions = [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": d, "priority": p}
                   for n, t, p, d in (own[0] if own else [_NAME, *columns])]
    rows = []
    for obj in objects:
        cells: list[_Cell]
        if own:
            cells = own[1](obj, now)
        else:
            cells = [(obj.get("metadata") or {}).get("name", "")]
            cells.extend(_age(obj, now) if c == "§AGE" else c for c in cells_of(obj))
        row: dict[str, Any] = {"cells": cells}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial(obj)
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": definitions, "rows": rows}
