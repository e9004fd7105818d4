"""TLS downstream: Helm's ssl gateway, ssl/plain selection, filter chains per sslConfig, Gloo's errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from tlskit import ca_pem, gloo_tls_secret, kube_tls_secret, server

from gloo_nb.models.codec import parse_objects
from gloo_nb.translate import Translation, Translator, translate
from gloo_nb.translate.render import render as translation_json

pytestmark = pytest.mark.unit

GS = "gloo-system"
PROFILES = ("1.3", "current")
API = server("api.example.com", "api.example.com")
WWW = server("www.example.com", "www.example.com")


def vs(name: str, ssl: dict[str, Any] | None, *domains: str, ns: str = GS) -> dict[str, Any]:
    spec: dict[str, Any] = {"virtualHost": {"domains": list(domains), "routes": [
        {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": name}}]}}
    if ssl is not None:
        spec["sslConfig"] = ssl
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def ref(name: str, **more: Any) -> dict[str, Any]:
    return {"secretRef": {"name": name, "namespace": GS}, **more}


def run(docs: list[dict[str, Any]], profile: str, translator: Translator | None = None) -> Translation:
    resources = parse_objects(docs).resources
    if translator is None:
        return translate(resources, profile)  # type: ignore[arg-type]
    from gloo_nb.models import Snapshot

    return translator.translate(Snapshot.from_resources(resources))


def listener(t: Translation, port: int) -> listener_pb2.Listener | None:
    return next((li for li in t.envoy.listeners if li.address.socket_address.port_value == port), None)


def tls_context(chain: listener_pb2.FilterChain) -> tls_pb2.DownstreamTlsContext:
    ctx = tls_pb2.DownstreamTlsContext()
    assert chain.transport_socket.name == "envoy.transport_sockets.tls"
    assert chain.transport_socket.typed_config.Unpack(ctx)
    return ctx


def report(t: Translation, kind: str, name: str) -> dict[str, Any]:
    rep = t.report(kind, GS, name)
    if rep is None:
        # Helm's default Gateways are not in the input: gloo_nb reports them only when Gloo has something to say
        assert kind == "Gateway" and name.startswith("gateway-proxy")
        return {"state": "Accepted", "errors": [], "warnings": []}
    return rep.as_json()


@pytest.mark.parametrize("profile", PROFILES)
def test_helm_defaults_bind_ssl_vs_to_8443_and_plain_vs_to_8080(profile):
    """_8-default-gateways.tpl / 8-default-gateways.yaml@v1.3.20: gateway-proxy (8080, ssl: false) and
    gateway-proxy-ssl (8443, ssl: true); HttpGatewayContainsVirtualService binds by ssl-ness."""
    t = run([kube_tls_secret("tls", GS, API), vs("secure", ref("tls"), "api.example.com"),
             vs("plain", None, "plain.example.com")], profile)
    assert sorted(li.name for li in t.envoy.listeners) == ["listener-::-8080", "listener-::-8443"]
    by_listener = {li.name: [vh.name for vh in li.virtual_hosts] for li in t.proxy.listeners}
    assert by_listener == {"listener-::-8080": ["gloo-system.plain"], "listener-::-8443": ["gloo-system.secure"]}
    rcs = {rc.name: rc for rc in t.envoy.route_configurations}
    (secure,) = rcs["listener-::-8443-routes"].virtual_hosts
    assert secure.require_tls == secure.ALL  # spec 5.3: require_tls when the listener has ssl configurations
    (plain,) = rcs["listener-::-8080-routes"].virtual_hosts
    assert plain.require_tls == plain.NONE
    assert all(r["state"] == "Accepted" for r in (report(t, "VirtualService", "secure"),
                                                   report(t, "VirtualService", "plain")))


@pytest.mark.parametrize("profile", PROFILES)
def test_one_filter_chain_per_distinct_ssl_config_with_sni(profile):
    """ConsolidateSslConfigurations (CUR) / mergeSslConfigs (1.3): configs that differ only by SNI merge."""
    t = run([kube_tls_secret("api", GS, API), kube_tls_secret("www", GS, WWW),
             vs("a", ref("api", sniDomains=["api.example.com"]), "api.example.com"),
             vs("b", ref("api", sniDomains=["api2.example.com", "api.example.com"]), "api2.example.com"),
             vs("c", ref("www", sniDomains=["www.example.com"]), "www.example.com")], profile)
    lst = listener(t, 8443)
    assert lst is not None
    names = [list(c.filter_chain_match.server_names) for c in lst.filter_chains]
    if profile == "1.3":
        # mergeSslConfigs appends, duplicates kept
        assert names == [["api.example.com", "api2.example.com", "api.example.com"], ["www.example.com"]]
    else:
        assert names == [["api.example.com", "api2.example.com"], ["www.example.com"]]
    first, second = (tls_context(c) for c in lst.filter_chains)
    cert = first.common_tls_context.tls_certificates[0]
    assert cert.certificate_chain.inline_string.strip() == API.cert.strip()  # Gloo inlines the secret
    assert cert.private_key.inline_string == API.key
    assert second.common_tls_context.tls_certificates[0].certificate_chain.inline_string.strip() == WWW.cert.strip()
    assert list(first.common_tls_context.alpn_protocols) == ["h2", "http/1.1"]  # default downstream ALPN
    assert not first.HasField("require_client_certificate")  # no validation context
    # each chain carries its own copy of the HTTP connection manager
    assert all(c.filters[0].name == "envoy.filters.network.http_connection_manager" for c in lst.filter_chains)
    # plugins/tls_inspector (CUR); 1.3's Envoy injected it itself for server_names matches
    assert [f.name for f in lst.listener_filters] == ["envoy.filters.listener.tls_inspector"]


def test_tls_inspector_in_13_only_where_sni_is_matched():
    """1.3 had no tls_inspector plugin: gloo_nb adds the inspector where the Envoy of the day injected it."""
    t = run([kube_tls_secret("api", GS, API), vs("a", ref("api"), "api.example.com")], "1.3")
    lst = listener(t, 8443)
    assert lst is not None and not lst.listener_filters
    t = run([kube_tls_secret("api", GS, API), vs("a", ref("api"), "api.example.com")], "current")
    lst = listener(t, 8443)
    assert lst is not None and [f.name for f in lst.listener_filters] == ["envoy.filters.listener.tls_inspector"]


@pytest.mark.parametrize("profile", PROFILES)
def test_empty_sni_on_either_side_matches_every_name(profile):
    """ssl_configuration.go: "if either of the configs match on everything; then match on everything"."""
    t = run([kube_tls_secret("api", GS, API), vs("a", ref("api", sniDomains=["a.example.com"]), "a.example.com"),
             vs("b", ref("api"), "b.example.com")], profile)
    lst = listener(t, 8443)
    assert lst is not None
    (chain,) = lst.filter_chains
    assert list(chain.filter_chain_match.server_names) == []


def test_parameters_alpn_one_way_tls_and_ocsp_current():
    """ssl.go ResolveDownstreamSslConfig/ResolveSslParamsConfig (CUR)."""
    t = run([kube_tls_secret("api", GS, API, ca=ca_pem()),
             vs("a", ref("api", parameters={"minimumProtocolVersion": "TLSv1_2", "maximumProtocolVersion": "TLSv1_3",
                                            "cipherSuites": ["ECDHE-ECDSA-AES128-GCM-SHA256"], "ecdhCurves": ["P-256"]},
                         alpnProtocols=["http/1.1"], oneWayTls=True, ocspStaplePolicy="STRICT_STAPLING",
                         disableTlsSessionResumption=True, verifySubjectAltName=["client.example.com"]),
                "api.example.com")], "current")
    lst = listener(t, 8443)
    assert lst is not None
    ctx = tls_context(lst.filter_chains[0])
    params = ctx.common_tls_context.tls_params
    assert (params.tls_minimum_protocol_version, params.tls_maximum_protocol_version) == (
        params.TLSv1_2, params.TLSv1_3)
    assert list(params.cipher_suites) == ["ECDHE-ECDSA-AES128-GCM-SHA256"] and list(params.ecdh_curves) == ["P-256"]
    assert list(ctx.common_tls_context.alpn_protocols) == ["http/1.1"]
    # oneWayTls: requireClientCertificate false and the validation context removed
    assert ctx.HasField("require_client_certificate") and not ctx.require_client_certificate.value
    assert not ctx.common_tls_context.HasField("validation_context")
    assert ctx.ocsp_staple_policy == ctx.STRICT_STAPLING
    assert ctx.disable_stateless_session_resumption


@pytest.mark.parametrize("profile", PROFILES)
def test_root_ca_means_mutual_tls(profile):
    """ssl.go: a validation context makes requireClientCertificate true. Gloo 1.3's kube TLS converter
    did not read ca.crt (secretconverter.go@v1.3.20), so only Gloo's own secret shape carries a CA there."""
    docs = [kube_tls_secret("kube", GS, API, ca=ca_pem()), gloo_tls_secret("own", GS, WWW, ca=ca_pem()),
            vs("a", ref("kube", verifySubjectAltName=["client.example.com"], sniDomains=["api.example.com"]),
               "api.example.com"),
            vs("b", ref("own", sniDomains=["www.example.com"]), "www.example.com")]
    t = run(docs, profile)
    lst = listener(t, 8443)
    if profile == "1.3":
        # kube secret without CA + verifySubjectAltName: Gloo's error on the listener, one chain left
        gw = report(t, "Gateway", "gateway-proxy-ssl")
        assert gw["errors"] == ["Listener Error: SSLConfigError. Reason: a root_ca must be provided if "
                                "verify_subject_alt_name is not empty"]
        assert lst is None  # the Gateway has errors: its listener is held back (none earlier)
        return
    assert lst is not None
    kube_ctx, own_ctx = (tls_context(c) for c in lst.filter_chains)
    for ctx in (kube_ctx, own_ctx):
        assert ctx.require_client_certificate.value is True
        assert ctx.common_tls_context.validation_context.trusted_ca.inline_string.strip() == ca_pem().strip()
    sans = kube_ctx.common_tls_context.validation_context.match_subject_alt_names
    assert [s.exact for s in sans] == ["client.example.com"]


