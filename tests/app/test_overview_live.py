"""The gateway overview read from a live sandbox: Kubernetes endpoints and each replica's /clusters agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandboxkit import sandbox

from gloo_nb.app import notebook as nb
from gloo_nb.app.overview import LIVE_FILE, read_overview
from gloo_nb.widgets.overview import GatewayOverviewView

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


def test_overview_of_the_seed_incident(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        gw = nb.open_gateway(sandbox_dir=info.state_dir, apply_changes=True)
        try:
            gw.apply(nb.STEP4)
            gw.settle()
            gw.apply(nb.INCIDENT)
            overview = read_overview(gw, gw.inspect())
        finally:
            gw.close()
    assert overview.counts.loc["VirtualService", "Warning"] == 1
    assert overview.counts.loc["RouteTable", "total"] == 2 and overview.counts.loc["Upstream", "total"] == 2
    assert len(overview.replicas) == 2 and not overview.unread
    for h in overview.health:
        # Step 4 runs foxtrot v1 and v2 and echo v1 and v2: one ready pod each, and Envoy holds them all healthy.
        assert h.kind == "kube" and h.ready == h.total == 2, h
        assert all(got == (2, 2) for got in h.envoy.values()), h
    (link,) = [x for x in overview.findings if "echo-typo" in x.finding.message]
    assert link.file == LIVE_FILE and link.how == "name echo-typo"
    assert dict(link.excerpt)[link.line].strip() == "name: echo-typo"
    assert "echo-typo" in GatewayOverviewView(overview).html.value
