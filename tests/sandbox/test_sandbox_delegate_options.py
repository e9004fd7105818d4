"""VirtualHostOption and RouteOption live on a sandbox: kubectl applies the kinds, the control plane watches them,
and real Envoy applies the options a VirtualService delegates to them
(``virtual_service_translator.go:mergeDelegatedVirtualHostOptions``, ``converter.go:routeVisitor.visit``).
A missing ref is Gloo's warning on the VirtualService's status.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from polling import wait_until
from sandboxkit import fetch, kubectl_for, sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

GS = "gloo-system"


def _vs(refs: list[str]) -> dict:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "web", "namespace": GS},
            "spec": {"virtualHost": {
                "domains": ["*"],
                "optionsConfigRefs": {"delegateOptions": [{"name": n, "namespace": GS} for n in refs]},
                "routes": [{"matchers": [{"prefix": "/"}],
                            "optionsConfigRefs": {"delegateOptions": [{"name": "direct", "namespace": GS}]},
                            "directResponseAction": {"status": 200, "body": "hello"}}]}}}


def test_delegated_options_reach_envoy_and_a_missing_ref_warns(tmp_path: Path) -> None:
    docs = [
        {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualHostOption", "metadata": {"name": "hdr", "namespace": GS},
         "spec": {"options": {"headerManipulation": {
             "responseHeadersToAdd": [{"header": {"key": "x-from-vho", "value": "yes"}}]}}}},
        {"apiVersion": "gateway.solo.io/v1", "kind": "RouteOption", "metadata": {"name": "direct", "namespace": GS},
         "spec": {"options": {"headerManipulation": {
             "responseHeadersToAdd": [{"header": {"key": "x-from-ro", "value": "yes"}}]}}}},
        _vs(["hdr"]),
    ]
    with sandbox(tmp_path / "sb", "current", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        manifest = tmp_path / "opts.yaml"
        manifest.write_text(yaml.safe_dump_all(docs))
        kube.apply(manifest)
        resp = wait_until(lambda: fetch(info.gateway + "/"), "both delegated headers are served",
                          until=lambda r: r.status == 200 and "x-from-vho" in {k.lower() for k in r.headers}
                          and "x-from-ro" in {k.lower() for k in r.headers})
        assert resp.body.strip() == "hello"
        assert kube.json("vhopts", "hdr", "-n", GS)["spec"]["options"]

        manifest.write_text(yaml.safe_dump_all([_vs(["hdr", "ghost"])]))
        kube.apply(manifest)

        def warned() -> dict | None:
            st = (kube.json("virtualservice", "web", "-n", GS).get("status") or {}).get("statuses", {}).get(GS)
            return st if st and "list did not find virtualHostOption gloo-system.ghost" in st.get("reason", "") \
                else None

        st = wait_until(warned, "the missing ref's warning is on the VirtualService")
        assert st["state"] == "Warning", st
