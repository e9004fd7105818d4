"""Gloo's validating webhook in the sandbox's API, with real kubectl 1.32 against a real sandbox.

The seed scenario's incident (spec section 6.2) under strict validation (``--validation strict``:
``alwaysAccept: false``, ``allowWarnings: false``): echo's typo (``rt-echo-3``) is refused at ``kubectl apply``
(client-side, server-side, patch, replace, impersonated) with Gloo's message, ``--dry-run=server`` gets the
answer and writes nothing, and foxtrot's next change is never blocked. The Status is the apiserver's for a
webhook denial (``k8s.io/apiserver/pkg/admission/plugin/webhook/errors/statuserror.go:ToStatusErr``: code 400),
and the audit log records it. Gloo's expectations: ``test/kubernetes/e2e/features/validation/
validation_strict_warnings/suite.go`` (TestRejectsInvalidVSMissingUpstream) and ``validation_reject_invalid/
suite.go`` (TestRejectsInvalidVSMethodMatcher), 1.3 from ``validating_admission_webhook.go@v1.3.20``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from sandboxkit import PART2, Kube, in_process_api, kubectl_for, sandbox
from webhookkit import DENIED, METHOD_MATCHER, TYPO, seed_base

from gloo_nb.sandbox import daemon, kinds
from gloo_nb.sandbox.gloo_webhook import GlooWebhook
from gloo_nb.sandbox.store import Store

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]




def _echo_upstream(kube: Kube) -> str:
    rt = kube.json("routetable", "echo-routes", "-n", "echo")
    return json.dumps(rt["spec"])


def _refused(proc) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def _gloo_nb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gloo_nb", *args], capture_output=True, text=True, timeout=120)



def test_strict_validation_refuses_echo_typo_and_never_blocks_foxtrot(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "current", replicas=1, validation="strict") as info:
        kube = kubectl_for(info, tmp_path)
        settings = kube.json("settings", "default", "-n", "gloo-system")["spec"]["gateway"]["validation"]
        assert settings["alwaysAccept"] is False and settings["allowWarnings"] is False
        seed_base(kube)
        before = _echo_upstream(kube)

        # gloo-nb check --webhook against the sandbox: its resources and Settings, the file as the change.
        asked = _gloo_nb("check", "--webhook", "--sandbox", str(info.state_dir), str(PART2 / "rt-echo-3.yaml"))
        assert asked.returncode == 1, asked.stderr
        assert asked.stdout.startswith("RouteTable echo/echo-routes: denied: " + DENIED)
        assert asked.stdout.count(TYPO) == 2
        fox = _gloo_nb("check", "--webhook", "--sandbox", str(info.state_dir), str(PART2 / "rt-foxtrot-4.yaml"))
        assert fox.returncode == 0 and fox.stdout.splitlines()[0] == "RouteTable foxtrot/foxtrot-routes: admitted"
        # Without files: what the cluster holds, each resource against the others.
        held = _gloo_nb("check", "--webhook", "--sandbox", str(info.state_dir), "--json")
        assert held.returncode == 0, held.stdout
        assert {(r["kind"], r["name"]) for r in json.loads(held.stdout)["results"]} >= {
            ("VirtualService", "app"), ("RouteTable", "echo-routes"), ("RouteTable", "foxtrot-routes")}

        # --dry-run=server: the webhook's answer, nothing written.
        dry = _refused(kube.run("apply", "--dry-run=server", "-f", str(PART2 / "rt-echo-3.yaml"), check=False))
        assert DENIED in dry and TYPO in dry
        assert _echo_upstream(kube) == before

        # kubectl apply (client-side: a merge patch of the live object): refused with Gloo's full message.
        out = _refused(kube.run("apply", "-f", str(PART2 / "rt-echo-3.yaml"), check=False))
        assert (DENIED + "resource incompatible with current Gloo snapshot: [Validating *v1.RouteTable failed: 1 "
                "error occurred:\n\t* Validating *v1.RouteTable failed: validating *v1.RouteTable "
                'name:"echo-routes"  namespace:"echo": 2 errors occurred:\n\t* ' + TYPO + "\n\t* " + TYPO) in out
        assert _echo_upstream(kube) == before

        # Server-side apply, a JSON patch, a replace (PUT) and an impersonated apply: refused the same way.
        ssa = _refused(kube.run("apply", "--server-side", "--force-conflicts", "-f", str(PART2 / "rt-echo-3.yaml"),
                                check=False))
        assert DENIED in ssa and TYPO in ssa
        patch = '[{"op": "replace", "path": "/spec/routes/1/routeAction/single/upstream/name", "value": "echo-typo"}]'
        patched = _refused(kube.run("patch", "routetable", "echo-routes", "-n", "echo", "--type", "json", "-p", patch,
                                    check=False))
        assert DENIED in patched and TYPO in patched
        live = kube.json("routetable", "echo-routes", "-n", "echo")
        live["spec"]["routes"][1]["routeAction"]["single"]["upstream"]["name"] = "echo-typo"
        replaced = _refused(kube.run("replace", "-f", "-", input=json.dumps(live), check=False))
        assert DENIED in replaced and TYPO in replaced
        impersonated = _refused(kube.run("apply", "-f", str(PART2 / "rt-echo-3.yaml"), check=False,
                                         as_user="jane", as_group="system:masters"))
        assert DENIED in impersonated and TYPO in impersonated
        assert _echo_upstream(kube) == before

        # Foxtrot's next changes are never blocked by echo's refused typo.
        for name in ("rt-foxtrot-4.yaml", "rt-foxtrot-5.yaml", "rt-foxtrot-6.yaml"):
            kube.apply(PART2 / name)
        assert "foxtrot" in json.dumps(kube.json("routetable", "-n", "foxtrot"))

        # A gateway-level error (validation_reject_invalid TestRejectsInvalidVSMethodMatcher), and the Status: code
        # 400 (ToStatusErr), Gloo's details (name, group, kind, causes), recorded in the audit log.
        created = _refused(kube.run("create", "-f", "-", input=METHOD_MATCHER, check=False))
        assert DENIED in created
        assert '*v1.VirtualService failed: validating *v1.VirtualService name:"method-matcher"' in created
        assert "invalid route: routes with delegate actions must use a prefix matcher" in created
        denials = [json.loads(line) for line in (Path(info.state_dir) / "audit.jsonl").read_text().splitlines()
                   if "denied the request" in line]
        last = denials[-1]
        assert last["objectRef"]["resource"] == "virtualservices" and last["verb"] == "create"
        status = last["responseStatus"]
        assert status["code"] == 400 and status["status"] == "Failure" and "reason" not in status
        assert status["message"].startswith(DENIED + "resource incompatible with current Gloo snapshot: [")
        assert status["details"]["name"] == "method-matcher" and status["details"]["kind"] == "VirtualService"
        assert status["details"]["group"] == "gateway.solo.io"
        assert status["details"]["causes"][0]["message"].startswith("Error Validating *v1.VirtualService failed")
        assert {d["objectRef"]["resource"] for d in denials} == {"routetables", "virtualservices"}

        # The webhook reads the Settings live: with alwaysAccept, Gloo admits the typo (and only logs).
        kube.run("patch", "settings", "default", "-n", "gloo-system", "--type", "merge",
                 "-p", '{"spec": {"gateway": {"validation": {"alwaysAccept": true}}}}')
        kube.apply(PART2 / "rt-echo-3.yaml")
        assert "echo-typo" in _echo_upstream(kube)


def test_deleting_a_referenced_route_table_current_strict(tmp_path: Path) -> None:
    # validator_test.go "delete a route table / has parents / rejects deletion": the parent's ref would dangle.
    vs = """apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: parent, namespace: gloo-system}
