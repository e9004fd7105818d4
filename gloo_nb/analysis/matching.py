"""Which route would serve this request? Envoy's route matching on decoded route rows, pure.

The rows are :class:`gloo_nb.xds.decode.RouteRow` (or anything with the same fields), so one matcher serves
every source: the intent's translation, what the control plane serves, what each replica applied, a bundle.
The semantics are Envoy's (``source/common/router/config_impl.cc``, ``source/common/http/header_utility.cc``),
checked against Envoy 1.40 by ``tests/app/test_route_vs_envoy.py``:

- virtual host by ``Host``/``:authority``, case-insensitively: exact domain, then suffix wildcards ``*.x``
  (longest first), then prefix wildcards ``x.*`` (longest first), then ``*``; a wildcard never matches the
  empty string, and a Host with a port only matches domains written with that port;
- then the first route of that virtual host whose match holds: path specifier (``prefix``, ``path``,
  ``safeRegex`` on the whole path; the query string is ignored; ``caseSensitive`` defaults to true and does
  not apply to regexes), every header matcher, every query parameter matcher.

Regexes are RE2 in Envoy and Python ``re`` here: the same for the patterns Gloo users write (no
backreferences or lookarounds, which RE2 refuses anyway). Query parameter values are compared as sent
(not URL-decoded), as Envoy does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlencode

from gloo_nb.analysis.rows import RouteRowLike as RouteLike

__all__ = ["Match", "Request", "RouteLike", "match_request", "parse_request", "route_matches", "select_virtual_host"]

K = TypeVar("K")

DEFAULT_HOST = "localhost"
"""The Host used when a request names none (it matches only a ``*`` virtual host, like curl to 127.0.0.1)."""


@dataclass(frozen=True)
class Request:
    """One HTTP request as the router sees it.

    Attributes:
        method: The method, e.g. ``GET``.
        path: The path with its query string, e.g. ``/echo?stage=canary``.
        headers: Header names (lowercase) -> value, including ``host`` when given.
    """

    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The ``:authority``: the ``host`` header, or :data:`DEFAULT_HOST`."""
        return self.headers.get(":authority") or self.headers.get("host") or DEFAULT_HOST

    def as_json(self) -> dict[str, Any]:
        """The request as the ``route --json`` document shows it."""
        return {"method": self.method, "path": self.path, "headers": dict(self.headers)}


@dataclass(frozen=True)
class Match:
    """The route that serves a request in one source.

    Attributes:
        route_configuration: The RouteConfiguration name.
        virtual_host: The Envoy virtual host name.
        order: Position of the route in its virtual host.
        name: The Envoy route name (``""`` in Gloo 1.3).
        match: The route's match (proto-JSON names).
        action: The route's action (proto-JSON names).
    """

    route_configuration: str
    virtual_host: str
    order: int
    name: str
    match: Mapping[str, Any]
    action: Mapping[str, Any]

    def as_json(self, source: str) -> dict[str, Any]:
        """One entry of the ``route --json`` document's ``matches``.

        Args:
            source: ``intent``, ``served`` or a replica's node id.

        Returns:
            ``{"source", "virtualHost", "order", "name", "action"}``.
        """
        return {"source": source, "virtualHost": self.virtual_host, "order": self.order, "name": self.name,
                "action": dict(self.action)}


def parse_request(doc: Mapping[str, Any]) -> Request:
    """Read a request document ``{"method", "path", "headers", "query"}`` (all optional but ``path``).

    Args:
        doc: The document; ``query`` (name -> value, or name -> list of values) is appended to the path's
            query string.

    Returns:
        The request, header names lowercased.

    Raises:
        ValueError: A field has the wrong type.
    """
    path = doc.get("path", "/")
    method = doc.get("method", "GET")
    headers = doc.get("headers")
    query = doc.get("query")
    headers = {} if headers is None else headers
    query = {} if query is None else query
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path must be a string starting with '/', got {path!r}")
    if not isinstance(method, str) or not method:
        raise ValueError(f"method must be a non-empty string, got {method!r}")
    if not isinstance(headers, Mapping) or not isinstance(query, Mapping):
        raise ValueError("headers and query must be objects of name -> value")
    if query:
        extra = urlencode([(str(k), str(v)) for k, vs in query.items()
                           for v in (vs if isinstance(vs, list) else [vs])])
        path += ("&" if "?" in path else "?") + extra
    return Request(method=method.upper(), path=path, headers={str(k).lower(): str(v) for k, v in headers.items()})


