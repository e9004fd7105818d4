"""Secrets gloo_nb cannot see are not Gloo's missing secrets.

A Secret known by its facts only (a snapshot bundle, a journal) translates exactly as the real one: the same
Envoy listeners and clusters in gloo_nb's JSON (certificates by fingerprint, keys redacted), the same Gloo
errors (``cleanedSslKeyPair``'s verdict recorded with the data). A Secret gloo_nb may not read at all gives a
warning finding per reference, never Gloo's "SSL secret not found", and the TLS chain is still emitted.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from tlskit import ca_pem, gloo_tls_secret, kube_tls_secret, server

from gloo_nb.errors import ParseError
from gloo_nb.journal import redact
from gloo_nb.models import Secret, Snapshot
from gloo_nb.models.codec import parse_objects, parse_secret_facts, secret_facts_json
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.envoy_json import envoy_json
from gloo_nb.translate.render import render

pytestmark = pytest.mark.unit

GS = "gloo-system"
PROFILES = ("1.3", "current")
API = server("api.example.com", "api.example.com")
WWW = server("www.example.com", "www.example.com")
NOT_READABLE = 'secrets is forbidden: User "team-a" cannot list resource "secrets" (403)'


def vs(name: str, ssl: dict[str, Any] | None, *domains: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"virtualHost": {"domains": list(domains), "routes": [
        {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": name}}]}}
    if ssl is not None:
        spec["sslConfig"] = ssl
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": name, "namespace": GS},
            "spec": spec}


def ref(name: str, **more: Any) -> dict[str, Any]:
    return {"secretRef": {"name": name, "namespace": GS}, **more}


def upstream(name: str, ssl: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": name, "namespace": GS},
            "spec": {"static": {"hosts": [{"addr": "api.example.com", "port": 443}]}, "sslConfig": ssl}}


def redacted(snapshot: Snapshot) -> Snapshot:
    """The snapshot as a bundle holds it: every Secret replaced by its facts, read back."""
    return replace(snapshot, secrets=tuple(parse_secret_facts(json.loads(json.dumps(secret_facts_json(s))))
                                           for s in snapshot.secrets))


def snap(docs: list[dict[str, Any]]) -> Snapshot:
    return Snapshot.from_resources(parse_objects(docs).resources)


def gloo_problems(t: Translation) -> list[str]:
    return [m for r in t.reports for m in (*r.errors, *r.warnings)]


SCENARIOS = {
    "sni chains": [kube_tls_secret("api", GS, API), kube_tls_secret("www", GS, WWW),
                   vs("a", ref("api", sniDomains=["api.example.com"]), "api.example.com"),
                   vs("b", ref("www", sniDomains=["www.example.com"]), "www.example.com"),
                   vs("plain", None, "plain.example.com")],
    "mtls gloo shape": [gloo_tls_secret("mtls", GS, API, ca=ca_pem()),
                        vs("m", ref("mtls", verifySubjectAltName=["client.example.com"],
                                    parameters={"minimumProtocolVersion": "TLSv1_2"}), "m.example.com")],
    "kube tls with ca": [kube_tls_secret("ca", GS, WWW, ca=ca_pem()), vs("c", ref("ca"), "c.example.com"),
                         upstream("up", ref("ca", sni="api.example.com"))],
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_secret_known_by_facts_translates_as_the_real_one(profile, scenario):
    live = snap(SCENARIOS[scenario])
    real, facts = translate(live, profile), translate(redacted(live), profile)
    assert gloo_problems(real) == [] and gloo_problems(facts) == []
    assert [f.message for f in facts.findings] == [f.message for f in real.findings]
    # the same listeners and clusters as gloo_nb shows them: filter chains, server names, contexts, certificates
    # by fingerprint; keys are "<redacted>" on both sides
    assert envoy_json(facts.envoy)["listeners"] == envoy_json(real.envoy)["listeners"]
    assert envoy_json(facts.envoy)["clusters"] == envoy_json(real.envoy)["clusters"]
    text = json.dumps(render(facts))
    assert "PRIVATE KEY" not in text and API.cert.splitlines()[1] not in text


def test_recorded_key_pair_verdict_gives_gloos_error_in_current_only():
    """ssl.go cleanedSslKeyPair (CUR), as tests/translate/test_tls.py::test_invalid_key_pair_current_only: the
    verdict is computed where the data is (TlsSecret.facts) and replayed from the facts."""
    mismatched = kube_tls_secret("bad", GS, API)
    mismatched["data"]["tls.key"] = kube_tls_secret("x", GS, WWW)["data"]["tls.key"]
    live = snap([mismatched, vs("a", ref("bad"), "a.example.com")])
    (facts,) = redacted(live).secrets
    assert facts.facts is not None and facts.facts.key_pair_problem == "tls: private key does not match public key"
    t = translate(redacted(live), "current")
    rep = t.report("Gateway", GS, "gateway-proxy-ssl")
    assert rep is not None and rep.errors == [
        'Listener Error: SSLConfigError. Reason: name:"bad" namespace:"gloo-system" is not a valid TLS secret: '
        "tls: private key does not match public key"]
    assert gloo_problems(translate(redacted(live), "1.3")) == []


@pytest.mark.parametrize("profile", PROFILES)
def test_facts_keep_gloos_not_found_and_not_a_tls_secret(profile):
    """A Secret absent from the facts is Gloo's "SSL secret not found"; an Opaque one is "not a TLS secret"."""
    opaque = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "creds", "namespace": GS, "annotations": {"resource_kind": "*v1.Secret"}},
              "stringData": {"aws": "accessKey: x\n"}}
    live = snap([opaque, vs("a", ref("creds"), "a.example.com"), vs("b", ref("gone"), "b.example.com")])
    assert gloo_problems(translate(redacted(live), profile)) == gloo_problems(translate(live, profile))
    problems = " ".join(gloo_problems(translate(redacted(live), profile)))
    assert "is not a TLS secret" in problems and "SSL secret not found: list did not find secret gloo-system.gone" \
        in problems


