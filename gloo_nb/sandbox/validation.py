"""Validation and defaulting of objects on write, with the apiserver's error wording.

The store calls :func:`validate` and :func:`apply_defaults` on every create and update; the server calls
:func:`unknown_fields` to honour ``fieldValidation``. Gloo kinds are checked with the project's one parser,
:func:`gloo_nb.models.codec.parse_object`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from gloo_nb._text import escape_controls
from gloo_nb.errors import ParseError
from gloo_nb.models.codec import parse_object
from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.apierror import ApiError
from gloo_nb.sandbox.kinds import Kind
from gloo_nb.sandbox.object_selectors import label_selector_matches
from gloo_nb.sandbox.prober import PROBE_DEFAULTS

__all__ = ["DAEMON_SET_TEMPLATE_GENERATION", "apply_defaults", "go_label_selector", "invalid", "unknown_fields",
           "validate", "validate_update"]

_GLOO_KINDS = frozenset({k.VIRTUAL_SERVICE, k.ROUTE_TABLE, k.GATEWAY, k.UPSTREAM, k.SETTINGS,
                         k.UPSTREAM_GROUP, k.VIRTUAL_HOST_OPTION, k.ROUTE_OPTION})
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  r"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
              "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")

_META_FIELDS = frozenset({
    "name", "namespace", "labels", "annotations", "resourceVersion", "generation", "uid", "creationTimestamp",
    "managedFields", "ownerReferences", "finalizers", "generateName", "selfLink", "deletionTimestamp",
    "deletionGracePeriodSeconds",
})
_TOP_FIELDS: dict[Kind, frozenset[str]] = {
    k.NAMESPACE: frozenset({"spec", "status"}),
    k.SERVICE: frozenset({"spec", "status"}),
    k.POD: frozenset({"spec", "status"}),
    k.DEPLOYMENT: frozenset({"spec", "status"}),
    k.REPLICA_SET: frozenset({"spec", "status"}),
    k.JOB: frozenset({"spec", "status"}),
    k.REPLICATION_CONTROLLER: frozenset({"spec", "status"}),
    k.DAEMON_SET: frozenset({"spec", "status"}),
    k.CONTROLLER_REVISION: frozenset({"data", "revision"}),
    k.ENDPOINTS: frozenset({"subsets"}),
    k.CONFIGMAP: frozenset({"data", "binaryData", "immutable"}),
    k.SECRET: frozenset({"data", "stringData", "type", "immutable"}),
    k.ROLE: frozenset({"rules"}),
    k.CLUSTER_ROLE: frozenset({"rules", "aggregationRule"}),
    k.ROLE_BINDING: frozenset({"roleRef", "subjects"}),
    k.CLUSTER_ROLE_BINDING: frozenset({"roleRef", "subjects"}),
    k.PROXY: frozenset({"spec", "status"}),
    k.SERVICE_ACCOUNT: frozenset({"secrets", "imagePullSecrets", "automountServiceAccountToken"}),
    k.NODE: frozenset({"spec", "status"}),
    k.API_SERVICE: frozenset({"spec", "status"}),
    k.VALIDATING_WEBHOOK_CONFIGURATION: frozenset({"webhooks"}),
}
_RBAC_KINDS = frozenset({k.ROLE, k.CLUSTER_ROLE, k.ROLE_BINDING, k.CLUSTER_ROLE_BINDING})

# k8s.io/apimachinery/pkg/util/validation/validation.go: IsQualifiedName and IsValidLabelValue.
_QUALIFIED_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_QUALIFIED_NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                       "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                       "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
_QUALIFIED_MSG = ("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                  "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                  "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
                  "and '/' (e.g. 'example.com/MyName')")
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
_TOTAL_ANNOTATION_BYTES = 256 * 1024
"""apimachinery's TotalAnnotationSizeLimitB."""


def _value(v: Any) -> str:
    text = json.dumps(v, separators=(",", ":")) if not isinstance(v, dict | list) else (
        "map[string]interface {}" if isinstance(v, dict) else "[]interface {}")
    return text if len(text) <= 80 else text[:77] + "..."


