"""Upstream TLS for real: kubectl applies Gloo's client-TLS e2e setup to a sandbox, and real Envoy talks TLS to
an nginx pod (the sandbox's nginx emulation) that serves the certificate the kubelet mounted from a Secret.

Transcribed from solo-io/gloo test/kubernetes/e2e/features/client_tls (suite.go, types.go, testdata/
nginx-upstreams.yaml, vs-targeting-upstream.yaml) and test/kubernetes/e2e/defaults/testdata/nginx_pod.yaml:
``/nginx`` and ``/nginx-oneway`` answer "Welcome to nginx!" (``expectedHealthyResponse``), ``/nginx-oneway-bad-san``
answers 503 with ``CERTIFICATE_VERIFY_FAILED`` in the body (``expectedCertVerifyFailedResponse``). Certificates
are made at test time (tests/tlskit.py); the e2e suite's committed key is not reused. Beyond the e2e suite:
real HTTPS with SNI through a replica's ssl listener to the same upstream (TLS on both legs), the wrong SAN
seen in Envoy's stats and response code details, and a pod whose Secret is missing (``FailedMount``).

Profiles differ: ``oneWayTls`` and a ``kubernetes.io/tls`` Secret's ``ca.crt`` are current Gloo only, so the
1.3 variant uses Gloo's own secret shape (``rootCa``) and no ``oneWayTls``; a missing secret is a Warning with
the Upstream's cluster dropped in current Gloo, an error that keeps the last good snapshot in 1.3.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import wait_until
from sandboxkit import Response, fetch, kubectl_for, sandbox
from tlskit import ca_pem, gloo_tls_secret, kube_tls_secret, server

from gloo_nb.models.access_log import replica_path
from gloo_nb.sandbox.envoy import replica_dir
from gloo_nb.sandbox.pod_objects import PORTS_ANNOTATION
from gloo_nb.xds.admin import EnvoyAdmin

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

NS = "nginx"
GS = "gloo-system"
HOST = "nginx.example.com"
NGINX_SANS = ("localhost", "nginx", "nginx.nginx", "nginx.nginx.svc", "nginx.nginx.svc.cluster.local")
NGINX_CERT = server("nginx", *NGINX_SANS)
CLIENT_CERT = server("gloo-client", "gloo-client")

NGINX_CONF = """user nginx;
worker_processes  1;
events {
  worker_connections  10240;
}
http {
  server {
      listen              80;
      listen              443 ssl;
      server_name         localhost nginx nginx.nginx nginx.nginx.svc nginx.nginx.svc.cluster.local;
      ssl_certificate     /etc/nginx/tls/tls.crt;
      ssl_certificate_key /etc/nginx/tls/tls.key;

      location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }
  }
}
"""


def nginx_setup() -> list[dict[str, Any]]:
    """nginx_pod.yaml: Namespace, Service (8080 -> 80, 8443 -> 443), ConfigMap, TLS Secret, Pod."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx", "namespace": NS},
         "spec": {"selector": {"app.kubernetes.io/name": "nginx"},
                  "ports": [{"protocol": "TCP", "port": 8080, "targetPort": "http-web-svc", "name": "http"},
                            {"protocol": "TCP", "port": 8443, "targetPort": "https-web-svc", "name": "https"}]}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nginx-conf", "namespace": NS},
         "data": {"nginx.conf": NGINX_CONF}},
        kube_tls_secret("nginx-tls", NS, NGINX_CERT, ca=ca_pem()),
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "nginx", "namespace": NS, "labels": {"app.kubernetes.io/name": "nginx"}},
         "spec": {"containers": [{
             "name": "nginx", "image": "nginx:stable",
             "ports": [{"containerPort": 80, "name": "http-web-svc"}, {"containerPort": 443, "name": "https-web-svc"}],
             "volumeMounts": [{"name": "nginx-conf", "mountPath": "/etc/nginx/nginx.conf", "subPath": "nginx.conf",
                               "readOnly": True},
                              {"name": "nginx-tls", "mountPath": "/etc/nginx/tls/", "readOnly": True}]}],
             "volumes": [{"name": "nginx-conf", "configMap": {"name": "nginx-conf"}},
                         {"name": "nginx-tls", "secret": {"secretName": "nginx-tls"}}]}},
    ]


