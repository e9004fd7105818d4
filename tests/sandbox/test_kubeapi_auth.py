"""The sandbox API's credentials (CA, serving certificate, admin token) and impersonation rules, in-process."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from multidict import CIMultiDict

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.kubeapi import auth
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.store import ADMIN, ApiError, Identity, Store

pytestmark = pytest.mark.sandbox


def test_credentials_are_made_once_and_kept(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    first = Credentials.load_or_create(pki)
    ca, cert = first.ca_cert.read_bytes(), first.server_cert.read_bytes()
    assert pki.stat().st_mode & 0o777 == 0o700
    for secret in ("ca.key", "apiserver.key", "admin.token"):
        assert (pki / secret).stat().st_mode & 0o777 == 0o600, secret
    served = x509.load_pem_x509_certificate(cert)
    san = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    served.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))
    # A restart reads the same files: kubeconfigs written before it stay valid.
    again = Credentials.load_or_create(pki)
    assert again.token == first.token and again.ca_cert.read_bytes() == ca and again.server_cert.read_bytes() == cert
    assert Credentials.existing(pki) == again and Credentials.existing(tmp_path / "none") is None
    # A lost serving certificate is re-issued by the same CA (the kubeconfig's CA still verifies it).
    first.server_cert.unlink()
    renewed = Credentials.load_or_create(pki)
    assert renewed.ca_cert.read_bytes() == ca and renewed.server_cert.read_bytes() != cert
    assert renewed.is_admin_token(first.token) and not renewed.is_admin_token(first.token + "x")


def test_only_the_admin_token_authenticates(tmp_path: Path) -> None:
    creds = Credentials.load_or_create(tmp_path / "pki")
    assert auth.authenticate(creds, f"Bearer {creds.token}") is ADMIN
    for header in (None, "", "Bearer", "Bearer nope", f"Basic {creds.token}", creds.token):
        with pytest.raises(ApiError) as err:
            auth.authenticate(creds, header)
        assert err.value.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    assert auth.identity_of(Store(), creds, "/readyz", CIMultiDict()) is None
    with pytest.raises(ApiError):
        auth.identity_of(Store(), creds, "/version", CIMultiDict())


def _forbidden(store: Store, who: Identity, headers: dict[str, str | list[str]]) -> str:
    multi: CIMultiDict[str] = CIMultiDict()
    for key, value in headers.items():
        for v in value if isinstance(value, list) else [value]:
            multi.add(key, v)
    with pytest.raises(ApiError) as err:
        auth.impersonate(store, who, multi)
    assert err.value.code == 403
    return err.value.message


def test_impersonation_needs_the_impersonate_verb_per_attribute() -> None:
    store = Store()
    store.create(k.NAMESPACE, {"metadata": {"name": "gloo-system"}})
    alice = Identity("alice", ("team-echo", "system:authenticated"))
    # A team user may not become someone else, nor join system:masters.
    assert _forbidden(store, alice, {"Impersonate-User": "bob"}) == (
        'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster '
        "scope")
    assert _forbidden(store, alice, {"Impersonate-User": "system:serviceaccount:gloo-system:gloo"}) == (
        'serviceaccounts "gloo" is forbidden: User "alice" cannot impersonate resource "serviceaccounts" in API '
        'group "" in the namespace "gloo-system"')
    # Granted users only: bob yes, but not bob in system:masters.
    store.create(k.CLUSTER_ROLE, {"metadata": {"name": "be-bob"}, "rules": [
        {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["bob"]}]})
    store.create(k.CLUSTER_ROLE_BINDING, {"metadata": {"name": "alice-be-bob"},
                                          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                      "name": "be-bob"},
                                          "subjects": [{"kind": "User", "name": "alice"}]})
    bob = auth.impersonate(store, alice, CIMultiDict({"Impersonate-User": "bob"}))
    assert bob == Identity("bob", ("system:authenticated",))
    assert _forbidden(store, alice, {"Impersonate-User": "bob", "Impersonate-Group": "system:masters"}) == (
        'groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at '
        "the cluster scope")
    assert 'cannot impersonate resource "uids" in API group "authentication.k8s.io"' in _forbidden(
        store, alice, {"Impersonate-User": "bob", "Impersonate-Uid": "1234"})
    assert 'cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io"' in _forbidden(
        store, alice, {"Impersonate-User": "bob", "Impersonate-Extra-Scopes": "view"})
    # The admin (system:masters) may impersonate anyone; a service account gets its groups.
    sa = auth.impersonate(store, ADMIN, CIMultiDict({"Impersonate-User": "system:serviceaccount:gloo-system:gloo"}))
    assert sa.groups == ("system:serviceaccounts", "system:serviceaccounts:gloo-system", "system:authenticated")
    as_team = CIMultiDict([("Impersonate-User", "echo-dev"), ("Impersonate-Group", "team-echo")])
    assert auth.impersonate(store, ADMIN, as_team) == Identity("echo-dev", ("team-echo", "system:authenticated"))