def invalid(kind: Kind, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """Build a 422 ``Invalid`` error the way the apiserver words it.

    Args:
        kind: The object's kind.
        name: The object's name.
        causes: ``(reason, field, message)`` triples, e.g. ``("FieldValueRequired", "spec.selector",
            "Required value")``.

    Returns:
        The error (not raised).
    """
    parts = [f"{field}: {msg}" for _, field, msg in causes]
    text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    # NewInvalid formats the name with %q: a name with a newline stays on the message's one line
    return ApiError(422, "Invalid", f"{kind.qualified_kind} {_quoted(name)} is invalid: {text}", {
        "name": name, "group": kind.group, "kind": kind.kind,
        "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes]})


def _check_name(kind: Kind, name: str, causes: list[tuple[str, str, str]]) -> None:
    if kind is k.API_SERVICE:
        return  # its own rule, with its spec (_check_api_service)
    if kind in _RBAC_KINDS:
        if name in (".", "..") or "/" in name or "%" in name:
            causes.append(("FieldValueInvalid", "metadata.name",
                           f'Invalid value: "{name}": may not contain \'/\' or \'%\''))
        return
    if kind is k.SERVICE:
        pattern, msg = _DNS1035, _DNS1035_MSG
    elif kind is k.NAMESPACE:
        pattern, msg = _LABEL, _LABEL_MSG
    else:
        pattern, msg = _SUBDOMAIN, _SUBDOMAIN_MSG
    _check_dns(name, "metadata.name", pattern, msg, 253 if pattern is _SUBDOMAIN else 63, causes)


def _quoted(text: str) -> str:
    # Go's %q: the offending value is shown escaped, never raw control characters
    return '"' + escape_controls(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def _check_dns(value: str, field: str, pattern: re.Pattern[str], msg: str, limit: int,
               causes: list[tuple[str, str, str]]) -> None:
    if len(value) > limit:
        causes.append(("FieldValueInvalid", field, f"Invalid value: {_quoted(value)}: must be no more than "
                                                   f"{limit} characters"))
    if not pattern.match(value):
        causes.append(("FieldValueInvalid", field, f"Invalid value: {_quoted(value)}: {msg}"))


def _qualified_name_problems(key: str) -> list[str]:
    """What IsQualifiedName says of a label or annotation key (prefix ``example.com/``, then a name)."""
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        if len(prefix) > 253:
            return ["prefix part must be no more than 253 characters"]
        if not _SUBDOMAIN.match(prefix):
            return ["prefix part " + _SUBDOMAIN_MSG]
    else:
        return [_QUALIFIED_MSG]
    if not name:
        return ["name part must be non-empty"]
    out = []
    if len(name) > 63:
        out.append("name part must be no more than 63 characters")
    if not _QUALIFIED_PART.match(name):
        out.append(_QUALIFIED_NAME_MSG)
    return out


def _check_labels(labels: dict[str, Any], field: str, causes: list[tuple[str, str, str]]) -> None:
    # ValidateLabels (k8s.io/apimachinery/pkg/apis/meta/v1/validation): keys are qualified names, values
    # at most 63 characters of [A-Za-z0-9_.-] starting and ending alphanumeric.
    for key, value in labels.items():
        causes.extend(("FieldValueInvalid", field, f"Invalid value: {_quoted(key)}: {problem}")
                      for problem in _qualified_name_problems(str(key)))
        if len(value) > 63:
            causes.append(("FieldValueInvalid", field, f"Invalid value: {_quoted(value)}: must be no more than "
                                                       "63 characters"))
        if value and not _QUALIFIED_PART.match(value):
            causes.append(("FieldValueInvalid", field, f"Invalid value: {_quoted(value)}: {_LABEL_VALUE_MSG}"))


def _check_annotations(annotations: dict[str, Any], field: str, causes: list[tuple[str, str, str]]) -> None:
    # ValidateAnnotations (k8s.io/apimachinery/pkg/api/validation/objectmeta.go): keys are qualified names
    # (lower-cased first), and all keys and values together hold at most 256 KiB.
    for key in annotations:
        causes.extend(("FieldValueInvalid", field, f"Invalid value: {_quoted(key)}: {problem}")
                      for problem in _qualified_name_problems(str(key).lower()))
    total = sum(len(key.encode()) + len(str(v).encode()) for key, v in annotations.items())
    if total > _TOTAL_ANNOTATION_BYTES:
        causes.append(("FieldValueTooLong", field, f"Too long: must have at most {_TOTAL_ANNOTATION_BYTES} bytes"))


def _check_containers(spec: Any, at: str, causes: list[tuple[str, str, str]]) -> None:
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not containers:
        causes.append(("FieldValueRequired", f"{at}.containers", "Required value"))
        return
    if not isinstance(containers, list):
        causes.append(("FieldValueInvalid", f"{at}.containers", f"Invalid value: {_value(containers)}: "
                                                                "must be a list"))
        return
    seen: set[str] = set()
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            causes.append(("FieldValueInvalid", f"{at}.containers[{i}]", "Invalid value: must be an object"))
            continue
        name = c.get("name")
        if not name:
            causes.append(("FieldValueRequired", f"{at}.containers[{i}].name", "Required value"))
        elif not isinstance(name, str):
            causes.append(("FieldValueInvalid", f"{at}.containers[{i}].name",
                           f"Invalid value: {_value(name)}: must be a string"))
        else:
            # ValidateDNS1123Label (k8s.io/kubernetes/pkg/apis/core/validation): the kubelet builds log paths
            # from container names, so `../x` must never get this far.
            _check_dns(name, f"{at}.containers[{i}].name", _LABEL, _LABEL_MSG, 63, causes)
            if name in seen:
                causes.append(("FieldValueDuplicate", f"{at}.containers[{i}].name",
                               f"Duplicate value: {_quoted(name)}"))
            seen.add(name)
        if not c.get("image"):
            causes.append(("FieldValueRequired", f"{at}.containers[{i}].image", "Required value"))
    _check_volumes(spec, at, causes)


# --- pod volumes (pkg/apis/core/validation/validation.go: ValidateVolumes, validateVolumeSource,
# validateSecretVolumeSource, validateConfigMapVolumeSource, validateKeyToPath, validateLocalDescendingPath,
# ValidateVolumeMounts), as far as the kubelet mounts them: its paths are built from these values.

_VOLUME_TYPES = ("secret", "configMap", "emptyDir", "hostPath", "persistentVolumeClaim", "projected",
                 "downwardAPI", "csi", "ephemeral", "nfs", "image")


def _check_local_path(value: Any, field: str, causes: list[tuple[str, str, str]]) -> None:
    # validateLocalDescendingPath
    if not isinstance(value, str):
        causes.append(("FieldValueInvalid", field, f"Invalid value: {_value(value)}: must be a string"))
        return
    if value.startswith("/"):
        causes.append(("FieldValueInvalid", field, f"Invalid value: {_quoted(value)}: must be a relative path"))
    if ".." in value.split("/"):
        causes.append(("FieldValueInvalid", field, f"Invalid value: {_quoted(value)}: must not contain '..'"))


def _check_mode(value: Any, field: str, causes: list[tuple[str, str, str]]) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0o777):
        causes.append(("FieldValueInvalid", field, f"Invalid value: {_value(value)}: must be a number between 0 "
                                                    "and 0777 (octal), both inclusive"))


def _check_volumes(spec: dict[str, Any], at: str, causes: list[tuple[str, str, str]]) -> None:
    volumes = spec.get("volumes")
    names: set[str] = set()
    if volumes is not None and not isinstance(volumes, list):
        causes.append(("FieldValueInvalid", f"{at}.volumes", f"Invalid value: {_value(volumes)}: must be a list"))
        volumes = []
    for i, vol in enumerate(volumes or []):
        where = f"{at}.volumes[{i}]"
        if not isinstance(vol, dict):
            causes.append(("FieldValueInvalid", where, "Invalid value: must be an object"))
            continue
        name = vol.get("name")
        if not name:
            causes.append(("FieldValueRequired", f"{where}.name", "Required value"))
        elif not isinstance(name, str):
            causes.append(("FieldValueInvalid", f"{where}.name", f"Invalid value: {_value(name)}: must be a string"))
        else:
            _check_dns(name, f"{where}.name", _LABEL, _LABEL_MSG, 63, causes)
            if name in names:
                causes.append(("FieldValueDuplicate", f"{where}.name", f"Duplicate value: {_quoted(name)}"))
            names.add(name)
        types = [t for t in _VOLUME_TYPES if t in vol]
        if not types:
            causes.append(("FieldValueRequired", where, "Required value: must specify a volume type"))
            continue
        for extra in types[1:]:
            causes.append(("FieldValueForbidden", f"{where}.{extra}",
                           "Forbidden: may not specify more than 1 volume type"))
        kind = types[0]
        source = vol[kind]
        if kind not in ("secret", "configMap"):
            continue
        if not isinstance(source, dict):
            causes.append(("FieldValueInvalid", f"{where}.{kind}", "Invalid value: must be an object"))
            continue
        ref_field = "secretName" if kind == "secret" else "name"
        if not source.get(ref_field) or not isinstance(source.get(ref_field), str):
            causes.append(("FieldValueRequired", f"{where}.{kind}.{ref_field}", "Required value"))
        _check_mode(source.get("defaultMode"), f"{where}.{kind}.defaultMode", causes)
        items = source.get("items") or []
        if not isinstance(items, list):
            causes.append(("FieldValueInvalid", f"{where}.{kind}.items", "Invalid value: must be a list"))
            continue
        for j, item in enumerate(items):
            iwhere = f"{where}.{kind}.items[{j}]"
            if not isinstance(item, dict):
                causes.append(("FieldValueInvalid", iwhere, "Invalid value: must be an object"))
                continue
            if not item.get("key"):
                causes.append(("FieldValueRequired", f"{iwhere}.key", "Required value"))
            if not item.get("path"):
                causes.append(("FieldValueRequired", f"{iwhere}.path", "Required value"))
            else:
                _check_local_path(item["path"], f"{iwhere}.path", causes)
            _check_mode(item.get("mode"), f"{iwhere}.mode", causes)
    for i, c in enumerate(spec.get("containers") or []):
        mounts = c.get("volumeMounts") if isinstance(c, dict) else None
        if mounts is None:
            continue
        if not isinstance(mounts, list):
            causes.append(("FieldValueInvalid", f"{at}.containers[{i}].volumeMounts", "Invalid value: must be a list"))
            continue
        paths: set[str] = set()
        for j, m in enumerate(mounts):
            where = f"{at}.containers[{i}].volumeMounts[{j}]"
            if not isinstance(m, dict):
                causes.append(("FieldValueInvalid", where, "Invalid value: must be an object"))
                continue
            if not m.get("name"):
                causes.append(("FieldValueRequired", f"{where}.name", "Required value"))
            elif m["name"] not in names:
                causes.append(("FieldValueNotFound", f"{where}.name", f"Not found: {_quoted(str(m['name']))}"))
            path = m.get("mountPath")
            if not path:
                causes.append(("FieldValueRequired", f"{where}.mountPath", "Required value"))
            elif not isinstance(path, str):
                causes.append(("FieldValueInvalid", f"{where}.mountPath", f"Invalid value: {_value(path)}: "
                                                                          "must be a string"))
            else:
                if path in paths:
                    causes.append(("FieldValueInvalid", f"{where}.mountPath",
                                   f"Invalid value: {_quoted(path)}: must be unique"))
                paths.add(path)
            if m.get("subPath"):
                _check_local_path(m["subPath"], f"{where}.subPath", causes)


def _check_port(value: Any, field: str, causes: list[tuple[str, str, str]], *, allow_name: bool) -> None:
    if allow_name and isinstance(value, str):
        if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", value) or len(value) > 15:
            causes.append(("FieldValueInvalid", field, f'Invalid value: "{value}": must be no more than 15 '
                                                       "characters and a valid IANA service name"))
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        causes.append(("FieldValueInvalid", field, f"Invalid value: {_value(value)}: must be between 1 and "
                                                   "65535, inclusive"))


def _check_service(obj: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    spec = obj.get("spec") or {}
    ports = spec.get("ports")
    if spec.get("type", "ClusterIP") == "ExternalName":
        return
    if not ports:
        if spec.get("clusterIP") != "None":
            causes.append(("FieldValueRequired", "spec.ports", "Required value"))
        return
    if not isinstance(ports, list):
        causes.append(("FieldValueInvalid", "spec.ports", f"Invalid value: {_value(ports)}: must be a list"))
        return
    for i, p in enumerate(ports):
        at = f"spec.ports[{i}]"
        if not isinstance(p, dict):
            causes.append(("FieldValueInvalid", at, "Invalid value: must be an object"))
            continue
        if len(ports) > 1 and not p.get("name"):
            causes.append(("FieldValueRequired", f"{at}.name", "Required value"))
        if "port" not in p:
            causes.append(("FieldValueRequired", f"{at}.port", "Required value"))
        else:
            _check_port(p["port"], f"{at}.port", causes, allow_name=False)
        if p.get("targetPort") is not None:
            _check_port(p["targetPort"], f"{at}.targetPort", causes, allow_name=True)
        proto = p.get("protocol", "TCP")
        if proto not in ("TCP", "UDP", "SCTP"):
            causes.append(("FieldValueNotSupported", f"{at}.protocol",
                           f'Unsupported value: "{proto}": supported values: "SCTP", "TCP", "UDP"'))


def _check_deployment(obj: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(("FieldValueRequired", "spec.selector", "Required value"))
        return
    selector = spec.get("selector")
    template: dict[str, Any] = spec["template"] if isinstance(spec.get("template"), dict) else {}
    template_meta = template.get("metadata")
    labels = template_meta.get("labels") if isinstance(template_meta, dict) else None
    labels = labels if isinstance(labels, dict) else {}
    if all(isinstance(v, str) for v in labels.values()):
        _check_labels(labels, "spec.template.metadata.labels", causes)
    else:
        causes.append(("FieldValueInvalid", "spec.template.metadata.labels",
                       f"Invalid value: {_value(labels)}: must be a map of strings"))
        labels = {}
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(("FieldValueRequired", "spec.selector", "Required value"))
    elif not label_selector_matches(selector, labels):
        rendered = "map[string]string{" + ", ".join(f'"{a}":"{b}"' for a, b in sorted(labels.items())) + "}"
        causes.append(("FieldValueInvalid", "spec.template.metadata.labels",
                       f"Invalid value: {rendered}: `selector` does not match template `labels`"))
    replicas = spec.get("replicas")
    if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0):
        causes.append(("FieldValueInvalid", "spec.replicas",
                       f"Invalid value: {_value(replicas)}: must be greater than or equal to 0"))
    _check_containers(template.get("spec"), "spec.template.spec", causes)


def _check_job(obj: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    # pkg/apis/batch/validation/validation.go validateJobSpec / ValidateJobTemplateSpec: the counts are
    # non-negative, and a Job's pods must end: restartPolicy OnFailure or Never (the pod default, Always, fails).
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(("FieldValueRequired", "spec.template", "Required value"))
        return
    for field in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds",
                  "ttlSecondsAfterFinished"):
        value = spec.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            causes.append(("FieldValueInvalid", f"spec.{field}",
                           f"Invalid value: {_value(value)}: must be greater than or equal to 0"))
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        causes.append(("FieldValueNotSupported", "spec.completionMode",
                       f'Unsupported value: {_quoted(str(mode))}: supported values: "NonIndexed", "Indexed"'))
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(("FieldValueRequired", "spec.completions", "Required value: when completion mode is Indexed"))
    template = spec.get("template")
    pod_spec = template.get("spec") if isinstance(template, dict) else None
    policy = pod_spec.get("restartPolicy") if isinstance(pod_spec, dict) else None
    policy = policy or "Always"
    if policy not in ("OnFailure", "Never"):
        causes.append(("FieldValueNotSupported", "spec.template.spec.restartPolicy",
                       f'Unsupported value: {_quoted(str(policy))}: supported values: "OnFailure", "Never"'))
    _check_containers(pod_spec, "spec.template.spec", causes)


def _map_text(labels: dict[str, Any]) -> str:
    # Go's %#v of a map[string]string, as field.Invalid prints a labels value.
    return "map[string]string{" + ", ".join(f'"{a}":"{b}"' for a, b in sorted(labels.items())) + "}"


def _template_labels(spec: dict[str, Any]) -> dict[str, Any] | None:
    template = spec.get("template")
    tmeta = template.get("metadata") if isinstance(template, dict) else None
    labels = tmeta.get("labels") if isinstance(tmeta, dict) else None
    return labels if isinstance(labels, dict) else None


def _check_replication_controller(obj: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    # pkg/apis/core/validation/validation.go ValidateReplicationControllerSpec, ValidateNonEmptySelector and
    # ValidatePodTemplateSpecForRC. Kubernetes defaults before it validates (SetDefaults_ReplicationController
    # runs on decode), so an empty selector is the template's labels here too.
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(("FieldValueRequired", "spec.selector", "Required value"))
        causes.append(("FieldValueRequired", "spec.template", "Required value"))
        return
    labels = _template_labels(spec) or {}
    selector = spec.get("selector") or labels
    if not isinstance(selector, dict) or not all(isinstance(v, str) for v in selector.values()):
        causes.append(("FieldValueInvalid", "spec.selector", f"Invalid value: {_value(selector)}: "
                                                             "must be a map of strings"))
        return
    # In ValidateReplicationControllerSpec's order: minReadySeconds, selector, replicas, then the template.
    for field in ("minReadySeconds", "selector", "replicas"):
        value = spec.get(field)
        if field == "selector":
            if not selector:
                causes.append(("FieldValueRequired", "spec.selector", "Required value"))
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            causes.append(("FieldValueInvalid", f"spec.{field}",
                           f"Invalid value: {_value(value)}: must be greater than or equal to 0"))
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(("FieldValueRequired", "spec.template", "Required value"))
        return
    if all(isinstance(v, str) for v in labels.values()):
        _check_labels(labels, "spec.template.metadata.labels", causes)
    if selector and not all(labels.get(a) == b for a, b in selector.items()):
        causes.append(("FieldValueInvalid", "spec.template.metadata.labels",
                       f"Invalid value: {_map_text(labels)}: `selector` does not match template `labels`"))
    pod_spec = template.get("spec")
    _check_containers(pod_spec, "spec.template.spec", causes)
    policy = (pod_spec.get("restartPolicy") if isinstance(pod_spec, dict) else None) or "Always"
    if policy != "Always":
        causes.append(("FieldValueNotSupported", "spec.template.spec.restartPolicy",
                       f'Unsupported value: {_quoted(str(policy))}: supported values: "Always"'))
    if isinstance(pod_spec, dict) and pod_spec.get("activeDeadlineSeconds") is not None:
        causes.append(("FieldValueForbidden", "spec.template.spec.activeDeadlineSeconds",
                       "Forbidden: activeDeadlineSeconds in ReplicationController is not Supported"))


def _check_daemon_set(obj: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    # pkg/apis/apps/validation/validation.go ValidateDaemonSetSpec and ValidateRollingUpdateDaemonSet. A missing
    # selector has no error of its own (ValidateLabelSelector(nil) is empty): LabelSelectorAsSelector(nil) selects
    # nothing, so the template's labels never match it.
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(("FieldValueRequired", "spec.selector", "Required value"))
        return
    selector = spec.get("selector")
    labels = _template_labels(spec) or {}
    if all(isinstance(v, str) for v in labels.values()):
        _check_labels(labels, "spec.template.metadata.labels", causes)
    if selector is not None and not isinstance(selector, dict):
        causes.append(("FieldValueInvalid", "spec.selector", f"Invalid value: {_value(selector)}: must be an object"))
        return
    empty = isinstance(selector, dict) and not (selector.get("matchLabels") or selector.get("matchExpressions"))
    # An empty (non-nil) selector is labels.Everything(): it matches, only the empty-selector error is given.
    if not empty and not label_selector_matches(selector, labels):
        causes.append(("FieldValueInvalid", "spec.template.metadata.labels",
                       f"Invalid value: {_map_text(labels)}: `selector` does not match template `labels`"))
    if empty:
        causes.append(("FieldValueInvalid", "spec.selector",
                       # field.Invalid prints the selector with its generated String() method.
                       "Invalid value: &LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]"
                       "LabelSelectorRequirement{},}: empty selector is invalid for daemonset"))
    template = spec.get("template")
    pod_spec = template.get("spec") if isinstance(template, dict) else None
    _check_containers(pod_spec, "spec.template.spec", causes)
    policy = (pod_spec.get("restartPolicy") if isinstance(pod_spec, dict) else None) or "Always"
    if policy != "Always":
        causes.append(("FieldValueNotSupported", "spec.template.spec.restartPolicy",
                       f'Unsupported value: {_quoted(str(policy))}: supported values: "Always"'))
    strategy = spec.get("updateStrategy") or {}
    stype = strategy.get("type") if isinstance(strategy, dict) else None
    if stype not in (None, "RollingUpdate", "OnDelete"):
        causes.append(("FieldValueNotSupported", "spec.updateStrategy.type",
                       f'Unsupported value: {_quoted(str(stype))}: supported values: "OnDelete", "RollingUpdate"'))
    rolling = strategy.get("rollingUpdate") if isinstance(strategy, dict) else None
    if stype in (None, "RollingUpdate") and isinstance(rolling, dict):
        unavailable, surge = rolling.get("maxUnavailable", 1), rolling.get("maxSurge", 0)
        if unavailable in (0, "0%") and surge in (0, "0%"):
            # ValidateRollingUpdateDaemonSet: both zero would never make progress.
            causes.append(("FieldValueInvalid", "spec.updateStrategy.rollingUpdate.maxUnavailable",
                           f"Invalid value: {_value(unavailable)}: cannot be 0 when maxSurge is 0"))
    limit = spec.get("revisionHistoryLimit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        causes.append(("FieldValueInvalid", "spec.revisionHistoryLimit",
                       f"Invalid value: {_value(limit)}: must be greater than or equal to 0"))


def _check_controller_revision(obj: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    # pkg/apis/apps/validation/validation.go ValidateControllerRevision: data is mandatory, revision >= 0.
    if obj.get("data") is None:
        causes.append(("FieldValueRequired", "data", "Required value: data is mandatory"))
    revision = obj.get("revision", 0)
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        causes.append(("FieldValueInvalid", "revision",
                       f"Invalid value: {_value(revision)}: must be greater than or equal to 0"))


DAEMON_SET_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
"""The annotation apps/v1 DaemonSets carry their template generation in (pkg/apis/apps/v1/conversion.go)."""


def _default_replication_controller(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    # pkg/apis/core/v1/defaults.go SetDefaults_ReplicationController: an empty selector and empty labels take
    # the template's labels, replicas 1; pkg/registry/core/replicationcontroller/strategy.go PrepareForCreate
    # resets the status (replicas is not omitempty).
    labels = _template_labels(spec)
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        if not obj["metadata"].get("labels"):
            obj["metadata"]["labels"] = dict(labels)
    spec.setdefault("replicas", 1)
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        if isinstance(template.get("spec"), dict):
            _default_containers(template["spec"])
    obj.setdefault("status", {"replicas": 0})


def _default_daemon_set(obj: dict[str, Any], spec: dict[str, Any], old: dict[str, Any] | None) -> None:
    # pkg/apis/apps/v1/defaults.go SetDefaults_DaemonSet: RollingUpdate with maxUnavailable 1 and maxSurge 0,
    # revisionHistoryLimit 10. pkg/registry/apps/daemonset/strategy.go PrepareForCreate/PrepareForUpdate:
    # templateGeneration 1, +1 on each template change (the deprecated.daemonset.template.generation
    # annotation in apps/v1); the status's four counts are not omitempty.
    strategy = spec.setdefault("updateStrategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", 1)
                rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        if isinstance(template.get("spec"), dict):
            _default_containers(template["spec"])
    annotations = obj["metadata"].setdefault("annotations", {})
    generation = 1
    if old is not None:
        old_ann = old["metadata"].get("annotations") or {}
        try:
            generation = int(old_ann.get(DAEMON_SET_TEMPLATE_GENERATION) or 1)
        except ValueError:
            generation = 1
        if json.dumps((old.get("spec") or {}).get("template"), sort_keys=True) != json.dumps(template,
                                                                                               sort_keys=True):
            generation += 1
    annotations[DAEMON_SET_TEMPLATE_GENERATION] = str(generation)
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        for field in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"):
            status.setdefault(field, 0)


JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
"""The label a Job's selector matches (pkg/apis/batch/types.go ``ControllerUidLabel``)."""
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
"""The label naming a Job on its pods (pkg/apis/batch/types.go ``JobNameLabel``)."""


def _default_job(obj: dict[str, Any], spec: dict[str, Any], old: dict[str, Any] | None) -> None:
    # pkg/apis/batch/v1/defaults.go SetDefaults_Job: completions and parallelism 1 (when both are unset),
    # backoffLimit 6, completionMode NonIndexed, suspend false, podReplacementPolicy TerminatingOrFailed;
    # manualSelector off. pkg/registry/batch/job/strategy.go generateSelector (PrepareForCreate): the template
    # gets the controller-uid and job-name labels, both the batch.kubernetes.io/ ones and the legacy unprefixed
    # ones, and the selector matches the uid label.
    meta = obj["metadata"]
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    template = spec.get("template")
    if isinstance(template, dict):
        tmeta = template.setdefault("metadata", {})
        tmeta.setdefault("creationTimestamp", None)
        if old is None and meta.get("uid") and not spec.get("manualSelector"):
            labels = tmeta.setdefault("labels", {})
            labels.update({JOB_UID_LABEL: meta["uid"], JOB_NAME_LABEL: meta["name"],
                           "controller-uid": meta["uid"], "job-name": meta["name"]})
            spec.setdefault("selector", {"matchLabels": {JOB_UID_LABEL: meta["uid"]}})
        if old is not None and not spec.get("selector"):
            # A replace without the generated selector and labels: they are kept (the apiserver refuses the
            # change instead, the selector being immutable); a Job never loses its pods' selector.
            old_spec = old.get("spec") or {}
            if old_spec.get("selector"):
                spec["selector"] = old_spec["selector"]
                old_labels = ((old_spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
                tmeta["labels"] = {**old_labels, **(tmeta.get("labels") or {})}
        if isinstance(template.get("spec"), dict):
            _default_containers(template["spec"])
    # SetDefaults_Job: a Job without labels takes its template's (the apiserver defaults on every read from
    # etcd too, so the generated ones show on the Job).
    template_labels = ((template or {}).get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    if template_labels and not meta.get("labels"):
        meta["labels"] = dict(template_labels)
    obj.setdefault("status", {})


def validate(kind: Kind, obj: dict[str, Any]) -> None:
    """Check an object about to be stored.

    Args:
        kind: Its kind.
        obj: The object, with ``metadata.name`` filled in (generateName already resolved).

    Raises:
        ApiError: 422 Invalid, with causes naming the fields.
    """
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    causes: list[tuple[str, str, str]] = []
    if not name:
        raise invalid(kind, "", [("FieldValueRequired", "metadata.name", "Required value: name or generateName "
                                                                          "is required")])
    if not isinstance(name, str):
        raise invalid(kind, str(name), [("FieldValueInvalid", "metadata.name", "Invalid value: must be a string")])
    _check_name(kind, name, causes)
    assert isinstance(meta, dict)
    for what in ("labels", "annotations"):
        strings = meta.get(what)
        if strings is not None and (not isinstance(strings, dict)
                                    or not all(isinstance(v, str) for v in strings.values())):
            causes.append(("FieldValueInvalid", f"metadata.{what}",
                           f"Invalid value: {_value(strings)}: must be a map of strings"))
        elif strings:
            (_check_labels if what == "labels" else _check_annotations)(strings, f"metadata.{what}", causes)
    if causes:
        raise invalid(kind, name, causes)
    if kind is k.DEPLOYMENT or kind is k.REPLICA_SET:
        # pkg/apis/apps/validation/validation.go: ValidateReplicaSetSpec checks selector, template labels and
        # replicas as ValidateDeploymentSpec does.
        _check_deployment(obj, causes)
    elif kind is k.JOB:
        _check_job(obj, causes)
    elif kind is k.REPLICATION_CONTROLLER:
        _check_replication_controller(obj, causes)
    elif kind is k.DAEMON_SET:
        _check_daemon_set(obj, causes)
    elif kind is k.CONTROLLER_REVISION:
        _check_controller_revision(obj, causes)
    elif kind is k.SERVICE:
        _check_service(obj, causes)
    elif kind is k.POD:
        _check_containers(obj.get("spec"), "spec", causes)
    elif kind is k.API_SERVICE:
        _check_api_service(obj, causes)
    elif kind in _GLOO_KINDS:
        try:
            parse_object(obj)
        except ParseError as error:
            field = error.field or "spec"
            value: Any = obj
            for part in re.split(r"\.|\[(\d+)\]", field):
                if part is None or part == "":
                    continue
                if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                    value = value[int(part)]
                elif isinstance(value, dict):
                    value = value.get(part)
                else:
                    value = None
                    break
            causes.append(("FieldValueInvalid", field, f"Invalid value: {_value(value)}: {error.problem}"))
    if causes:
        raise invalid(kind, name, causes)


def _int32(value: Any) -> int:
    # A missing int32 field is Go's zero value; a non-integer one cannot be decoded (refused as 0, never stored).
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _check_api_service(obj: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    # staging/src/k8s.io/kube-aggregator/pkg/apis/apiregistration/validation/validation.go ValidateAPIService.
    name = obj["metadata"]["name"]
    spec = _spec(obj)
    group, version = str(spec.get("group") or ""), str(spec.get("version") or "")
    required = f"{version}.{group}"
    # The name: path.IsValidPathSegmentName (apimachinery/pkg/api/validation/path/name.go), then version.group.
    if name in (".", ".."):
        causes.append(("FieldValueInvalid", "metadata.name", f"Invalid value: {_quoted(name)}: may not be '{name}'"))
    elif "/" in name or "%" in name:
        causes.extend(("FieldValueInvalid", "metadata.name", f"Invalid value: {_quoted(name)}: may not contain '{c}'")
                      for c in "/%" if c in name)
    elif name != required:
        causes.append(("FieldValueInvalid", "metadata.name",
                       f"Invalid value: {_quoted(name)}: must be `spec.version+\".\"+spec.group`: {_quoted(required)}"))
    if not group and version != "v1":
        causes.append(("FieldValueRequired", "spec.group",
                       "Required value: only v1 may have an empty group and it better be legacy kube"))
    if group:
        _check_dns(group, "spec.group", _SUBDOMAIN, _SUBDOMAIN_MSG, 253, causes)
    _check_dns(version, "spec.version", _DNS1035, _DNS1035_MSG, 63, causes)
    minimum, priority = _int32(spec.get("groupPriorityMinimum")), _int32(spec.get("versionPriority"))
    if minimum <= 0 or minimum > 20000:
        causes.append(("FieldValueInvalid", "spec.groupPriorityMinimum",
                       f"Invalid value: {minimum}: must be positive and less than 20000"))
    if priority <= 0 or priority > 1000:
        causes.append(("FieldValueInvalid", "spec.versionPriority",
                       f"Invalid value: {priority}: must be positive and less than 1000"))
    service, ca_bundle = spec.get("service"), str(spec.get("caBundle") or "")
    insecure = spec.get("insecureSkipTLSVerify") is True
    if not isinstance(service, dict):
        if ca_bundle:
            size = len(base64.b64decode(ca_bundle + "=" * (-len(ca_bundle) % 4), validate=False))
            causes.append(("FieldValueInvalid", "spec.caBundle",
                           f'Invalid value: "{size} bytes": local APIServices may not have a caBundle'))
        if insecure:
            causes.append(("FieldValueInvalid", "spec.insecureSkipTLSVerify",
                           "Invalid value: true: local APIServices may not have insecureSkipTLSVerify"))
        return
    if not service.get("namespace"):
        causes.append(("FieldValueRequired", "spec.service.namespace", "Required value"))
    if not service.get("name"):
        causes.append(("FieldValueRequired", "spec.service.name", "Required value"))
    port = service.get("port", 443)  # v1/defaults.go SetDefaults_ServiceReference, applied on decode
    port = _int32(port)
    if not 1 <= port <= 65535:
        causes.append(("FieldValueInvalid", "spec.service.port",
                       f"Invalid value: {port}: port is not valid: must be between 1 and 65535, inclusive"))
    if insecure and ca_bundle:
        causes.append(("FieldValueInvalid", "spec.insecureSkipTLSVerify",
                       "Invalid value: true: may not be true if caBundle is present"))


# --- updates: the fields Kubernetes refuses to change (apimachinery's ValidateImmutableField and its kin) -------

_IMMUTABLE = "field is immutable"
"""apimachinery/pkg/api/validation/objectmeta.go FieldImmutableErrorMsg."""
_IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
"""pkg/apis/core/validation/validation.go ValidateConfigMapUpdate / ValidateSecretUpdate."""


def _go_string(text: str) -> str:
    # Go's %#v of a string is strconv.Quote.
    return _quoted(text)


def _go_strings(values: Any) -> str:
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(_go_string(str(v)) for v in values) + "}"


def go_label_selector(selector: Any) -> str:
    """Render a LabelSelector as field.Error prints a bad value: Go's ``%#v`` of ``metav1.LabelSelector``.

    k8s.io/apimachinery/pkg/util/validation/field/errors.go ``ErrorBody``: a pointer is dereferenced, and a struct
    that is no ``fmt.Stringer`` (``LabelSelector.String`` has a pointer receiver) falls back to ``%#v``; a nil
    pointer prints as the string ``"null"``. Go's fmt sorts map keys; a nil map or slice prints as ``(nil)``.

    Args:
        selector: The selector as JSON holds it (None when absent).

    Returns:
        e.g. ``v1.LabelSelector{MatchLabels:map[string]string{"app":"x"},
        MatchExpressions:[]v1.LabelSelectorRequirement(nil)}``.
    """
    if not isinstance(selector, dict):
        return '"null"'
    labels = selector.get("matchLabels")
    if isinstance(labels, dict):
        shown = "map[string]string{" + ", ".join(f"{_go_string(str(a))}:{_go_string(str(b))}"
                                                for a, b in sorted(labels.items())) + "}"
    else:
        shown = "map[string]string(nil)"
    expressions = selector.get("matchExpressions")
    if isinstance(expressions, list):
        items = [f"v1.LabelSelectorRequirement{{Key:{_go_string(str(e.get('key', '')))}, "
                 f"Operator:{_go_string(str(e.get('operator', '')))}, Values:{_go_strings(e.get('values'))}}}"
                 for e in expressions if isinstance(e, dict)]
        exprs = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    else:
        exprs = "[]v1.LabelSelectorRequirement(nil)"
    return f"v1.LabelSelector{{MatchLabels:{shown}, MatchExpressions:{exprs}}}"


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _immutable_selector(new: dict[str, Any], old: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    selector = _spec(new).get("selector")
    if selector != _spec(old).get("selector"):
        causes.append(("FieldValueInvalid", "spec.selector",
                       f"Invalid value: {go_label_selector(selector)}: {_IMMUTABLE}"))


def _service_ips_update(new: dict[str, Any], old: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    # pkg/apis/core/validation/validation.go validateUpgradeDowngradeClusterIPs (ValidateServiceUpdate): the
    # primary clusterIP may not change (ExternalName and headless-to-headless aside); the bad value is the new
    # []string clusterIPs.
    spec, old_spec = _spec(new), _spec(old)
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return
    if spec.get("clusterIP") == "None" and old_spec.get("clusterIP") == "None":
        return
    ips, old_ips = list(spec.get("clusterIPs") or []), list(old_spec.get("clusterIPs") or [])
    changed = f"Invalid value: {_go_strings(spec.get('clusterIPs'))}: may not change once set"
    if len(ips) == len(old_ips):
        causes.extend(("FieldValueInvalid", f"spec.clusterIPs[{i}]", changed)
                      for i, ip in enumerate(old_ips) if ip != ips[i])
    elif not ips:
        causes.append(("FieldValueInvalid", "spec.clusterIPs[0]",
                       f"Invalid value: {_go_strings(spec.get('clusterIPs'))}: primary clusterIP can not be unset"))
    elif old_ips and ips[0] != old_ips[0]:
        causes.append(("FieldValueInvalid", "spec.clusterIPs[0]", changed))


def _immutable_data(new: dict[str, Any], old: dict[str, Any], fields: tuple[str, ...],
                    causes: list[tuple[str, str, str]]) -> None:
    # ValidateConfigMapUpdate / ValidateSecretUpdate: once `immutable: true`, neither it nor the data may change.
    if old.get("immutable") is not True:
        return
    if new.get("immutable") is not True:
        causes.append(("FieldValueForbidden", "immutable", f"Forbidden: {_IMMUTABLE_WHEN_SET}"))
    causes.extend(("FieldValueForbidden", field, f"Forbidden: {_IMMUTABLE_WHEN_SET}")
                  for field in fields if new.get(field) != old.get(field))


def _job_update(new: dict[str, Any], old: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    # pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate: selector, completionMode immutable;
    # validatePodTemplateUpdate: the template too, except that a suspended Job that never started
    # (pkg/registry/batch/job/strategy.go validationOptionsForJob: AllowMutableSchedulingDirectives) may change
    # its template's labels, annotations, node selector, tolerations and scheduling gates.
    _immutable_selector(new, old, causes)
    spec, old_spec = _spec(new), _spec(old)
    template, old_template = spec.get("template"), old_spec.get("template")
    if template != old_template:
        allowed = bool(spec.get("suspend")) and not (old.get("status") or {}).get("startTime")
        if allowed and isinstance(template, dict) and isinstance(old_template, dict):
            before, after = json.loads(json.dumps(old_template)), json.loads(json.dumps(template))
            for t in (before, after):
                meta = t.setdefault("metadata", {})
                for key in ("labels", "annotations"):
                    meta.pop(key, None)
                pod = t.setdefault("spec", {})
                for key in ("nodeSelector", "tolerations", "schedulingGates", "affinity"):
                    pod.pop(key, None)
            changed = before != after
        else:
            changed = True
        if changed:
            # The bad value is Go's %#v of the whole internal core.PodTemplateSpec, hundreds of fields long;
            # the sandbox names the type and leaves its fields out.
            causes.append(("FieldValueInvalid", "spec.template",
                           f"Invalid value: core.PodTemplateSpec{{...}}: {_IMMUTABLE}"))
    if spec.get("completionMode") != old_spec.get("completionMode"):
        mode = spec.get("completionMode")
        shown = _go_string(str(mode)) if mode is not None else '"null"'  # a nil *CompletionMode prints "null"
        causes.append(("FieldValueInvalid", "spec.completionMode", f"Invalid value: {shown}: {_IMMUTABLE}"))


_APPS_SELECTOR_IMMUTABLE = frozenset({("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "DaemonSet")})
"""The apps/v1 kinds whose ``spec.selector`` is immutable, by name."""


def validate_update(kind: Kind, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Check an update against the stored object: the fields Kubernetes refuses to change.

    Runs after :func:`apply_defaults` (values the apiserver carries over, such as a Service's clusterIP, are in
    place), as the apiserver's ``ValidateUpdate`` runs after decoding and the strategy's ``PrepareForUpdate``.
    A changed ``metadata.name`` never gets here: the API answers 400 first (apiserver endpoints/handlers
    ``checkName``).

    Args:
        kind: The object's kind.
        old: The stored object.
        new: The object about to replace it.

    Raises:
        ApiError: 422 Invalid naming each immutable field that changed.
    """
    causes: list[tuple[str, str, str]] = []
    if (kind.group, kind.kind) in _APPS_SELECTOR_IMMUTABLE:
        # pkg/registry/apps/{deployment,replicaset,daemonset}/strategy.go ValidateUpdate: apps/v1 disallows
        # mutation of the selector (ValidateImmutableField).
        _immutable_selector(new, old, causes)
    elif kind is k.JOB:
        _job_update(new, old, causes)
    elif kind is k.SERVICE:
        _service_ips_update(new, old, causes)
    elif kind is k.CONFIGMAP:
        _immutable_data(new, old, ("data", "binaryData"), causes)
    elif kind is k.SECRET:
        _immutable_data(new, old, ("data",), causes)
        if new.get("type") != old.get("type"):
            # ValidateSecretUpdate: ValidateImmutableField(newSecret.Type, ...)
            causes.append(("FieldValueInvalid", "type", f"Invalid value: {_go_string(str(new.get('type')))}: "
                                                        f"{_IMMUTABLE}"))
    if causes:
        raise invalid(kind, new["metadata"]["name"], causes)


def unknown_fields(kind: Kind, obj: dict[str, Any]) -> list[str]:
    """Return the paths of fields the sandbox does not know in an object (for ``fieldValidation``).

    Gloo kinds get the parser's full check; built-in kinds are checked at the top level and in
    ``metadata`` only.

    Args:
        kind: Its kind.
        obj: The object.

    Returns:
        Dotted paths, e.g. ``["spec.x"]``, in the order found.
    """
    out: list[str] = []
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        out.extend(f"metadata.{key}" for key in meta if key not in _META_FIELDS)
    if kind in _GLOO_KINDS:
        try:
            parsed = parse_object(obj)
        except ParseError:
            return out
        out.extend(f.field for f in parsed.findings
                   if f.field and f.message.startswith("unknown field") and not f.field.startswith("metadata."))
        return out
    known = _TOP_FIELDS.get(kind, frozenset())
    out.extend(key for key in obj if key not in known and key not in ("apiVersion", "kind", "metadata"))
    return out


def _default_containers(spec: dict[str, Any]) -> None:
    for c in spec.get("containers") or []:
        if not isinstance(c, dict):
            continue
        image = str(c.get("image", ""))
        c.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") or ":" not in image.split("/")[-1]
                     else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
        for field in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.get(field)
            if isinstance(probe, dict):
                # pkg/apis/core/v1/defaults.go SetDefaults_Probe and SetDefaults_HTTPGetAction
                for key, value in PROBE_DEFAULTS.items():
                    probe.setdefault(key, value)
                if isinstance(probe.get("httpGet"), dict):
                    probe["httpGet"].setdefault("path", "/")
                    probe["httpGet"].setdefault("scheme", "HTTP")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def apply_defaults(kind: Kind, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Fill in defaults like the apiserver does, in place.

    Args:
        kind: The object's kind.
        obj: The object about to be stored.
        old: The stored object it replaces, or None on create (fields such as a Service's clusterIP are kept).
    """
    meta = obj["metadata"]
    spec = obj.get("spec")
    if kind is k.NAMESPACE:
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif kind is k.SERVICE and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        old_spec = (old or {}).get("spec") or {}
        if old is not None:
            # pkg/registry/core/service/storage/storage.go: patchAllocatedValues keeps the allocated clusterIPs a
            # request leaves out; normalizeClusterIPs makes a changed clusterIP with unchanged clusterIPs (an old
            # client) the new clusterIPs, for validation to refuse.
            if not spec.get("clusterIPs") and old_spec.get("clusterIPs") and not (
                    spec.get("clusterIP") and spec.get("clusterIP") != old_spec.get("clusterIP")):
                spec["clusterIPs"] = list(old_spec["clusterIPs"])
            if (spec.get("clusterIP") and spec.get("clusterIP") != old_spec.get("clusterIP")
                    and spec.get("clusterIPs") == old_spec.get("clusterIPs")):
                spec["clusterIPs"] = [spec["clusterIP"]]
        external_name = spec["type"] == "ExternalName"
        if not external_name:
            # pkg/registry/core/service/storage/alloc.go: an ExternalName Service gets no cluster IP (needsClusterIP)
            # and no IP families; every other type does.
            if not spec.get("clusterIP"):
                ip = old_spec.get("clusterIP")
                if not ip:
                    digest = hashlib.sha256(f"{meta.get('namespace')}/{meta['name']}".encode()).digest()
                    ip = f"10.96.{digest[0]}.{max(digest[1], 1)}"
                spec["clusterIP"] = ip
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            # pkg/apis/core/v1/defaults.go SetDefaults_Service: internalTrafficPolicy for all but ExternalName.
            spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("sessionAffinity", "None")
        node_ports = spec["type"] in ("NodePort", "LoadBalancer")
        if node_ports:
            spec.setdefault("externalTrafficPolicy", "Cluster")  # SetDefaults_Service
            if spec["type"] == "LoadBalancer":
                spec.setdefault("allocateLoadBalancerNodePorts", True)
        old_node_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                          for p in old_spec.get("ports") or [] if isinstance(p, dict) and p.get("nodePort")}
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
                if node_ports and not p.get("nodePort") and spec.get("allocateLoadBalancerNodePorts", True):
                    # storage.go patchAllocatedValues keeps an update's node ports; a new port gets one from the
                    # 30000-32767 range (alloc.go). Nothing listens on node ports here (pods are reached through
                    # the gateway and port-forward): the number is stable per Service and port, not checked unique.
                    kept = old_node_ports.get((p.get("port"), p["protocol"]))
                    if kept is None:
                        digest = hashlib.sha256(f"{meta.get('namespace')}/{meta['name']}/{p.get('port')}/"
                                                f"{p['protocol']}".encode()).digest()
                        kept = 30000 + int.from_bytes(digest[:4], "big") % 2768
                    p["nodePort"] = kept
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind is k.POD and isinstance(spec, dict):
        _default_containers(spec)
        obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
    elif kind is k.DEPLOYMENT and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        template = spec.get("template")
        if isinstance(template, dict):
            template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            if isinstance(template.get("spec"), dict):
                _default_containers(template["spec"])
        obj.setdefault("status", {})
    elif kind is k.REPLICA_SET and isinstance(spec, dict):
        # pkg/apis/apps/v1/defaults.go SetDefaults_ReplicaSet: replicas 1; status.replicas is not omitempty.
        spec.setdefault("replicas", 1)
        template = spec.get("template")
        if isinstance(template, dict):
            template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            if isinstance(template.get("spec"), dict):
                _default_containers(template["spec"])
        obj.setdefault("status", {"replicas": 0})
    elif kind is k.JOB and isinstance(spec, dict):
        _default_job(obj, spec, old)
    elif kind is k.API_SERVICE:
        _default_api_service(obj, old)
    elif kind is k.REPLICATION_CONTROLLER and isinstance(spec, dict):
        _default_replication_controller(obj, spec)
    elif kind is k.DAEMON_SET and isinstance(spec, dict):
        _default_daemon_set(obj, spec, old)
    elif kind is k.SECRET:
        if not obj.get("type"):
            obj["type"] = "Opaque"
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()


LOCAL_AVAILABLE = {"type": "Available", "status": "True", "reason": "Local",
                   "message": "Local APIServices are always available"}
"""kube-aggregator's NewLocalAvailableAPIServiceCondition (without its lastTransitionTime)."""


def _default_api_service(obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    # staging/src/k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/defaults.go SetDefaults_ServiceReference
    # (port 443); pkg/registry/apiservice/strategy.go PrepareForCreate: a new APIService's status is cleared, and
    # a local one (no service) is Available at once. PrepareForUpdate keeps the stored status (the store does).
    spec = obj.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("service"), dict):
        spec["service"].setdefault("port", 443)
    if old is None:
        obj["status"] = {}
        if not (isinstance(spec, dict) and isinstance(spec.get("service"), dict)):
            now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            obj["status"] = {"conditions": [{**LOCAL_AVAILABLE, "lastTransitionTime": now}]}
