"""Architecture rules that import-linter cannot express (see design/architecture.md).

1. `*_pb2_grpc` modules (gRPC stubs and servicers) are imported only under gloo_nb/xds/ and
   gloo_nb/sandbox/.
2. The pure core (models, translate, rollout, ports, errors, _types) does no file or network I/O:
   no `open(...)`, and no socket, urllib, http.client, subprocess or requests. It also imports none
   of grpc, kubernetes, aiohttp, ipywidgets, pandas directly (import-linter's `pure-core` contract
   says the same, but only for the packages that already exist).

The detectors work on source text, and the self-checks at the bottom prove that they flag
synthetic violations, so the real checks cannot pass by detecting nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gloo_nb"

# Where `*_pb2_grpc` may be imported (directories relative to the repository root).
GRPC_STUB_ALLOWED = ("gloo_nb/xds/", "gloo_nb/sandbox/")

# The pure core: a package directory, or a single module, for each entry.
PURE_CORE = (
    "gloo_nb/models/",
    "gloo_nb/translate/",
    "gloo_nb/rollout/",
    "gloo_nb/rollout.py",
    "gloo_nb/ports/",
    "gloo_nb/ports.py",
    "gloo_nb/errors.py",
    "gloo_nb/_types.py",
    "gloo_nb/_gc.py",
    "gloo_nb/_text.py",
)

# Top-level modules the pure core must not import (any submodule counts too).
FORBIDDEN_IN_CORE = (
    "socket",
    "urllib",
    "http.client",
    "subprocess",
    "requests",
    "grpc",
    "kubernetes",
    "aiohttp",
    "ipywidgets",
    "pandas",
)

# Calls that open files: builtin open(), io.open, os.open, os.fdopen, Path.open, gzip.open...,
# and pathlib's read/write helpers.
OPENING_ATTRS = frozenset({"open", "fdopen", "read_text", "write_text", "read_bytes", "write_bytes"})


def _imported_names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Yield (line, dotted name) for every module an import statement can bring in.

    `from a.b import c` yields both `a.b` and `a.b.c`, since `c` may be a submodule; relative
    imports yield their dotted tail with the leading dots kept.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if node.module:
                yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}" if node.module else base + alias.name
        elif isinstance(node, ast.Call):
            # __import__("x") / importlib.import_module("x") with a literal name.
            func = node.func
            is_dynamic = (isinstance(func, ast.Name) and func.id == "__import__") or (
                isinstance(func, ast.Attribute) and func.attr == "import_module"
            )
            if is_dynamic and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield node.lineno, arg.value


def _matches(name: str, module: str) -> bool:
    """Whether dotted `name` is `module` or inside it (relative names never match)."""
    return name == module or name.startswith(module + ".")


def find_pb2_grpc_imports(source: str, filename: str = "<string>") -> list[str]:
    """Return one message per import of a `*_pb2_grpc` module in `source`."""
    tree = ast.parse(source, filename=filename)
    found: dict[int, str] = {}
    for line, name in _imported_names(tree):
        if any(part.endswith("_pb2_grpc") for part in name.lstrip(".").split(".")):
            found.setdefault(line, name)
    return [f"{filename}:{line}: imports {name}" for line, name in sorted(found.items())]


def find_io_violations(source: str, filename: str = "<string>") -> list[str]:
    """Return one message per file/network I/O construct in `source` (for pure-core modules)."""
    tree = ast.parse(source, filename=filename)
    found: dict[tuple[int, str], str] = {}
    for line, name in _imported_names(tree):
        for module in FORBIDDEN_IN_CORE:
            if _matches(name, module):
                found.setdefault((line, module), f"imports {name} (forbidden: {module})")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open":
            found[(node.lineno, "open")] = "calls open()"
        elif isinstance(func, ast.Attribute) and func.attr in OPENING_ATTRS:
            found[(node.lineno, func.attr)] = f"calls .{func.attr}()"
    return [f"{filename}:{line}: {what}" for (line, _), what in sorted(found.items())]


def _python_files() -> list[tuple[str, Path]]:
    files = sorted(PACKAGE.rglob("*.py"))
    return [(path.relative_to(ROOT).as_posix(), path) for path in files]


def _in_any(rel: str, prefixes: tuple[str, ...]) -> bool:
    return any(rel == prefix or (prefix.endswith("/") and rel.startswith(prefix)) for prefix in prefixes)


def test_package_is_found() -> None:
    files = [rel for rel, _ in _python_files()]
    assert "gloo_nb/__init__.py" in files, f"no gloo_nb package under {ROOT}"


def test_pb2_grpc_only_in_xds_and_sandbox() -> None:
    violations = []
    for rel, path in _python_files():
        if _in_any(rel, GRPC_STUB_ALLOWED):
            continue
        violations += find_pb2_grpc_imports(path.read_text(encoding="utf-8"), rel)
    assert not violations, (
        "*_pb2_grpc may be imported only under gloo_nb/xds/ or gloo_nb/sandbox/:\n" + "\n".join(violations)
    )


def test_pure_core_does_no_io() -> None:
    violations = []
    for rel, path in _python_files():
        if _in_any(rel, PURE_CORE):
            violations += find_io_violations(path.read_text(encoding="utf-8"), rel)
    assert not violations, (
        "the pure core (models, translate, rollout, ports, errors, _types) does no file or network "
        "I/O; take the data, or inject what touches the outside:\n" + "\n".join(violations)
    )


# --- self-checks: the detectors flag what they must, and only that --------------------------------


def test_detector_flags_pb2_grpc_imports() -> None:
    bad = "\n".join(
        [
            "import envoy.service.discovery.v3.ads_pb2_grpc",
            "from envoy.service.discovery.v3 import ads_pb2_grpc as g",
            "from envoy.service.discovery.v3.ads_pb2_grpc import AggregatedDiscoveryServiceStub",
            "from . import local_pb2_grpc",
            "from .pkg.local_pb2_grpc import Stub",
            "def f():",
            "    import x.y_pb2_grpc",
        ]
    )
    assert [m.split(":")[1] for m in find_pb2_grpc_imports(bad)] == ["1", "2", "3", "4", "5", "7"]
    good = "\n".join(
        [
            "from envoy.service.discovery.v3 import discovery_pb2",
            "import envoy.config.route.v3.route_pb2 as route_pb2",
            "NAME = 'ads_pb2_grpc'",
        ]
    )
    assert find_pb2_grpc_imports(good) == []


def test_detector_flags_io_in_pure_core() -> None:
    cases = {
        "with open('f') as fh: pass": "calls open()",
        "import io\nio.open('f')": "calls .open()",
        "from pathlib import Path\nPath('f').read_text()": "calls .read_text()",
        "import socket": "imports socket",
        "import urllib.request": "imports urllib.request",
        "from urllib.parse import urlsplit": "imports urllib.parse",
        "import http.client": "imports http.client",
        "from http import client": "imports http.client",
        "from http.client import HTTPConnection": "imports http.client",
        "import subprocess as sp": "imports subprocess",
        "import requests": "imports requests",
        "import grpc": "imports grpc",
        "from kubernetes import client": "imports kubernetes",
        "import pandas as pd": "imports pandas",
        "import importlib\nimportlib.import_module('socket')": "imports socket",
        "def f():\n    import aiohttp": "imports aiohttp",
    }
    for source, expected in cases.items():
        found = find_io_violations(source)
        assert any(expected in message for message in found), (source, found)


def test_detector_accepts_pure_code() -> None:
    source = "\n".join(
        [
            "from __future__ import annotations",
            "from dataclasses import dataclass",
            "from http import HTTPStatus",
            "import envoy.config.route.v3.route_pb2 as route_pb2",
            "from . import errors",
            "import urllib_like",
            "TEXT = 'open(path)'",
            "def parse(text: str, opened: bool) -> str:",
            "    return text.opening if opened else text",
        ]
    )
    assert find_io_violations(source) == []
