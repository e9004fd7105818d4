"""Gloo-in-a-box: an emulator of Kubernetes and Gloo on one machine, with real Envoy replicas.

Nothing here is Gloo or Kubernetes: the package name says so. It exists so that the notebooks,
the demo and the tests run against something that behaves like a cluster from the outside.
"""