@pytest.mark.parametrize("profile", PROFILES)
def test_missing_secret_rejects_the_ssl_gateway_not_the_vs(profile):
    """filter_chain.go / listener.go@v1.3.20: SSLConfigError on the listener report, which
    add_proxy_validation_result.go files on the Gateway; e2e validation_always_accept shows the text
    "Listener Error: SSLConfigError. Reason: SSL secret not found: list did not find secret <ns>.tls-secret"."""
    docs = [kube_tls_secret("api", GS, API), vs("ok", ref("api", sniDomains=["api.example.com"]), "api.example.com"),
            vs("broken", ref("tls-secret", sniDomains=["b.example.com"]), "b.example.com"),
            vs("plain", None, "plain.example.com")]
    t = run(docs, profile)
    msg = ("Listener Error: SSLConfigError. Reason: SSL secret not found: list did not find secret "
           "gloo-system.tls-secret")
    gw = report(t, "Gateway", "gateway-proxy-ssl")
    assert gw["state"] == "Rejected" and gw["errors"] == [msg]
    assert report(t, "VirtualService", "broken")["state"] == "Accepted"
    assert any(f.message == msg and f.resource.name == "gateway-proxy-ssl" for f in t.findings)
    # the Gateway layer holds back a rejected Gateway's listener (nothing earlier: no 8443 listener);
    # the plain listener is unaffected and pushed
    assert listener(t, 8443) is None and listener(t, 8080) is not None
    assert t.push.decision == "push"


