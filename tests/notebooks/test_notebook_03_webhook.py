"""Notebook 03's third answer (issue 19) outside papermill: its second sandbox stops on failure too, and on a
connection it was given it predicts instead of writing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sandboxkit import PART2, kubectl_for, sandbox

from gloo_nb.app import notebook as nb
from gloo_nb.app.connect import connect_sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


def test_the_second_sandbox_stops_when_the_replay_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[nb.NotebookGateway] = []

    def boom(strict: nb.NotebookGateway) -> nb.WebhookAnswer:
        started.append(strict)
        assert (strict.sandbox_dir / "endpoints.json").exists()  # type: ignore[operator]
        assert strict.conn.profile == "current"
        raise RuntimeError("boom")

    monkeypatch.setattr(nb, "_replayed_answer", boom)
    owner = nb.NotebookGateway.__new__(nb.NotebookGateway)
    owner.owned = True  # only `owned` is read before the second sandbox starts
    with pytest.raises(RuntimeError, match="boom"):
        nb.strict_webhook_answer(owner)
    (strict,) = started
    assert strict.closed and strict.sandbox_dir is not None
    assert not (strict.sandbox_dir / "endpoints.json").exists()


def test_on_a_given_connection_the_third_answer_is_a_prediction(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(*(PART2 / f for f in nb.STEP4))
        gw = nb.NotebookGateway(connect_sandbox(info.state_dir), owned=False, apply_changes=False,
                                sandbox_dir=info.state_dir)
        try:
            before = kube.json("routetable", "echo-routes", "-n", "echo")["metadata"]["resourceVersion"]
            third = nb.strict_webhook_answer(gw)
            text = third.text()
            assert text.startswith("Predicted, nothing written: under strict validation current Gloo's webhook "
                                   "refuses echo's typo at apply")
            # Both profiles against what the cluster holds: 1.3 admits the typo, current refuses it.
            assert "Gloo 1.3: RouteTable echo/echo-routes: admitted" in third.verdicts
            (current,) = [v for v in third.verdicts if v.startswith("Gloo current: RouteTable echo/echo-routes")]
            assert current.startswith('Gloo current: RouteTable echo/echo-routes: denied: admission webhook '
                                      '"gloo.gloo-system.svc" denied the request: ')
            assert "*v1.Upstream { gloo-system.echo-typo } not found" in current
            assert "Gloo current: RouteTable foxtrot/foxtrot-routes: admitted" in third.verdicts
            assert "Gloo 1.3's webhook would have admitted the typo" in text
            assert third.denial == "" and third.foxtrot is None
            assert kube.json("routetable", "echo-routes", "-n", "echo")["metadata"]["resourceVersion"] == before
            table = nb.IncidentAnswers().table(third)
            assert table.loc["webhook (strict)", "who is blocked"] == "echo's typo, at apply (predicted)"
        finally:
            gw.close()
