"""Gloo's validating webhook as a pure decision (gloo_nb.translate.webhook), both profiles.

Cases transcribe Gloo's own expectations: the e2e suites ``test/kubernetes/e2e/features/validation/
{validation_reject_invalid,validation_strict_warnings,validation_always_accept}/suite.go`` (their testdata
manifests are copied below), ``projects/gateway/pkg/validation/validator_test.go`` and the kubectl output printed
in ``docs/content/guides/traffic_management/configuration_validation/admission_control.md`` (main at 8d57572e);
1.3 from ``projects/gateway/pkg/services/k8sadmisssion/validating_admission_webhook.go`` and
``projects/gateway/pkg/validation/validator.go`` at v1.3.20.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from webhookkit import METHOD_MATCHER

from gloo_nb.models import Resource, Settings, Snapshot, ValidationSettings
from gloo_nb.models.codec import parse_objects
from gloo_nb.translate.translator import helm_default_settings
from gloo_nb.translate.webhook import Change, WebhookSettings, decide, webhook_name, with_change

pytestmark = pytest.mark.unit

PART2 = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"


def settings(always_accept: bool | None = False, allow_warnings: bool | None = False) -> Settings:
    return replace(helm_default_settings(),
                   validation=ValidationSettings(always_accept=always_accept, allow_warnings=allow_warnings))


STRICT = settings(False, False)
ERRORS = settings(False, True)
ACCEPT = settings(True, True)
OFF = helm_default_settings()  # no spec.gateway.validation: no webhook


def one(text: str) -> Resource:
    return parse_objects([yaml.safe_load(text)]).resources[0]


def seed(*names: str) -> list[Resource]:
    out: list[Resource] = []
    for name in names:
        out += parse_objects([d for d in yaml.safe_load_all((PART2 / name).read_text()) if d]).resources
    return out


def create(r: Resource) -> Change:
    return Change("CREATE", r.key, r)



# .../invalid-resources/gateway.yaml
GATEWAY_WITHOUT_TYPE = """
apiVersion: gateway.solo.io/v1
kind: Gateway
metadata: {name: gateway-without-type, namespace: gloo-system}
spec: {bindAddress: '::'}
"""

# admission_control.md "Try to create a virtual service that points to an upstream that does not exist"
MISSING_UPSTREAM = """
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: missing-upstream, namespace: gloo-system}
spec:
  virtualHost:
    domains: [unique1]
    routes:
      - matchers: [{methods: [GET], prefix: /items/}]
        routeAction: {single: {upstream: {name: does-not-exist, namespace: anywhere}}}
