"""Composition: wires the pure core to the outside world (files, clusters, xDS) and runs effects."""