def upstream(name: str, ssl_config: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": name, "namespace": NS},
            "spec": {"sslConfig": ssl_config,
                     "kube": {"serviceName": "nginx", "serviceNamespace": NS, "servicePort": 8443}}}


def virtual_service(paths: list[str]) -> dict[str, Any]:
    """vs-targeting-upstream.yaml: one exact route per upstream, rewritten to ``/``."""
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
            "metadata": {"name": "vs-targeting-upstream", "namespace": GS},
            "spec": {"virtualHost": {"domains": [HOST], "routes": [
                {"matchers": [{"exact": f"/{p}"}],
                 "routeAction": {"single": {"upstream": {"name": p, "namespace": NS}}},
                 "options": {"prefixRewrite": "/"}} for p in paths]}}}


def upstreams_for(profile: str) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """The upstreams, the paths that must answer nginx's page and those that must fail verification."""
    ref = {"name": "nginx-tls", "namespace": NS}
    if profile == "current":
        docs = [  # nginx-upstreams.yaml, plus one that pins SNI and the SAN the certificate has
            upstream("nginx", {"secretRef": ref}),
            upstream("nginx-oneway", {"oneWayTls": True, "secretRef": ref}),
            upstream("nginx-oneway-bad-san", {"oneWayTls": True, "verifySubjectAltName": ["invalid.san.com"],
                                              "secretRef": ref}),
            upstream("nginx-sni-san", {"secretRef": ref, "sni": "nginx.nginx.svc",
                                       "verifySubjectAltName": ["nginx.nginx.svc"]}),
        ]
        return docs, ["nginx", "nginx-oneway", "nginx-sni-san"], ["nginx-oneway-bad-san"]
    # 1.3: no oneWayTls, and Gloo 1.3 read only tls.crt/tls.key of a kubernetes.io/tls Secret, so the CA
    # comes in Gloo's own secret shape (rootCa), with a client certificate nginx does not ask for.
    client = {"name": "gloo-client", "namespace": NS}
    docs = [gloo_tls_secret("gloo-client", NS, CLIENT_CERT, ca=ca_pem()),
            upstream("nginx", {"secretRef": client, "sni": "nginx.nginx.svc",
                               "verifySubjectAltName": ["nginx.nginx.svc"]}),
            upstream("nginx-bad-san", {"secretRef": client, "verifySubjectAltName": ["invalid.san.com"]})]
    return docs, ["nginx"], ["nginx-bad-san"]


SSL_GATEWAY = {  # install/helm/gloo/templates/_8-default-gateways.tpl, defaultGateway.sslGateway
    "apiVersion": "gateway.solo.io/v1", "kind": "Gateway",
    "metadata": {"name": "gateway-proxy-ssl", "namespace": GS, "labels": {"app": "gloo"}},
    "spec": {"bindAddress": "::", "bindPort": 8443, "httpGateway": {}, "useProxyProto": False, "ssl": True,
             "proxyNames": ["gateway-proxy"]}}
FRONT_CERT = server(HOST, HOST)


def https_front_door(port: int, path: str) -> tuple[int, str, str] | None:
    """GET over real HTTPS with SNI ``nginx.example.com`` to a replica's 8443 listener (None until it serves)."""
    ctx = ssl.create_default_context(cadata=ca_pem())
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=3)
        tls = ctx.wrap_socket(sock, server_hostname=HOST)
    except OSError:
        return None
    der = tls.getpeercert(binary_form=True) or b""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
    conn.sock = tls
    conn.request("GET", path, headers={"Host": HOST})
    resp = conn.getresponse()
    out = (resp.status, resp.read().decode(), hashlib.sha256(der).hexdigest())
    conn.close()
    return out


def get(info: Any, path: str) -> Response:
    return fetch(info.gateway + path, headers={"Host": HOST})


