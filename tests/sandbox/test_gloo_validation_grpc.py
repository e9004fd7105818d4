"""Gloo's gRPC validation service on port 9988: NotifyOnResync as Gloo's validator streams it, Validate refused
with the reason (the sandbox does not decode Gloo's Proxy protobuf)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sandboxkit import kubectl_for, kubectl_forward, sandbox

from gloo_nb._types import Profile
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.gloo_validation_grpc import SERVICES, VALIDATE_UNMODELLED, GlooValidationServer
from gloo_nb.sandbox.store import ADMIN, Store

pytestmark = pytest.mark.sandbox

NS = "gloo-system"


def _upstream(port: int) -> dict[str, object]:
    return {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "echo", "namespace": NS},
            "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": port}]}}}


@pytest.fixture(params=["1.3", "current"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[Store, Profile, grpc.Channel]]:
    store = Store()
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}}, identity=ADMIN)
    server = GlooValidationServer(store, request.param)
    port = server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield store, request.param, channel
    finally:
        channel.close()
        server.stop()


def _collect(stream: grpc.Call, into: queue.Queue[bytes | Exception]) -> None:
    try:
        for message in stream:  # type: ignore[attr-defined]
            into.put(message)
    except grpc.RpcError as exc:
        into.put(exc)


def test_notify_on_resync_acks_then_follows_what_validation_depends_on(
        served: tuple[Store, Profile, grpc.Channel]) -> None:
    store, profile, channel = served
    service, _ = SERVICES[profile]
    notify = channel.unary_stream(f"/{service}/NotifyOnResync")
    got: queue.Queue[bytes | Exception] = queue.Queue()
    stream = notify(b"")
    threading.Thread(target=_collect, args=(stream, got), daemon=True).start()
    assert got.get(timeout=5) == b""  # the ACK: an empty NotifyOnResyncResponse
    store.create(kinds.UPSTREAM, _upstream(8080), identity=ADMIN)
    assert got.get(timeout=5) == b""
    # A status-only write (Gloo's own) and a kind validation does not hash (Endpoints) notify nothing.
    store.patch(kinds.UPSTREAM, NS, "echo", lambda o: {**o, "status": {"state": 1}}, identity=ADMIN)
    store.create(kinds.ENDPOINTS, {"metadata": {"name": "echo", "namespace": NS}, "subsets": []}, identity=ADMIN)
    with pytest.raises(queue.Empty):
        got.get(timeout=1.0)
    store.delete(kinds.UPSTREAM, NS, "echo", identity=ADMIN)
    assert got.get(timeout=5) == b""
    stream.cancel()


def test_validate_says_it_is_not_modelled_instead_of_guessing(served: tuple[Store, Profile, grpc.Channel]) -> None:
    _, profile, channel = served
    service, method = SERVICES[profile]
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(f"/{service}/{method}")(b"", timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED  # type: ignore[attr-defined]
    assert caught.value.details() == VALIDATE_UNMODELLED  # type: ignore[attr-defined]
    # The other profile's service is not there (1.3's gloo serves ProxyValidationService only, main's the other).
    other = SERVICES["current" if profile == "1.3" else "1.3"][0]
    with pytest.raises(grpc.RpcError) as missing:
        channel.unary_unary(f"/{other}/NotifyOnResync")(b"", timeout=5)
    assert missing.value.code() is grpc.StatusCode.UNIMPLEMENTED  # type: ignore[attr-defined]


@pytest.mark.envoy
def test_port_forward_to_the_gloo_pods_9988_reaches_the_validation_service(tmp_path: Path) -> None:
    """As a cluster's: ``kubectl port-forward deploy/gloo 9988`` reaches Gloo's validation service; a change of an
    Upstream made with kubectl is announced on the open NotifyOnResync stream."""
    with sandbox(tmp_path / "sb", "current", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        with kubectl_forward(kube, "-n", NS, "deploy/gloo", ":9988") as (port, _):
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            try:
                got: queue.Queue[bytes | Exception] = queue.Queue()
                stream = channel.unary_stream("/gloo.solo.io.GlooValidationService/NotifyOnResync")(b"")
                threading.Thread(target=_collect, args=(stream, got), daemon=True).start()
                assert got.get(timeout=10) == b""
                kube.run("apply", "-f", "-", input=json.dumps(_upstream(9)))
                assert got.get(timeout=10) == b""
                with pytest.raises(grpc.RpcError) as caught:
                    channel.unary_unary("/gloo.solo.io.GlooValidationService/Validate")(b"", timeout=10)
                assert caught.value.details() == VALIDATE_UNMODELLED  # type: ignore[attr-defined]
                stream.cancel()
            finally:
                channel.close()
