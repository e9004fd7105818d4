"""Issue 20: Gloo's validation webhook answers on its real port, and the API server calls it as configured.

Real kubectl 1.32 against a real sandbox. ``kubectl port-forward`` reaches the webhook through the ``gloo`` pod's
8443 (``current``) or the ``gateway`` Service's 443 (``1.3``); a client that trusts only the webhook configuration's
``caBundle`` and asks for ``<service>.gloo-system.svc`` POSTs an AdmissionReview built as kube-apiserver builds it
(``k8s.io/apiserver/pkg/admission/plugin/webhook/request/admissionreview.go:CreateV1beta1AdmissionReview``) and gets
Gloo's answer (``validating_admission_webhook.go`` ``ServeHTTP``/``makeAdmissionResponse``), the same decision the
apiserver's in-process call makes: kubectl's denial is ``admission webhook "<name>" denied the request: `` plus the
answer's message. Deleting the ValidatingWebhookConfiguration stops the validation (``ShouldCallHook``), and an
unreachable webhook is judged by its ``failurePolicy`` (``validating/dispatcher.go``).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import wait_until
from sandboxkit import PART2, Kube, kubectl_for, kubectl_forward, sandbox
from webhookkit import METHOD_MATCHER, TYPO, seed_base

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

NS = "gloo-system"
VWC = "gloo-gateway-validation-webhook-gloo-system"
UNREACHABLE = ('Internal error occurred: failed calling webhook "gloo.gloo-system.svc": failed to call webhook: Post '
               '"https://gloo.gloo-system.svc:443/validation?timeout=10s": no endpoints available for service "gloo"')


def _post(port: int, server_name: str, ca: str, body: bytes, *, content_type: str = "application/json",
          path: str = "/validation?timeout=10s") -> tuple[int, dict[str, str], bytes]:
    """One HTTPS request as kube-apiserver's client makes it: TLS verified against the caBundle for the Service."""
    context = ssl.create_default_context(cadata=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname=server_name) as conn:
        conn.sendall((f"POST {path} HTTP/1.1\r\nHost: {server_name}:443\r\nContent-Type: {content_type}\r\n"
                      f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, payload


def _ca(kube: Kube) -> str:
    config = kube.json("validatingwebhookconfiguration", VWC)
    return base64.b64decode(config["webhooks"][0]["clientConfig"]["caBundle"]).decode()


def _review(operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None, *,
            resource: str) -> dict[str, Any]:
    """An ``admission.k8s.io/v1beta1`` AdmissionReview as CreateV1beta1AdmissionReview fills it."""
    meta = (obj or old or {})["metadata"]
    group, version = (obj or old or {})["apiVersion"].split("/")
    gvk = {"group": group, "version": version, "kind": (obj or old or {})["kind"]}
    gvr = {"group": group, "version": version, "resource": resource}
    options = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}[operation]
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1", "request": {
        "uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": meta["name"], "namespace": meta["namespace"], "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": obj, "oldObject": old, "dryRun": False,
        "options": {"kind": options, "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-client-side-apply"}}}



def _typo_update(kube: Kube) -> dict[str, Any]:
    live = kube.json("routetable", "echo-routes", "-n", "echo")
    new = json.loads(json.dumps(live))
    new["spec"] = yaml.safe_load((PART2 / "rt-echo-3.yaml").read_text())["spec"]
    return _review("UPDATE", new, live, resource="routetables")