"""


def test_reject_invalid_vs_method_matcher_current() -> None:
    # validation_reject_invalid/suite.go TestRejectsInvalidVSMethodMatcher; the full text as admission_control.md
    # prints it (step 4: "could not render proxy: 2 errors occurred").
    d = decide(Snapshot(), create(one(METHOD_MATCHER)), "current", ERRORS)
    assert not d.allowed and d.validated
    assert d.denial() == (
        'admission webhook "gloo.gloo-system.svc" denied the request: resource incompatible with current Gloo '
        'snapshot: [Validating *v1.VirtualService failed: 1 error occurred:\n\t* Validating *v1.VirtualService '
        'failed: validating *v1.VirtualService name:"method-matcher"  namespace:"gloo-system": could not render '
        'proxy: 2 errors occurred:\n\t* invalid resource gloo-system.method-matcher\n\t* invalid route: routes '
        'with delegate actions must use a prefix matcher\n\n\n\n]')
    assert d.causes == (d.message.removeprefix("resource incompatible with current Gloo snapshot: [")
                        .removesuffix("]").join(("Error ", "")),)


def test_reject_invalid_gateway_current() -> None:
    # validation_reject_invalid/suite.go TestRejectsInvalidGatewayResources
    d = decide(Snapshot(), create(one(GATEWAY_WITHOUT_TYPE)), "current", ERRORS)
    assert not d.allowed
    assert 'admission webhook "gloo.gloo-system.svc" denied the request' in d.denial()
    assert 'Validating *v1.Gateway failed: validating *v1.Gateway name:"gateway-without-type"' in d.denial()
    assert "invalid gateway: gateway must contain gatewayType" in d.denial()


def test_missing_upstream_is_refused_only_without_allow_warnings() -> None:
    # validation_strict_warnings/suite.go TestRejectsInvalidVSMissingUpstream; admission_control.md step 3 output;
    # validation_allow_warnings/suite.go TestMissingUpstreamOnVirtualService (admitted with allowWarnings).
    vs = one(MISSING_UPSTREAM)
    strict = decide(Snapshot(), create(vs), "current", STRICT)
    assert strict.denial() == (
        'admission webhook "gloo.gloo-system.svc" denied the request: resource incompatible with current Gloo '
        'snapshot: [Validating *v1.VirtualService failed: 1 error occurred:\n\t* Validating *v1.VirtualService '
        'failed: validating *v1.VirtualService name:"missing-upstream"  namespace:"gloo-system": Route Warning: '
        'InvalidDestinationWarning. Reason: *v1.Upstream { anywhere.does-not-exist } not found\n\n]')
    assert strict.errors == ("Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { anywhere.does-not-exist"
                             " } not found",)
    allowed = decide(Snapshot(), create(vs), "current", ERRORS)
    assert allowed.allowed and allowed.validated and not allowed.errors


def test_always_accept_admits_and_only_logs() -> None:
    # validation_always_accept/suite.go TestRejectsInvalidVSMethodMatcher: the apply succeeds.
    d = decide(Snapshot(), create(one(METHOD_MATCHER)), "current", ACCEPT)
    assert d.allowed and d.validated and d.errors
    assert "invalid route: routes with delegate actions must use a prefix matcher" in d.message
    assert d.denial() == ""


def test_unmarshal_errors_are_refused_even_with_always_accept() -> None:
    # makeAdmissionResponse: "even if validation is set to always accept, we want to fail on unmarshal errors";
    # the message shape of admission_control.md ("[1 error occurred:\n\t* could not unmarshal raw object: ...]").
    vs = one(MISSING_UPSTREAM)
    bad = Change("CREATE", vs.key, None, unmarshal_error='unknown field "optional" in gateway.solo.io.Route')
    d = decide(Snapshot(), bad, "current", ACCEPT)
    assert not d.allowed
    assert d.message == ('resource incompatible with current Gloo snapshot: [1 error occurred:\n\t* could not '
                         'unmarshal raw object: parsing resource from crd spec missing-upstream in namespace '
                         'gloo-system into *v1.VirtualService: unknown field "optional" in gateway.solo.io.Route\n\n]')
    old = decide(Snapshot(), bad, "1.3", ACCEPT)
    assert not old.allowed
    assert old.message == 'could not unmarshal raw object: unknown field "optional" in gateway.solo.io.Route'


def test_skip_validation_annotation_and_webhook_off() -> None:
    # SkipValidationKey (both profiles); setup_syncer.go: no spec.gateway.validation, no webhook.
    vs = one(METHOD_MATCHER)
    skipped = replace(vs, meta=replace(vs.meta, annotations={"gateway.solo.io/skip_validation": "true"}))
    for profile in ("1.3", "current"):
        d = decide(Snapshot(), create(skipped), profile, STRICT)  # type: ignore[arg-type]
        assert d.allowed and not d.validated and "skip_validation" in d.reason
        off = decide(Snapshot(), create(vs), profile, OFF)  # type: ignore[arg-type]
        assert off.allowed and not off.validated
    assert WebhookSettings.of(OFF, "current") == WebhookSettings(enabled=False)


def test_status_only_update_is_not_validated_a_label_change_is() -> None:
    # validating_admission_webhook_test.go "processes status updates with auto-fail validator" (update accepted:
    # equal hashes, shouldValidateResource's "status only update") and "processes metadata updates with auto-fail
    # validator" (a label change is validated, and refused).
    vs = one(METHOD_MATCHER)
    stored = Snapshot(virtual_services=(vs,))
    newer = replace(vs, meta=replace(vs.meta, resource_version="7", generation=2))
    d = decide(stored, Change("UPDATE", vs.key, newer, vs), "current", STRICT, stored_invalid=False)
    assert d.allowed and not d.validated
    relabelled = replace(vs, meta=replace(vs.meta, labels={"label": "new-resource"}))
    d = decide(stored, Change("UPDATE", vs.key, relabelled, vs), "current", STRICT, stored_invalid=False)
    assert not d.allowed and d.validated


def test_invalid_stored_snapshot_disables_validation() -> None:
    # validator.go copySnapshotNonThreadSafe / InvalidSnapshotErrMessage: "allow writes if storage is already broken".
    broken = Snapshot(virtual_services=(one(METHOD_MATCHER),))
    d = decide(broken, create(one(MISSING_UPSTREAM)), "current", STRICT)
    assert d.allowed and not d.validated
    assert d.message.startswith("validation is disabled due to an invalid resource which has been written to storage")


RT_CHAIN = """
apiVersion: v1
kind: List
items:
  - apiVersion: gateway.solo.io/v1
    kind: VirtualService
    metadata: {name: vs, namespace: gloo-system}
    spec:
      virtualHost:
        routes:
          - matchers: [{prefix: /a}]
            delegateAction: {ref: {name: rt, namespace: gloo-system}}
  - apiVersion: gateway.solo.io/v1
    kind: RouteTable
    metadata: {name: rt, namespace: gloo-system}
    spec:
      routes:
        - matchers: [{prefix: /a/b}]
          directResponseAction: {status: 200, body: ok}
