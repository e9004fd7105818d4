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

from gloo_nb._types import PROFILES, check_profile
from gloo_nb.app.manifests import read_manifests
from gloo_nb.errors import GlooNbError, UsageError
from gloo_nb.models.codec import ParseResult
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.check import problems, summary_line
from gloo_nb.translate.render import render, render_text

PROG = "gloo-nb"
CONNECTION_OPTIONS = ("sandbox", "kubeconfig", "context", "as_user", "as_group")


def _read_and_translate(args: argparse.Namespace) -> tuple[Translation, ParseResult]:
    parsed = read_manifests(args.paths)
    return translate(parsed.resources, check_profile(args.gloo_version)), parsed


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
    if any(getattr(args, opt) for opt in CONNECTION_OPTIONS):
        raise UsageError("reading a cluster is not implemented yet: pass manifest files (or - for stdin)")
    if not args.paths:
        raise UsageError("check: pass manifest files or folders (or - for stdin)")
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


def _add_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gloo-version", choices=PROFILES, default="current",
                        help="Gloo behaviour profile (default: current, Gloo >= 1.12)")


def _add_connection(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection (not implemented yet)")
    group.add_argument("--sandbox", metavar="DIR", help="a gloo-nb sandbox state directory")
    group.add_argument("--kubeconfig", metavar="F", help="a kubeconfig file")
    group.add_argument("--context", metavar="C", help="the kubeconfig context")
    group.add_argument("--as", dest="as_user", metavar="USER", help="impersonate this user")
    group.add_argument("--as-group", metavar="G", help="impersonate this group")


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
    _add_profile(ck)
    _add_connection(ck)
    ck.set_defaults(run=run_check)

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
