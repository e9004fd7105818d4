"""Listener drift: TLS listeners compare by certificate fingerprint, so an intent built from Secret facts (a bundle,
a journal) or with placeholders (Secrets not readable) matches the served and applied listeners holding real
certificates, and a real difference (another certificate, a missing SNI chain) still shows."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from google.protobuf.json_format import MessageToDict
from tlskit import kube_tls_secret, server

from gloo_nb.analysis.inspection import Inspection, inspection_at
from gloo_nb.analysis.listeners import comparable_listener, first_difference, listener_drift
from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.journal import JournalWriter
from gloo_nb.journal.schema import (
    KUBE_EVENT,
    KUBE_SOURCE,
    RECORDER_SOURCE,
    RECORDER_START,
    XDS_CONTENT,
    XDS_SOURCE,
    XDS_UPDATE,
)
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_objects, parse_secret_facts, secret_facts_json
from gloo_nb.translate import Translation, translate

pytestmark = pytest.mark.unit

GS = "gloo-system"
API = server("api.example.com", "api.example.com")
WWW = server("www.example.com", "www.example.com")


def _vs(name: str, secret: str, domain: str) -> dict[str, Any]:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": name, "namespace": GS},
            "spec": {"sslConfig": {"secretRef": {"name": secret, "namespace": GS}, "sniDomains": [domain]},
                     "virtualHost": {"domains": [domain], "routes": [
                         {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": name}}]}}}


OBJECTS = [kube_tls_secret("api", GS, API), kube_tls_secret("www", GS, WWW), _vs("api", "api", "api.example.com"),
           _vs("www", "www", "www.example.com")]


def _snapshot(objects: list[dict[str, Any]] = OBJECTS) -> Snapshot:
    return Snapshot.from_resources(parse_objects(objects).resources)


def _facts(snapshot: Snapshot) -> Snapshot:
    return replace(snapshot, secrets=tuple(parse_secret_facts(json.loads(json.dumps(secret_facts_json(s))))
                                           for s in snapshot.secrets))


def _as_applied(listeners: list[listener_pb2.Listener], port: int) -> list[listener_pb2.Listener]:
    """What a replica's config dump shows: Envoy's own key redaction, and the sandbox's per-replica address."""
    out = []
    for li in listeners:
        li = listener_pb2.Listener.FromString(li.SerializeToString())
        li.address.socket_address.port_value = port
        for chain in li.filter_chains:
            if chain.transport_socket.name:
                ctx = tls_pb2.DownstreamTlsContext()
                chain.transport_socket.typed_config.Unpack(ctx)
                for cert in ctx.common_tls_context.tls_certificates:
                    cert.private_key.inline_string = "[redacted]"  # Envoy's config_dump redaction
                chain.transport_socket.typed_config.Pack(ctx)
        out.append(li)
    return out


SERVED = translate(_snapshot(), "current")


def _drift(intent: Translation, served: Translation = SERVED) -> list[Any]:
    return listener_drift(intent.envoy.listeners, list(served.envoy.listeners),
                          {"gateway-proxy-0.gloo-system": _as_applied(list(served.envoy.listeners), 10443)})


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_facts_intent_and_real_served_and_applied_are_in_sync(profile):
    served = translate(_snapshot(), profile)
    rows = _drift(translate(_facts(_snapshot()), profile), served)
    assert [(r.name, r.state) for r in rows] == [("listener-::-8443", "in-sync")]
    (row,) = rows
    assert row.by_source["intent"] == row.by_source["served"] == row.by_source["gateway-proxy-0.gloo-system"] == (
        f"api.example.com: tls sha256:{API.fingerprint[:12]}; www.example.com: tls sha256:{WWW.fingerprint[:12]}")


def test_placeholders_of_unreadable_secrets_match_the_served_certificates():
    unseen = replace(_snapshot([o for o in OBJECTS if o["kind"] != "Secret"]), secrets_unreadable="403: forbidden")
    (row,) = _drift(translate(unseen, "current"))
    assert row.state == "in-sync"
    assert row.by_source["intent"] == (
        "api.example.com: tls <redacted: secret gloo-system.api not readable by gloo_nb>; "
        "www.example.com: tls <redacted: secret gloo-system.www not readable by gloo_nb>")


