"""``--proxy NAME[:REPLICAS]`` and the install objects of a further proxy (pure; no sandbox runs)."""

from __future__ import annotations

import pytest

from gloo_nb.errors import UsageError
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.daemon import proxy_manifests, proxy_pod
from gloo_nb.sandbox.envoy import Replica
from gloo_nb.sandbox.proxyspec import parse_proxy_spec, parse_proxy_specs

pytestmark = pytest.mark.unit


def test_specs_default_to_two_gateway_proxy_replicas():
    assert parse_proxy_specs(None) == [("gateway-proxy", 2)]
    assert parse_proxy_specs([], default_replicas=3) == [("gateway-proxy", 3)]
    assert parse_proxy_specs(["gateway-proxy:1", "internal"], default_replicas=3) == [
        ("gateway-proxy", 1), ("internal", 3)]


@pytest.mark.parametrize(("text", "words"), [
    ("Internal:1", "DNS label"), ("a_b", "DNS label"), ("", "DNS label"), ("x:two", "whole number"),
    ("x:0", "from 1 to 16"), ("x:17", "from 1 to 16"), ("x:", "whole number")])
def test_bad_specs_fail_with_one_line_naming_the_argument(text, words):
    with pytest.raises(UsageError) as err:
        parse_proxy_spec(text)
    assert words in str(err.value) and repr(text) in str(err.value) and "\n" not in str(err.value)


def test_a_proxy_given_twice_is_refused():
    with pytest.raises(UsageError, match="internal is given more than once"):
        parse_proxy_specs(["internal:1", "internal:2"])


def test_a_further_proxy_gets_helms_gateway_and_service_named_after_it():
    """install/helm/gloo/templates/8-default-gateways.yaml and 8-gateway-proxy-service.yaml (v1.3.20):
    per gatewayProxies entry, a Gateway named after it with proxyNames [name], and a Service selecting
    gateway-proxy-id: name."""
    assert proxy_manifests("1.3", "gateway-proxy") == []
    made = {(kind.kind, m["metadata"]["name"]): m for kind, m in proxy_manifests("1.3", "internal")}
    gateway = made[("Gateway", "internal")]
    assert gateway["spec"]["proxyNames"] == ["internal"] and gateway["spec"]["bindPort"] == 8080
    service = made[("Service", "internal")]
    assert service["spec"]["selector"]["gateway-proxy-id"] == "internal"
    assert service["metadata"]["labels"]["gateway-proxy-id"] == "internal"
    assert all(kind in (kinds.GATEWAY, kinds.SERVICE) for kind, _ in proxy_manifests("current", "internal"))


def test_a_replica_pod_is_named_and_labelled_after_its_proxy():
    replica = Replica(index=1, node_id="internal-1.gloo-system", admin_port=1, ports={8080: 2})
    pod = proxy_pod(replica, ready=True, proxy="internal")
    assert pod["metadata"]["name"] == "internal-1"
    assert pod["metadata"]["labels"]["gateway-proxy-id"] == "internal"
    assert proxy_pod(replica, ready=True)["metadata"]["name"] == "gateway-proxy-1"


def test_cli_refuses_a_bad_proxy_with_exit_2_and_one_line(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "gloo_nb", "sandbox", "start", "--state-dir", str(tmp_path / "sb"),
                           "--proxy", "Bad:1"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--proxy 'Bad:1'" in lines[0]
    assert not (tmp_path / "sb" / "endpoints.json").exists()
