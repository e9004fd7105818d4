"""TLS upstream: Upstream sslConfig, the static upstream's automatic TLS and SNI, Service sslService annotations."""

from __future__ import annotations

from typing import Any

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from tlskit import ca_pem, kube_tls_secret, server

from gloo_nb.models.codec import parse_objects
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.envoy import service_ssl_config
from gloo_nb.translate.render import render

pytestmark = pytest.mark.unit

GS = "gloo-system"
PROFILES = ("1.3", "current")
CLIENT = server("client.example.com")


def static(name: str, hosts: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"static": {"hosts": hosts}}
    spec["static"].update({k: v for k, v in more.items() if k in ("useTls", "autoSniRewrite")})
    if "sslConfig" in more:
        spec["sslConfig"] = more["sslConfig"]
    return {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": name, "namespace": GS},
            "spec": spec}


def run(docs: list[dict[str, Any]], profile: str) -> Translation:
    return translate(parse_objects(docs).resources, profile)  # type: ignore[arg-type]


def cluster(t: Translation, name: str) -> cluster_pb2.Cluster | None:
    return next((c for c in t.envoy.clusters if c.name == name), None)


def tls(c: cluster_pb2.Cluster | None) -> tls_pb2.UpstreamTlsContext | None:
    assert c is not None
    if not c.HasField("transport_socket"):
        return None
    assert c.transport_socket.name == "envoy.transport_sockets.tls"
    ctx = tls_pb2.UpstreamTlsContext()
    assert c.transport_socket.typed_config.Unpack(ctx)
    return ctx


@pytest.mark.parametrize("profile", PROFILES)
def test_static_upstream_autodetects_tls_on_443(profile):
    """static/plugin_test.go "doesn't have ssl by default", "should autodetect ssl"; SNI = first host name."""
    t = run([static("plain", [{"addr": "1.2.3.4", "port": 80}]),
             static("ext", [{"addr": "10.1.1.1", "port": 443}, {"addr": "api.example.com", "port": 443}])], profile)
    assert tls(cluster(t, "plain_gloo-system")) is None
    ctx = tls(cluster(t, "ext_gloo-system"))
    assert ctx is not None and ctx.sni == "api.example.com"
    # CUR: GetCommonTlsContextFromUpstreamOptions gives a CommonTlsContext without TlsParams
    # ("should configure CommonTlsContext without TlsParams"); 1.3 set none
    assert ctx.HasField("common_tls_context") == (profile != "1.3")
    assert not ctx.common_tls_context.HasField("tls_params")


@pytest.mark.parametrize("profile", PROFILES)
def test_use_tls(profile):
    """static/plugin_test.go "should allow configuring ssl", "should not autoset ssl if usetls is false"
    (CUR BoolValue); 1.3's useTls was a plain bool: false could not turn off port 443's TLS."""
    t = run([static("on", [{"addr": "1.2.3.4", "port": 8443}], useTls=True),
             static("off", [{"addr": "1.2.3.4", "port": 443}], useTls=False)], profile)
    assert tls(cluster(t, "on_gloo-system")) is not None
    assert (tls(cluster(t, "off_gloo-system")) is None) == (profile != "1.3")


def test_sni_per_host_current():
    """static/plugin_test.go "should have sni per host" and "should have sni per host by default"."""
    t = run([static("a", [{"addr": "1.2.3.4", "port": 1234, "sniAddr": "test"}, {"addr": "1.2.3.5", "port": 1234}],
                    useTls=True),
             static("b", [{"addr": "1.2.3.4", "port": 1234, "sniAddr": "test"},
                          {"addr": "1.2.3.5", "port": 1234, "sniAddr": "test2"}, {"addr": "1.2.3.6", "port": 1234}],
                    useTls=True, autoSniRewrite=False)], "current")
    for name, snis in (("a_gloo-system", ["test", "1.2.3.5"]), ("b_gloo-system", ["test", "test2"])):
        c = cluster(t, name)
        assert c is not None
        got = []
        for match, ep in zip(c.transport_socket_matches, c.load_assignment.endpoints[0].lb_endpoints, strict=False):
            ctx = tls_pb2.UpstreamTlsContext()
            match.transport_socket.typed_config.Unpack(ctx)
            got.append(ctx.sni)
            # ExpectSniMatchesToMatch: the match equals the endpoint's transport-socket-match metadata
            assert match.match == ep.metadata.filter_metadata["envoy.transport_socket_match"]
        assert got == snis
        assert len({m.name for m in c.transport_socket_matches}) == len(snis)
    assert [m.name for m in cluster(t, "a_gloo-system").transport_socket_matches] == [  # type: ignore[union-attr]
        "test;1.2.3.4:1234", "1.2.3.5;1.2.3.5:1234"]


