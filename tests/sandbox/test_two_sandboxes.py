"""Two sandboxes on one machine at once do not step on each other (tests, a notebook beside the demo).

Each replica's route-replacement fallback listener binds an abstract Unix socket, and abstract
sockets are one namespace per machine: with names made only from the node id, the second
sandbox's ``gateway-proxy-0`` could not bind its fallback listener and Envoy rejected the whole LDS
update (seen as a flaky ``lds rejected 1 update(s)`` when test runs overlapped).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from polling import wait_until
from sandboxkit import PART2, fetch, kubectl_for, sandbox

from gloo_nb.xds.admin import EnvoyAdmin

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

BROKEN_VS = """
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: app, namespace: gloo-system}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{prefix: /broken}]
      routeAction: {single: {upstream: {name: missing, namespace: gloo-system}}}
    - matchers: [{prefix: /}]
      directResponseAction: {status: 200, body: fine}
"""


def test_two_sandboxes_each_serve_their_fallback_listener(tmp_path: Path) -> None:
    with ExitStack() as stack:
        infos = [stack.enter_context(sandbox(tmp_path / name, "1.3", replicas=1)) for name in ("a", "b")]
        for name, info in zip(("a", "b"), infos, strict=True):
            (tmp_path / f"{name}-home").mkdir()
            kube = kubectl_for(info, tmp_path / f"{name}-home")
            kube.run("apply", "-f", "-", input=BROKEN_VS)
            kube.run("patch", "-n", "gloo-system", "settings", "default", "--type", "merge", "--patch",
                     (PART2 / "settings-patch.yaml").read_text())
        for info in infos:
            wait_until(lambda info=info: fetch(info.gateway + "/broken"), f"{info.gateway}/broken answering the "
                       f"fallback 404", until=lambda r: r.status == 404)
            assert fetch(info.gateway + "/").body == "fine"
            for admin in info.envoy_admin:
                assert EnvoyAdmin(admin).xds_stats().rejected == 0, admin