# --- virtual host -------------------------------------------------------------------------------


def select_virtual_host(domains_by_vhost: Mapping[K, Sequence[str]], host: str) -> K | None:
    """Pick the virtual host Envoy routes a Host to (``RouteMatcher::findVirtualHost``).

    Args:
        domains_by_vhost: Virtual host (any key, e.g. its name) -> domains, in configuration order.
        host: The ``Host``/``:authority`` value.

    Returns:
        The virtual host's key, or None when none matches (Envoy answers 404).
    """
    host = host.lower()
    exact: K | None = None
    suffix: tuple[int, K] | None = None
    prefix: tuple[int, K] | None = None
    default: K | None = None
    for vhost, domains in domains_by_vhost.items():
        for domain in (d.lower() for d in domains):
            if domain == "*":
                default = vhost if default is None else default
            elif domain.startswith("*"):
                tail = domain[1:]
                # The wildcard stands for at least one character.
                if len(host) > len(tail) and host.endswith(tail) and (suffix is None or len(tail) > suffix[0]):
                    suffix = (len(tail), vhost)
            elif domain.endswith("*"):
                head = domain[:-1]
                if len(host) > len(head) and host.startswith(head) and (prefix is None or len(head) > prefix[0]):
                    prefix = (len(head), vhost)
            elif domain == host and exact is None:
                exact = vhost
    if exact is not None:
        return exact
    if suffix is not None:
        return suffix[1]
    if prefix is not None:
        return prefix[1]
    return default


# --- route match --------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # Envoy would have refused the config; such a route never matches here


def _full(pattern: str, value: str) -> bool:
    rx = _regex(pattern)
    return rx is not None and rx.fullmatch(value) is not None


def _string_match(sm: Mapping[str, Any], value: str) -> bool:
    # envoy.type.matcher.v3.StringMatcher; ignore_case does not apply to safe_regex.
    if "safeRegex" in sm:
        return _full(str(sm["safeRegex"].get("regex", "")), value)
    fold = bool(sm.get("ignoreCase"))
    got = value.lower() if fold else value
    for kind, test in (("exact", str.__eq__), ("prefix", str.startswith), ("suffix", str.endswith),
                       ("contains", str.__contains__)):
        if kind in sm:
            want = str(sm[kind])
            return bool(test(got, want.lower() if fold else want))
    return False


def _header_value(request: Request, name: str) -> str | None:
    name = name.lower()
    if name == ":method":
        return request.method
    if name == ":path":
        return request.path
    if name in (":authority", "host"):
        return request.headers.get(":authority") or request.headers.get("host")
    if name == ":scheme":
        return "http"
    return request.headers.get(name)


def _header_matches(hm: Mapping[str, Any], request: Request) -> bool:
    invert = bool(hm.get("invertMatch"))
    value = _header_value(request, str(hm.get("name", "")))
    if "presentMatch" in hm:
        # HeaderDataPresentMatch: presence compared with the wanted presence, then inverted.
        return ((value is not None) == bool(hm["presentMatch"])) != invert
    if value is None:
        # A missing header fails every value matcher, inverted or not (treat_missing_header_as_empty unset).
        return False
    if "exactMatch" in hm:
        ok = value == hm["exactMatch"]
    elif "safeRegexMatch" in hm:
        ok = _full(str(hm["safeRegexMatch"].get("regex", "")), value)
    elif "stringMatch" in hm:
        ok = _string_match(hm["stringMatch"], value)
    elif "prefixMatch" in hm:
        ok = value.startswith(hm["prefixMatch"])
    elif "suffixMatch" in hm:
        ok = value.endswith(hm["suffixMatch"])
    elif "containsMatch" in hm:
        ok = hm["containsMatch"] in value
    elif "rangeMatch" in hm:
        try:
            ok = int(hm["rangeMatch"]["start"]) <= int(value) < int(hm["rangeMatch"]["end"])
        except ValueError:
            ok = False
    else:
        # No specifier: Envoy treats the matcher as "present".
        ok = True
    return ok != invert