@pytest.mark.parametrize("profile", PROFILES)
def test_unreadable_secrets_warn_per_reference_and_keep_the_chain(profile):
    docs = [vs("a", ref("api", sniDomains=["api.example.com"]), "api.example.com"),
            upstream("up", ref("client"))]
    live = replace(snap(docs), secrets_unreadable=NOT_READABLE)
    t = translate(live, profile)
    assert gloo_problems(t) == []  # no "SSL secret not found" on the Gateway or the Upstream
    assert sorted((f.resource.ref, f.severity, f.layer, f.message) for f in t.findings) == [
        ("gloo-system/gateway-proxy-ssl", "warning", "parse",
         f"listener-::-8443: cannot read Secrets ({NOT_READABLE}): the TLS checks Gloo makes on secret "
         "gloo-system.api were not made"),
        ("gloo-system/up", "warning", "parse",
         f"cannot read Secrets ({NOT_READABLE}): the TLS checks Gloo makes on secret gloo-system.client were not made"),
    ]
    (ls,) = [li for li in t.envoy.listeners if li.name == "listener-::-8443"]
    (chain,) = ls.filter_chains
    assert list(chain.filter_chain_match.server_names) == ["api.example.com"]
    ctx = tls_pb2.DownstreamTlsContext()
    chain.transport_socket.typed_config.Unpack(ctx)
    cert = ctx.common_tls_context.tls_certificates[0]
    assert cert.certificate_chain.inline_string == "<redacted: secret gloo-system.api not readable by gloo_nb>"
    assert cert.private_key.inline_string == "<redacted>"
    (cluster,) = [c for c in t.envoy.clusters if c.name == "up_gloo-system"]
    assert cluster.transport_socket.name == "envoy.transport_sockets.tls"
    # the placeholder survives gloo_nb's JSON as it is (marked redacted)
    assert "<redacted: secret gloo-system.api not readable by gloo_nb>" in json.dumps(envoy_json(t.envoy))


