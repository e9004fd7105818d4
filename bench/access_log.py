"""Access log benchmark: a million lines of each format through `gloo_nb.models.access_log.read_access_log`.

Lines are the ones the pinned Envoy (1.40) wrote in the sandbox: Envoy's default format, a stringFormat with
Gloo's operators and a jsonFormat shaped like Gloo's docs' example; each file is written plain and gzipped. It
prints, never asserts (bench rules): per format and compression, the best of ``--repeat`` runs of reading every
record (seconds, lines per second), and whether the target (1,000,000 lines in under 5 s, "a few seconds") is met.

Usage: ``python bench/access_log.py [--lines 1000000] [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

from gloo_nb.models.access_log import AccessLogFormat, compile_format, read_access_log

TARGET_S = 5.0
TEXT = ("[%START_TIME%] %REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %ROUTE_NAME% %UPSTREAM_CLUSTER% "
        "%UPSTREAM_HOST% %RESPONSE_CODE% %REQ(stage)%\n")
JSON = {"startTime": "%START_TIME%", "protocol": "%PROTOCOL%", "duration": "%DURATION%",
        "upstreamCluster": "%UPSTREAM_CLUSTER%", "upstreamHost": "%UPSTREAM_HOST%", "requestMethod": "%REQ(:METHOD)%",
        "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "responseCode": "%RESPONSE_CODE%", "routeName": "%ROUTE_NAME%",
        "requestId": "%REQ(X-REQUEST-ID)%", "stage": "%REQ(stage)%"}
CASES = {
    "default": (AccessLogFormat.envoy_default(),
                '[2026-12-07T12:54:10.037Z] "GET /web/0/0 HTTP/1.1" 200 - 0 7 0 0 "-" "Python-urllib/3.11" '
                '"ee2f025f-5b16-4da5-8a0e-ee2060c378f7" "127.0.0.1:45879" "127.0.0.1:43287"'),
    "stringFormat": (AccessLogFormat.text_format(TEXT),
                     "[2026-12-07T12:54:10.037Z] GET /web/0/0 gloo-system_app-route-0-matcher-0 web_gloo-system "
                     "127.0.0.1:43287 200 canary"),
    "jsonFormat": (AccessLogFormat.json_format(JSON),
                   '{"duration":0,"path":"/web/0/0","protocol":"HTTP/1.1","requestId":"ee2f025f-5b16-4da5-8a0e-'
                   'ee2060c378f7","requestMethod":"GET","responseCode":200,"routeName":"gloo-system_app-route-0-'
                   'matcher-0","stage":null,"startTime":"2026-12-07T12:54:10.037Z","upstreamCluster":"web_gloo-system",'
                   '"upstreamHost":"127.0.0.1:43287"}'),
}


def main() -> None:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (fmt, line) in CASES.items():
            compiled = compile_format(fmt)
            assert compiled.parse(line) is not None, name
            data = (line + "\n") * args.lines
            plain = Path(tmp) / f"{name}.log"
            plain.write_text(data)
            packed = Path(tmp) / f"{name}.log.gz"
            with gzip.open(packed, "wt", compresslevel=1) as f:
                f.write(data)
            for path in (plain, packed):
                best = float("inf")
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    count = sum(1 for _ in read_access_log(path, compiled))
                    best = min(best, time.perf_counter() - start)
                verdict = "met" if best * 1_000_000 / args.lines < TARGET_S else "MISSED"
                print(f"{name:13s} {path.suffix:4s} {count:>9,} records {best:6.2f} s "
                      f"({count / best:>10,.0f} lines/s; target {TARGET_S:.0f} s per 1M: {verdict})")


if __name__ == "__main__":
    main()