def test_another_certificate_or_a_missing_chain_is_drift():
    swapped = [kube_tls_secret("api", GS, WWW), *OBJECTS[1:]]
    (row,) = _drift(translate(_facts(_snapshot(swapped)), "current"))
    assert row.state == "pending"
    assert row.cause.startswith("intent and served differ at filterChains[0].transportSocket.typedConfig."
                                "commonTlsContext.tlsCertificates[0].certificateChain.inlineString")
    one = translate(_snapshot(OBJECTS[:3]), "current")
    rows = listener_drift(SERVED.envoy.listeners, list(SERVED.envoy.listeners),
                          {"node-0": list(one.envoy.listeners)})
    assert [(r.state, r.cause) for r in rows] == [("replica-lagging", "node-0 differs from served at filterChains")]
    blocked = listener_drift(one.envoy.listeners, list(SERVED.envoy.listeners), {}, blocked=True,
                             block_causes=["gloo-system/x: boom"])
    assert [(r.state, r.cause) for r in blocked] == [("blocked-by-last-known-good", "gloo-system/x: boom")]


def test_keys_never_count_and_never_show():
    (served,) = SERVED.envoy.listeners
    doc = comparable_listener(served)
    assert "PRIVATE KEY" not in json.dumps(doc) and "address" not in doc
    (applied,) = _as_applied([served], 1)
    assert first_difference(comparable_listener(applied), doc) is None


class _Served:
    def __init__(self, t: Translation) -> None:
        self.listeners = list(t.envoy.listeners)
        self.route_configurations = list(t.envoy.route_configurations)

    def version(self, type_url: str) -> str | None:
        return "1"


class _Stats:
    def subscriptions(self) -> dict[str, Any]:
        return {}


def test_inspection_document_has_listener_drift_and_no_route_drift():
    intent = translate(_facts(_snapshot()), "current")
    inspection = Inspection.build(intent, _Served(SERVED), {"node-0": _Served(SERVED)}, {"node-0": _Stats()})
    doc = inspection.document()
    assert [(d["listener"], d["state"]) for d in doc["listenerDrift"]] == [("listener-::-8443", "in-sync")]
    assert {d["state"] for d in doc["drift"]} == {"in-sync"} and len(doc["drift"]) == 2
    assert "Listeners" not in inspection.text()


T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"


def _journal(out: Path, served_objects: list[dict[str, Any]]) -> Path:
    """A recording as the recorder writes it: Secrets redacted with their facts, the served listeners' content."""
    w = JournalWriter(out)
    w.append(RECORDER_START, {"profile": "current", "namespace": GS, "replicas": [], "kinds": ["VirtualService",
             "Secret"], "connection": {}}, source=RECORDER_SOURCE, time=T0)
    for obj in OBJECTS:
        data: dict[str, Any] = {"type": "INITIAL", "kind": obj["kind"], "namespace": GS,
                                "name": obj["metadata"]["name"], "resourceVersion": "1", "object": obj,
                                "specChanged": False, "statusChanged": False, "patch": None, "actor": {}}
        if obj["kind"] == "Secret":
            (secret,) = parse_objects([obj]).resources
            data["secretFacts"] = secret_facts_json(secret)  # type: ignore[arg-type]
        w.append(KUBE_EVENT, data, source=KUBE_SOURCE, time=T0)
    served = translate(_snapshot(served_objects), "current")
    w.append(XDS_CONTENT, {"digest": "d1", "typeUrl": LISTENER,
                           "resources": [MessageToDict(li) for li in served.envoy.listeners]}, source=XDS_SOURCE,
             time=T0 + timedelta(seconds=1))
    w.append(XDS_UPDATE, {"typeUrl": LISTENER, "version": "1", "nonce": "", "digest": "d1", "names": [],
                          "accepted": True}, source=XDS_SOURCE, time=T0 + timedelta(seconds=1))
    w.close()
    return out


def test_a_journal_moment_compares_its_served_listeners_with_the_replayed_intent(tmp_path: Path) -> None:
    timeline = load_timeline(_journal(tmp_path / "j", OBJECTS))
    state = timeline.state_at(T0 + timedelta(seconds=2))
    assert "PRIVATE KEY" not in json.dumps(state.served_listeners)  # the journal redacted the served keys
    inspection = inspection_at(state)
    assert [(d.name, d.state) for d in inspection.listener_drift] == [("listener-::-8443", "in-sync")]
    assert inspection.findings == []
    swapped = load_timeline(_journal(tmp_path / "k", [kube_tls_secret("api", GS, WWW), *OBJECTS[1:]]))
    (row,) = inspection_at(swapped.state_at(T0 + timedelta(seconds=2))).listener_drift
    assert row.state == "pending" and "certificateChain" in row.cause


