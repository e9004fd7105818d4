"""``gloo-nb translate --compare 1.3,current --sandbox DIR``: the comparison of what a live cluster holds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from polling import wait_until
from sandboxkit import PART2, kubectl_for, sandbox

from gloo_nb.app.manifests import read_manifests
from gloo_nb.translate import compare

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

FILES = ["echo.yaml", "foxtrot.yaml", "echo-v2.yaml", "foxtrot-v2.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml",
         "rt-echo-3.yaml", "rt-foxtrot-4.yaml", "vs.yaml"]


def test_compare_reads_the_live_resources_and_says_current_would_serve(tmp_path) -> None:
    with sandbox(tmp_path / "sb", "1.3", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(*(PART2 / f for f in FILES))
        wait_until(lambda: json.dumps(kube.json("vs", "app", "-n", "gloo-system").get("status")),
                   "the typo is reported", until=lambda status: "echo-typo" in status)
        done = subprocess.run([sys.executable, "-m", "gloo_nb", "translate", "--compare", "1.3,current", "--json",
                               "--sandbox", str(info.state_dir)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        px = doc["proxies"][0]
        assert (px["namespace"], px["name"]) == ("gloo-system", "gateway-proxy")
        assert px["push"]["byProfile"]["1.3"]["decision"] == "keep-last-good"
        assert px["push"]["byProfile"]["current"]["decision"] == "push"
        assert px["routeStates"] == {"1.3": {"frozen": 4}, "current": {"served": 4}}
        # The live routes compare as the same manifests do (the live cluster has more Services, hence clusters).
        offline = compare(read_manifests([str(PART2 / f) for f in FILES]).resources, "1.3,current").document()
        assert px["routes"] == offline["proxies"][0]["routes"]
        assert doc["summary"][:4] == offline["summary"][:4]
        # The gloo Service's gRPC ports get HTTP/2 protocol options that the two versions build differently
        # (translate/upstream_options.py): the comparison names the field.
        built = {c["name"]: c["fields"] for c in px["clusters"] if c["fields"]}
        assert built.get("kube-svc:gloo-system-gloo-9977_gloo-system") == ["typedExtensionProtocolOptions"]
        text = subprocess.run([sys.executable, "-m", "gloo_nb", "translate", "--compare", "1.3,current",
                               "--sandbox", str(info.state_dir)], capture_output=True, text=True, timeout=120)
        assert text.returncode == 0, text.stderr
        assert "On current, 4 routes of proxy gloo-system/gateway-proxy would be served instead of frozen" \
            in text.stdout