def _denial(kube: Kube, *args: str, input: str | None = None) -> str:
    proc = kube.run(*args, check=False, input=input)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_current_webhook_answers_on_gloo_8443_as_the_in_process_call(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "current", replicas=1, validation="strict") as info:
        kube = kubectl_for(info, tmp_path)
        seed_base(kube)
        ca = _ca(kube)
        review = _typo_update(kube)
        pod = kube.json("pods", "-n", NS, "-l", "gloo=gloo")["items"][0]
        assert "8443" in json.loads(pod["metadata"]["annotations"]["sandbox.gloo-nb.io/ports"])
        gloo = kube.json("deploy", "gloo", "-n", NS)["spec"]["template"]["spec"]
        # 1-gloo-deployment.yaml@main: labels-volume (downwardAPI) and validation-certs (the certgen Secret).
        assert [v["name"] for v in gloo["volumes"]] == ["labels-volume", "validation-certs"]
        assert gloo["volumes"][1]["secret"] == {"defaultMode": 420, "secretName": "gateway-validation-certs"}
        assert [m["mountPath"] for m in gloo["containers"][0]["volumeMounts"]] == [
            "/etc/gateway/validation-certs", "/etc/gloo"]

        with kubectl_forward(kube, "-n", NS, "deploy/gloo", ":8443") as (port, _):
            status, headers, body = _post(port, "gloo.gloo-system.svc", ca, json.dumps(review).encode())
            assert status == 200 and headers["Content-Type"] == "text/plain; charset=utf-8"
            answer = json.loads(body)
            # Only "response": Gloo's AdmissionReview leaves kind and apiVersion empty (omitempty).
            assert list(answer) == ["response"]
            response = answer["response"]
            assert response["uid"] == review["request"]["uid"] and response["allowed"] is False
            status_body = response["status"]
            assert status_body["metadata"] == {}
            assert status_body["message"].startswith("resource incompatible with current Gloo snapshot: [")
            assert status_body["message"].count(TYPO) == 2
            assert status_body["details"] == {"name": "echo-routes", "group": "gateway.solo.io", "kind": "RouteTable",
                                              "causes": [{"message": "Error " + status_body["message"].split(
                                                  "[", 1)[1].rsplit("]", 1)[0]}]}
            # The very decision the apiserver's call makes: kubectl prints it behind ToStatusErr's prefix.
            refused = _denial(kube, "apply", "-f", str(PART2 / "rt-echo-3.yaml"))
            assert 'admission webhook "gloo.gloo-system.svc" denied the request: ' + status_body["message"] in \
                refused.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"')

            # An admission.k8s.io/v1 review is read too (the type is not checked), and a dry run gets the same
            # answer; the response still has no kind or apiVersion (hence the charts' admissionReviewVersions).
            for api_version, dry_run in (("admission.k8s.io/v1", False), ("admission.k8s.io/v1beta1", True)):
                other = {**review, "apiVersion": api_version, "request": {**review["request"], "dryRun": dry_run}}
                _, _, body = _post(port, "gloo.gloo-system.svc", ca, json.dumps(other).encode())
                assert json.loads(body) == answer

            # A body that cannot be decoded: 200, not allowed, the decoder's error, no uid.
            status, _, body = _post(port, "gloo.gloo-system.svc", ca, b'{"request": ')
            assert status == 200 and json.loads(body) == {"response": {
                "uid": "", "allowed": False, "status": {
                    "metadata": {}, "message": "couldn't get version/kind; json parse error: unexpected end of "
                                               "JSON input"}}}
            # net/http.Error for another content type (protobuf too) or an empty body; the mux's 404 elsewhere.
            for content_type, payload in (("application/vnd.kubernetes.protobuf", b"k8s\x00"), ("text/plain", b"x"),
                                          ("application/json", b"")):
                status, headers, body = _post(port, "gloo.gloo-system.svc", ca, payload, content_type=content_type)
                assert (status, body, headers["X-Content-Type-Options"]) == (400, b"empty body\n", "nosniff")
            status, _, body = _post(port, "gloo.gloo-system.svc", ca, b"{}", path="/validate")
            assert (status, body) == (404, b"404 page not found\n")
            # main also reads application/x-yaml.
            status, _, body = _post(port, "gloo.gloo-system.svc", ca, yaml.safe_dump(review).encode(),
                                    content_type="application/x-yaml")
            assert json.loads(body)["response"]["allowed"] is False

            # alwaysAccept: Gloo admits (and only logs), on the port as through the API.
            kube.run("patch", "settings", "default", "-n", NS, "--type", "merge",
                     "-p", '{"spec": {"gateway": {"validation": {"alwaysAccept": true}}}}')
            status, _, body = _post(port, "gloo.gloo-system.svc", ca, json.dumps(review).encode())
            assert json.loads(body) == {"response": {"uid": review["request"]["uid"], "allowed": True}}
            kube.run("apply", "--dry-run=server", "-f", str(PART2 / "rt-echo-3.yaml"))
            kube.run("patch", "settings", "default", "-n", NS, "--type", "merge",
                     "-p", '{"spec": {"gateway": {"validation": {"alwaysAccept": false}}}}')

        # The configuration decides whether the apiserver calls Gloo: without it the typo is written; once it is
        # back (and the RouteTable fixed) the typo is refused again.
        saved = kube.json("validatingwebhookconfiguration", VWC)
        for field in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            saved["metadata"].pop(field, None)
        kube.run("delete", "validatingwebhookconfiguration", VWC)
        kube.apply(PART2 / "rt-echo-3.yaml")
        assert "echo-typo" in json.dumps(kube.json("routetable", "echo-routes", "-n", "echo")["spec"])
        kube.apply(PART2 / "rt-echo-2.yaml")
        kube.run("create", "-f", "-", input=json.dumps(saved))
        assert TYPO in _denial(kube, "apply", "-f", str(PART2 / "rt-echo-3.yaml"))
        # A rule removed (routetables'): RouteTables are no longer sent to Gloo.
        assert saved["webhooks"][0]["rules"][1]["resources"] == ["routetables"]
        kube.run("patch", "validatingwebhookconfiguration", VWC, "--type", "json",
                 "-p", '[{"op": "remove", "path": "/webhooks/0/rules/1"}]')
        kube.run("apply", "--dry-run=server", "-f", str(PART2 / "rt-echo-3.yaml"))
        # VirtualServices still are.
        assert "routes with delegate actions must use a prefix matcher" in _denial(
            kube, "create", "--dry-run=server", "-f", "-", input=METHOD_MATCHER)

        # Gloo unreachable (its Service selects no ready pod): failurePolicy Fail refuses with the apiserver's
        # message, Ignore admits.
        kube.run("patch", "validatingwebhookconfiguration", VWC, "--type", "json",
                 "-p", '[{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Fail"}]')
        kube.run("patch", "svc", "gloo", "-n", NS, "-p", '{"spec": {"selector": {"gloo": "none"}}}')
        wait_until(lambda: kube.json("endpoints", "gloo", "-n", NS).get("subsets"), "gloo's endpoints gone",
                   until=lambda subsets: not subsets)
        refused = _denial(kube, "create", "-f", "-", input=METHOD_MATCHER)
        assert "Error from server (InternalError): " in refused and UNREACHABLE in refused
        kube.run("patch", "validatingwebhookconfiguration", VWC, "--type", "json",
                 "-p", '[{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Ignore"}]')
        kube.run("create", "--dry-run=server", "-f", "-", input=METHOD_MATCHER)
        assert "Failed calling webhook, failing open gloo.gloo-system.svc" in \
            (Path(info.state_dir) / "sandbox.log").read_text()
        # Reachable again: validated again.
        kube.run("patch", "svc", "gloo", "-n", NS, "-p", '{"spec": {"selector": {"gloo": "gloo"}}}')
        wait_until(lambda: kube.json("endpoints", "gloo", "-n", NS).get("subsets"), "gloo's endpoints back")
        assert "routes with delegate actions must use a prefix matcher" in _denial(
            kube, "create", "-f", "-", input=METHOD_MATCHER)


