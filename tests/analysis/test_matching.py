"""Envoy's route matching semantics on route rows (the tricky cases; real Envoy is in test_route_vs_envoy.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gloo_nb.analysis.matching import Request, match_request, parse_request, route_matches, select_virtual_host
from gloo_nb.xds.decode import RouteRow

pytestmark = pytest.mark.unit


def _row(vh: str, domains: tuple[str, ...], order: int, match: dict[str, Any], rid: str) -> RouteRow:
    return RouteRow("served", "listener-::-8080-routes", vh, domains, order, f"route-{rid}", match,
                    {"directResponse": {"status": 200, "body": {"inlineString": rid}}}, "", "", False)


def _routes(vh: str, domains: tuple[str, ...], *matches: tuple[dict[str, Any], str]) -> list[RouteRow]:
    return [_row(vh, domains, i, m, rid) for i, (m, rid) in enumerate(matches)]


def _rid(rows: list[RouteRow], **req: Any) -> str | None:
    m = match_request(rows, req)
    return None if m is None else m.action["directResponse"]["body"]["inlineString"]


def _req(path: str = "/", method: str = "GET", **headers: str) -> Request:
    return parse_request({"path": path, "method": method, "headers": {k.replace("_", "-"): v
                                                                      for k, v in headers.items()}})


VHOSTS = {"star": ["*"], "exact": ["api.example.com"], "suffix": ["*.example.com"], "longer": ["*.b.example.com"],
          "prefix": ["api.*"], "dash": ["*-edge.net"], "port": ["api.example.com:8080"]}


@pytest.mark.parametrize(("host", "want"), [
    ("api.example.com", "exact"),
    ("API.Example.COM", "exact"),                  # case-insensitive
    ("x.example.com", "suffix"),
    ("a.b.example.com", "longer"),                 # the longest suffix wins
    ("api.other.org", "prefix"),                   # suffix wildcards before prefix wildcards
    ("api.example.com:8080", "port"),              # a domain with the port matches exactly
    ("api.example.com:9090", "prefix"),            # with another port: not the exact domain, but api.* holds
    ("x.example.com:9090", "star"),                # *.example.com does not match a host with a port
    ("example.com", "star"),
    (".example.com", "star"),                      # the wildcard never matches the empty string
    ("-edge.net", "star"),
    ("eu-edge.net", "dash"),
    ("localhost", "star"),
])
def test_virtual_host_selection_order(host: str, want: str) -> None:
    assert select_virtual_host(VHOSTS, host) == want


def test_no_virtual_host_without_star() -> None:
    assert select_virtual_host({"exact": ["api.example.com"]}, "other") is None
    rows = _routes("exact", ("api.example.com",), ({"prefix": "/"}, "r"))
    assert _rid(rows, path="/") is None                                  # default host localhost
    assert _rid(rows, path="/", headers={"Host": "api.example.com"}) == "r"
    assert _rid(rows, path="/", headers={":authority": "api.example.com"}) == "r"


@pytest.mark.parametrize(("match", "path", "want"), [
    ({"prefix": "/a"}, "/ab", True),
    ({"prefix": "/a"}, "/A", False),
    ({"prefix": "/a", "caseSensitive": False}, "/A/x", True),
    ({"prefix": ""}, "/anything", True),
    ({"path": "/a"}, "/a?x=1", True),                                  # the query string is ignored
    ({"path": "/a"}, "/a/", False),                                    # a trailing slash is another path
    ({"path": "/a/", "caseSensitive": False}, "/A/", True),
    ({"safeRegex": {"regex": "/re/[0-9]+"}}, "/re/12", True),
    ({"safeRegex": {"regex": "/re/[0-9]+"}}, "/re/12/x", False),      # the whole path must match
    ({"safeRegex": {"regex": "/re/[0-9]+"}}, "/re/12?x=/y", True),
    ({"safeRegex": {"regex": "/re"}, "caseSensitive": False}, "/RE", False),  # case_sensitive: not for regexes
    ({"safeRegex": {"regex": "(unclosed"}}, "/x", False),             # Envoy would refuse it: never matches
    ({"pathSeparatedPrefix": "/api"}, "/api/x", True),
    ({"pathSeparatedPrefix": "/api"}, "/apix", False),
    ({"connectMatcher": {}}, "/", False),
])
def test_path_specifiers(match: dict[str, Any], path: str, want: bool) -> None:
    assert route_matches(match, _req(path)) is want


def test_header_matchers_and_inversion() -> None:
    exact = {"prefix": "/", "headers": [{"name": "x-env", "exactMatch": "prod"}]}
    inverted = {"prefix": "/", "headers": [{"name": "x-env", "exactMatch": "prod", "invertMatch": True}]}
    assert route_matches(exact, _req(x_env="prod")) and not route_matches(exact, _req(x_env="Prod"))
    # A missing header fails an inverted value matcher too (Envoy 1.40, measured).
    assert not route_matches(inverted, _req())
    assert route_matches(inverted, _req(x_env="dev")) and not route_matches(inverted, _req(x_env="prod"))
    present = {"prefix": "/", "headers": [{"name": "X-Trace", "presentMatch": True}]}
    assert route_matches(present, _req(x_trace="")) and not route_matches(present, _req())
    absent = {"prefix": "/", "headers": [{"name": "x-trace", "presentMatch": True, "invertMatch": True}]}
    assert route_matches(absent, _req()) and not route_matches(absent, _req(x_trace="1"))
    regex = {"prefix": "/", "headers": [{"name": "x-env", "safeRegexMatch": {"regex": "dev|stag.*"}}]}
    assert route_matches(regex, _req(x_env="staging")) and not route_matches(regex, _req(x_env="devx"))
    folded = {"prefix": "/", "headers": [{"name": "x-env", "stringMatch": {"exact": "PROD", "ignoreCase": True}}]}
    assert route_matches(folded, _req(x_env="prod"))
    ranged = {"prefix": "/", "headers": [{"name": "x-n", "rangeMatch": {"start": "1", "end": "10"}}]}
    assert route_matches(ranged, _req(x_n="9")) and not route_matches(ranged, _req(x_n="10"))
    assert not route_matches(ranged, _req(x_n="nine"))
    both = {"prefix": "/", "headers": [exact["headers"][0], present["headers"][0]]}
    assert route_matches(both, _req(x_env="prod", x_trace="1")) and not route_matches(both, _req(x_env="prod"))


def test_methods_arrive_as_the_method_pseudo_header() -> None:
    m = {"prefix": "/", "headers": [{"name": ":method", "safeRegexMatch": {"regex": "POST|PUT"}}]}
    assert route_matches(m, _req(method="put")) and not route_matches(m, _req(method="GET"))
    assert not route_matches(m, _req(method="POSTX"))


def test_query_parameters() -> None:
    exact = {"prefix": "/", "queryParameters": [{"name": "q", "stringMatch": {"exact": "1"}}]}
    assert route_matches(exact, _req("/x?a=2&q=1"))                   # found anywhere in the query
    assert not route_matches(exact, _req("/x?Q=1")) and not route_matches(exact, _req("/x?q=11"))
    assert not route_matches(exact, _req("/x?q=2&q=1"))               # the first value is the one matched
    assert not route_matches(exact, _req("/x?q=%31"))                 # values are not URL-decoded
    regex = {"prefix": "/", "queryParameters": [{"name": "q", "stringMatch": {"safeRegex": {"regex": "[a-z]+"}}}]}
    assert route_matches(regex, _req("/?q=abc")) and not route_matches(regex, _req("/?q=ABC"))
    present = {"prefix": "/", "queryParameters": [{"name": "flag", "presentMatch": True}]}
    assert route_matches(present, _req("/?flag")) and route_matches(present, _req("/?flag="))
    assert not route_matches(present, _req("/?flags=1")) and not route_matches(present, _req("/"))


def test_first_match_wins_and_the_match_document() -> None:
    rows = [
        *_routes("wild", ("*",), ({"prefix": "/h", "headers": [{"name": "x-env", "exactMatch": "prod"}]}, "h-prod"),
                 ({"prefix": "/h"}, "h"), ({"prefix": "/h/more"}, "never")),
        *_routes("api", ("api.example.com",), ({"prefix": "/"}, "api")),
    ]
    assert _rid(rows, path="/h/more", headers={"x-env": "prod"}) == "h-prod"
    assert _rid(rows, path="/h/more") == "h"
    assert _rid(rows, path="/zzz") is None                              # a virtual host matched, no route did
    assert _rid(rows, path="/h", headers={"host": "api.example.com"}) == "api"  # no fall back to another vhost
    m = match_request(rows, {"path": "/h"})
    assert m is not None
    assert m.as_json("served") == {"source": "served", "virtualHost": "wild", "order": 1, "name": "route-h",
                                   "action": {"directResponse": {"status": 200, "body": {"inlineString": "h"}}}}


def test_parse_request() -> None:
    req = parse_request({"method": "post", "path": "/q?a=1", "headers": {"X-Env": "prod"},
                         "query": {"b": "2", "c": ["3", "4"]}})
    assert req.method == "POST" and req.path == "/q?a=1&b=2&c=3&c=4" and req.headers == {"x-env": "prod"}
    assert req.host == "localhost"
    assert parse_request({"path": "/", "query": {"flag": ""}}).path == "/?flag="
    for bad in ({"path": "x"}, {"path": 3}, {"path": "/", "headers": []}, {"path": "/", "method": ""}):
        with pytest.raises(ValueError):
            parse_request(bad)