def cluster_stat(admin: EnvoyAdmin, upstream_name: str, stat: str) -> int:
    name = f"cluster.{upstream_name}_{NS}.{stat}"
    return int(admin.stats(filter=f"^{name.replace('.', '[.]')}$").get(name, 0))


@pytest.mark.parametrize("profile", ["current", "1.3"])
def test_upstream_tls_to_an_nginx_pod_with_a_mounted_certificate(profile: str, tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", profile, replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        setup = tmp_path / "nginx.yaml"
        setup.write_text(yaml.safe_dump_all(nginx_setup()))
        kube.apply(setup)
        kube.run("wait", "--for=condition=Ready", "pod/nginx", "-n", NS, "--timeout=30s")
        # An access log on the front door's listener (Gateway options, als plugin) shows the response code
        # details, where Envoy puts the transport failure reason.
        access_log = tmp_path / "access.log"
        # The replica writes the sink's path under its own directory, as each pod has its own file system
        # (gloo_nb.sandbox.envoy: STATE/replicas/<node id>/fs/<path>).
        written = Path(replica_path(replica_dir(tmp_path / "sb", "gateway-proxy-0.gloo-system"), str(access_log)))
        log_format = "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS%\n"
        kube.run("patch", "gateways.gateway.solo.io", "gateway-proxy", "-n", GS, "--type", "merge", "-p", json.dumps(
            {"spec": {"options": {"accessLoggingService": {"accessLog": [{"fileSink": {
                "path": str(access_log), "stringFormat": log_format}}]}}}}))
        docs, good, bad = upstreams_for(profile)
        manifest = tmp_path / "upstreams.yaml"
        manifest.write_text(yaml.safe_dump_all([*docs, virtual_service(good + bad)]))
        kube.apply(manifest)

        for path in good:
            resp = wait_until(lambda p=path: get(info, f"/{p}"), f"/{path} answers nginx over TLS",
                              until=lambda r: r.status == 200, timeout=60)
            assert "Welcome to nginx!" in resp.body, path  # types.go expectedHealthyResponse
        admin = EnvoyAdmin(info.envoy_admin[0])
        assert cluster_stat(admin, good[0], "ssl.handshake") >= 1  # TLS, not plain HTTP to 443
        for path in bad:
            resp = get(info, f"/{path}")
            # types.go expectedCertVerifyFailedResponse wants 503 with CERTIFICATE_VERIFY_FAILED in the body; the
            # Envoy here (1.40) keeps the transport failure reason out of the local reply body (it is in the
            # response code details, see the access log below) and counts the SAN mismatch in its stats.
            assert resp.status == 503, (path, resp)
            assert resp.body.startswith("upstream connect error or disconnect/reset before headers."), resp
            assert cluster_stat(admin, path, "ssl.fail_verify_san") >= 1
            assert cluster_stat(admin, path, "ssl.handshake") == 0
            line = wait_until(lambda p=path: next((ln for ln in written.read_text().splitlines()
                                                   if ln.startswith(f"/{p} 503 ")), None) if written.exists()
                              else None, f"the access log line of /{path}", timeout=40)  # Envoy flushes every 10 s
            assert line.startswith(f"/{path} 503 upstream_reset_before_response_started{{remote_connection_failure|"
                                   "TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:"
                                   "verify_cert_failed:_SAN_matcher,_certificate_SANs_are_["), line

        # HTTPS with SNI through a replica's ssl listener, then upstream TLS to nginx: TLS on both legs.
        front = tmp_path / "front.yaml"
        front.write_text(yaml.safe_dump_all([
            kube_tls_secret("nginx-example-tls", GS, FRONT_CERT), SSL_GATEWAY,
            {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
             "metadata": {"name": "nginx-https", "namespace": GS},
             "spec": {"sslConfig": {"secretRef": {"name": "nginx-example-tls", "namespace": GS},
                                    "sniDomains": [HOST]},
                      "virtualHost": {"domains": [HOST], "routes": [
                          {"matchers": [{"prefix": "/"}],
                           "routeAction": {"single": {"upstream": {"name": good[0], "namespace": NS}}}}]}}}]))
        kube.apply(front)
        replica = kube.json("pod", "-n", GS, "gateway-proxy-0")
        port = json.loads(replica["metadata"]["annotations"][PORTS_ANNOTATION])["8443"]
        result = wait_until(lambda: https_front_door(port, "/"), "HTTPS through the front door to nginx over TLS",
                            until=lambda r: r is not None and r[0] == 200, timeout=60)
        assert result is not None and "Welcome to nginx!" in result[1] and result[2] == FRONT_CERT.fingerprint

        # A pod whose Secret does not exist: kubectl shows the kubelet's FailedMount and a waiting container.
        pending = tmp_path / "pending.yaml"
        pod_doc = nginx_setup()[-1]
        pod_doc = {**pod_doc, "metadata": {"name": "nginx-pending", "namespace": NS},
                   "spec": {**pod_doc["spec"], "volumes": [pod_doc["spec"]["volumes"][0],
                                                         {"name": "nginx-tls", "secret": {"secretName": "absent"}}]}}
        pending.write_text(yaml.safe_dump(pod_doc))
        kube.apply(pending)
        events = wait_until(lambda: kube.json("events", "-n", NS, "--field-selector",
                                              "involvedObject.name=nginx-pending,reason=FailedMount")["items"],
                            "FailedMount through kubectl")
        assert events[0]["message"] == 'MountVolume.SetUp failed for volume "nginx-tls" : secret "absent" not found'
        state = kube.json("pod", "nginx-pending", "-n", NS)["status"]
        assert state["phase"] == "Pending"
        assert state["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}

        # A missing secret: Gloo's error on the Upstream, and the route's fate per profile.
        missing = tmp_path / "missing.yaml"
        missing.write_text(yaml.safe_dump_all([
            upstream("nginx-nosecret", {"secretRef": {"name": "no-such-secret", "namespace": NS}}),
            virtual_service([*good, *bad, "nginx-nosecret"])]))
        kube.apply(missing)
        text = f"SSL secret not found: list did not find secret {NS}.no-such-secret"
        status = wait_until(lambda: (kube.json("upstream", "nginx-nosecret", "-n", NS).get("status") or {}),
                            "the missing-secret Upstream has a status", until=lambda s: bool(s))
        mine = status["statuses"][GS] if "statuses" in status else status
        if profile == "current":
            # clusters.go + UpstreamRemovingSanitizer: Warning, its cluster dropped, everything else pushed
            assert mine["state"] == "Warning" and text in mine["reason"], mine
            resp = wait_until(lambda: get(info, "/nginx-nosecret"), "the new route is served",
                              until=lambda r: r.status != 404, timeout=30)
            # Envoy's answer for a route whose cluster does not exist: 503, empty body (response flag NC)
            assert resp.status == 503 and resp.body == "", resp
            assert not [c for c in admin.clusters() if c.name == f"nginx-nosecret_{NS}"]
        else:
            # plugins/upstreamssl (1.3): the Upstream is Rejected and the proxy keeps its last good snapshot
            # (1.3's solo-kit writes the state as its enum number: 2 is Rejected)
            assert mine["state"] == 2 and text in mine["reason"] and mine["reported_by"] == "gloo", mine
            assert get(info, "/nginx-nosecret").status == 404
            # The e2e suite's kubernetes.io/tls Secret in 1.3: its ca.crt is not read, so a SAN check has no CA
            # (projects/gloo/pkg/utils/ssl.go@v1.3.20 ResolveCommonSslConfig; current reads ca.crt: nginx-sni-san).
            kube_ca = tmp_path / "kube-ca.yaml"
            kube_ca.write_text(yaml.safe_dump(upstream("nginx-kube-ca", {
                "secretRef": {"name": "nginx-tls", "namespace": NS}, "verifySubjectAltName": ["nginx.nginx.svc"]})))
            kube.apply(kube_ca)
            status = wait_until(lambda: (kube.json("upstream", "nginx-kube-ca", "-n", NS).get("status") or {}),
                                "the kube-secret Upstream has a status", until=lambda s: bool(s))
            assert status["state"] == 2, status
            assert "a root_ca must be provided if verify_subject_alt_name is not empty" in status["reason"], status
        assert "Welcome to nginx!" in get(info, f"/{good[0]}").body
        # The kubelet never mounted a secret that does not exist; the pod's own Secret stays served.
        assert kube.json("pod", "nginx", "-n", NS)["status"]["phase"] == "Running"


def annotated_service(name: str, annotations: dict[str, str]) -> dict[str, Any]:
    """nginx-annotated-services.yaml: the nginx Service again, with Gloo's sslService annotations."""
    svc = nginx_setup()[1]
    return {**svc, "metadata": {"name": name, "namespace": NS, "annotations": annotations}}


@pytest.mark.parametrize("profile", ["current", "1.3"])
def test_sslservice_annotations_reach_nginx_over_tls(profile: str, tmp_path: Path) -> None:
    """suite.go TestRouteSecureRequestToAnnotatedService: ``kube`` destinations to Services annotated
    ``gloo.solo.io/sslService.secret`` (and ``.oneWayTls``) answer "Welcome to nginx!", on both profiles:
    Gloo 1.3.20's in-memory ``kube-svc`` upstreams run the service converters too
    (upstreams/kubernetes/conversions.go serviceToUpstream -> DefaultUpstreamConverter().CreateUpstream; this
    test first showed gloo_nb skipping them in 1.3). 1.3 reads no ``oneWayTls`` annotation and no ``ca.crt``:
    Envoy offers its client certificate and verifies nothing, which nginx accepts."""
    with sandbox(tmp_path / "sb", profile, replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        setup = tmp_path / "nginx.yaml"
        setup.write_text(yaml.safe_dump_all(nginx_setup()))
        kube.apply(setup)
        kube.run("wait", "--for=condition=Ready", "pod/nginx", "-n", NS, "--timeout=30s")
        routes = [{"matchers": [{"exact": f"/{path}"}],
                   "routeAction": {"single": {"kube": {"port": 8443, "ref": {"name": svc, "namespace": NS}}}},
                   "options": {"prefixRewrite": "/"}}
                  for path, svc in (("nginx", "nginx-annotated"), ("nginx-oneway", "nginx-annotated-oneway"))]
        manifest = tmp_path / "annotated.yaml"
        manifest.write_text(yaml.safe_dump_all([
            annotated_service("nginx-annotated", {"gloo.solo.io/sslService.secret": "nginx-tls"}),
            annotated_service("nginx-annotated-oneway", {"gloo.solo.io/sslService.secret": "nginx-tls",
                                                         "gloo.solo.io/sslService.oneWayTls": "true"}),
            {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
             "metadata": {"name": "vs-targeting-kube", "namespace": GS},
             "spec": {"virtualHost": {"domains": [HOST], "routes": routes}}}]))
        kube.apply(manifest)
        admin = EnvoyAdmin(info.envoy_admin[0])
        for path in ("nginx", "nginx-oneway"):
            resp = wait_until(lambda p=path: get(info, f"/{p}"), f"/{path} answers nginx over TLS",
                              until=lambda r: r.status == 200, timeout=60)
            assert "Welcome to nginx!" in resp.body
        handshakes = {k: v for k, v in admin.stats(filter="kube-svc.*ssl[.]handshake$").items()}
        assert handshakes and all(isinstance(v, int) for v in handshakes.values())
        assert sum(int(v) for v in handshakes.values()) >= 2, handshakes  # TLS to nginx, not plain HTTP
        # the oneWayTls annotation: no client certificate in current; 1.3 had no such annotation
        dump = admin.config_dump_json(resource="dynamic_active_clusters")
        oneway = next(c["cluster"] for c in dump["configs"]
                      if c["cluster"]["name"] == f"kube-svc:{NS}-nginx-annotated-oneway-8443_{NS}")
        common = oneway["transport_socket"]["typed_config"]["common_tls_context"]
        assert bool(common.get("tls_certificates")) == (profile == "1.3"), common.keys()
