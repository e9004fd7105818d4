"""The one error tree: every exception class of gloo_nb sits in a group, and the CLI maps groups to exit codes."""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import gloo_nb
from gloo_nb import cli
from gloo_nb.errors import BadDataError, GlooNbError, RolloutConflict, RolloutError, UnreachableError, UsageError
from gloo_nb.kube import ConflictError, KubeError

pytestmark = pytest.mark.unit

GROUPS = (UsageError, UnreachableError, BadDataError, RolloutError)
# Modules that run in a pod's process (`python -I -S workloads.py`, which loads exec's shell for containers that
# run their command): the standard library only, so they cannot import gloo_nb.errors. Their errors never leave
# the sandbox: a pod's exit code, or one line of an exec's stderr.
OUTSIDE_MODULES = ("gloo_nb.sandbox.workloads.", "gloo_nb.sandbox.pod_exec_shell.", "gloo_nb.sandbox.pod_exec_tools.")
PACKAGE = Path(gloo_nb.__file__).parent


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages([str(PACKAGE)], "gloo_nb."):
        if info.name.endswith(("__main__", ".demo")):
            continue  # running them does something
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and not issubclass(obj, Warning)
                    and obj.__module__ == module.__name__):
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_exception_class_belongs_to_one_group():
    classes = _exception_classes()
    assert "gloo_nb.translate.selection.SelectionError" in classes  # the walk found the module-local ones
    for name, cls in classes.items():
        if cls in (GlooNbError, *GROUPS) or name.startswith(OUTSIDE_MODULES):
            continue
        groups = [g for g in GROUPS if issubclass(cls, g)]
        assert groups, f"{name} derives from no group of gloo_nb.errors"
        if not issubclass(cls, RolloutConflict):
            assert len(groups) == 1, f"{name} is in several groups: {groups}"


def test_the_tree_in_the_docstring_names_every_class():
    doc = importlib.import_module("gloo_nb.errors").__doc__ or ""
    for name in _exception_classes():
        assert name.rsplit(".", 1)[1] in doc, f"the tree in errors.py does not show {name}"


def test_a_kube_conflict_is_a_rollout_conflict_and_a_kube_error():
    assert issubclass(ConflictError, RolloutConflict) and issubclass(ConflictError, KubeError)


@pytest.mark.parametrize(("error", "code"), [
    (ConflictError("changed meanwhile", status=409, reason="Conflict"), 3),
    (KubeError("forbidden", status=403), 2),
    (UsageError("bad flag"), 2),
    (BadDataError("bad bundle"), 2),
    (RolloutError("no default route"), 2),
    (GlooNbError("anything"), 2),
])
def test_the_cli_maps_groups_to_exit_codes(error: GlooNbError, code: int, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]):
    def run(_args: argparse.Namespace) -> int:
        raise error

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda _argv: argparse.Namespace(run=run))
    assert cli.main([]) == code
    assert capsys.readouterr().err == f"gloo-nb: {error}\n"


def _swallows_everything(handler: ast.ExceptHandler) -> bool:
    broad = handler.type is None or (isinstance(handler.type, ast.Name)
                                     and handler.type.id in ("Exception", "BaseException"))
    return broad and all(isinstance(stmt, ast.Pass) for stmt in handler.body)


def test_no_error_is_swallowed_silently():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ExceptHandler) and _swallows_everything(node):
                offenders.append(f"{path}:{node.lineno}: except Exception: pass")
            if (isinstance(node, ast.Call) and ast.unparse(node.func) == "contextlib.suppress"
                    and any(ast.unparse(a) in ("Exception", "BaseException") for a in node.args)):
                offenders.append(f"{path}:{node.lineno}: contextlib.suppress(Exception)")
    assert not offenders, "\n".join(offenders)