@pytest.mark.parametrize("profile", PROFILES)
def test_upstream_ssl_config_from_secret(profile):
    """ssl.go ResolveUpstreamSslConfig: inline client certificate, root CA, SAN, SNI; sslConfig wins over the
    static plugin's automatic TLS ("should not override existing tls config")."""
    up = static("mtls", [{"addr": "10.0.0.1", "port": 443}], sslConfig={
        "secretRef": {"name": "client", "namespace": GS}, "sni": "backend.example.com",
        "verifySubjectAltName": ["backend.example.com"], "alpnProtocols": ["h2"]})
    ca_doc = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "client", "namespace": GS, "annotations": {"resource_kind": "*v1.Secret"}},
              "stringData": {"tls": f"certChain: |\n{_indent(CLIENT.cert)}privateKey: |\n{_indent(CLIENT.key)}"
                                    f"rootCa: |\n{_indent(ca_pem())}"}}
    t = run([up, ca_doc], profile)
    ctx = tls(cluster(t, "mtls_gloo-system"))
    assert ctx is not None and ctx.sni == "backend.example.com"
    common = ctx.common_tls_context
    assert common.tls_certificates[0].private_key.inline_string.strip() == CLIENT.key.strip()
    assert common.validation_context.trusted_ca.inline_string.strip() == ca_pem().strip()
    assert [m.exact for m in common.validation_context.match_subject_alt_names] == ["backend.example.com"]
    assert list(common.alpn_protocols) == ["h2"]  # no default ALPN upstream


def _indent(text: str) -> str:
    return "".join("  " + line + "\n" for line in text.strip().splitlines())


def test_one_way_tls_upstream_current():
    """ssl.go (CUR): oneWayTls drops the client certificate, keeps the server validation."""
    t = run([kube_tls_secret("client", GS, CLIENT, ca=ca_pem()),
             static("u", [{"addr": "10.0.0.1", "port": 8443}], sslConfig={
                 "secretRef": {"name": "client", "namespace": GS}, "oneWayTls": True})], "current")
    ctx = tls(cluster(t, "u_gloo-system"))
    assert ctx is not None
    assert not ctx.common_tls_context.tls_certificates
    assert ctx.common_tls_context.validation_context.HasField("trusted_ca")


@pytest.mark.parametrize("profile", PROFILES)
def test_missing_upstream_secret(profile):
    """clusters.go (CUR) / plugins/upstreamssl (1.3): the error is the Upstream's; CUR's
    UpstreamRemovingSanitizer drops its cluster and turns the error into a warning (merged after
    sanitizing: upstream_removing_sanitizer_test.go), 1.3 keeps the error and the last good snapshot."""
    t = run([static("u", [{"addr": "10.0.0.1", "port": 8443}],
                    sslConfig={"secretRef": {"name": "gone", "namespace": GS}})], profile)
    rep = t.report("Upstream", GS, "u")
    text = "SSL secret not found: list did not find secret gloo-system.gone"
    if profile == "1.3":
        assert rep is not None and rep.errors == [text]
        assert t.push.decision == "keep-last-good"
    else:
        assert rep is not None and rep.state == "Warning" and rep.warnings == [f"1 error occurred:\n\t* {text}\n\n"]
        assert t.push.decision == "push" and cluster(t, "u_gloo-system") is None


def test_service_ssl_annotations():
    """use_ssl_annotation_converter.go: `<port>:<value>` limits the annotation to one service port."""
    docs = [{"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "svc", "namespace": "default", "annotations": {
                 "gloo.solo.io/sslService.secret": "443:client", "gloo.solo.io/sslService.oneWayTls": "true"}},
             "spec": {"ports": [{"port": 443}, {"port": 80}]}},
            kube_tls_secret("client", "default", CLIENT, ca=ca_pem())]
    (svc, _) = parse_objects(docs).resources
    assert service_ssl_config(svc, 443) == {"oneWayTls": True,  # type: ignore[arg-type]
                                            "secretRef": {"name": "client", "namespace": "default"}}
    assert service_ssl_config(svc, 80) is None  # type: ignore[arg-type]
    t = run(docs, "current")
    ctx = tls(cluster(t, "kube-svc:default-svc-443_default"))
    assert ctx is not None and not ctx.common_tls_context.tls_certificates  # one-way
    assert tls(cluster(t, "kube-svc:default-svc-80_default")) is None
    # 1.3's in-memory kube-svc upstreams run the converters too (upstreams/kubernetes/conversions.go@v1.3.20
    # serviceToUpstream -> DefaultUpstreamConverter().CreateUpstream), but 1.3 had no oneWayTls annotation
    # and read only tls.crt/tls.key of a kubernetes.io/tls Secret: a client certificate, no validation.
    ctx13 = tls(cluster(run(docs, "1.3"), "kube-svc:default-svc-443_default"))
    assert ctx13 is not None and ctx13.common_tls_context.tls_certificates
    assert not ctx13.common_tls_context.HasField("validation_context")
    assert tls(cluster(run(docs, "1.3"), "kube-svc:default-svc-80_default")) is None


def test_upstream_tls_json_redacts_keys():
    t = run([kube_tls_secret("client", GS, CLIENT),
             static("u", [{"addr": "10.0.0.1", "port": 8443}], sslConfig={
                 "secretRef": {"name": "client", "namespace": GS}})], "current")
    import json

    text = json.dumps(render(t))
    assert "PRIVATE KEY" not in text and f"sha256:{CLIENT.fingerprint}" in text


def test_bad_ssl_config_field_is_a_finding_naming_the_field():
    t = run([static("u", [{"addr": "10.0.0.1", "port": 8443}], sslConfig={
        "sni": "x", "parameters": {"minimumProtocolVersion": "TLSv9", "cipherSuites": "not-a-list"}})], "current")
    messages = [f.message for f in t.findings if f.resource.name == "u"]
    assert any("spec.sslConfig.parameters.minimumProtocolVersion" in m for m in messages)
    assert any("spec.sslConfig.parameters.cipherSuites: expected a list of strings" in m for m in messages)
    ctx = tls(cluster(t, "u_gloo-system"))
    assert ctx is not None and not ctx.common_tls_context.tls_params.cipher_suites