def test_13_webhook_answers_on_the_gateway_service(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3", replicas=1, validation="strict") as info:
        kube = kubectl_for(info, tmp_path)
        # 5-gateway-deployment.yaml, 5-gateway-service.yaml, 5-gateway-service-account.yaml@v1.3.20.
        kube.run("rollout", "status", "-n", NS, "deploy/gateway", "--timeout=30s")
        shown = kube.run("get", "deploy,rs,pods,svc,sa", "-n", NS).stdout
        assert re.search(r"^deployment\.apps/gateway\s+1/1\s+1\s+1\s", shown, re.M), shown
        assert re.search(r"^replicaset\.apps/gateway-[a-z0-9]{8,10}\s+1\s+1\s+1\s", shown, re.M), shown
        assert re.search(r"^pod/gateway-[a-z0-9]{8,10}-[a-z0-9]{5}\s+1/1\s+Running\s", shown, re.M), shown
        assert re.search(r"^service/gateway\s+ClusterIP\s.*\s443/TCP\s", shown, re.M), shown
        assert re.search(r"^serviceaccount/gateway\s", shown, re.M), shown
        assert "discovery" not in shown  # discovery.enabled=false: the sandbox discovers no upstreams
        deploy = kube.json("deploy", "gateway", "-n", NS)
        assert deploy["metadata"]["labels"] == {"app": "gloo", "gloo": "gateway"}
        spec = deploy["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert (spec["serviceAccountName"], container["name"], container["image"]) == (
            "gateway", "gateway", "quay.io/solo-io/gateway:1.3.20")
        assert container["ports"] == [{"containerPort": 8443, "name": "https", "protocol": "TCP"}]
        assert container["readinessProbe"]["tcpSocket"] == {"port": 8443}
        assert spec["volumes"] == [{"name": "validation-certs",
                                    "secret": {"defaultMode": 420, "secretName": "gateway-validation-certs"}}]
        svc = kube.json("svc", "gateway", "-n", NS)
        assert svc["metadata"]["labels"] == {"discovery.solo.io/function_discovery": "disabled", "app": "gloo",
                                             "gloo": "gateway"}
        assert [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [("https", 443, 8443)]
        gloo = kube.json("deploy", "gloo", "-n", NS)["spec"]["template"]["spec"]
        assert [v["name"] for v in gloo["volumes"]] == ["labels-volume"]  # v1.3.20's gloo mounts no certs

        created = yaml.safe_load(METHOD_MATCHER)
        with kubectl_forward(kube, "-n", NS, "svc/gateway", ":443") as (port, _):
            ca = _ca(kube)
            review = _review("CREATE", created, None, resource="virtualservices")
            status, _, body = _post(port, "gateway.gloo-system.svc", ca, json.dumps(review).encode())
            response = json.loads(body)["response"]
            assert status == 200 and response["allowed"] is False and response["uid"] == review["request"]["uid"]
            assert response["status"]["details"]["kind"] == "VirtualService"
            refused = _denial(kube, "create", "-f", "-", input=METHOD_MATCHER)
            assert 'admission webhook "gateway.gloo-system.svc" denied the request: ' + \
                response["status"]["message"] in refused
            # 1.3 reads only application/json.
            status, _, body = _post(port, "gateway.gloo-system.svc", ca, yaml.safe_dump(review).encode(),
                                    content_type="application/x-yaml")
            assert (status, body) == (400, b"empty body\n")
            # Gloo 1.3 admits echo's typo (a missing upstream is a warning, and 1.3 counts errors only).
            seed_base(kube)
            status, _, body = _post(port, "gateway.gloo-system.svc", ca, json.dumps(_typo_update(kube)).encode())
            assert json.loads(body)["response"]["allowed"] is True

        # The gateway pod is the daemon's: a deleted one is published again under the same name.
        name = kube.json("pods", "-n", NS, "-l", "gloo=gateway")["items"][0]["metadata"]["name"]
        kube.run("delete", "pod", name, "-n", NS)
        wait_until(lambda: [p["metadata"]["name"] for p in kube.json("pods", "-n", NS, "-l", "gloo=gateway")["items"]],
                   "the gateway pod back", until=lambda names: names == [name])
        kube.run("wait", "--for=condition=Ready", f"pod/{name}", "-n", NS, "--timeout=30s")