@pytest.mark.parametrize("profile", PROFILES)
def test_missing_secret_keeps_the_last_accepted_ssl_listener(profile):
    """proxy_reconciler.go: a rejected Gateway's listener is copied back from the previous Proxy."""
    tr = Translator(profile)  # type: ignore[arg-type]
    good = [kube_tls_secret("api", GS, API), vs("a", ref("api"), "api.example.com")]
    first = run(good, profile, tr)
    before = listener(first, 8443)
    assert before is not None
    second = run([vs("a", ref("api"), "api.example.com")], profile, tr)  # the secret was deleted
    assert report(second, "Gateway", "gateway-proxy-ssl")["state"] == "Rejected"
    # the Proxy keeps the last accepted listener (proxy_reconciler.go transitionFunc) ...
    assert any(li.name == "listener-::-8443" for li in second.proxy.listeners)
    # ... but Gloo translates it with today's secrets: the listener error is the Proxy's
    assert second.proxy_report is not None and second.proxy_report.errors == [
        "Listener Error: SSLConfigError. Reason: SSL secret not found: list did not find secret gloo-system.api"]
    assert listener(second, 8443) is None  # no filter chain left: translator.go drops the empty listener
    served = second.served
    assert served is not None
    if profile == "1.3":
        # any proxy error: Envoy keeps the last good snapshot, TLS still served with the old certificate
        assert second.push.decision == "keep-last-good"
        assert [li for li in served.listeners if li.name == "listener-::-8443"] == [before]
    else:
        # current pushes the sanitized snapshot: the TLS listener is gone from Envoy
        assert second.push.decision == "push"
        assert not [li for li in served.listeners if li.name == "listener-::-8443"]