"""


def test_deleting_a_referenced_route_table() -> None:
    # validator_test.go "delete a route table / has parents / rejects deletion" (allowWarnings false there): the
    # parent's ref now points at nothing (RouteTableMissingWarning). current: a warning, so refused only without
    # allowWarnings. 1.3: ValidateDeleteRouteTable only logs with allowBrokenLinks (AllowMissingLinks = true).
    snap = Snapshot.from_resources(parse_objects([yaml.safe_load(RT_CHAIN)]).resources)
    rt = snap.route_tables[0]
    gone = Change("DELETE", rt.key)
    strict = decide(snap, gone, "current", STRICT)
    assert not strict.allowed
    assert strict.message.startswith("resource incompatible with current Gloo snapshot: [failed validating the "
                                     "deletion of resource namespace: gloo-system name: rt: validating "
                                     '*v1.RouteTable name:"rt"  namespace:"gloo-system": could not render proxy: ')
    assert "route table gloo-system.rt missing" in strict.message
    assert decide(snap, gone, "current", ERRORS).allowed
    assert decide(snap, gone, "1.3", STRICT).allowed
    # "has no parents / deletes safely"
    lone = with_change(snap, snap.virtual_services[0].key, None)
    assert decide(lone, gone, "current", STRICT).allowed


def test_profile_13_messages_and_webhook_name() -> None:
    # validating_admission_webhook.go@v1.3.20: no proxy reports, so the message is the wrapped validation error;
    # templates/5-gateway-validation-webhook-configuration.yaml@v1.3.20 names the webhook gateway.<ns>.svc.
    d = decide(Snapshot(), create(one(METHOD_MATCHER)), "1.3", STRICT)
    assert not d.allowed
    assert d.denial() == (
        'admission webhook "gateway.gloo-system.svc" denied the request: Validating *v1.VirtualService failed: '
        'validating *v1.VirtualService {method-matcher gloo-system}: could not render proxy: 2 errors occurred:\n'
        '\t* invalid resource gloo-system.method-matcher\n\t* invalid route: routes with delegate actions must use '
        'a prefix matcher\n\n')
    assert webhook_name("1.3", "gloo-system") == "gateway.gloo-system.svc"
    assert webhook_name("current", "gloo") == "gloo.gloo.svc"
    # 1.3 has no allowWarnings: warnings never count there.
    assert decide(Snapshot(), create(one(MISSING_UPSTREAM)), "1.3", STRICT).allowed


SEED_BASE = ("upstream-echo.yaml", "upstream-foxtrot.yaml", "rt-echo-2.yaml", "rt-foxtrot-3.yaml", "vs.yaml")


def test_seed_echo_typo_refused_foxtrot_never_blocked() -> None:
    # The seed's incident (spec section 6.2): echo's rt-echo-3 names upstream echo-typo. Strict current Gloo refuses
    # it with the missing-upstream warning (twice: the subset check repeats it), and foxtrot's next change passes.
    snap = Snapshot.from_resources(seed(*SEED_BASE))
    typo = seed("rt-echo-3.yaml")[0]
    old = next(r for r in snap.route_tables if r.key == typo.key)
    d = decide(snap, Change("UPDATE", typo.key, typo, old), "current", STRICT)
    warning = "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.echo-typo } not found"
    assert d.denial() == (
        'admission webhook "gloo.gloo-system.svc" denied the request: resource incompatible with current Gloo '
        'snapshot: [Validating *v1.RouteTable failed: 1 error occurred:\n\t* Validating *v1.RouteTable failed: '
        f'validating *v1.RouteTable name:"echo-routes"  namespace:"echo": 2 errors occurred:\n\t* {warning}\n'
        f'\t* {warning}\n\n\n\n]')
    assert d.errors == (warning, warning)
    for name in ("rt-foxtrot-4.yaml", "rt-foxtrot-5.yaml", "rt-foxtrot-6.yaml"):
        fox = seed(name)[0]
        before = next(r for r in snap.route_tables if r.key == fox.key)
        assert decide(snap, Change("UPDATE", fox.key, fox, before), "current", STRICT).allowed, name
    # allowWarnings (Helm's default): the typo is only a warning, admitted.
    assert decide(snap, Change("UPDATE", typo.key, typo, old), "current", ERRORS).allowed
    # 1.3: the RouteTable is selected, not referenced, so no proxy is validated for it (routesContainRefs skips
    # selectors), and warnings never counted: Gloo 1.3's webhook admits the typo.
    assert decide(snap, Change("UPDATE", typo.key, typo, old), "1.3", STRICT).allowed


EXAMPLE = """
apiVersion: v1
kind: List
items:
  - apiVersion: gateway.solo.io/v1
    kind: VirtualService
    metadata: {name: example-vs, namespace: gloo-system}
    spec:
      virtualHost:
        domains: [example.com]
        routes:
          - matchers: [{prefix: /}]
            routeAction: {single: {upstream: {name: nginx-upstream}}}
  - apiVersion: gloo.solo.io/v1
    kind: Upstream
    metadata: {name: nginx-upstream, namespace: gloo-system}
    spec:
      kube: {selector: {app.kubernetes.io/name: nginx}, serviceName: nginx, serviceNamespace: nginx, servicePort: 8080}
