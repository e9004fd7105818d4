"""The NACK predictions of ``test_envoy_rejections.py`` checked against the real Envoy (``envoy --mode validate``):
Envoy refuses exactly the pushed snapshots gloo_nb says it will, with the text gloo_nb quotes, and accepts the
controls."""

from __future__ import annotations

import pytest
from test_envoy_accepts import assert_envoy_accepts, assert_envoy_rejects
from test_envoy_rejections import CASES, CLUSTER_CASES, _route, docs, upstream_doc

from gloo_nb.translate import translate
from gloo_nb.translate.envoy_rejections import re2_problem

pytestmark = pytest.mark.envoy


@pytest.mark.parametrize(("routes", "profile", "replace", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_envoy_agrees_with_the_prediction(routes, profile, replace, reason, tmp_path):
    t = translate(docs(routes, replace=replace), profile)
    if reason is None:
        if t.envoy.route_configurations:
            assert_envoy_accepts(t.envoy, tmp_path)
        return
    assert_envoy_rejects(t.envoy, tmp_path, reason)


@pytest.mark.parametrize("pattern", ["(?=a)", "(?<!a)", "a\\2", "a[b", "(a", "a)", "*a", "^/api/v[0-9]+/.*$"])
def test_re2_problem_is_envoys_word(pattern, tmp_path):
    t = translate(docs(_route({"prefix": "/", "headers": [{"name": "x", "value": pattern, "regex": True}]})),
                  "current")
    problem = re2_problem(pattern)
    if problem is None:
        assert_envoy_accepts(t.envoy, tmp_path)
    else:
        assert_envoy_rejects(t.envoy, tmp_path, problem)


def test_fallback_listener_without_a_response_code_is_refused_by_envoy(tmp_path):
    from test_envoy_rejections import MISSING_GROUP
    t = translate(docs(_route({"prefix": "/"}, MISSING_GROUP), replace=True, policy={}), "current")
    assert t.envoy_rejections
    assert_envoy_rejects(t.envoy, tmp_path, "DirectResponseActionValidationError.Status: value must be inside range")


@pytest.mark.parametrize(("spec", "reason"), [c[1:] for c in CLUSTER_CASES], ids=[c[0] for c in CLUSTER_CASES])
def test_envoy_agrees_on_clusters(spec, reason, tmp_path):
    t = translate(upstream_doc(spec), "current")
    if reason is None:
        assert_envoy_accepts(t.envoy, tmp_path)
    else:
        assert_envoy_rejects(t.envoy, tmp_path, reason)
