"""Generate ``gloo_nb/sandbox/kubeapi/kube-proto-schema.json``: the protobuf shapes of the sandbox's built-in kinds.

kubectl sends the bodies of ``kubectl create deployment|service|role|...`` as ``application/vnd.kubernetes.protobuf``
only. The sandbox decodes them with one generic decoder (:mod:`gloo_nb.sandbox.kubeapi.protobuf`) driven by this
table, read from Kubernetes' own sources:

- ``k8s.io/api/<group>/<version>/generated.proto`` and ``k8s.io/apimachinery/pkg/.../generated.proto``: each message's
  fields (number, name = the JSON name, type, ``repeated`` or ``map``);
- the ``types.go`` beside them: which Go fields are pointers or lack ``omitempty``. go-to-protobuf writes every
  non-pointer field, zero or not, so a zero value only means "set" for a pointer (``replicas: 0``) or a field JSON
  always writes; the decoder drops the other zeros, as the apiserver's Go decoding then JSON encoding does.

Only the messages reachable from the served kinds are kept. Run it with bare git mirrors of kubernetes/api and
kubernetes/apimachinery (the ``fetch`` tool makes them)::

    python scripts/gen_kube_proto_schema.py /work/.mirror/kubernetes+api/repo /work/.mirror/kubernetes+apimachinery/repo
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

# The served built-in kinds whose bodies a client may send as protobuf (gloo_nb/sandbox/kinds.py).
ROOTS = {
    "v1": ["Namespace", "Service", "Pod", "Endpoints", "ConfigMap", "Secret", "Event", "ServiceAccount", "Node",
           "ReplicationController"],
    "apps/v1": ["Deployment", "ReplicaSet", "DaemonSet", "ControllerRevision"],
    "batch/v1": ["Job"],
    "rbac.authorization.k8s.io/v1": ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"],
    "authorization.k8s.io/v1": ["SelfSubjectAccessReview", "SelfSubjectRulesReview"],
    # kubectl create token (CoreV1().ServiceAccounts().CreateToken) sends its TokenRequest as protobuf.
    "authentication.k8s.io/v1": ["SelfSubjectReview", "TokenRequest"],
    "autoscaling/v1": ["Scale"],
}
API_PACKAGES = {"v1": "core/v1", "apps/v1": "apps/v1", "batch/v1": "batch/v1",
                "rbac.authorization.k8s.io/v1": "rbac/v1", "authorization.k8s.io/v1": "authorization/v1",
                "authentication.k8s.io/v1": "authentication/v1",
                "autoscaling/v1": "autoscaling/v1"}
MACHINERY = ["pkg/apis/meta/v1", "pkg/api/resource", "pkg/util/intstr", "pkg/runtime", "pkg/runtime/schema"]
# Messages with a JSON form of their own (the decoder converts them); their fields are not followed.
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "microtime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "duration",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "raw",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "raw",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "intorstring",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Verbs": "items",
    "k8s.io.api.authorization.v1.ExtraValue": "items",
    "k8s.io.api.authentication.v1.ExtraValue": "items",
}

_SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "double", "float"}
_FIELD = re.compile(r"^\s*(optional|repeated)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*;")
_MAP = re.compile(r"^\s*map<\s*(\S+)\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")
_TAG = re.compile(r'^\s*(\w+)?\s+(\S+)\s+`json:"([^"]*)".*protobuf:"(\w+),(\d+),')


# The release the sandbox's API follows (Kubernetes 1.35: k8s.io/api and apimachinery v0.35.x).
REF = "v0.35.7"


def _show(repo: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", repo, "show", f"{REF}:{path}"], check=True, capture_output=True,
                          text=True).stdout


def _qualified(typ: str, package: str) -> str:
    # A leading dot is a full name; a bare message name is the file's package's.
    if typ.startswith("."):
        return typ[1:]
    return typ if typ in _SCALARS else f"{package}.{typ}"


def _messages(text: str) -> dict[str, list[list]]:
    package = re.search(r"^package\s+([\w.]+);", text, re.M)
    assert package, "no package line"
    out: dict[str, list[list]] = {}
    current: list[list] | None = None
    for line in text.splitlines():
        start = re.match(r"^message (\w+) \{", line)
        if start:
            current = out.setdefault(f"{package.group(1)}.{start.group(1)}", [])
            continue
        if line.startswith("}"):
            current = None
            continue
        if current is None:
            continue
        m = _FIELD.match(line)
        if m:
            label, typ, name, number = m.groups()
            current.append([int(number), name, _qualified(typ, package.group(1)), label])
            continue
        m = _MAP.match(line)
        if m:
            _key, value, name, number = m.groups()
            current.append([int(number), name, _qualified(value, package.group(1)), "map"])
    return out


def _pointers(text: str, package: str) -> dict[str, dict[int, bool | str]]:
    """Read which fields keep a zero value: ``message -> field number -> flag``.

    The flag is True for a pointer or a field JSON writes without omitempty, ``"inline"`` for an embedded struct
    whose fields JSON writes into the parent.
    """
    out: dict[str, dict[int, bool | str]] = {}
    struct = ""
    for line in text.splitlines():
        start = re.match(r"^type (\w+) struct \{", line)
        if start:
            struct = start.group(1)
            continue
        m = _TAG.match(line)
        if m and struct:
            _name, typ, json_tag, _wire, number = m.groups()
            opts = json_tag.split(",")[1:]
            keep = typ.startswith("*") or "omitempty" not in opts
            # ``json:",inline"`` (Probe's ProbeHandler, Volume's VolumeSource): the message's fields are the parent's.
            out.setdefault(f"{package}.{struct}", {})[int(number)] = "inline" if "inline" in opts else keep
    return out


def main(api_repo: str, machinery_repo: str) -> dict:
    """Build the schema from the two mirrors.

    Args:
        api_repo: A bare git mirror of kubernetes/api.
        machinery_repo: A bare git mirror of kubernetes/apimachinery.

    Returns:
        The JSON document: kinds (``apiVersion/kind`` -> message), special types, messages' fields.
    """
    messages: dict[str, list[list]] = {}
    keep: dict[str, dict[int, bool | str]] = {}
    sources = [(api_repo, f"{pkg}", f"k8s.io.api.{pkg.replace('/', '.')}") for pkg in API_PACKAGES.values()]
    sources += [(machinery_repo, pkg, "k8s.io.apimachinery." + pkg.replace("/", ".")) for pkg in MACHINERY]
    for repo, folder, package in sources:
        messages.update(_messages(_show(repo, f"{folder}/generated.proto")))
        for name in ("types.go", "meta.go", "group_version.go", "types_swagger_doc_generated.go"):
            try:
                keep.update({k: {**keep.get(k, {}), **v} for k, v in _pointers(_show(repo, f"{folder}/{name}"),
                                                                             package).items()})
            except subprocess.CalledProcessError:
                continue
    roots = {f"{v}/{k}": f"k8s.io.api.{API_PACKAGES[v].replace('/', '.')}.{k}" for v, ks in ROOTS.items() for k in ks}
    wanted: dict[str, list[list]] = {}
    todo = list(roots.values())
    while todo:
        name = todo.pop()
        if name in wanted or name in SPECIAL:
            continue
        fields = messages.get(name)
        if fields is None:
            raise SystemExit(f"message {name} not found in the sources")
        rows = []
        for number, field, typ, label in fields:
            flag = keep.get(name, {}).get(number, False)
            rows.append([number, field, typ, label, flag if flag == "inline" else bool(flag)])
            if typ.startswith("k8s.io."):
                todo.append(typ)
        wanted[name] = rows
    return {"_source": f"generated by scripts/gen_kube_proto_schema.py from kubernetes/api and kubernetes/apimachinery "
                       f"{REF} (generated.proto and types.go)",
            "kinds": dict(sorted(roots.items())), "special": SPECIAL, "messages": dict(sorted(wanted.items()))}


if __name__ == "__main__":
    schema = main(sys.argv[1], sys.argv[2])
    target = Path(__file__).resolve().parent.parent / "gloo_nb" / "sandbox" / "kubeapi" / "kube-proto-schema.json"
    target.write_text(json.dumps(schema, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{target}: {len(schema['messages'])} messages for {len(schema['kinds'])} kinds")