spec:
  virtualHost:
    routes:
      - matchers: [{prefix: /a}]
        delegateAction: {ref: {name: child, namespace: gloo-system}}
"""
    rt = """apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {name: child, namespace: gloo-system}
spec:
  routes:
    - matchers: [{prefix: /a/b}]
      directResponseAction: {status: 200, body: ok}
"""
    with sandbox(tmp_path / "sb", "current", replicas=1, validation="strict") as info:
        kube = kubectl_for(info, tmp_path)
        kube.run("apply", "-f", "-", input=rt)
        kube.run("apply", "-f", "-", input=vs)
        dry = _refused(kube.run("delete", "routetable", "child", "-n", "gloo-system", "--dry-run=server", check=False))
        assert DENIED + "resource incompatible with current Gloo snapshot: [failed validating the deletion of " \
                        "resource namespace: gloo-system name: child: " in dry
        assert "route table gloo-system.child missing" in dry
        out = _refused(kube.run("delete", "routetable", "child", "-n", "gloo-system", check=False))
        assert "route table gloo-system.child missing" in out
        kube.json("routetable", "child", "-n", "gloo-system")  # still there
        # Without the parent, the deletion passes.
        kube.run("delete", "virtualservice", "parent", "-n", "gloo-system")
        kube.run("delete", "routetable", "child", "-n", "gloo-system")


def test_profile_13_webhook(tmp_path: Path) -> None:
    # Gloo 1.3: the webhook is gateway.<ns>.svc, only errors count (no allowWarnings; AllowMissingLinks), the
    # message is the wrapped validation error; the seed's typo is admitted (its RouteTable is selected, not
    # referenced, and a missing upstream is a warning).
    with sandbox(tmp_path / "sb", "1.3", replicas=1, validation="strict") as info:
        kube = kubectl_for(info, tmp_path)
        assert "allowWarnings" not in kube.json("settings", "default", "-n", "gloo-system")["spec"]["gateway"][
            "validation"]
        created = _refused(kube.run("create", "-f", "-", input=METHOD_MATCHER, check=False))
        assert ('admission webhook "gateway.gloo-system.svc" denied the request: Validating *v1.VirtualService '
                "failed: validating *v1.VirtualService {method-matcher gloo-system}: could not render proxy: 2 errors "
                "occurred:\n\t* invalid resource gloo-system.method-matcher\n\t* invalid route: routes with delegate "
                "actions must use a prefix matcher") in created
        seed_base(kube)
        # The v1.3.20 chart's v1beta1 webhook declares no sideEffects (Unknown): Kubernetes fails every server dry
        # run of a gateway.solo.io resource (validating/dispatcher.go callHook, NewDryRunUnsupportedErr), a 400.
        dry = _refused(kube.run("apply", "--dry-run=server", "-f", str(PART2 / "rt-echo-3.yaml"), check=False))
        assert 'admission webhook "gateway.gloo-system.svc" does not support dry run' in dry
        kube.apply(PART2 / "rt-echo-3.yaml")
        assert "echo-typo" in _echo_upstream(kube)
        # Not for other groups (the webhook's rules name gateway.solo.io only), nor without the configuration: the
        # apiserver decides from the ValidatingWebhookConfiguration, which outlives a change of the Settings (Helm
        # made it), as on a cluster.
        kube.run("apply", "--dry-run=server", "-f", str(PART2 / "upstream-echo.yaml"))
        kube.run("patch", "settings", "default", "-n", "gloo-system", "--type", "json",
                 "-p", '[{"op": "remove", "path": "/spec/gateway/validation"}]')
        dry = _refused(kube.run("apply", "--dry-run=server", "-f", str(PART2 / "rt-echo-2.yaml"), check=False))
        assert 'admission webhook "gateway.gloo-system.svc" does not support dry run' in dry
        kube.run("delete", "validatingwebhookconfiguration", "gloo-gateway-validation-webhook-gloo-system")
        kube.run("apply", "--dry-run=server", "-f", str(PART2 / "rt-echo-2.yaml"))


def test_python_client_sees_the_denial(tmp_path: Path) -> None:
    # The official kubernetes Python client against the sandbox's API (in process, over a store with Gloo's
    # webhook attached and strict Settings): ApiException 400 with the Status, dry runs answered and not written.
    store = Store(tmp_path / "state")
    hook = GlooWebhook(store, "current")
    hook.attach()
    try:
        daemon.seed(store, "current")
        daemon.set_validation(store, "strict", "current")
        # The apiserver calls Gloo only as a ValidatingWebhookConfiguration says, and only while its Service has a
        # ready endpoint (no kubelet here: the Endpoints are written by hand).
        daemon.install_validation(store, "current")
        store.create(kinds.ENDPOINTS, {"metadata": {"name": "gloo", "namespace": "gloo-system"}, "subsets": [
            {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]}]})
        for name in ("echo", "foxtrot"):
            store.create(kinds.NAMESPACE, {"metadata": {"name": name}})
        for name in ("upstream-echo.yaml", "upstream-foxtrot.yaml", "rt-echo-2.yaml", "rt-foxtrot-3.yaml", "vs.yaml"):
            manifest = yaml.safe_load((PART2 / name).read_text())
            store.create(kinds.kind_of(manifest["apiVersion"], manifest["kind"]), manifest)
        with in_process_api(store, tmp_path) as served:
            api = config.new_client_from_config(str(served.kubeconfig))
            try:
                custom = client.CustomObjectsApi(api)
                typo = yaml.safe_load((PART2 / "rt-echo-3.yaml").read_text())
                live = custom.get_namespaced_custom_object("gateway.solo.io", "v1", "echo", "routetables",
                                                           "echo-routes")
                typo["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                for dry in ("All", None):
                    with pytest.raises(ApiException) as refused:
                        custom.replace_namespaced_custom_object("gateway.solo.io", "v1", "echo", "routetables",
                                                                "echo-routes", typo, dry_run=dry)
                    assert refused.value.status == 400
                    status = json.loads(refused.value.body)
                    assert status["kind"] == "Status" and status["code"] == 400 and "reason" not in status
                    assert status["message"].startswith(DENIED) and status["message"].count(TYPO) == 2
                    assert status["details"] == {"name": "echo-routes", "group": "gateway.solo.io",
                                                 "kind": "RouteTable", "causes": [
                                                     {"message": "Error " + status["message"].split("[", 1)[1]
                                                      .rsplit("]", 1)[0]}]}
                after = custom.get_namespaced_custom_object("gateway.solo.io", "v1", "echo", "routetables",
                                                            "echo-routes")
                assert after["spec"] == live["spec"]
                with pytest.raises(ApiException) as created:
                    custom.create_namespaced_custom_object("gateway.solo.io", "v1", "gloo-system", "virtualservices",
                                                           yaml.safe_load(METHOD_MATCHER))
                assert created.value.status == 400
                assert "invalid route: routes with delegate actions must use a prefix matcher" in created.value.body
                fox = yaml.safe_load((PART2 / "rt-foxtrot-4.yaml").read_text())
                custom.patch_namespaced_custom_object("gateway.solo.io", "v1", "foxtrot", "routetables",
                                                      "foxtrot-routes", {"spec": fox["spec"]})
            finally:
                api.close()
    finally:
        hook.detach()
        store.close()
