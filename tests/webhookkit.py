"""What the tests of Gloo's validation webhook share: Gloo's own invalid resource and the messages it gets."""

from __future__ import annotations

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
