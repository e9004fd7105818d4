"""What the tests of Gloo's validation webhook share: Gloo's own invalid resource and the messages it gets."""

from __future__ import annotations

from sandboxkit import PART2, Kube

METHOD_MATCHER = """apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: method-matcher, namespace: gloo-system}
spec:
  virtualHost:
    domains: [unique2]
    routes:
      - matchers: [{exact: /delegated-nonprefix}]
        delegateAction: {name: does-not-exist, namespace: anywhere}
"""
"""Gloo's e2e test data (test/kubernetes/e2e/features/validation/testdata/invalid-resources/vs-method-matcher.yaml):
a VirtualService every validation mode refuses (a delegating route that is not a prefix match)."""

DENIED = 'admission webhook "gloo.gloo-system.svc" denied the request: '
"""The prefix kube-apiserver puts before a webhook's denial (statuserror.go ToStatusErr) for main's webhook."""

TYPO = "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.echo-typo } not found"
"""Gloo's warning for the seed incident's RouteTable (echo's typo), as the webhook words it."""


def seed_base(kube: Kube) -> None:
    """The seed's namespaces, Upstreams, RouteTables (echo 2, foxtrot 3), then the VirtualService that selects them.

    In that order: otherwise Gloo's validator holds a snapshot with "no route table matches the given selector" (a
    warning, which strict validation counts) and admits everything (InvalidSnapshotErrMessage).
    """
    kube.run("create", "namespace", "echo")
    kube.run("create", "namespace", "foxtrot")
    kube.apply(PART2 / "upstream-echo.yaml", PART2 / "upstream-foxtrot.yaml")
    kube.apply(PART2 / "rt-echo-2.yaml", PART2 / "rt-foxtrot-3.yaml")
    kube.apply(PART2 / "vs.yaml")