"""

# .../testdata/invalid-resources/invalid-upstream-no-port.yaml
INVALID_UPSTREAM = """
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: invalid-us, namespace: gloo-system}
spec:
  static:
    hosts:
      - addr: "~"
"""


def test_invalid_upstream_missing_port() -> None:
    # validation_strict_warnings/suite.go TestInvalidUpstreamMissingPort (refused: the Upstream's errors are warnings
    # after the sanitizers, in the "failed gloo validation resource reports" of admission_control.md) and
    # validation_allow_warnings/suite.go TestInvalidUpstreamMissingPort (admitted, the Upstream then Warning).
    snap = Snapshot.from_resources(parse_objects([yaml.safe_load(EXAMPLE)]).resources)
    us = one(INVALID_UPSTREAM)
    strict = decide(snap, create(us), "current", STRICT)
    assert not strict.allowed
    assert 'Validating *v1.Upstream failed: validating *v1.Upstream name:"invalid-us"' in strict.denial()
    assert ("failed gloo validation resource reports: 2 errors occurred:\n\t* invalid resource gloo-system.invalid-us"
            "\n\t* WARN: \n  [") in strict.message
    assert "port cannot be empty for host" in strict.message
    assert decide(snap, create(us), "current", ERRORS).allowed
    # Gloo 1.3's webhook did not validate gloo.solo.io kinds at all (its chart registered gateway.solo.io only).
    assert not decide(snap, create(us), "1.3", STRICT).validated


def test_requests_outside_watch_namespaces_are_not_validated() -> None:
    # validating_admission_webhook.go makeAdmissionResponse (both profiles): "if it's not our namespace, do not
    # validate"; the write namespace is always watched (ProcessWatchNamespaces).
    vs = one(METHOD_MATCHER)
    elsewhere = replace(vs, meta=replace(vs.meta, namespace="team-a"))
    watching_b = replace(STRICT, watch_namespaces=("team-b",))
    for profile in ("1.3", "current"):
        d = decide(Snapshot(), create(elsewhere), profile, watching_b)  # type: ignore[arg-type]
        assert d.allowed and not d.validated and "watchNamespaces" in d.reason
        assert not decide(Snapshot(), create(vs), profile, watching_b).allowed  # type: ignore[arg-type]
        assert not decide(Snapshot(), create(elsewhere), profile, STRICT).allowed  # type: ignore[arg-type]


def test_a_stored_warning_blocks_every_other_change_under_strict_current() -> None:
    # validateProxiesAndExtensions validates every proxy with the change applied, and Sync's stored-snapshot check
    # reads only the gateway translator's reports: a proxy warning already stored (echo's typo, admitted before
    # validation was made strict) fails every later change on that proxy, foxtrot's too. Strict validation keeps
    # foxtrot unblocked only by keeping the typo out.
    snap = Snapshot.from_resources(seed("upstream-echo.yaml", "upstream-foxtrot.yaml", "rt-echo-3.yaml",
                                        "rt-foxtrot-3.yaml", "vs.yaml"))
    fox = seed("rt-foxtrot-4.yaml")[0]
    before = next(r for r in snap.route_tables if r.key == fox.key)
    d = decide(snap, Change("UPDATE", fox.key, fox, before), "current", STRICT)
    assert not d.allowed
    assert 'validating *v1.RouteTable name:"foxtrot-routes"  namespace:"foxtrot": 2 errors occurred:' in d.message
    assert "gloo-system.echo-typo" in d.message
    # Fixing echo's typo is admitted (the snapshot with the fix has no warning).
    fix = seed("rt-echo-4.yaml")[0]
    old = next(r for r in snap.route_tables if r.key == fix.key)
    assert decide(snap, Change("UPDATE", fix.key, fix, old), "current", STRICT).allowed


def test_watch_namespace_selectors_decide_what_the_current_webhook_validates() -> None:
    # setup_syncer.go hands the webhook ProcessWatchNamespaces(settingsutil.GetNamespacesToWatch(settings), ...):
    # in current the namespaces watchNamespaceSelectors select; 1.3 had no selectors (every namespace).
    from gloo_nb.models import LabelSelector, Namespace, ObjectMeta

    vs = one(METHOD_MATCHER)
    team = replace(vs, meta=replace(vs.meta, namespace="team-a"))
    selecting = replace(STRICT, watch_namespace_selectors=(LabelSelector(match_labels={"gloo": "yes"}),))
    unlabelled = Snapshot(namespaces=(Namespace(ObjectMeta("team-a", "", labels={})),))
    labelled = Snapshot(namespaces=(Namespace(ObjectMeta("team-a", "", labels={"gloo": "yes"})),))
    skipped = decide(unlabelled, create(team), "current", selecting)
    assert skipped.allowed and not skipped.validated and "watchNamespaceSelectors" in skipped.reason
    assert not decide(labelled, create(team), "current", selecting).allowed
    assert not decide(unlabelled, create(team), "1.3", selecting).allowed