def test_warn_missing_tls_secret_is_a_warning_in_current_only():
    """translator_test.go "skips listeners with invalid downstream ssl config":
    "Listener Warning: SSLConfigWarning. Reason: SSL secret not found: list did not find secret"."""
    settings = {"apiVersion": "gloo.solo.io/v1", "kind": "Settings", "metadata": {"name": "default", "namespace": GS},
                "spec": {"gateway": {"validation": {"warnMissingTlsSecret": True}},
                         "gloo": {"invalidConfigPolicy": {"invalidRouteResponseCode": 404}}}}
    docs = [settings, kube_tls_secret("api", GS, API),
            vs("ok", ref("api", sniDomains=["a.example.com"]), "a.example.com"),
            vs("gone", ref("missing", sniDomains=["b.example.com"]), "b.example.com")]
    t = run(docs, "current")
    gw = report(t, "Gateway", "gateway-proxy-ssl")
    assert gw["state"] == "Warning"
    assert gw["warnings"] == ["Listener Warning: SSLConfigWarning. Reason: SSL secret not found: list did not "
                              "find secret gloo-system.missing"]
    lst = listener(t, 8443)
    assert lst is not None
    assert [list(c.filter_chain_match.server_names) for c in lst.filter_chains] == [["a.example.com"]]
    old = run(docs, "1.3")
    assert report(old, "Gateway", "gateway-proxy-ssl")["state"] == "Rejected"


@pytest.mark.parametrize("profile", PROFILES)
def test_not_a_tls_secret(profile):
    """ssl.go getSslSecrets NotTlsSecretError: `%v is not a TLS secret` of the secret's ref."""
    opaque = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "creds", "namespace": GS, "annotations": {"resource_kind": "*v1.Secret"}},
              "stringData": {"aws": "accessKey: x\nsecretKey: y\n"}}
    t = run([opaque, vs("a", ref("creds"), "a.example.com")], profile)
    text = "{creds gloo-system}" if profile == "1.3" else 'name:"creds" namespace:"gloo-system"'
    assert report(t, "Gateway", "gateway-proxy-ssl")["errors"] == [
        f"Listener Error: SSLConfigError. Reason: {text} is not a TLS secret"]


def test_invalid_key_pair_current_only():
    """ssl.go cleanedSslKeyPair (CUR): InvalidTlsSecretError wraps Go's tls.X509KeyPair error; 1.3 did not check."""
    mismatched = kube_tls_secret("bad", GS, API)
    mismatched["data"]["tls.key"] = kube_tls_secret("x", GS, WWW)["data"]["tls.key"]
    docs = [mismatched, vs("a", ref("bad"), "a.example.com")]
    t = run(docs, "current")
    assert report(t, "Gateway", "gateway-proxy-ssl")["errors"] == [
        'Listener Error: SSLConfigError. Reason: name:"bad" namespace:"gloo-system" is not a valid TLS secret: '
        "tls: private key does not match public key"]
    assert report(run(docs, "1.3"), "Gateway", "gateway-proxy-ssl")["state"] == "Accepted"


def test_duplicate_filter_chain_match_is_an_error_in_current():
    """listener.go CheckForFilterChainConsistency (CUR): equal FilterChainMatches."""
    t = run([kube_tls_secret("api", GS, API), kube_tls_secret("www", GS, WWW),
             vs("a", ref("api", sniDomains=["x.example.com"]), "a.example.com"),
             vs("b", ref("www", sniDomains=["x.example.com"]), "b.example.com")], "current")
    (err,) = report(t, "Gateway", "gateway-proxy-ssl")["errors"]
    assert err.startswith("Listener Error: SSLConfigError. Reason: Tried to apply multiple filter chains with the "
                          "same FilterChainMatch {")
    assert err.endswith("This is usually caused by overlapping sniDomains or multiple empty sniDomains in virtual "
                        "services")


