"""The sandbox's decoder of Kubernetes protobuf bodies: special JSON forms, zero values, refusals (unit).

Bodies are encoded here by hand as go-to-protobuf writes them (field numbers from k8s.io/api generated.proto);
tests/sandbox/test_kubeapi_kubectl.py drives the same decoder with real kubectl's bodies.
"""

from __future__ import annotations

import pytest

from gloo_nb.sandbox.kubeapi.protobuf import decode
from gloo_nb.sandbox.store import ApiError

pytestmark = pytest.mark.unit


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + _bytes(1, _bytes(1, api_version) + _bytes(2, kind)) + _bytes(2, raw)


def test_pod_with_special_forms_and_zero_values() -> None:
    # Probe.handler (ProbeHandler, inline in JSON) -> httpGet 2 -> path 1, port 2 (IntOrString: type 1, strVal 3)
    probe = _bytes(1, _bytes(2, _bytes(1, "/healthz") + _bytes(2, _int(1, 1) + _bytes(3, "http"))))
    container = (_bytes(1, "c") + _bytes(2, "busybox") + _bytes(5, "")  # workingDir "" is dropped
                 + _bytes(8, _bytes(2, _bytes(1, "cpu") + _bytes(2, _bytes(1, "250m"))))  # resources.requests
                 + _bytes(11, probe))  # readinessProbe.handler
    spec = (_bytes(2, container) + _int(4, -1 & ((1 << 64) - 1))  # terminationGracePeriodSeconds (pointer) -1
            + _int(11, 0))  # hostNetwork false: non-pointer zero, dropped
    meta = (_bytes(1, "p") + _bytes(8, _int(1, 0)) + _bytes(11, _bytes(1, "app") + _bytes(2, "x")))
    pod = decode(_envelope("v1", "Pod", _bytes(1, meta) + _bytes(2, spec)))
    assert list(pod)[:3] == ["apiVersion", "kind", "metadata"]
    assert pod["metadata"] == {"name": "p", "labels": {"app": "x"}}, "zero creationTimestamp is dropped"
    c = pod["spec"]["containers"][0]
    assert c["resources"] == {"requests": {"cpu": "250m"}}, "Quantity as its string"
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, "IntOrString as a string"
    assert "workingDir" not in c and "hostNetwork" not in pod["spec"]
    assert pod["spec"]["terminationGracePeriodSeconds"] == -1, "negative int64 from its 10-byte varint"


def test_event_micro_time_and_secret_bytes() -> None:
    event = decode(_envelope("v1", "Event", _bytes(1, _bytes(1, "e")) + _bytes(
        10, _int(1, 1_800_000_000) + _int(2, 123_456_000))))  # eventTime 10: MicroTime
    assert event["eventTime"] == "2027-01-15T08:00:00.123456Z"
    secret = decode(_envelope("v1", "Secret", _bytes(1, _bytes(1, "s"))
                              + _bytes(2, _bytes(1, "k") + _bytes(2, b"\x00\xff"))))
    assert secret["data"] == {"k": "AP8="}


@pytest.mark.parametrize("body", [
    b"{}",  # not protobuf
    _envelope("v1", "PriorityClass", b""),  # a kind the sandbox does not serve
    _envelope("v1", "Pod", b"\x0a\x05ab"),  # truncated
    _envelope("v1", "Pod", _int(1, 3)),  # metadata as a number
])
def test_what_cannot_be_decoded_is_415(body: bytes) -> None:
    with pytest.raises(ApiError) as err:
        decode(body)
    assert err.value.code == 415 and "the body of the request was in an unknown format" in str(err.value.message)