def _query_params(path: str) -> dict[str, str]:
    # Http::Utility::QueryParamsMulti::parseQueryString: not decoded; a name without '=' has the value "";
    # the first value of a repeated name is the one matched.
    _, _, query = path.partition("?")
    query = query.partition("#")[0]
    params: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        params.setdefault(name, value)
    return params


def _query_matches(qm: Mapping[str, Any], params: Mapping[str, str]) -> bool:
    value = params.get(str(qm.get("name", "")))
    if value is None:
        return False
    if qm.get("presentMatch") or "stringMatch" not in qm:
        return True
    return _string_match(qm["stringMatch"], value)


def _path_matches(match: Mapping[str, Any], path: str) -> bool:
    bare = path.partition("?")[0].partition("#")[0]
    case_sensitive = match.get("caseSensitive", True)
    if "prefix" in match:
        want = str(match["prefix"])
        return bare.startswith(want) if case_sensitive else bare.lower().startswith(want.lower())
    if "path" in match:
        want = str(match["path"])
        return bare == want if case_sensitive else bare.lower() == want.lower()
    if "safeRegex" in match:
        return _full(str(match["safeRegex"].get("regex", "")), bare)
    if "pathSeparatedPrefix" in match:
        want = str(match["pathSeparatedPrefix"])
        got = bare if case_sensitive else bare.lower()
        want = want if case_sensitive else want.lower()
        return got == want or got.startswith(want + "/")
    # connect_matcher and path_match_policy never match a plain HTTP request.
    return False


def route_matches(match: Mapping[str, Any], request: Request) -> bool:
    """Whether one RouteMatch (proto-JSON names) holds for a request.

    Args:
        match: e.g. ``{"prefix": "/echo", "headers": [{"name": "stage", "exactMatch": "canary"}]}``.
        request: The request.

    Returns:
        True when the path specifier, every header matcher and every query parameter matcher hold.
    """
    if not _path_matches(match, request.path):
        return False
    if not all(_header_matches(h, request) for h in match.get("headers", ())):
        return False
    qms = match.get("queryParameters", ())
    if qms:
        params = _query_params(request.path)
        return all(_query_matches(q, params) for q in qms)
    return True


def match_request(rows: Iterable[RouteLike], request: Request | Mapping[str, Any]) -> Match | None:
    """Which route of one source serves a request, with Envoy's first-match semantics.

    Args:
        rows: The route rows of ONE source and one route configuration (e.g. ``route_rows(served...)``
            filtered by source); with several route configurations, their virtual hosts are pooled. A virtual
            host without routes has no rows, so it cannot be chosen here (Envoy would choose it and answer 404).
        request: A :class:`Request` or a request document (see :func:`parse_request`).

    Returns:
        The match, or None when no virtual host or no route matches (Envoy answers 404).
    """
    req = request if isinstance(request, Request) else parse_request(request)
    by_vhost: dict[tuple[str, str], list[RouteLike]] = {}
    domains: dict[tuple[str, str], Sequence[str]] = {}
    for row in rows:
        key = (row.route_configuration, row.virtual_host)
        by_vhost.setdefault(key, []).append(row)
        domains.setdefault(key, row.domains)
    vhost = select_virtual_host(domains, req.host)
    if vhost is None:
        return None
    for row in sorted(by_vhost[vhost], key=lambda r: r.order):
        if route_matches(row.match, req):
            return Match(row.route_configuration, row.virtual_host, row.order, row.name, row.match, row.action)
    return None
