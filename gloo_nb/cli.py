"""The ``gloo-nb`` command: a thin forwarder to the library.

Exit codes: 0 done (``check``: no problems), 1 ``check`` found problems, 2 unreadable input or bad
usage, 130 interrupted. Errors are one line on stderr, never a traceback (set ``GLOO_NB_DEBUG=1``
to see one for an unexpected error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gloo_nb._types import PROFILES, check_profile
from gloo_nb.app.manifests import read_manifests
from gloo_nb.errors import GlooNbError, UsageError
from gloo_nb.models.codec import ParseResult
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.check import problems, summary_line
from gloo_nb.translate.render import render, render_text

if TYPE_CHECKING:
    from gloo_nb.app.connect import GatewayConnection

PROG = "gloo-nb"


def _read_and_translate(args: argparse.Namespace) -> tuple[Translation, ParseResult]:
    parsed = read_manifests(args.paths)
    return translate(parsed.resources, check_profile(args.gloo_version or "current")), parsed


def run_translate(args: argparse.Namespace) -> int:
    """``gloo-nb translate``: print the translation document (JSON or tables).

    Args:
        args: Parsed arguments.

    Returns:
        0: findings are data, not failures.
    """
    translation, parsed = _read_and_translate(args)
    doc = render(translation, parse_findings=parsed.findings, parse_skipped=parsed.skipped)
    sys.stdout.write(json.dumps(doc, indent=2) + "\n" if args.json else render_text(doc))
    return 0


def run_check(args: argparse.Namespace) -> int:
    """``gloo-nb check``: one line per problem, then the count.

    Args:
        args: Parsed arguments.

    Returns:
        0 when clean, 1 when there are problems.

    Raises:
        UsageError: When a connection is given (not implemented yet) or no input at all.
    """
    if _has_connection(args):
        if args.paths:
            raise UsageError("check: pass manifest files or a connection (--sandbox/--kubeconfig), not both")
        with _connect(args) as conn:
            translation, parsed = conn.intent()
    elif not args.paths:
        raise UsageError("check: pass manifest files or folders (or - for stdin), or a connection")
    else:
        translation, parsed = _read_and_translate(args)
    found = problems(translation, parsed.findings)
    sys.stdout.write("".join(p.line() + "\n" for p in found) + summary_line(found) + "\n")
    return 1 if found else 0


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
            started = runner.start(state_dir, gloo_version=args.gloo_version, replicas=args.replicas)
        except runner.SandboxError as err:
            sys.stderr.write(f"{PROG}: {err}\n")
            return 1
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
        conn = connect_sandbox(args.sandbox, as_user=args.as_user, as_group=args.as_group)
        if args.gloo_version:
            conn.profile = check_profile(args.gloo_version)
        return conn
    if not args.kubeconfig:
        raise UsageError("give a connection: --sandbox DIR or --kubeconfig F [--context C]")
    return connect(args.kubeconfig, context=args.context, as_user=args.as_user, as_group=args.as_group,
                   gloo_version=args.gloo_version, xds=args.xds)


def run_inspect(args: argparse.Namespace) -> int:
    """``gloo-nb inspect``: intent, served and applied side by side, with drift.

    Args:
        args: Parsed arguments.

    Returns:
        0.
    """
    if args.snapshot:
        from gloo_nb.app.snapshot import open_snapshot

        if _has_connection(args):
            raise UsageError("give a connection or --snapshot DIR, not both")
        inspection = open_snapshot(args.snapshot, gloo_version=args.gloo_version).collect()
    else:
        with _connect(args) as conn:
            inspection = conn.collect(timeout=args.timeout)
    if args.json:
        sys.stdout.write(json.dumps(inspection.document(), indent=2) + "\n")
    else:
        sys.stdout.write(inspection.text())
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    """Return the ``gloo-nb`` argument parser.

    Returns:
        The parser; each subcommand sets ``run`` to the function that executes it.
    """
    parser = argparse.ArgumentParser(prog=PROG, description="An ops toolkit for Gloo Edge.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tr = sub.add_parser("translate", help="translate manifests as Gloo would",
                        description="Translate Kubernetes YAML (files, folders, - for stdin) as Gloo would.")
    tr.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or folders, - for stdin")
    _add_profile(tr)
    tr.add_argument("--json", action="store_true", help="print the JSON document instead of tables")
    tr.set_defaults(run=run_translate)

    ck = sub.add_parser("check", help="a glooctl check for resources",
                        description="One line per problem; exit 0 clean, 1 problems, 2 unreadable input.")
    ck.add_argument("paths", nargs="*", metavar="PATH", help="YAML files or folders, - for stdin")
    _add_profile(ck, default=None)
    _add_connection(ck)
    ck.set_defaults(run=run_check)

    ins = sub.add_parser("inspect", help="intent, served and applied side by side, with drift",
                         description="Read Kubernetes, the xDS stream and every Envoy replica; print routes, "
                                     "drift and findings.")
    _add_connection(ins)
    _add_profile(ins, default=None)
    ins.add_argument("--json", action="store_true", help="print the JSON document instead of tables")
    ins.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the xDS stream")
    ins.add_argument("--snapshot", metavar="DIR", help="read a saved bundle instead of a live gateway")
    ins.set_defaults(run=run_inspect)

    snap = sub.add_parser("snapshot", help="save a gateway's resources, served and applied config to a folder",
                          description="gloo-nb snapshot save CONNECTION --out DIR")
    snap.add_argument("action", choices=("save",))
    _add_connection(snap)
    _add_profile(snap, default=None)
    snap.add_argument("--out", required=True, metavar="DIR", help="the bundle folder")
    snap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the xDS stream")
    snap.set_defaults(run=run_snapshot)

    sb = sub.add_parser("sandbox", help="Gloo-in-a-box: start, stop or query a local sandbox",
                        description="Run a sandbox (Kubernetes-compatible API, pods as local processes, a "
                                    "Gloo-compatible control plane, real Envoy) in the background.")
    sb.add_argument("action", choices=("start", "stop", "status"))
    sb.add_argument("--state-dir", required=True, metavar="DIR", help="where the sandbox keeps its state")
    sb.add_argument("--gloo-version", choices=PROFILES, default=None,
                    help="Gloo behaviour profile (default: current, or the state directory's earlier one)")
    sb.add_argument("--replicas", type=int, default=2, metavar="N", help="Envoy replicas (default 2)")
    sb.set_defaults(run=run_sandbox)
    return parser


def _fail(message: str) -> int:
    one_line = " ".join(line.strip() for line in message.splitlines() if line.strip())
    sys.stderr.write(f"{PROG}: {one_line}\n")
    return 2


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
        return int(args.run(args))
    except GlooNbError as err:
        return _fail(str(err))
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
