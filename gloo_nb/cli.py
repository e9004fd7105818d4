"""The ``gloo-nb`` command: a thin forwarder to the library.

Exit codes: 0 done (``check``: no problems), 1 ``check`` found problems (``rollout``: a guard or proof
failed), 2 unreadable input, bad usage or an unreachable cluster, 3 a conflicting writer stopped a
rollout, 130 interrupted. :func:`main` is the one place that maps the error groups of
:mod:`gloo_nb.errors` to exit codes (:data:`EXIT_CODES`). Errors are one line on stderr, never a
traceback (set ``GLOO_NB_DEBUG=1`` to see one for an unexpected error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gloo_nb._gc import gc_paused
from gloo_nb._text import escape_controls, json_bytes
from gloo_nb._types import PROFILES, Profile, check_profile
from gloo_nb.app.manifests import read_input, read_manifests, read_stream
from gloo_nb.errors import BadDataError, GlooNbError, RolloutConflict, RolloutError, UnreachableError, UsageError
from gloo_nb.models.codec import ParseResult
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.check import problems, summary_line, unmodelled_lines
from gloo_nb.translate.render import render, render_text

if TYPE_CHECKING:
    from gloo_nb.analysis.headline import Headline
    from gloo_nb.analysis.matching import Request
    from gloo_nb.app.connect import GatewayConnection
    from gloo_nb.xds.decode import RouteRow

PROG = "gloo-nb"


def _out(text: str) -> None:
    """Write a report to stdout: every text report goes through here.

    Names, reasons and messages in it come from clusters and files; their control characters are
    printed as escapes (only the report's own line breaks stay), so they cannot drive the terminal.
    JSON output needs no help (json escapes them).
    """
    sys.stdout.write(escape_controls(text, keep="\n"))


def _read_and_translate(args: argparse.Namespace) -> tuple[Translation, ParseResult]:
    parsed = read_manifests(args.paths)
    return translate(parsed.resources, check_profile(args.gloo_version or "current", source="--gloo-version")), parsed


def run_translate(args: argparse.Namespace) -> int:
    """``gloo-nb translate``: print the translation document (JSON or tables).

    Args:
        args: Parsed arguments.

    Returns:
        0: findings are data, not failures.
    """
    # Reading, translating and rendering 100,000 routes builds millions of acyclic objects that the
    # cyclic collector would walk again and again (it took over half of render's time), and once
    # more after the output, for nothing: the command ends there.
    if args.compare is not None or args.previous:
        return _run_compare(args)
    if _has_connection(args):
        if args.paths:
            raise UsageError("translate: pass manifest files or a connection (--sandbox/--kubeconfig), not both")
        with _connect(args) as conn:
            translation, parsed = conn.intent()
        doc = render(translation, parse_findings=parsed.findings, parse_skipped=parsed.skipped)
        if args.json or args.indent is not None:
            _out_json(doc, args.indent)
        else:
            _out(render_text(doc))
        return 0
    if not args.paths:
        raise UsageError("translate: pass manifest files or folders (or - for stdin), or a connection")
    with gc_paused(freeze=True):
        translation, parsed = _read_and_translate(args)
        doc = render(translation, parse_findings=parsed.findings, parse_skipped=parsed.skipped)
        if args.json or args.indent is not None:
            _out_json(doc, args.indent)
        else:
            _out(render_text(doc))
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    """``gloo-nb translate --compare A,B``: what version B would do differently from A (reports, routes, push).

    Bad flags are one-line usage errors (exit 2): ``--compare`` without two different known versions, together
    with ``--gloo-version`` (the two versions are the comparison's), or ``--previous`` without ``--compare``.
    """
    from gloo_nb.translate.compare import compare, parse_profile_pair

    if args.compare is None:
        raise UsageError("translate: --previous needs --compare A,B")
    profiles = parse_profile_pair(args.compare)
    if args.gloo_version:
        raise UsageError("translate: give --compare A,B or --gloo-version, not both (--compare names both versions)")
    previous = read_manifests(args.previous).resources if args.previous else None
    if _has_connection(args):
        if args.paths:
            raise UsageError("translate: pass manifest files or a connection (--sandbox/--kubeconfig), not both")
        with _connect(args) as conn:
            snapshot, _ = conn.read_snapshot()
            proxy = conn.proxy
        comparison = compare(snapshot, profiles, previous=previous, proxy=proxy)
    elif not args.paths:
        raise UsageError("translate: pass manifest files or folders (or - for stdin), or a connection")
    else:
        with gc_paused(freeze=True):
            comparison = compare(read_manifests(args.paths).resources, profiles, previous=previous)
    if args.json or args.indent is not None:
        _out_json(comparison.document(), args.indent)
    else:
        _out(comparison.text())
    return 0


def _out_json(doc: Any, indent: int | None) -> None:
    """Write a JSON document to stdout, compact unless ``indent`` asks for levels.

    The bytes go to the binary stream: a 200 MB document is not decoded back into text to be
    encoded again (json_bytes has already escaped what a terminal would obey).
    """
    data = json_bytes(doc, indent=indent) + b"\n"
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:  # a text-only stream (io.StringIO in a caller's redirect)
        sys.stdout.write(data.decode("utf-8"))
        return
    sys.stdout.flush()
    binary.write(data)
    binary.flush()


def run_check(args: argparse.Namespace) -> int:
    """``gloo-nb check``: one line per problem, then the count.

    Args:
        args: Parsed arguments.

    Returns:
        0 when clean, 1 when there are problems.

    Raises:
        UsageError: When a connection is given (not implemented yet) or no input at all.
    """
    if args.webhook:
        return _run_check_webhook(args)
    if args.validation or args.json:
        raise UsageError("check: --validation and --json go with --webhook")
    if _has_connection(args):
        if args.paths:
            raise UsageError("check: pass manifest files or a connection (--sandbox/--kubeconfig), not both")
        with _connect(args) as conn:
            translation, parsed = conn.intent()
    elif not args.paths:
        raise UsageError("check: pass manifest files or folders (or - for stdin), or a connection")
    else:
        with gc_paused(freeze=True):  # as in run_translate
            translation, parsed = _read_and_translate(args)
    found = problems(translation, parsed.findings)
    # `not modelled:` lines are declarations, not problems: they never change the exit code.
    _out("".join(p.line() + "\n" for p in found) + "".join(line + "\n" for line in unmodelled_lines(translation))
         + summary_line(found) + "\n")
    return 1 if found else 0


def _run_check_webhook(args: argparse.Namespace) -> int:
    """``gloo-nb check --webhook``: would Gloo's validating webhook admit these resources, under these Settings?

    Files alone: each Gloo resource is put to the webhook in order, against an empty cluster plus what the files
    held before it. A connection: against the cluster's resources and Settings; with files, the files are the
    changes; without, every resource the cluster holds is put to it again (as a create next to the others).
    ``--validation`` overrides the Settings' ``spec.gateway.validation``.

    Returns:
        0 when every resource would be admitted, 1 when one is denied.
    """
    from gloo_nb.models import Snapshot
    from gloo_nb.translate.webhook import decide_all, recheck_all, webhook_name, with_validation_mode

    profile: Profile
    if _has_connection(args):
        with _connect(args) as conn:
            translation, _ = conn.intent()
        profile = translation.profile
        base = translation.snapshot
    else:
        if not args.paths:
            raise UsageError("check --webhook: pass manifest files or folders (or - for stdin), or a connection")
        profile = check_profile(args.gloo_version or "current", source="--gloo-version")
        base = Snapshot()
    changes = read_manifests(args.paths).resources if args.paths else []
    settings = next((r for r in changes if r.kind == "Settings"), None) or base.settings
    if args.validation:
        settings = with_validation_mode(settings, args.validation, profile)  # type: ignore[arg-type]
    if args.paths:
        verdicts = decide_all(base, changes, profile, settings)  # type: ignore[arg-type]
    else:
        # the cluster's own resources, each checked against all the others
        verdicts = recheck_all(base, profile, settings)  # type: ignore[arg-type]
    denied = sum(1 for v in verdicts if not v.decision.allowed)
    if args.json:
        _out_json({"glooVersion": profile, "webhook": webhook_name(profile), "results": [v.as_json() for v in verdicts],
                   "denied": denied}, None)
    else:
        _out("".join(v.line() + "\n" for v in verdicts)
             + (f"{denied} of {len(verdicts)} denied.\n" if denied else f"All {len(verdicts)} admitted.\n"))
    return 1 if denied else 0


def run_sandbox(args: argparse.Namespace) -> int:
    """``gloo-nb sandbox start|stop|status``: run Gloo-in-a-box in the background.

    Args:
        args: Parsed arguments.

    Returns:
        0 done; 1 ``status`` of a sandbox that does not run, or ``start`` where one runs.
    """
    from gloo_nb.sandbox import runner  # imported here: translate/check need none of it

    state_dir = args.state_dir
    if args.action == "start":
        try:
            started = runner.start(state_dir, gloo_version=args.gloo_version, replicas=args.replicas,
                                   exit_with=args.exit_with, proxies=args.proxy, audit_level=args.audit_level,
                                   validation=args.validation)
        except runner.SandboxError as err:
            # the sandbox contract: a start that fails (one already runs, it died starting) exits 1, not 2
            return _fail(str(err), 1)
        sys.stdout.write(json.dumps(started.data, indent=2) + "\n")
        return 0
    if args.action == "stop":
        was = runner.stop(state_dir)
        sys.stdout.write(f"sandbox in {state_dir} {'stopped' if was else 'was not running'}\n")
        return 0
    info, health = runner.status(state_dir)
    doc = dict(info.data) if info is not None else {}
    doc["health"] = health
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    return 0 if health["running"] else 1


def _has_connection(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "sandbox", None) or getattr(args, "kubeconfig", None))


def _connect(args: argparse.Namespace) -> GatewayConnection:
    from gloo_nb.app.connect import connect, connect_sandbox

    if args.sandbox and args.kubeconfig:
        raise UsageError("give --sandbox DIR or --kubeconfig F, not both")
    if args.sandbox:
        conn = connect_sandbox(args.sandbox, as_user=args.as_user, as_group=args.as_group,
                               proxy=getattr(args, "proxy_name", None))
        # What this identity could not do through --kubeconfig: said after the answer (main), never hidden.
        args.cluster_notes = [*conn.notes, *conn.cluster_differences]
        if args.gloo_version:
            conn.profile = check_profile(args.gloo_version, source="--gloo-version")
        return conn
    if not args.kubeconfig:
        raise UsageError("give a connection: --sandbox DIR or --kubeconfig F [--context C]")
    conn = connect(args.kubeconfig, context=args.context, as_user=args.as_user, as_group=args.as_group,
                   gloo_version=args.gloo_version, xds=args.xds, proxy=getattr(args, "proxy_name", None))
    args.cluster_notes = list(conn.notes)
    return conn


def run_inspect(args: argparse.Namespace) -> int:
    """``gloo-nb inspect``: intent, served and applied side by side, with drift.

    Args:
        args: Parsed arguments.

    Returns:
        0.
    """
    if args.all_proxies:
        return _inspect_all_proxies(args)
    if args.snapshot:
        from gloo_nb.app.snapshot import open_snapshot

        if _has_connection(args):
            raise UsageError("give a connection or --snapshot DIR, not both")
        inspection = open_snapshot(args.snapshot, gloo_version=args.gloo_version).collect()
        changes: list[Any] | None = None  # a bundle records no writers: actors and durations read "unknown"
    else:
        with _connect(args) as conn:
            inspection = conn.collect(timeout=args.timeout)
            changes = _writers(args, conn)
    top = _headline(inspection, changes)
    if args.json:
        # Additive (architecture.md's contract keeps every other key): the answer first for a machine too.
        doc = inspection.document()
        doc["headline"] = _headline_json(top)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        # The answer first (issue 16): what is not served, for whom, whose cause, the fix options; then the tables.
        _out("\n".join(top.lines()) + "\n\n" + inspection.text())
    return 0


def _writers(args: argparse.Namespace, conn: GatewayConnection) -> list[Any]:
    """Who wrote which resource: a sandbox's audit log (users), else each object's ``managedFields`` (managers).

    As the notebooks' ``Gateway.changes`` reads them; unreadable objects give no writers (the headline then says
    "unknown"), never a failed inspection.
    """
    from gloo_nb.analysis.headline import changes_from_objects, read_audit_changes

    audit = _audit_log(args)
    if audit is not None:
        return list(read_audit_changes(audit))
    try:
        return list(changes_from_objects(conn.read_objects()))
    except GlooNbError:
        return []


def _audit_log(args: argparse.Namespace) -> Path | None:
    """The audit log to read actors from: ``--audit-log``, else a sandbox's ``audit.jsonl``, else none."""
    if getattr(args, "audit_log", None):
        return Path(args.audit_log)
    if getattr(args, "sandbox", None):
        return Path(args.sandbox) / "audit.jsonl"
    return None


def _headline(inspection: Any, changes: list[Any] | None) -> Headline:
    """The inspection's headline, live with its writers as of now.

    A bundle's (``changes`` None) as the notebooks' ``SnapshotGateway.headline`` reads it: no writers, no time.
    """
    from datetime import UTC, datetime

    from gloo_nb.analysis.headline import headline

    if changes is None:
        return headline(inspection)
    return headline(inspection, changes=changes, now=datetime.now(UTC))


def _inspect_all_proxies(args: argparse.Namespace) -> int:
    # One connection per proxy the Gateways name (each with its own replicas and shadow node role).
    from gloo_nb.analysis.inspection import combine_documents

    if args.snapshot or getattr(args, "proxy_name", None):
        raise UsageError("--all-proxies needs a live connection, without --snapshot or --proxy")
    with _connect(args) as conn:
        translation, _ = conn.intent()
        first = conn.proxy
    names = [t.proxy.name for t in translation.proxies] or [first]
    names.sort(key=lambda n: n != translation.proxy.name)  # the default proxy first, then Gloo's order
    inspections = []
    changes: list[Any] | None = None
    for name in names:
        try:
            conn = _connect(argparse.Namespace(**{**vars(args), "proxy_name": name}))
        except UnreachableError as err:
            # e.g. a sandbox that runs no Envoy for this proxy: said, not dropped
            sys.stderr.write(f"gloo-nb: not inspected: proxy {name}: {err}\n")
            continue
        with conn:
            inspections.append(conn.collect(timeout=args.timeout))
            if changes is None:  # the writers are the cluster's, whichever proxy's connection reads them
                changes = _writers(args, conn)
    # The answer first for each proxy (each has its own push: one can hold its last good snapshot, another not).
    tops = [_headline(i, changes or []) for i in inspections]
    if args.json:
        combined = combine_documents([i.document() for i in inspections])
        if combined:
            # Additive: the default proxy's headline as for one proxy, and every proxy's by name.
            combined["headline"] = _headline_json(tops[0])
            combined["headlines"] = {i.translation.proxy.name: _headline_json(t)
                                     for i, t in zip(inspections, tops, strict=True)}
        sys.stdout.write(json.dumps(combined, indent=2) + "\n")
    else:
        _out("\n".join(f"Proxy {i.translation.proxy.namespace}/{i.translation.proxy.name}\n"
                       + "\n".join(t.lines()) + "\n\n" + i.text() for i, t in zip(inspections, tops, strict=True)))
    return 0


def _headline_json(top: Headline) -> dict[str, Any]:
    return {"state": top.state, "text": top.text, "lines": top.lines()}


def run_snapshot(args: argparse.Namespace) -> int:
    """``gloo-nb snapshot save``: write a bundle for offline analysis.

    Args:
        args: Parsed arguments.

    Returns:
        0.
    """
    from gloo_nb.app.snapshot import save_snapshot

    with _connect(args) as conn:
        meta = save_snapshot(conn, Path(args.out), timeout=args.timeout)
    sys.stdout.write(f"saved {', '.join(['resources', *meta['sources']])} to {args.out}\n")
    return 0


def _route_sources(args: argparse.Namespace) -> dict[str, list[RouteRow]]:
    from gloo_nb.xds.decode import fallback_label, route_rows

    def rows(snap: Any, source: str) -> list[RouteRow]:
        return route_rows(snap.route_configurations, source, fallback_body=fallback_label(snap.listeners))

    if args.snapshot:
        from gloo_nb.app.snapshot import open_snapshot

        if _has_connection(args):
            raise UsageError("route: give a connection or --snapshot DIR, not both")
        bundle = open_snapshot(args.snapshot, gloo_version=args.gloo_version)
        translation, _ = bundle.intent()
        served = bundle.served()
        applied, _ = bundle.applied()
    else:
        with _connect(args) as conn:
            translation, _ = conn.intent()
            served = conn.served(args.timeout) if conn.xds_address else None
            applied = conn.applied()
    sources = {"intent": rows(translation.envoy, "intent")}
    if served is not None:
        sources["served"] = rows(served, "served")
    sources.update({node: rows(snap, node) for node, snap in applied.items()})
    return sources


def _route_requests(args: argparse.Namespace) -> list[Request]:
    from gloo_nb.analysis.matching import parse_request

    if args.requests:
        if args.path or args.header or args.method:
            raise UsageError("route: give --requests FILE or --path/--method/--header, not both")
        data = read_stream(sys.stdin.buffer) if args.requests == "-" else read_input(args.requests)
        try:
            lines = data.decode("utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise UsageError(f"route: {args.requests}: not UTF-8 text at byte {err.start}; give a JSON-lines file"
                             ) from None
        docs = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                docs.append((n, json.loads(line)))
            except json.JSONDecodeError as err:
                raise UsageError(f"route: {args.requests}:{n}: not JSON ({err.msg}); one request object a line"
                                 ) from None
    elif args.path:
        headers = {}
        for h in args.header or []:
            name, sep, value = h.partition("=")
            if not sep or not name:
                raise UsageError(f"route: --header {h!r}: write it as NAME=VALUE")
            headers[name] = value
        docs = [(0, {"method": args.method or "GET", "path": args.path, "headers": headers})]
    else:
        raise UsageError("route: give --path P [--method M] [--header NAME=VALUE]... or --requests FILE")
    out = []
    for n, doc in docs:
        where = f"{args.requests}:{n}: " if args.requests else ""
        if not isinstance(doc, dict):
            raise UsageError(f"route: {where}expected an object {{\"method\", \"path\", \"headers\", \"query\"}}")
        try:
            out.append(parse_request(doc))
        except ValueError as err:
            raise UsageError(f"route: {where}{err}") from None
    return out


def run_route(args: argparse.Namespace) -> int:
    """``gloo-nb route``: which route each source (intent, served, each replica) would use for requests.

    Args:
        args: Parsed arguments.

    Returns:
        0.
    """
    from gloo_nb.analysis.matching import match_request

    requests = _route_requests(args)  # bad input fails before anything is read
    sources = _route_sources(args)
    summaries = {(r.source, r.route_configuration, r.virtual_host, r.order): r.action_summary
                 for rows in sources.values() for r in rows}
    results = []
    lines = []
    for req in requests:
        matches: list[dict[str, Any]] = []
        lines.append(f"{req.method} {req.path} (host {req.host}"
                     + "".join(f", {k}={v}" for k, v in req.headers.items() if k not in ("host", ":authority"))
                     + ")")
        for source, rows in sources.items():
            m = match_request(rows, req)
            if m is None:
                matches.append({"source": source, "noMatch": True})
                lines.append(f"  {source}: no match (404)")
                continue
            matches.append(m.as_json(source))
            summary = summaries.get((source, m.route_configuration, m.virtual_host, m.order), "")
            label = f" {m.name}" if m.name else ""
            lines.append(f"  {source}: {m.virtual_host} #{m.order}{label} -> {summary}")
        results.append({"request": req.as_json(), "matches": matches})
    if args.json:
        sys.stdout.write(json.dumps({"results": results}, indent=2) + "\n")
    else:
        _out("\n".join(lines) + "\n")
    return 0


EXIT_FOR_OUTCOME = {"proven": 0, "skipped": 0, "done": 0, "dry-run": 0, "refused": 1, "failed": 1, "conflict": 3}
"""``gloo-nb rollout`` exit codes by the outcome of the last step (2 is bad input, raised before any step)."""


def _rollout_target(args: argparse.Namespace) -> Any:
    from gloo_nb.rollout import RolloutTarget

    return RolloutTarget.parse(args.route_table, args.upstream, args.subset_key, args.stable, args.canary,
                               header=args.header, weights=args.weights, until=args.until,
                               decommission=args.decommission)


def run_rollout(args: argparse.Namespace) -> int:
    """``gloo-nb rollout``: the plan (without ``--yes``), or the rollout step by step with proof.

    Args:
        args: Parsed arguments.

    Returns:
        0 done and proven (or the plan printed), 1 a guard or proof failed, 3 a conflicting writer stopped it.
    """
    from gloo_nb.app.rollout import Rollout, iter_reports, probe_json
    from gloo_nb.rollout.signals import SignalThresholds

    target = _rollout_target(args)
    thresholds = SignalThresholds.parse(args.max_error_rate, args.max_p99_ms)
    with _connect(args) as conn, Rollout(conn, target, journal=args.journal, dry_run=not args.yes,
                                         approve=lambda _question: bool(args.decommission),
                                         converge_timeout=args.converge_timeout, thresholds=thresholds) as rollout:
        if not args.yes:
            previews = rollout.plan()
            _tell(rollout.notices, 0)
            # Only the first pending step's guards look at the cluster as it is: they decide the exit code.
            first_failed = [g for g in previews[0].guards if not g.ok] if previews else []
            if args.json:
                doc = {"routeTable": target.route_table, "target": target.as_json(), "applied": False,
                       "steps": [{"step": p.step, "description": p.description, "diff": p.diff,
                                  "guards": [g.as_json() for g in p.guards]}
                                 for p in previews]}
                sys.stdout.write(json.dumps(doc, indent=2) + "\n")
            else:
                lines = [f"Plan for {target.route_table} (dry run: nothing applied; pass --yes to apply)"]
                for p in previews:
                    lines.append(f"\n== {p.step}: {p.description}")
                    lines += [f"  guard {g.name}: {'ok' if g.ok else 'FAILS'}"
                              + (f" ({g.reason})" if not g.ok or g.name == "webhook" else "")
                              for g in p.guards]
                    lines.append(p.diff.rstrip() or "  (no change to the RouteTable)")
                if not previews:
                    lines.append("nothing to do: the RouteTable is already where the rollout ends")
                _out("\n".join(lines) + "\n")
            if first_failed:
                sys.stderr.write(f"{PROG}: rollout: step {previews[0].step} would be refused: "
                                 f"{first_failed[0].name}: {first_failed[0].reason}\n")
                return 1
            return 0
        reports = []
        told = 0
        for report in iter_reports(rollout):
            told = _tell(rollout.notices, told)
            reports.append(report)
            if not args.json:
                _out(report.text() + "\n")
                sys.stdout.flush()
        told = _tell(rollout.notices, told)
        last = reports[-1] if reports else None
        code = EXIT_FOR_OUTCOME.get(last.outcome, 1) if last is not None else 0
        if args.json:
            doc = {"routeTable": target.route_table, "applied": True, "exitCode": code, "notices": rollout.notices,
                   "steps": [{"step": r.step, "outcome": r.outcome, "reason": r.reason, "seconds": r.seconds,
                              "guards": [{"name": n, "ok": ok, "reason": why,
                                          **({"detail": r.guard_details[n]} if n in r.guard_details else {})}
                                         for n, ok, why in r.guards],
                              "converged": None if r.converged is None else {
                                  "ok": r.converged.ok, "servedSeconds": r.converged.served_seconds,
                                  "appliedSeconds": dict(r.converged.applied_seconds)},
                              "probes": [probe_json(n, o) for n, o in r.probes]} for r in reports]}
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        elif last is not None and code:
            sys.stderr.write(f"{PROG}: rollout stopped at {last.step}: {last.outcome}: {last.reason}\n")
        elif not reports:
            # Only after the run re-checked the last proof against the live cluster (its notice says so).
            _out(f"{target.route_table}: nothing to do, every step is proven and the live cluster still serves "
                 f"the last one\n")
        return code


def _tell(notices: Sequence[str], told: int) -> int:
    """Write the notices not written yet to stderr; return how many are written."""
    for notice in notices[told:]:
        sys.stderr.write(f"{PROG}: rollout: {notice}\n")
    sys.stderr.flush()
    return len(notices)


def run_record(args: argparse.Namespace) -> int:
    """``gloo-nb record``: record the gateway into a journal until SIGINT or SIGTERM.

    Args:
        args: Parsed arguments.

    Returns:
        0 after a clean stop.
    """
    from gloo_nb.app.record import record

    state_dir = Path(args.sandbox) if args.sandbox else None
    connection = ({"sandbox": str(state_dir)} if state_dir is not None
                  else {"kubeconfig": args.kubeconfig, "context": args.context})
    connection |= {"asUser": args.as_user, "asGroup": args.as_group}
    if args.audit_log:
        connection["auditLog"] = args.audit_log
    def started(_recorder: object) -> None:
        sys.stderr.write(f"{PROG}: recording into {args.out} (Ctrl-C or SIGTERM stops)\n")

    with _connect(args) as conn:
        reason = record(conn, Path(args.out), state_dir=state_dir, audit_log=_audit_log(args),
                        poll_seconds=args.poll_seconds,
                        connection=connection, on_started=started)
    sys.stderr.write(f"{PROG}: recording stopped ({reason}); journal in {args.out}\n")
    return 0


def run_journal(args: argparse.Namespace) -> int:
    """``gloo-nb journal summary|export|query|import``: summary, Parquet export, SQL over exports, import from audit.

    Args:
        args: Parsed arguments.

    Returns:
        0.
    """
    from gloo_nb.analysis.incident import incident_summary
    from gloo_nb.analysis.timeline import load_timeline

    if args.action == "import":
        from gloo_nb.app.journal_import import import_journal, summary_json

        if args.dirs:
            raise UsageError(f"journal import takes no journal directory ({args.dirs[0]}): give --audit FILE... "
                             "--out DIR")
        if not args.out:
            raise UsageError("journal import: give --out DIR (the journal directory to write)")
        imported = import_journal([f for group in args.audit or [] for f in group], args.out,
                                  start_state=args.start_state, state_taken=args.state_taken,
                                  gloo_version=args.gloo_version, namespace=args.namespace,
                                  access_logs=[f for group in args.access_log or [] for f in group],
                                  prometheus=[f for group in args.prometheus or [] for f in group],
                                  cluster=args.cluster)
        _out(summary_json(imported) if args.json else imported.text())
        return 0
    if not args.dirs:
        raise UsageError(f"journal {args.action}: give one or more journal directories")
    if args.action == "query":
        return _run_journal_query(args)
    if args.action == "export" and args.parquet and not args.parquet.endswith(".parquet"):
        return _run_journal_export_dataset(args)
    if args.action == "export":
        from gloo_nb.journal import read_journal

        if not args.parquet:
            raise UsageError("journal export: give --parquet OUT (a folder: the dataset; FILE.parquet: one file)")
        journal = read_journal(*args.dirs)
        written = journal.to_parquet(args.parquet)
        sys.stdout.write(f"{len(journal)} events -> {written}"
                         + "".join(f"\nloss: {loss}" for loss in journal.losses) + "\n")
        return 0
    summary = incident_summary(load_timeline(*args.dirs, profile=args.gloo_version))
    _out(json.dumps(summary.document(), indent=2) + "\n" if args.json else summary.text())
    return 0


def _run_journal_export_dataset(args: argparse.Namespace) -> int:
    """``gloo-nb journal export DIR... --parquet OUT [--cluster NAME]``: the fleet dataset (OUT a folder)."""
    from gloo_nb.app import fleet

    written = fleet.export(args.dirs, args.parquet, cluster=args.cluster, profile=args.gloo_version)
    rows = ", ".join(f"{n} {table}" for table, n in written.rows.items())
    sys.stdout.write(f"{rows} -> {written.root} (cluster {written.cluster}, journal {written.journal}, "
                     f"{len(written.files)} files)\n")
    return 0


def _run_journal_query(args: argparse.Namespace) -> int:
    """``gloo-nb journal query DIR... "SQL" [--json | --csv]``: SQL over fleet datasets (DuckDB)."""
    from gloo_nb.app import fleet

    if args.parquet or args.cluster:
        raise UsageError("journal query: --parquet and --cluster are for export")
    if len(args.dirs) < 2:
        raise UsageError('journal query: give the dataset folders, then the SQL: journal query OUT "SELECT ..."')
    if args.json and args.csv:
        raise UsageError("journal query: give --json or --csv, not both")
    table = fleet.query_table(*args.dirs[:-1], sql=args.dirs[-1])
    names = table.column_names
    records = table.to_pylist()
    if args.json:
        _out(json.dumps([{k: _json_cell(v) for k, v in r.items()} for r in records], indent=2) + "\n")
    elif args.csv:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([_text_cell(r[n], empty="") for n in names] for r in records)
        _out(buffer.getvalue())
    else:
        _out(_text_table(names, [[_text_cell(r[n]) for n in names] for r in records]))
    return 0


def _json_cell(value: object) -> object:
    """A query result's value in JSON: times RFC 3339 UTC, dates ISO, lists and structs as arrays and objects."""
    import datetime as dt

    from gloo_nb.journal import format_time

    if isinstance(value, dt.datetime):
        return format_time(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return str(value) if isinstance(value, dt.timedelta) else value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_cell(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_cell(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # decimals, UUIDs, intervals: their SQL text


def _text_cell(value: object, empty: str = "-") -> str:
    """A query result's value in a text table or CSV: lists and structs as JSON, null as ``empty``."""
    cell = _json_cell(value)
    if cell is None:
        return empty
    return cell if isinstance(cell, str) else json.dumps(cell)


def _text_table(names: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, numbers as they are; ``(N rows)`` under it."""
    cells = [[escape_controls(c) for c in row] for row in rows]
    widths = [max([len(n), *(len(row[i]) for row in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(lines) + "\n"


def _indent(text: str) -> int:
    """``--indent N``: spaces per JSON level, 0 to 16."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 16:
        raise argparse.ArgumentTypeError(f"expected a number of spaces from 0 to 16, got {text!r}")
    return value


def _add_profile(parser: argparse.ArgumentParser, default: str | None = "current") -> None:
    parser.add_argument("--gloo-version", choices=PROFILES, default=default,
                        help="Gloo behaviour profile (default: current, Gloo >= 1.12; with a connection: the "
                             "sandbox's, or detected from the gloo image)")


def _add_connection(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--sandbox", metavar="DIR", help="a gloo-nb sandbox state directory")
    group.add_argument("--kubeconfig", metavar="F", help="a kubeconfig file")
    group.add_argument("--context", metavar="C", help="the kubeconfig context")
    group.add_argument("--as", dest="as_user", metavar="USER", help="impersonate this user")
    group.add_argument("--as-group", metavar="G", help="impersonate this group")
    group.add_argument("--xds", metavar="HOST:PORT", help="the control plane's ADS address (default: a "
                                                           "port-forward to the gloo pod's 9977)")
    group.add_argument("--proxy", dest="proxy_name", metavar="NAME",
                       help="the gateway proxy to look at (default: gateway-proxy, or the sandbox's first)")
    # A cluster's API records no user for a write (managedFields name a field manager); its audit log does.
    # With it, --kubeconfig names the same actors as --sandbox (which reads DIR/audit.jsonl), issue 20.
    group.add_argument("--audit-log", metavar="FILE",
                       help="the cluster's audit log (audit.k8s.io/v1 Events as JSON lines, kube-apiserver "
                            "--audit-log-format=json): who changed what (default with --sandbox: DIR/audit.jsonl; "
                            "else each object's managedFields manager)")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``gloo-nb`` argument parser.

    Returns:
        The parser; each subcommand sets ``run`` to the function that executes it.
    """
    parser = argparse.ArgumentParser(prog=PROG, description="An ops toolkit for Gloo Edge.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tr = sub.add_parser("translate", help="translate manifests as Gloo would",
                        description="Translate Kubernetes YAML (files, folders, - for stdin) as Gloo would.")
    tr.add_argument("paths", nargs="*", metavar="PATH", help="YAML files or folders, - for stdin (or a connection)")
    _add_profile(tr, default=None)
    tr.add_argument("--compare", metavar="A,B",
                    help="what Gloo version B would do differently from A with the same resources, e.g. 1.3,current "
                         "(reports, routes, clusters and the push decision, per proxy)")
    tr.add_argument("--previous", action="append", default=None, metavar="PATH",
                    help="with --compare: what the cluster held before (repeatable), so that a kept last good "
                         "configuration shows what Envoy keeps serving")
    _add_connection(tr)
    tr.add_argument("--json", action="store_true", help="print the JSON document instead of tables (compact, one line)")
    tr.add_argument("--indent", type=_indent, metavar="N",
                    help="indent the JSON document by N spaces per level (implies --json)")
    tr.set_defaults(run=run_translate)

    ck = sub.add_parser("check", help="a glooctl check for resources",
                        description="One line per problem; exit 0 clean, 1 problems, 2 unreadable input.")
    ck.add_argument("paths", nargs="*", metavar="PATH", help="YAML files or folders, - for stdin")
    _add_profile(ck, default=None)
    _add_connection(ck)
    ck.add_argument("--webhook", action="store_true",
                    help="would Gloo's validating webhook admit these resources (files, in order; with a "
                         "connection: against the cluster), under these Settings? one line per resource; exit 1 "
                         "when one is denied")
    ck.add_argument("--validation", choices=("accept", "errors", "strict", "off"), default=None,
                    help="with --webhook: Settings' spec.gateway.validation as accept (Helm's default), errors "
                         "(alwaysAccept: false), strict (also allowWarnings: false) or off")
    ck.add_argument("--json", action="store_true", help="with --webhook: print the verdicts as JSON")
    ck.set_defaults(run=run_check)

    ins = sub.add_parser("inspect", help="intent, served and applied side by side, with drift",
                         description="Read Kubernetes, the xDS stream and every Envoy replica; print routes, "
                                     "drift and findings.")
    _add_connection(ins)
    _add_profile(ins, default=None)
    ins.add_argument("--json", action="store_true", help="print the JSON document instead of tables")
    ins.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the xDS stream")
    ins.add_argument("--snapshot", metavar="DIR", help="read a saved bundle instead of a live gateway")
    ins.add_argument("--all-proxies", action="store_true",
                     help="inspect every proxy the Gateways name, each through its own replicas and xDS role")
    ins.set_defaults(run=run_inspect)

    snap = sub.add_parser("snapshot", help="save a gateway's resources, served and applied config to a folder",
                          description="gloo-nb snapshot save CONNECTION --out DIR")
    snap.add_argument("action", choices=("save",))
    _add_connection(snap)
    _add_profile(snap, default=None)
    snap.add_argument("--out", required=True, metavar="DIR", help="the bundle folder")
    snap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the xDS stream")
    snap.set_defaults(run=run_snapshot)

    rt = sub.add_parser("route", help="which route would serve a request, per source",
                        description="Envoy's route matching on intent, served and each replica's configuration.")
    _add_connection(rt)
    _add_profile(rt, default=None)
    rt.add_argument("--snapshot", metavar="DIR", help="read a saved bundle instead of a live gateway")
    rt.add_argument("--path", metavar="P", help="the request path, with an optional ?query")
    rt.add_argument("--method", metavar="M", help="the request method (default GET)")
    rt.add_argument("--header", action="append", metavar="NAME=VALUE", help="a request header (repeatable; "
                                                                             "host=... picks the virtual host)")
    rt.add_argument("--requests", metavar="FILE", help='JSON lines {"method", "path", "headers", "query"}')
    rt.add_argument("--json", action="store_true", help="print the JSON document instead of text")
    rt.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the xDS stream")
    rt.set_defaults(run=run_route)

    ro = sub.add_parser("rollout", help="the two-phase canary rollout of a team's RouteTable, with proof",
                        description="Without --yes: print the plan and predicted changes, apply nothing. With --yes: "
                                    "run each step (guards, apply as the given identity, converge, prove with real "
                                    "traffic, checkpoint). Exit 0 done and proven, 1 a guard or proof failed, "
                                    "2 bad input, 3 a conflicting writer stopped it.")
    _add_connection(ro)
    _add_profile(ro, default=None)
    ro.add_argument("--route-table", required=True, metavar="NS/NAME", help="the team's RouteTable")
    ro.add_argument("--upstream", required=True, metavar="NS/NAME", help="the Upstream with the subsets")
    ro.add_argument("--subset-key", required=True, metavar="KEY", help="the subset label key (e.g. version)")
    ro.add_argument("--stable", required=True, metavar="V", help="the stable subset's value (e.g. v1)")
    ro.add_argument("--canary", required=True, metavar="V", help="the canary subset's value (e.g. v2)")
    ro.add_argument("--header", metavar="NAME=VALUE", default="stage=canary",
                    help="phase 1's canary header (default stage=canary)")
    ro.add_argument("--weights", default="10,50,100", metavar="10,50,100",
                    help="phase 2: the canary's percentages after an implicit 0 (default 10,50,100)")
    ro.add_argument("--until", choices=("phase1", "phase2", "finish"), default="finish",
                    help="stop after this phase (phase2 ends with the canary at 100, proven)")
    ro.add_argument("--decommission", action="store_true", help="after finish, delete the stable Deployment")
    ro.add_argument("--journal", default=None, metavar="DIR",
                    help="the journal directory (default ./gloo-nb-journal); a rerun resumes from it, only from "
                         "runs on this cluster for this RouteTable object (a journal named here that holds this "
                         "rollout for another cluster or object is refused with exit 2)")
    ro.add_argument("--json", action="store_true", help="print a JSON document (the plan, or the steps run)")
    ro.add_argument("--yes", action="store_true", help="apply (without it: a dry run)")
    ro.add_argument("--converge-timeout", type=float, default=30.0, metavar="S",
                    help="seconds to wait for the control plane and every replica after each change")
    ro.add_argument("--max-error-rate", default=None, metavar="PCT",
                    help="refuse to promote (guard canary-signals, before phase2-* and finish) when the canary's "
                         "5xx share in the last proof, from Envoy's per-host rq_error, is above PCT percent "
                         "(default: off)")
    ro.add_argument("--max-p99-ms", default=None, metavar="MS",
                    help="refuse to promote when the canary's p99 latency in the last proof, measured by the "
                         "probe, is above MS milliseconds (default: off)")
    ro.set_defaults(run=run_rollout)

    rec = sub.add_parser("record", help="record every change of a gateway into a journal until interrupted",
                         description="Kubernetes changes (with who made them), xDS updates and each replica's "
                                     "applied versions, into a journal directory, until SIGINT or SIGTERM. Exit 0 "
                                     "after a clean stop, 2 on bad input or an unreachable gateway.")
    _add_connection(rec)
    _add_profile(rec, default=None)
    rec.add_argument("--out", required=True, metavar="DIR", help="the journal directory (created; reruns add files)")
    rec.add_argument("--poll-seconds", type=float, default=1.0, metavar="S",
                     help="how often each replica's counters are read (default 1)")
    rec.set_defaults(run=run_record)

    jr = sub.add_parser("journal", help="analyse journals: who was blocked, for how long and why; change delays",
                        description="gloo-nb journal summary DIR... [--json]: the incident summary (blocked teams, "
                                    "cause, fix, time to detect and recover, each change's delay to served and "
                                    "applied). gloo-nb journal export DIR... --parquet OUT [--cluster NAME]: a "
                                    "Parquet dataset partitioned by cluster and day. gloo-nb journal query OUT... "
                                    "\"SQL\" [--json | --csv]: SQL over datasets (DuckDB; tables events, blocked, "
                                    "changes, incidents). gloo-nb journal import --audit FILE... [--start-state "
                                    "BUNDLE|YAML] --out DIR: a journal rebuilt from a cluster's audit logs.")
    jr.add_argument("action", choices=("summary", "export", "query", "import"))
    jr.add_argument("dirs", nargs="*", metavar="DIR", help="journal directories (several runs are merged by time); "
                                                           "query: dataset folders written by export, then the SQL")
    jr.add_argument("--gloo-version", choices=PROFILES, default=None,
                    help="the Gloo profile to replay (default: the recorder's)")
    jr.add_argument("--json", action="store_true", help="print the JSON document (blocked, changes, incidents); "
                                                            "query: the rows as JSON records")
    jr.add_argument("--parquet", metavar="OUT",
                    help="export: a folder: the fleet dataset, partitioned by cluster and day (tables events, "
                         "blocked, changes, incidents; README: Fleet dataset); FILE.parquet: the events as one "
                         "file (the older form, data as JSON text)")
    jr.add_argument("--cluster", metavar="NAME", help="export to a folder: the cluster's name (default: the "
                                                      "journal's kubeconfig context or sandbox directory name); "
                                                      "import: the cluster's name, kept in the journal")
    jr.add_argument("--csv", action="store_true", help="query: the rows as CSV")
    imp = jr.add_argument_group("import (gloo-nb journal import --audit FILE... --out DIR): a journal rebuilt from "
                                "a cluster's audit log, for an incident nobody recorded")
    imp.add_argument("--audit", action="append", nargs="+", metavar="FILE",
                     help="Kubernetes audit logs: JSON lines of audit.k8s.io/v1 Events (.gz too); repeatable")
    imp.add_argument("--access-log", action="append", nargs="+", metavar="[NODE=]FILE",
                     help="Envoy access logs, one file per replica (the Gateway's fileSink); repeatable")
    imp.add_argument("--prometheus", action="append", nargs="+", metavar="FILE",
                     help="saved Prometheus range-query answers (/api/v1/query_range) of Envoy's cluster stats")
    imp.add_argument("--start-state", metavar="BUNDLE_DIR|YAML",
                     help="the objects before or after the window: a snapshot bundle or a kubectl get -o yaml dump")
    imp.add_argument("--state-taken", choices=("auto", "before", "after"), default="auto",
                     help="when --start-state was taken (default auto: a bundle's time, else resourceVersions)")
    imp.add_argument("--namespace", default="gloo-system", help="Gloo's namespace (default gloo-system)")
    imp.add_argument("--out", metavar="DIR", help="the journal directory to write")
    jr.set_defaults(run=run_journal)

    sb = sub.add_parser("sandbox", help="Gloo-in-a-box: start, stop or query a local sandbox",
                        description="Run a sandbox (Kubernetes-compatible API, pods as local processes, a "
                                    "Gloo-compatible control plane, real Envoy) in the background.")
    sb.add_argument("action", choices=("start", "stop", "status"))
    sb.add_argument("--state-dir", required=True, metavar="DIR", help="where the sandbox keeps its state")
    sb.add_argument("--gloo-version", choices=PROFILES, default=None,
                    help="Gloo behaviour profile (default: current, or the state directory's earlier one)")
    sb.add_argument("--replicas", type=int, default=2, metavar="N", help="Envoy replicas (default 2)")
    sb.add_argument("--proxy", action="append", default=None, metavar="NAME[:REPLICAS]",
                    help="a gateway proxy to run, with its replicas (default: --replicas); repeatable "
                         "(default gateway-proxy:2)")
    sb.add_argument("--exit-with", type=int, default=None, metavar="PID",
                    help="start: stop the sandbox by itself once this process is gone (a notebook kernel)")
    sb.add_argument("--audit-level", choices=("Metadata", "Request", "RequestResponse"), default="RequestResponse",
                    help="start: the level of audit.jsonl's writes (audit.k8s.io/v1 Events; Secrets always "
                         "Metadata; the policy is written to audit-policy.yaml; default RequestResponse)")
    sb.add_argument("--validation", choices=("accept", "errors", "strict", "off"), default=None,
                    help="start: Gloo's validating webhook, written into Settings gloo-system/default: accept "
                         "(Helm's default: admit everything, only log), errors (alwaysAccept: false), strict (also "
                         "allowWarnings: false) or off (no spec.gateway.validation); default: keep the Settings")
    sb.set_defaults(run=run_sandbox)
    return parser


EXIT_CODES: tuple[tuple[type[GlooNbError], int], ...] = (
    (RolloutConflict, 3),  # before RolloutError and UnreachableError: a ConflictError is all three
    (UsageError, 2),
    (BadDataError, 2),
    (UnreachableError, 2),
    (RolloutError, 2),
    (GlooNbError, 2),
)
"""Exit code per error group of :mod:`gloo_nb.errors`, first match wins."""


def exit_code_for(err: GlooNbError) -> int:
    """The exit code of ``gloo-nb`` for an error that ends a command.

    Args:
        err: The error.

    Returns:
        The code of the first group in :data:`EXIT_CODES` the error belongs to.
    """
    return next(code for group, code in EXIT_CODES if isinstance(err, group))


def _fail(message: str, code: int = 2) -> int:
    one_line = " ".join(line.strip() for line in message.splitlines() if line.strip())
    # names and messages in errors come from files and clusters: print them, never obey them
    sys.stderr.write(f"{PROG}: {escape_controls(one_line)}\n")
    return code


def _silence_stdout() -> None:
    # The reader went away (`gloo-nb ... | head`): keep Python from failing again when it
    # flushes stdout at exit (the recipe of the `signal` module's documentation).
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gloo-nb``.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    try:
        args = build_parser().parse_args(argv)
        code = int(args.run(args))
        if code == 0:
            for note in getattr(args, "cluster_notes", ()):
                print(f"note: {note}", file=sys.stderr)
        return code
    except GlooNbError as err:
        return _fail(str(err), exit_code_for(err))
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, no traceback
        if os.environ.get("GLOO_NB_DEBUG") == "1":
            traceback.print_exc()
        return _fail(f"unexpected error {type(err).__name__}: {err} (this is a bug, please report it; "
                     f"GLOO_NB_DEBUG=1 shows the traceback)")
