"""The delegation tree on a live sandbox: selecting a route shows which replicas applied what."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandboxkit import sandbox

from gloo_nb.app import notebook as nb
from gloo_nb.widgets import DelegationTreeView

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

R0, R1 = "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"
OLD = "foxtrot_gloo-system {version=v1} 100, foxtrot_gloo-system {version=v2} 0"
NEW = "foxtrot_gloo-system {version=v1} 0, foxtrot_gloo-system {version=v2} 100"


def foxtrot_default_route(view: DelegationTreeView) -> str:
    (hit,) = [h for h in view.run_search("prefix /foxtrot") if view.tree.node(h).kind == "Route"
              and "stage=canary" not in view.tree.node(h).label]
    return hit


def test_selected_route_shows_what_each_replica_applied_blocked_then_live(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        gw = nb.open_gateway(sandbox_dir=info.state_dir, apply_changes=True)
        try:
            gw.apply(nb.STEP4)
            gw.settle()
            gw.apply(nb.INCIDENT)
            blocked = gw.settle()
            view = DelegationTreeView(blocked.translation, blocked)
            detail = view.select(foxtrot_default_route(view))
            # Kubernetes asks for 0/100, but Gloo 1.3 holds the last good snapshot: both replicas still apply 100/0.
            assert detail.node.inherited == "blocked" and detail.node.shown_state == "blocked"
            (envoy,) = detail.envoy_routes
            assert envoy.action == NEW and dict(envoy.replicas) == {R0: OLD, R1: OLD}
            assert f"{R0}: {OLD}" in view.detail.value and f"{R1}: {OLD}" in view.detail.value

            gw.patch_settings()
            fixed = gw.settle()
            view = DelegationTreeView(fixed.translation, fixed)
            (envoy,) = view.select(foxtrot_default_route(view)).envoy_routes
            assert dict(envoy.replicas) == {R0: NEW, R1: NEW}
        finally:
            gw.close()
