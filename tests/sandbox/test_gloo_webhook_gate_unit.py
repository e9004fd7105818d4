"""When the sandbox's API server calls Gloo's webhook: as the stored ValidatingWebhookConfiguration says.

In process, over a store with Gloo's webhook attached and strict Settings. The rules are kube-apiserver's:
``k8s.io/apiserver/pkg/admission/plugin/webhook/generic/webhook.go:ShouldCallHook``, ``predicates/rules/rules.go``
(scope, operations, groups, versions, resources with ``*`` and ``res/sub``), ``predicates/namespace/matcher.go`` and
``predicates/object/matcher.go`` (selectors), ``validating/dispatcher.go`` (``failurePolicy`` on a call that fails,
``sideEffects`` on a dry run) and ``util/proxy/proxy.go:ResolveEndpoint`` (no ready endpoint).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from webhookkit import DENIED, METHOD_MATCHER

from gloo_nb.sandbox import daemon, kinds
from gloo_nb.sandbox.apierror import ApiError
from gloo_nb.sandbox.gloo_webhook import GlooWebhook
from gloo_nb.sandbox.install import WEBHOOK_CONFIGURATION
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.unit

NS = "gloo-system"
BAD_VS = yaml.safe_load(METHOD_MATCHER)
BAD_VS["metadata"]["labels"] = {"team": "edge"}  # for the objectSelector cases
UNREACHABLE = ('failed calling webhook "gloo.gloo-system.svc": failed to call webhook: Post '
               '"https://gloo.gloo-system.svc:443/validation?timeout=10s": no endpoints available for service "gloo"')


@pytest.fixture
def store() -> Iterator[Store]:
    made = Store()
    hook = GlooWebhook(made, "current")
    hook.attach()
    daemon.seed(made, "current")
    daemon.set_validation(made, "strict", "current")
    daemon.install_validation(made, "current")
    made.create(kinds.ENDPOINTS, {"metadata": {"name": "gloo", "namespace": NS}, "subsets": [
        {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]}]})
    try:
        yield made
    finally:
        hook.detach()


def _edit(store: Store, change: Any) -> None:
    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        change(obj["webhooks"][0])
        return obj
    store.patch(kinds.VALIDATING_WEBHOOK_CONFIGURATION, None, WEBHOOK_CONFIGURATION, mutate)


def _create(store: Store, *, dry_run: bool = False) -> ApiError | None:
    try:
        store.create(kinds.VIRTUAL_SERVICE, copy.deepcopy(BAD_VS), dry_run=dry_run)
    except ApiError as exc:
        return exc
    if not dry_run:
        store.delete(kinds.VIRTUAL_SERVICE, NS, "method-matcher")
    return None


def test_the_configuration_decides_whether_gloo_is_asked(store: Store) -> None:
    refused = _create(store)
    assert refused is not None and refused.code == 400 and refused.message.startswith(DENIED)
    store.delete(kinds.VALIDATING_WEBHOOK_CONFIGURATION, None, WEBHOOK_CONFIGURATION)
    assert _create(store) is None  # no configuration: never called
    daemon.install_validation(store, "current")
    assert _create(store) is not None


@pytest.mark.parametrize(("field", "value", "called"), [
    ("scope", "Cluster", False),  # a namespaced request
    ("scope", "Namespaced", True),
    ("operations", ["DELETE"], False),
    ("operations", ["*"], True),
    ("apiVersions", ["v2"], False),
    ("apiGroups", ["*"], True),
    ("resources", ["virtualservices/status"], False),  # a subresource rule: not the object itself
    ("resources", ["*"], True),
    ("resources", ["*/*"], True),
    ("resources", ["routetables"], False),
])
def test_rules_match_as_rules_go(store: Store, field: str, value: Any, called: bool) -> None:
    def change(hook: dict[str, Any]) -> None:
        hook["rules"] = [{**hook["rules"][0], field: value}]
    _edit(store, change)
    assert (_create(store) is not None) is called


def test_namespace_and_object_selectors(store: Store) -> None:
    _edit(store, lambda hook: hook.update(namespaceSelector={"matchLabels": {"validate": "yes"}}))
    assert _create(store) is None  # gloo-system lacks the label
    store.patch(kinds.NAMESPACE, None, NS, lambda ns: {**ns, "metadata": {**ns["metadata"],
                                                                          "labels": {"validate": "yes"}}})
    assert _create(store) is not None
    _edit(store, lambda hook: hook.update(objectSelector={"matchExpressions": [
        {"key": "team", "operator": "In", "values": ["payments"]}]}))
    assert _create(store) is None  # the VirtualService is labelled team: edge
    _edit(store, lambda hook: hook.update(objectSelector={"matchLabels": {"team": "edge"}}))
    assert _create(store) is not None


def test_failure_policy_when_the_service_has_no_ready_endpoint(store: Store) -> None:
    store.patch(kinds.ENDPOINTS, NS, "gloo", lambda eps: {**eps, "subsets": [
        {"notReadyAddresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": 8443}]}]})
    assert _create(store) is None  # the chart's failurePolicy: Ignore
    _edit(store, lambda hook: hook.update(failurePolicy="Fail"))
    refused = _create(store)
    assert refused is not None and (refused.code, refused.reason) == (500, "InternalError")
    assert refused.message == "Internal error occurred: " + UNREACHABLE
    assert refused.details == {"causes": [{"message": UNREACHABLE}]}
    # A port the Service does not have, as ResolveEndpoint says it.
    _edit(store, lambda hook: hook["clientConfig"]["service"].update(port=8443))
    refused = _create(store)
    assert refused is not None and refused.message.endswith('no service port 8443 found for service "gloo"')


def test_dry_runs_follow_side_effects_and_the_name_is_the_configurations(store: Store) -> None:
    refused = _create(store, dry_run=True)
    assert refused is not None and refused.message.startswith(DENIED)  # sideEffects: None
    _edit(store, lambda hook: hook.update(sideEffects="Some", name="renamed.gloo-system.svc"))
    refused = _create(store, dry_run=True)
    assert refused is not None and (refused.code, refused.reason) == (400, "BadRequest")
    assert refused.message == 'admission webhook "renamed.gloo-system.svc" does not support dry run'
    refused = _create(store)
    assert refused is not None and refused.message.startswith(
        'admission webhook "renamed.gloo-system.svc" denied the request: ')
