"""Real Envoy (``--mode validate``) accepts every TLS shape the translator emits.

Uses the harness of ``test_envoy_accepts.py``: listeners and clusters go into a static bootstrap as
they are; Gloo inlines the secrets' certificates, so the bootstrap is self-contained. The
certificates and keys are made at test time (``tests/tlskit.py``).
"""

from __future__ import annotations

from typing import Any

import pytest
from test_envoy_accepts import assert_envoy_accepts, assert_envoy_rejects
from tlskit import ca_pem, gloo_tls_secret, kube_tls_secret, server

from gloo_nb.models.codec import parse_objects
from gloo_nb.translate import translate

pytestmark = pytest.mark.envoy

GS = "gloo-system"
PROFILES = ("1.3", "current")


def _vs(name: str, ssl: dict[str, Any] | None, domain: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"virtualHost": {"domains": [domain], "routes": [
        {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": name}}]}}
    if ssl is not None:
        spec["sslConfig"] = ssl
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": name, "namespace": GS},
            "spec": spec}


def _downstream_docs() -> list[dict[str, Any]]:
    api = server("api.example.com", "api.example.com")
    www = server("www.example.com", "www.example.com", "*.www.example.com")
    own = server("own.example.com")
    return [
        # Gloo's own secret shape carries the CA in both profiles (1.3's kube converter ignored ca.crt)
        gloo_tls_secret("api", GS, api, ca=ca_pem()), kube_tls_secret("www", GS, www), kube_tls_secret("own", GS, own),
        # mTLS with SAN verification, protocol bounds, ciphers, curves, ALPN
        _vs("api", {"secretRef": {"name": "api", "namespace": GS}, "sniDomains": ["api.example.com"],
                    "verifySubjectAltName": ["client.example.com"],
                    "parameters": {"minimumProtocolVersion": "TLSv1_2", "maximumProtocolVersion": "TLSv1_3",
                                   "cipherSuites": ["ECDHE-ECDSA-AES128-GCM-SHA256"], "ecdhCurves": ["P-256"]},
                    "alpnProtocols": ["h2"]}, "api.example.com"),
        # two VSs sharing one secret: one chain, SNI domains merged
        _vs("www", {"secretRef": {"name": "www", "namespace": GS}, "sniDomains": ["www.example.com"]},
            "www.example.com"),
        _vs("www2", {"secretRef": {"name": "www", "namespace": GS}, "sniDomains": ["a.www.example.com"],
                     "oneWayTls": True, "ocspStaplePolicy": "LENIENT_STAPLING",
                     "disableTlsSessionResumption": True, "transportSocketConnectTimeout": "3s"},
            "a.www.example.com"),
        # no SNI: the catch-all chain
        _vs("own", {"secretRef": {"name": "own", "namespace": GS}}, "own.example.com"),
        _vs("plain", None, "plain.example.com"),
    ]


@pytest.mark.parametrize("profile", PROFILES)
def test_tls_listener_with_sni_filter_chains_is_accepted(profile, tmp_path):
    t = translate(parse_objects(_downstream_docs()).resources, profile)  # type: ignore[arg-type]
    ssl = next(li for li in t.envoy.listeners if li.name == "listener-::-8443")
    assert len(ssl.filter_chains) >= 3
    assert not [r for r in t.reports if r.errors]
    assert_envoy_accepts(t.envoy, tmp_path)


def test_negative_control_duplicate_sni_is_rejected_by_envoy(tmp_path):
    """Gloo 1.3 had no CheckForFilterChainConsistency: Envoy itself refuses two chains with one SNI."""
    a, b = server("a.example.com"), server("b.example.com")
    docs = [kube_tls_secret("a", GS, a), kube_tls_secret("b", GS, b),
            _vs("a", {"secretRef": {"name": "a", "namespace": GS}, "sniDomains": ["x.example.com"]}, "a.example.com"),
            _vs("b", {"secretRef": {"name": "b", "namespace": GS}, "sniDomains": ["x.example.com"]}, "b.example.com")]
    t = translate(parse_objects(docs).resources, "1.3")
    assert_envoy_rejects(t.envoy, tmp_path, "has the same matching rules defined as")


def _upstream(name: str, spec: dict[str, Any], ns: str = GS) -> dict[str, Any]:
    return {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


@pytest.mark.parametrize("profile", PROFILES)
def test_tls_clusters_are_accepted(profile, tmp_path):
    client = server("client.example.com")
    docs = [
        kube_tls_secret("client", GS, client, ca=ca_pem()), kube_tls_secret("client", "default", client),
        gloo_tls_secret("client-ca", GS, client, ca=ca_pem()),
        # automatic TLS on 443 with a DNS host (SNI), and per-host SNI (current)
        _upstream("ext", {"static": {"hosts": [{"addr": "example.com", "port": 443},
                                               {"addr": "10.0.0.9", "port": 443, "sniAddr": "other.example.com"}]}}),
        _upstream("forced", {"static": {"hosts": [{"addr": "10.0.0.1", "port": 8443}], "useTls": True}}),
        # mTLS from a secret with SAN verification, protocol bounds and ALPN
        _upstream("mtls", {"static": {"hosts": [{"addr": "10.0.0.2", "port": 8443}]},
                           "sslConfig": {"secretRef": {"name": "client-ca", "namespace": GS},
                                         "sni": "backend.example.com", "verifySubjectAltName": ["backend.example.com"],
                                         "alpnProtocols": ["h2", "http/1.1"],
                                         "parameters": {"minimumProtocolVersion": "TLSv1_2"}}}),
        # a kube (EDS) upstream with TLS
        _upstream("kube-tls", {"kube": {"serviceName": "svc", "serviceNamespace": "default", "servicePort": 443},
                               "sslConfig": {"secretRef": {"name": "client-ca", "namespace": GS}}}),
        # Service annotations (both profiles: the in-memory kube-svc upstream gets TLS)
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "default", "annotations": {
            "gloo.solo.io/sslService.secret": "client"}}, "spec": {"ports": [{"port": 443}]}},
        _vs("routes", None, "*"),
    ]
    docs[-1]["spec"]["virtualHost"]["routes"] = [
        {"matchers": [{"prefix": f"/{u}"}], "routeAction": {"single": {"upstream": {"name": u, "namespace": GS}}}}
        for u in ("ext", "forced", "mtls", "kube-tls")]
    t = translate(parse_objects(docs).resources, profile)  # type: ignore[arg-type]
    with_tls = {c.name for c in t.envoy.clusters if c.HasField("transport_socket")}
    expected = {"ext_gloo-system", "forced_gloo-system", "mtls_gloo-system", "kube-tls_gloo-system",
                "kube-svc:default-svc-443_default"}
    assert with_tls == expected, [r.as_json() for r in t.reports if r.errors]
    assert_envoy_accepts(t.envoy, tmp_path)