def test_unreadable_does_not_hide_secrets_that_were_read():
    """The flag only turns "not found" into "unknown"; a Secret that was read is checked as usual."""
    mismatched = kube_tls_secret("bad", GS, API)
    mismatched["data"]["tls.key"] = kube_tls_secret("x", GS, WWW)["data"]["tls.key"]
    live = replace(snap([mismatched, vs("a", ref("bad"), "a.example.com")]), secrets_unreadable=NOT_READABLE)
    assert any("is not a valid TLS secret" in m for m in gloo_problems(translate(live, "current")))


def test_facts_without_tls_payload_are_unknown_not_missing():
    """A redacted TLS-shaped Secret without facts (a journal from before the recorder kept them) is unknown."""
    live = snap([vs("a", ref("old"), "a.example.com")])
    old = parse_secret_facts({"namespace": GS, "name": "old", "type": "kubernetes.io/tls", "tls": "kubernetes.io/tls",
                              "dataKeys": ["tls.crt", "tls.key"]})
    t = translate(replace(live, secrets=(old,)), "current")
    assert gloo_problems(t) == []
    (finding,) = t.findings
    assert finding.severity == "warning" and "Secret gloo-system.old was recorded without its facts" in finding.message


def test_facts_hold_no_key_material_and_read_back():
    (secret,) = parse_objects([kube_tls_secret("api", GS, API, ca=ca_pem())]).resources
    assert isinstance(secret, Secret)
    doc = secret_facts_json(secret)
    assert doc["glooTls"] == {"hasCertChain": True, "hasPrivateKey": True, "hasRootCa": True, "hasOcspStaple": False,
                              "keyPairProblem": None}
    text = json.dumps(doc)
    assert "PRIVATE KEY" not in text and "CERTIFICATE" not in text
    back = parse_secret_facts(doc)
    assert back.redacted and back.tls is None and back.certificate == secret.certificate
    assert secret_facts_json(back) == doc  # the facts of the facts are the facts
    assert redact("Secret", doc) == doc  # the journal's redaction keeps them whole
    assert "PRIVATE" not in repr(back) and "PRIVATE" not in repr(secret)


@pytest.mark.parametrize(("doc", "field"), [
    ({"name": "x", "glooTls": {"hasCertChain": "yes"}}, "[3].glooTls.hasCertChain"),
    ({"name": "x", "tls": "pem"}, "[3].tls"),
    ({"namespace": "a"}, "[3].name"),
    ({"name": "x", "certificate": {"sans": "a"}}, "[3].certificate.sans"),
])
def test_bad_facts_name_the_field(doc, field):
    with pytest.raises(ParseError) as err:
        parse_secret_facts(doc, file="secrets.json", where="[3].")
    assert err.value.field == field and err.value.one_line().startswith("secrets.json: field ")


def test_old_journal_secret_without_facts_reads_as_unknown():
    """A journal written before the recorder kept facts holds the redacted object only."""
    from gloo_nb.analysis.timeline.events import parse_recorded_event
    from gloo_nb.journal import redact as journal_redact

    obj = journal_redact("Secret", kube_tls_secret("api", GS, API))
    parsed = parse_recorded_event({"kind": "Secret", "object": obj})
    (secret,) = parsed.resources
    assert isinstance(secret, Secret) and secret.redacted and secret.facts is None
    assert (secret.shape, secret.data_keys) == ("kubernetes.io/tls", ("tls.crt", "tls.key"))
    t = translate(Snapshot.from_resources([secret, *parse_objects([vs("a", ref("api"), "a.example.com")]).resources]))
    assert gloo_problems(t) == [] and "was recorded without its facts" in t.findings[0].message

