r"""Decoding of the protobuf bodies kubectl sends (``kubectl create`` of some kinds, ``auth can-i``).

The creates are ``kubectl create namespace|configmap|secret|serviceaccount|job``.

kubectl sends these only as ``application/vnd.kubernetes.protobuf``, with no JSON fallback. The envelope is
``b"k8s\x00"`` followed by a ``runtime.Unknown`` message; only the fields of Namespace, ConfigMap, Secret and
ServiceAccount that the generators fill, and those of the self-service access reviews, are decoded.
"""

from __future__ import annotations

import base64
from typing import Any

from gloo_nb.sandbox.store import ApiError

__all__ = ["decode"]

_MAGIC = b"k8s\x00"


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated field")
            out.append((number, buf[pos:pos + size]))
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _text(value: int | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(value: int | bytes) -> tuple[str, bytes]:
    key, val = "", b""
    for number, v in _fields(value if isinstance(value, bytes) else b""):
        if number == 1:
            key = _text(v)
        elif number == 2 and isinstance(v, bytes):
            val = v
    return key, val


def _meta(buf: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    names = {1: "name", 2: "generateName", 3: "namespace"}
    for number, v in _fields(buf):
        if number in names:
            meta[names[number]] = _text(v)
        elif number in (11, 12):
            key, val = _entry(v)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = val.decode()
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(v))
    return meta


def _object(api_version: str, kind: str, raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    for number, v in _fields(raw):
        if number == 1 and isinstance(v, bytes):
            obj["metadata"] = _meta(v)
        elif kind == "ConfigMap" and number in (2, 3):
            key, val = _entry(v)
            if number == 2:
                obj.setdefault("data", {})[key] = val.decode()
            else:
                obj.setdefault("binaryData", {})[key] = base64.b64encode(val).decode()
        elif kind == "Secret" and number == 2:
            key, val = _entry(v)
            obj.setdefault("data", {})[key] = base64.b64encode(val).decode()
        elif kind == "Secret" and number == 3:
            obj["type"] = _text(v)
        elif kind == "Secret" and number == 4:
            key, val = _entry(v)
            obj.setdefault("stringData", {})[key] = val.decode()
        elif number in (4, 5) and kind in ("ConfigMap", "Secret") and isinstance(v, int):
            obj["immutable"] = bool(v)
        elif kind == "ServiceAccount" and number == 4 and isinstance(v, int):
            # k8s.io/api/core/v1/generated.proto ServiceAccount: automountServiceAccountToken = 4 (what `kubectl
            # create serviceaccount` fills is the metadata only).
            obj["automountServiceAccountToken"] = bool(v)
    return obj


def _container(raw: bytes) -> dict[str, Any]:
    # k8s.io/api/core/v1/generated.proto Container: name 1, image 2, command 3, args 4, workingDir 5,
    # terminationMessagePath 13, imagePullPolicy 14, stdin 16, stdinOnce 17, tty 18, terminationMessagePolicy 20.
    c: dict[str, Any] = {}
    texts = {1: "name", 2: "image", 5: "workingDir", 13: "terminationMessagePath", 14: "imagePullPolicy",
             20: "terminationMessagePolicy"}
    for number, v in _fields(raw):
        if number in texts:
            c[texts[number]] = _text(v)
        elif number in (3, 4):
            c.setdefault("command" if number == 3 else "args", []).append(_text(v))
        elif number in (16, 17, 18) and isinstance(v, int):
            c[{16: "stdin", 17: "stdinOnce", 18: "tty"}[number]] = bool(v)
    return c


def _pod_template(raw: bytes) -> dict[str, Any]:
    # PodTemplateSpec: metadata 1, spec 2; PodSpec: containers 2, restartPolicy 3,
    # terminationGracePeriodSeconds 4, activeDeadlineSeconds 5, dnsPolicy 6, serviceAccountName 8.
    template: dict[str, Any] = {}
    for number, v in _fields(raw):
        if number == 1 and isinstance(v, bytes):
            template["metadata"] = _meta(v)
        elif number == 2 and isinstance(v, bytes):
            spec: dict[str, Any] = {}
            for n, sv in _fields(v):
                if n == 2 and isinstance(sv, bytes):
                    spec.setdefault("containers", []).append(_container(sv))
                elif n in (3, 6, 8):
                    spec[{3: "restartPolicy", 6: "dnsPolicy", 8: "serviceAccountName"}[n]] = _text(sv)
                elif n in (4, 5) and isinstance(sv, int):
                    spec["terminationGracePeriodSeconds" if n == 4 else "activeDeadlineSeconds"] = sv
            template["spec"] = spec
    return template


def _job(api_version: str, raw: bytes) -> dict[str, Any]:
    # k8s.io/api/batch/v1/generated.proto Job: metadata 1, spec 2; JobSpec: parallelism 1, completions 2,
    # activeDeadlineSeconds 3, manualSelector 5, template 6, backoffLimit 7, ttlSecondsAfterFinished 8,
    # completionMode 9, suspend 10 (what `kubectl create job` fills: the template's containers and
    # restartPolicy; `--from=cronjob/...` is out, CronJobs are not served).
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": "Job"}
    ints = {1: "parallelism", 2: "completions", 3: "activeDeadlineSeconds", 7: "backoffLimit",
            8: "ttlSecondsAfterFinished"}
    for number, v in _fields(raw):
        if number == 1 and isinstance(v, bytes):
            obj["metadata"] = _meta(v)
        elif number == 2 and isinstance(v, bytes):
            spec: dict[str, Any] = {}
            for n, sv in _fields(v):
                if n in ints and isinstance(sv, int):
                    spec[ints[n]] = sv
                elif n in (5, 10) and isinstance(sv, int):
                    spec["manualSelector" if n == 5 else "suspend"] = bool(sv)
                elif n == 6 and isinstance(sv, bytes):
                    spec["template"] = _pod_template(sv)
                elif n == 9:
                    spec["completionMode"] = _text(sv)
            obj["spec"] = spec
    return obj


_RESOURCE_ATTRIBUTES = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource",
                        7: "name"}
_NON_RESOURCE_ATTRIBUTES = {1: "path", 2: "verb"}


def _strings(raw: bytes, names: dict[int, str]) -> dict[str, str]:
    return {names[n]: _text(v) for n, v in _fields(raw) if n in names}


def _review(api_version: str, kind: str, raw: bytes) -> dict[str, Any]:
    # k8s.io/api/authorization/v1/generated.proto: metadata 1, spec 2; SelfSubjectAccessReviewSpec has
    # resourceAttributes 1 and nonResourceAttributes 2, SelfSubjectRulesReviewSpec has namespace 1.
    spec: dict[str, Any] = {}
    for number, v in _fields(raw):
        if number != 2 or not isinstance(v, bytes):
            continue
        for n, sv in _fields(v):
            if not isinstance(sv, bytes):
                continue
            if kind == "SelfSubjectRulesReview" and n == 1:
                spec["namespace"] = _text(sv)
            elif kind == "SelfSubjectAccessReview" and n == 1:
                spec["resourceAttributes"] = _strings(sv, _RESOURCE_ATTRIBUTES)
            elif kind == "SelfSubjectAccessReview" and n == 2:
                spec["nonResourceAttributes"] = _strings(sv, _NON_RESOURCE_ATTRIBUTES)
    return {"apiVersion": api_version, "kind": kind, "metadata": {}, "spec": spec}


def decode(body: bytes) -> dict[str, Any]:
    r"""Decode a protobuf-encoded Namespace, ConfigMap, Secret, Job or self-service review into its JSON form.

    Args:
        body: The request body, starting with the ``k8s\x00`` magic.

    Returns:
        The object as a JSON dict.

    Raises:
        ApiError: 415 for any other kind or an unreadable body.
    """
    unsupported = ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                        "accepted media types include: application/json, "
                                                        "application/yaml")
    if not body.startswith(_MAGIC):
        raise unsupported
    try:
        api_version = kind = ""
        raw = b""
        for number, v in _fields(body[len(_MAGIC):]):
            if number == 1 and isinstance(v, bytes):
                for n, tv in _fields(v):
                    if n == 1:
                        api_version = _text(tv)
                    elif n == 2:
                        kind = _text(tv)
            elif number == 2 and isinstance(v, bytes):
                raw = v
        if api_version == "authorization.k8s.io/v1" and kind in ("SelfSubjectAccessReview",
                                                                  "SelfSubjectRulesReview"):
            return _review(api_version, kind, raw)
        if (api_version, kind) == ("batch/v1", "Job"):
            return _job(api_version, raw)
        if (api_version, kind) not in (("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"),
                                       ("v1", "ServiceAccount")):
            raise unsupported
        return _object(api_version, kind, raw)
    except (ValueError, UnicodeDecodeError):
        raise unsupported from None