# --- HTTP filters: Gloo's own extensions and unpredicted filters (analysis/listeners.py docstring) ----------------

def _plain_listener(**settings_gloo: Any) -> listener_pb2.Listener:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "app", "namespace": GS},
         "spec": {"virtualHost": {"domains": ["*"], "routes": [
             {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200}}]}}}]
    if settings_gloo:
        docs.append({"apiVersion": "gloo.solo.io/v1", "kind": "Settings", "metadata": {"name": "default",
                                                                                          "namespace": GS},
                     "spec": {"discoveryNamespace": GS, "gloo": settings_gloo}})
    (listener,) = translate(Snapshot.from_resources(parse_objects(docs).resources), "current").envoy.listeners
    return listener


def _edit_filters(listener: listener_pb2.Listener, edit: Any) -> listener_pb2.Listener:
    from envoy.extensions.filters.network.http_connection_manager.v3 import (
        http_connection_manager_pb2 as hcm_pb2,
    )
    out = listener_pb2.Listener()
    out.CopyFrom(listener)
    hcm = hcm_pb2.HttpConnectionManager()
    out.filter_chains[0].filters[0].typed_config.Unpack(hcm)
    filters = edit(list(hcm.http_filters))
    del hcm.http_filters[:]
    hcm.http_filters.extend(filters)
    out.filter_chains[0].filters[0].typed_config.Pack(hcm)
    return out


def test_gloo_extension_filter_left_out_for_the_pinned_envoy_is_no_drift():
    """The sandbox serves the listener without io.solo.transformation: intent, served and replica are in sync."""
    from gloo_nb.translate.http_filters import for_pinned_envoy

    intent = _plain_listener()
    served, left = for_pinned_envoy(intent)
    assert left, "the intent holds Gloo's transformation filter"
    (row,) = listener_drift([intent], [served], {"gateway-proxy-0": [served]})
    assert (row.state, row.cause) == ("in-sync", "")
    (row,) = listener_drift([intent], None, {"gateway-proxy-0": [served]})  # served not read: replicas vs intent
    assert (row.state, row.cause) == ("in-sync", "")


def test_gloo_extension_filter_served_with_another_config_is_drift():
    """Where the served listener has the filter (a real Gloo), it is compared: another config is a difference."""
    intent = _plain_listener()
    served = _plain_listener(logTransformationRequestResponseInfo=True)
    (row,) = listener_drift([intent], [served], {})
    assert row.state == "pending"
    assert "filterChains[0].filters[0].typedConfig.httpFilters[4]" in row.cause


def test_a_modelled_filter_missing_from_served_is_drift_and_replicas_compare_in_full():
    intent = _plain_listener()
    no_csrf = _edit_filters(intent, lambda fs: [f for f in fs if f.name != "envoy.filters.http.csrf"])
    (row,) = listener_drift([intent], [no_csrf], {})
    assert row.state == "pending" and "httpFilters" in row.cause
    # served vs applied: in full, Gloo's own filter included
    from gloo_nb.translate.http_filters import for_pinned_envoy

    (row,) = listener_drift([intent], [intent], {"gateway-proxy-0": [for_pinned_envoy(intent)[0]]})
    assert row.state == "replica-lagging" and "httpFilters" in row.cause


def test_unpredicted_filters_are_left_out_of_intent_versus_served():
    """A served compressor filter from a gzip option gloo_nb does not model: no drift when named unpredicted."""
    from envoy.extensions.filters.http.compressor.v3 import compressor_pb2
    from envoy.extensions.filters.network.http_connection_manager.v3 import (
        http_connection_manager_pb2 as hcm_pb2,
    )

    def gzip(fs: list[Any]) -> list[Any]:
        extra = hcm_pb2.HttpFilter(name="envoy.filters.http.compressor")
        extra.typed_config.Pack(compressor_pb2.Compressor())
        return [fs[0], extra, *fs[1:]]

    intent = _plain_listener()
    served = _edit_filters(intent, gzip)
    (row,) = listener_drift([intent], [served], {})
    assert row.state == "pending"
    (row,) = listener_drift([intent], [served], {}, unpredicted=frozenset({"envoy.filters.http.compressor"}))
    assert (row.state, row.cause) == ("in-sync", "")