@pytest.mark.parametrize("profile", PROFILES)
def test_translate_json_holds_fingerprints_never_keys(profile):
    t = run([kube_tls_secret("api", GS, API), vs("a", ref("api"), "api.example.com")], profile)
    text = json.dumps(translation_json(t))
    assert "PRIVATE KEY" not in text and API.key.splitlines()[1] not in text
    assert API.cert.splitlines()[1] not in text
    assert f"sha256:{API.fingerprint}" in text
    (secret,) = translation_json(t)["secrets"]
    assert (secret["name"], secret["tls"], secret["certificate"]["fingerprintSha256"]) == (
        "api", "kubernetes.io/tls", API.fingerprint)
    assert secret["dataKeys"] == ["tls.crt", "tls.key"]


def test_sds_is_reported_as_not_modelled():
    t = run([vs("a", {"sds": {"targetUri": "127.0.0.1:8234", "certificatesSecretName": "c"}}, "a.example.com")],
            "current")
    assert any(u.feature == "SDS (sslConfig.sds)" and "sds is not modelled" in u.detail for u in t.unmodelled)
    assert not any("sds" in f.message for f in t.findings)
    assert report(t, "Gateway", "gateway-proxy-ssl")["state"] == "Accepted"


@pytest.mark.parametrize("profile", PROFILES)
def test_proxy_manifest_carries_ssl_configurations(profile):
    """proxy.proto Listener.sslConfigurations: the VSs' sslConfig blocks (references, never keys)."""
    from gloo_nb.translate.status import proxy_manifest

    t = run([kube_tls_secret("api", GS, API), vs("a", ref("api", sniDomains=["api.example.com"]), "api.example.com"),
             vs("p", None, "p.example.com")], profile)
    listeners = {li["name"]: li for li in proxy_manifest(t)["spec"]["listeners"]}
    assert listeners["listener-::-8443"]["sslConfigurations"] == [
        {"secretRef": {"name": "api", "namespace": GS}, "sniDomains": ["api.example.com"]}]
    assert "sslConfigurations" not in listeners["listener-::-8080"]
    assert "PRIVATE KEY" not in json.dumps(proxy_manifest(t))


def test_fields_gloo_13_lacked_and_isolation_setting_are_reported():
    t = run([kube_tls_secret("api", GS, API), vs("a", ref("api", oneWayTls=True), "a.example.com")], "1.3")
    assert any("sslConfig.oneWayTls: not a field of Gloo 1.3's SslConfig" in f.message for f in t.findings)
    settings = {"apiVersion": "gloo.solo.io/v1", "kind": "Settings", "metadata": {"name": "default", "namespace": GS},
                "spec": {"gateway": {"isolateVirtualHostsBySslConfig": True}}}
    t = run([settings, kube_tls_secret("api", GS, API), vs("a", ref("api"), "a.example.com")], "current")
    assert any(u.path == "spec.gateway.isolateVirtualHostsBySslConfig" for u in t.unmodelled)


def test_settings_default_one_way_tls_current():
    """virtual_service_translator.go applyGlobalVirtualServiceSettings: Settings' default oneWayTls fills VSs."""
    settings = {"apiVersion": "gloo.solo.io/v1", "kind": "Settings", "metadata": {"name": "default", "namespace": GS},
                "spec": {"gateway": {"virtualServiceOptions": {"oneWayTls": True}}}}
    docs = [settings, kube_tls_secret("api", GS, API, ca=ca_pem()),
            vs("a", ref("api", sniDomains=["a.example.com"]), "a.example.com"),
            vs("b", ref("api", sniDomains=["b.example.com"], oneWayTls=False), "b.example.com")]
    lst = listener(run(docs, "current"), 8443)
    assert lst is not None
    a, b = (tls_context(c) for c in lst.filter_chains)
    assert a.require_client_certificate.value is False and not a.common_tls_context.HasField("validation_context")
    assert b.require_client_certificate.value is True
