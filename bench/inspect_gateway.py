"""Inspector decode benchmark: a served snapshot of 100,000 routes into the routes frame.

The served RouteConfiguration is built the way Gloo shapes it (one ``listener-::-8080-routes`` with a
virtual host per VirtualService; prefix matchers, a ``stage: canary`` header on every third route,
single subset destinations and 90/10 weighted ones, a few direct responses and fallback-replaced
routes), either directly as protos (default) or with ``--from-translator`` by translating
``bench/translate.py``'s generated RouteTables. It is serialized once, as it arrives over xDS.

It prints, never asserts (bench rules), the best of ``--repeat`` runs of:

* protobuf parsing alone: ``RouteConfiguration.FromString(data)``;
* parse + ``gloo_nb.xds.decode.route_rows`` + ``pandas.DataFrame(columns(rows))`` (the routes frame);

the ratio of the two, and whether the target (under 1.5 s for the routes frame) is met. With
``--naive`` it also times ``pandas.DataFrame(rows)`` straight from the dataclass rows, which pandas
deep-copies through ``dataclasses.asdict``.

With ``--distinct`` every route carries options of its own (a header value per route, plus shared retries, timeout
and CORS ``typedPerFilterConfig``): the worst case for ``route_rows``' caches (decoding and fingerprint).

Usage: ``python bench/inspect_gateway.py [--routes 100000] [--repeat 3] [--from-translator] [--naive]
[--distinct]``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))

TARGET_S = 1.5
ROUTES_PER_VHOST = 100
UPSTREAMS = 6
FALLBACK = "fallback_cluster_for_invalid_routes"


def build_protos(n_routes: int, *, distinct: bool = False) -> Any:
    """Build one Gloo-shaped RouteConfiguration with ``n_routes`` routes.

    Args:
        n_routes: Number of routes (a multiple of ROUTES_PER_VHOST is exact).
        distinct: Give every route options of its own besides its match (a request header with the route's own
            value, plus retries, a timeout and a CORS ``typedPerFilterConfig`` shared by all): the worst case of
            ``route_rows``' caches, which share the decoding of routes equal but for match and name.

    Returns:
        The RouteConfiguration.
    """
    from envoy.config.route.v3 import route_pb2
    from envoy.extensions.filters.http.cors.v3 import cors_pb2
    from google.protobuf import any_pb2

    cors = any_pb2.Any()
    cors.Pack(cors_pb2.CorsPolicy(allow_methods="GET,POST", max_age="600"))

    rc = route_pb2.RouteConfiguration(name="listener-::-8080-routes")
    vhosts = max(1, n_routes // ROUTES_PER_VHOST)
    for v in range(vhosts):
        ns = f"team-{v // 2:04d}"
        vh = rc.virtual_hosts.add(name=f"{ns}_vs-{v % 2}", domains=[f"{ns}-{v % 2}.example.com"])
        for i in range(ROUTES_PER_VHOST):
            r = vh.routes.add()
            r.match.prefix = f"/g{i % 10}/t{i // 10}/r{i}"
            if i % 3 == 0:
                r.match.headers.add(name="stage", exact_match="canary")
            up = (v + i) % UPSTREAMS
            if i % 50 == 49:
                r.direct_response.status = 404
            elif i % 50 == 48:
                r.route.cluster = FALLBACK
            elif i % 2 == 0:
                r.route.cluster = f"svc-{up}_gloo-system"
                r.route.metadata_match.filter_metadata["envoy.lb"].update({"version": "v2" if i % 3 == 0 else "v1"})
            else:
                for name, weight, version in ((f"svc-{up}_gloo-system", 90, "v1"),
                                              (f"svc-{(up + 1) % UPSTREAMS}_gloo-system", 10, "v2")):
                    wc = r.route.weighted_clusters.clusters.add(name=name)
                    wc.weight.value = weight
                    wc.metadata_match.filter_metadata["envoy.lb"].update({"version": version})
            if distinct:
                header = r.request_headers_to_add.add().header
                header.key, header.value = "x-route", f"{v}-{i}"
                if r.HasField("route"):
                    r.route.retry_policy.retry_on = "5xx"
                    r.route.timeout.seconds = 5
                r.typed_per_filter_config["envoy.filters.http.cors"].CopyFrom(cors)
    return rc


def build_translated(n_routes: int) -> Any:
    """Translate bench/translate.py's RouteTables (10 routes each) with gloo_nb's translator.

    Args:
        n_routes: Number of routes wanted (RouteTables = n_routes / 10).

    Returns:
        The largest RouteConfiguration of the translation.
    """
    spec = importlib.util.spec_from_file_location("bench_translate", os.path.join(_HERE, "translate.py"))
    assert spec is not None and spec.loader is not None
    tbench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tbench)

    from gloo_nb.models import Snapshot
    from gloo_nb.translate import Translator

    models = tbench.build_models(max(tbench.TABLES_PER_TEAM, n_routes // tbench.ROUTES_PER_TABLE))
    translation = Translator("current").translate(Snapshot.from_resources(models))
    return max(translation.envoy.route_configurations, key=lambda rc: rc.ByteSize())


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Return the best wall time of ``repeat`` runs of ``fn`` and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: Command-line arguments.

    Returns:
        0.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--routes", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is reported")
    parser.add_argument("--from-translator", action="store_true", help="build the routes with gloo_nb.translate")
    parser.add_argument("--naive", action="store_true", help="also time pandas.DataFrame(rows)")
    parser.add_argument("--distinct", action="store_true",
                        help="every route with options of its own (route_rows' cache worst case)")
    args = parser.parse_args(argv)

    import pandas as pd
    from envoy.config.route.v3 import route_pb2

    from gloo_nb.xds.decode import columns, route_rows

    start = time.perf_counter()
    rc = build_translated(args.routes) if args.from_translator else build_protos(args.routes, distinct=args.distinct)
    data = rc.SerializeToString()
    n = sum(len(vh.routes) for vh in rc.virtual_hosts)
    del rc
    print(f"gloo_nb inspect benchmark: {n:,} routes in {len(data) / 1e6:.1f} MB "
          f"({'translated' if args.from_translator else 'built as protos'} in {time.perf_counter() - start:.1f} s); "
          f"best of {args.repeat}")

    parse_s, _ = best(lambda: route_pb2.RouteConfiguration.FromString(data), args.repeat)

    def frame() -> Any:
        rows = route_rows([route_pb2.RouteConfiguration.FromString(data)], "served", fallback_body="fallback 404")
        return pd.DataFrame(columns(rows))

    frame_s, df = best(frame, args.repeat)
    assert len(df) == n
    print(f"  {'protobuf parsing alone:':<42}{parse_s:7.3f} s")
    print(f"  {'parse + route_rows + DataFrame(columns):':<42}{frame_s:7.3f} s  ({n / frame_s:,.0f} routes/s)")
    print(f"  {'ratio frame / parse:':<42}{frame_s / parse_s:7.1f}x")
    if args.naive:
        rows = route_rows([route_pb2.RouteConfiguration.FromString(data)], "served")
        naive_s, _ = best(lambda: pd.DataFrame(rows), 1)
        print(f"  {'pandas.DataFrame(rows) alone (asdict):':<42}{naive_s:7.3f} s")
    ok = "met" if frame_s < TARGET_S else "NOT met"
    print(f"routes frame in {frame_s:.2f} s (target < {TARGET_S:g} s: {ok})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
