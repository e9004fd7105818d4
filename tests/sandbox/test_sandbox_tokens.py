"""ServiceAccount tokens: ``kubectl create token`` (the TokenRequest subresource) and ``--token`` as that account.

A store served in-process as the sandbox daemon serves it; driven with real kubectl 1.32 and the official
Python client (``CoreV1Api.create_namespaced_service_account_token``).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from sandboxkit import InProcessApi, in_process_api

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubeapi import tokens
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

NS = "gloo-system"
SA = "gloo"


class Env:
    def __init__(self, store: Store, served: InProcessApi, api: client.ApiClient, home: Path) -> None:
        self.store = store
        self.served = served
        self.api = api
        self.home = home
        self.core = client.CoreV1Api(api)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["kubectl", "--kubeconfig", str(self.served.kubeconfig), *args], capture_output=True,
                             text=True, timeout=60, env={**os.environ, "HOME": str(self.home)})
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr}")
        return out

    def client_with(self, token: str) -> client.CoreV1Api:
        conf = client.Configuration()
        conf.host = self.served.url
        conf.ssl_ca_cert = str(self.served.creds.ca_cert)
        conf.api_key = {"authorization": token}
        conf.api_key_prefix = {"authorization": "Bearer"}
        return client.CoreV1Api(client.ApiClient(conf))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    store = Store(tmp_path / "state")
    try:
        for ns in ("default", NS):
            store.create(kinds.NAMESPACE, {"metadata": {"name": ns}})
        with in_process_api(store, tmp_path) as served:
            api = config.new_client_from_config(str(served.kubeconfig))
            try:
                env = Env(store, served, api, tmp_path / "home")
                env.kubectl("create", "serviceaccount", SA, "-n", NS)
                # The account may read pods in its namespace, nothing else.
                env.kubectl("create", "role", "pod-reader", "-n", NS, "--verb=get,list", "--resource=pods")
                env.kubectl("create", "rolebinding", "gloo-reads-pods", "-n", NS, "--role=pod-reader",
                            f"--serviceaccount={NS}:{SA}")
                yield env
            finally:
                api.close()
    finally:
        store.close()


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_kubectl_create_token_acts_as_the_service_account(env: Env) -> None:
    token = env.kubectl("create", "token", SA, "-n", NS).stdout.strip()
    claims = _claims(token)
    sa = env.store.get(kinds.SERVICE_ACCOUNT, NS, SA)
    assert claims["sub"] == f"system:serviceaccount:{NS}:{SA}" and claims["exp"] - claims["iat"] == 3600
    assert claims["kubernetes.io"] == {"namespace": NS, "serviceaccount": {"name": SA, "uid": sa["metadata"]["uid"]}}
    assert claims["aud"] == [tokens.AUDIENCE] and claims["iss"] == tokens.ISSUER
    whoami = env.kubectl("--token", token, "auth", "whoami", "-o", "json").stdout
    user = json.loads(whoami)["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{NS}:{SA}"
    assert user["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{NS}", "system:authenticated"]
    can = env.kubectl("--token", token, "auth", "can-i", "list", "pods", "-n", NS)
    assert can.stdout.strip() == "yes"
    cannot = env.kubectl("--token", token, "auth", "can-i", "delete", "pods", "-n", NS, check=False)
    assert cannot.returncode == 1 and cannot.stdout.strip() == "no"
    elsewhere = env.kubectl("--token", token, "auth", "can-i", "list", "pods", "-n", "default", check=False)
    assert elsewhere.stdout.strip() == "no"
    env.kubectl("--token", token, "get", "pods", "-n", NS)
    refused = env.kubectl("--token", token, "get", "secrets", "-n", NS, check=False)
    assert refused.returncode != 0 and (f'secrets is forbidden: User "system:serviceaccount:{NS}:{SA}" cannot list '
                                        f'resource "secrets" in API group "" in the namespace "{NS}"') in refused.stderr
    # A refused write is audited as the account's (the audit log's user is who the token names).
    denied = env.kubectl("--token", token, "create", "configmap", "x", "-n", NS, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr
    assert env.store.audit_path is not None
    events = [json.loads(line) for line in env.store.audit_path.read_text().splitlines()]
    refused = next(e for e in events if e["objectRef"].get("resource") == "configmaps")
    assert refused["user"]["username"] == f"system:serviceaccount:{NS}:{SA}"
    assert refused["user"]["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{NS}",
                                         "system:authenticated"]
    assert refused["responseStatus"]["code"] == 403
    # The account's groups, as the apiserver gives them (serviceaccount.MakeGroupNames, then authenticated).
    env.kubectl("create", "clusterrole", "ns-reader", "--verb=list", "--resource=namespaces")
    env.kubectl("create", "clusterrolebinding", "sa-group-reads-ns", "--clusterrole=ns-reader",
                f"--group=system:serviceaccounts:{NS}")
    assert env.kubectl("--token", token, "auth", "can-i", "list", "namespaces").stdout.strip() == "yes"
    # The admin token and impersonation are unchanged.
    assert env.kubectl("auth", "can-i", "delete", "pods", "-n", NS).stdout.strip() == "yes"
    impersonated = env.kubectl("auth", "can-i", "list", "pods", "-n", NS, "--as",
                               f"system:serviceaccount:{NS}:{SA}").stdout.strip()
    assert impersonated == "yes"


def test_duration_and_the_python_client(env: Env) -> None:
    out = json.loads(env.kubectl("create", "token", SA, "-n", NS, "--duration", "20m", "-o", "json").stdout)
    assert out["kind"] == "TokenRequest" and out["apiVersion"] == "authentication.k8s.io/v1"
    assert out["spec"]["expirationSeconds"] == 1200
    expiry = datetime.strptime(out["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(expiry.timestamp() - (time.time() + 1200)) < 10
    short = env.kubectl("create", "token", SA, "-n", NS, "--duration", "1m", check=False)
    assert short.returncode != 0 and ("spec.expirationSeconds: Invalid value: 60: may not specify a duration less "
                                      "than 10 minutes") in short.stderr
    minted = env.core.create_namespaced_service_account_token(SA, NS, client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=900)))
    assert minted.status.token and minted.spec.expiration_seconds == 900
    as_sa = env.client_with(minted.status.token)
    try:
        assert as_sa.list_namespaced_pod(NS).items == []
        with pytest.raises(ApiException) as denied:
            as_sa.list_namespaced_secret(NS)
        assert denied.value.status == 403
    finally:
        as_sa.api_client.close()
    with pytest.raises(ApiException) as missing:
        env.core.create_namespaced_service_account_token("nobody", NS, {"spec": {}})
    assert missing.value.status == 404 and 'serviceaccounts \\"nobody\\" not found' in missing.value.body
    # Discovery lists the subresource as kube-apiserver does.
    resources = json.loads(env.kubectl("get", "--raw", "/api/v1").stdout)["resources"]
    token_sub = next(r for r in resources if r["name"] == "serviceaccounts/token")
    assert (token_sub["group"], token_sub["version"], token_sub["kind"], token_sub["verbs"]) == (
        "authentication.k8s.io", "v1", "TokenRequest", ["create"])


def test_expired_deleted_and_forged_tokens_are_refused(env: Env) -> None:
    sa = env.store.get(kinds.SERVICE_ACCOUNT, NS, SA)
    env.kubectl("create", "token", SA, "-n", NS)  # makes the signing key
    expired, _ = tokens.mint(env.served.creds, sa, 600, [tokens.AUDIENCE], now=time.time() - 3600)
    out = env.kubectl("--token", expired, "get", "pods", "-n", NS, check=False)
    assert out.returncode != 0 and "error: You must be logged in to the server (Unauthorized)" in out.stderr
    as_expired = env.client_with(expired)
    try:
        with pytest.raises(ApiException) as refused:
            as_expired.list_namespaced_pod(NS)
        assert refused.value.status == 401
        assert json.loads(refused.value.body) == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                  "status": "Failure", "message": "Unauthorized",
                                                  "reason": "Unauthorized", "code": 401}
    finally:
        as_expired.api_client.close()
    token = env.kubectl("create", "token", SA, "-n", NS).stdout.strip()
    assert env.kubectl("--token", token, "auth", "can-i", "list", "pods", "-n", NS).stdout.strip() == "yes"
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert "Unauthorized" in env.kubectl("--token", forged, "get", "pods", "-n", NS, check=False).stderr
    env.kubectl("delete", "serviceaccount", SA, "-n", NS)
    gone = env.kubectl("--token", token, "get", "pods", "-n", NS, check=False)
    assert gone.returncode != 0 and "(Unauthorized)" in gone.stderr
    # A new account of the same name is another account (its uid): the old token stays refused.
    env.kubectl("create", "serviceaccount", SA, "-n", NS)
    again = env.kubectl("--token", token, "get", "pods", "-n", NS, check=False)
    assert again.returncode != 0 and "(Unauthorized)" in again.stderr


def test_creating_tokens_needs_rbac(env: Env) -> None:
    denied = env.kubectl("create", "token", SA, "-n", NS, "--as", "bob", check=False)
    assert denied.returncode != 0
    assert (f'serviceaccounts "{SA}" is forbidden: User "bob" cannot create resource "serviceaccounts/token" in API '
            f'group "" in the namespace "{NS}"') in denied.stderr
    env.kubectl("create", "role", "token-maker", "-n", NS, "--verb=create", "--resource=serviceaccounts/token")
    env.kubectl("create", "rolebinding", "bob-makes-tokens", "-n", NS, "--role=token-maker", "--user=bob")
    token = env.kubectl("create", "token", SA, "-n", NS, "--as", "bob").stdout.strip()
    assert _claims(token)["sub"] == f"system:serviceaccount:{NS}:{SA}"
    # A token bound to a Secret dies with it (claims.go: "service account token has been invalidated").
    env.kubectl("create", "secret", "generic", "bound", "-n", NS)
    bound = env.kubectl("create", "token", SA, "-n", NS, "--bound-object-kind", "Secret",
                        "--bound-object-name", "bound").stdout.strip()
    assert _claims(bound)["kubernetes.io"]["secret"]["name"] == "bound"
    assert env.kubectl("--token", bound, "auth", "can-i", "list", "pods", "-n", NS).stdout.strip() == "yes"
    env.kubectl("delete", "secret", "bound", "-n", NS)
    assert "(Unauthorized)" in env.kubectl("--token", bound, "get", "pods", "-n", NS, check=False).stderr
