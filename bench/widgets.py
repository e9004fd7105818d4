"""Delegation tree benchmark: the view-model over 10,000 RouteTables (100,000 routes).

Input: ``bench/translate.py``'s snapshot (team namespaces, label-selected RouteTables). It prints,
never asserts, against a baseline measured in the same run (translating the same snapshot):

* first render: building :class:`gloo_nb.analysis.tree.DelegationTree` and its top two levels
  (every VirtualService and its delegate routes); target under 1 s;
* one expansion: a delegate route's RouteTables (selection with the translator's index), then one
  table's routes; target under 50 ms.

Usage: ``python bench/widgets.py [--tables 10000] [--profile current]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent

TARGET_FIRST_S = 1.0
TARGET_EXPAND_S = 0.050


def big_translation(n_tables: int, profile: str = "current") -> Any:
    """Translate ``bench/translate.py``'s input of ``n_tables`` RouteTables.

    Args:
        n_tables: Number of RouteTables.
        profile: Behaviour profile.

    Returns:
        The translation.
    """
    # bench/translate.py, loaded by path: bench/ is a folder of scripts, not a package.
    spec = importlib.util.spec_from_file_location("bench_translate", _HERE / "translate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    build_models = module.build_models

    from gloo_nb.models import Snapshot
    from gloo_nb.translate import translate

    return translate(Snapshot.from_resources(build_models(n_tables)), profile)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results.

    Args:
        argv: Command-line arguments.

    Returns:
        The exit status (always 0: benches report, they do not assert).
    """
    from gloo_nb.analysis.tree import DelegationTree

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=10_000)
    parser.add_argument("--profile", default="current")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    translation = big_translation(args.tables, args.profile)
    baseline = time.perf_counter() - t0

    t0 = time.perf_counter()
    tree = DelegationTree(translation)
    top = [(vs, tree.children(vs.id)) for vs in tree.roots()]
    first = time.perf_counter() - t0

    delegate = top[len(top) // 2][1][0]
    t0 = time.perf_counter()
    tables = tree.children(delegate.id)
    routes = tree.children(tables[0].id)
    expand = time.perf_counter() - t0

    t0 = time.perf_counter()
    detail = tree.detail(routes[0].id)
    select = time.perf_counter() - t0

    n_delegates = sum(len(children) for _, children in top)
    print(f"tables: {args.tables}, virtual services: {len(top)}, delegate routes: {n_delegates}")
    print(f"baseline translate(): {baseline:.3f} s")
    print(f"first render (top two levels): {first * 1000:.1f} ms ({first / baseline:.3f} x baseline), "
          f"target < {TARGET_FIRST_S:.0f} s: {'met' if first < TARGET_FIRST_S else 'MISSED'}")
    print(f"one expansion ({len(tables)} tables, {len(routes)} routes): {expand * 1000:.2f} ms, "
          f"target < {TARGET_EXPAND_S * 1000:.0f} ms: {'met' if expand < TARGET_EXPAND_S else 'MISSED'}")
    print(f"first selection detail: {select * 1000:.1f} ms, "
          f"{len(detail.envoy_routes)} Envoy route(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
