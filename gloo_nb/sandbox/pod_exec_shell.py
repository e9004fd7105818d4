"""The shell of ``kubectl exec``: a POSIX ``sh`` subset, parsed and run in-process over the exec command set.

What a troubleshooting one-liner, a container's ``sh -c`` script and the Python client's e2e suite use, with
POSIX's grammar (XCU 2.10 "Shell Grammar") and busybox ``ash``'s messages (shell/ash.c):

- lists: ``;``, newlines, ``&&``, ``||``; pipelines ``A | B | C`` (each stage's stdout is the next one's stdin,
  the stages run together, the pipeline's status is the last stage's; ``! PIPELINE`` negates it);
- compound commands: ``{ LIST; }``, ``( LIST )`` (a subshell: its variables and ``cd`` stay inside),
  ``if/then/elif/else/fi``, ``while``/``until ... do ... done``, ``for NAME [in WORDS]; do ... done``,
  ``case WORD in PATTERN[|PATTERN]) LIST;; ... esac``, with ``break [N]`` and ``continue [N]``;
- words: single and double quotes, backslash, ``$NAME``, ``${NAME}``, ``${NAME:-W}`` (and ``-``, ``:=``, ``=``,
  ``:+``, ``+``), ``${#NAME}``, ``$?``, ``$$``, ``$#``, ``$0``..``$9``, ``$@``, ``$*``, ``$(COMMAND)``,
  backquotes, ``$((ARITHMETIC))``; unquoted expansions are split on blanks (no filename globbing: the emulated
  image has no filesystem to glob);
- redirections: ``>&2``, ``2>&1`` (any ``N>&M`` of 1 and 2), ``>/dev/null``, ``2>/dev/null``, ``&>/dev/null``,
  ``< FILE`` (a file the container has); output into any other file is refused, as the emulated container has
  no writable filesystem;
- builtins: ``exit``, ``break``, ``continue``, ``:``, ``cd``, ``export``, ``unset``, ``set`` (``-e``, ``-o
  pipefail``; other flags accepted), ``read [-r] NAME...``, ``shift``, ``NAME=value``.

Out, refused with one line on stderr and status 2: background jobs (``&``), here-documents, functions.
Nothing here runs a host program: a simple command runs through the exec command set.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import fnmatch
import operator
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import pod_exec_tools

if TYPE_CHECKING:
    from gloo_nb.sandbox.pod_exec import ExecIO, ExecTarget

__all__ = ["Shell", "ShellSyntaxError", "parse"]

Runner = Callable[[list[str], "ExecTarget", "ExecIO"], Awaitable[int]]

_RESERVED = {"if", "then", "elif", "else", "fi", "while", "until", "do", "done", "for", "in", "case", "esac",
             "{", "}", "!"}
_OPERATORS = ("&&", "||", ";;", "&>", ">>", "<<", ">&", "<&", ";", "|", "&", "(", ")", "<", ">", "\n")
_PIPE_BUFFER = 16  # chunks in flight between two pipeline stages (a pipe's bounded buffer)
_MAX_LOOPS = 10_000_000


class ShellSyntaxError(Exception):  # not in gloo_nb.errors: this module runs in pods' processes, stdlib only
    """A script the shell cannot parse; ``incomplete`` when more input could complete it (``sh`` on stdin).

    Args:
        message: The message, as ash words it (``syntax error: unexpected "done"``).
        incomplete: Whether the script ended inside a construct.
    """

    def __init__(self, message: str, incomplete: bool = False) -> None:
        super().__init__(message)
        self.incomplete = incomplete


class ShellRefusal(Exception):  # noqa: N818 - a refusal, reported as one line
    """What the sandbox's shell does not run (background jobs, here-documents, functions)."""


# --- the syntax tree ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Redirect:
    """One redirection: ``fd`` ``op`` (``>``, ``>>``, ``<``, ``>&``, ``&>``) ``target`` (a raw word)."""

    fd: int
    op: str
    target: str


@dataclass(slots=True)
class Simple:
    """A simple command: assignments, words (raw, expanded when run) and redirections."""

    assigns: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass(slots=True)
class Pipeline:
    """Commands joined by ``|``; ``negate`` for ``!``."""

    commands: list[Any]
    negate: bool = False


@dataclass(slots=True)
class AndOr:
    """Pipelines joined by ``&&`` / ``||``: ``rest`` pairs each later pipeline with the operator before it."""

    first: Pipeline
    rest: list[tuple[str, Pipeline]] = field(default_factory=list)


@dataclass(slots=True)
class Group:
    """``{ LIST; }``, or ``( LIST )`` when ``subshell``."""

    body: list[AndOr]
    subshell: bool = False
    redirects: list[Redirect] = field(default_factory=list)


@dataclass(slots=True)
class If:
    """``if C; then B; [elif C; then B;]... [else B;] fi``: (condition, body) pairs and the else body."""

    branches: list[tuple[list[AndOr], list[AndOr]]]
    orelse: list[AndOr] | None = None
    redirects: list[Redirect] = field(default_factory=list)


@dataclass(slots=True)
class Loop:
    """``while`` (``until`` when ``until``) ``CONDITION; do BODY; done``."""

    condition: list[AndOr]
    body: list[AndOr]
    until: bool = False
    redirects: list[Redirect] = field(default_factory=list)


@dataclass(slots=True)
class For:
    """``for NAME [in WORDS]; do BODY; done`` (``words`` None: the positional parameters)."""

    name: str
    words: list[str] | None
    body: list[AndOr]
    redirects: list[Redirect] = field(default_factory=list)


@dataclass(slots=True)
class Case:
    """``case WORD in PATTERNS) BODY;; ... esac``."""

    word: str
    items: list[tuple[list[str], list[AndOr]]]
    redirects: list[Redirect] = field(default_factory=list)


# --- the tokenizer --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tok:
    kind: str  # "word", "op", "io" (an IO_NUMBER before a redirection), "eof"
    text: str


def _scan_word(s: str, i: int) -> int:
    """Where the word starting at ``i`` ends: quotes, backslashes, ``$(...)``, ``${...}`` and backquotes nest."""
    n = len(s)
    while i < n:
        ch = s[i]
        if ch in " \t\n;&|<>()":
            return i
        if ch == "\\":
            i += 2
        elif ch == "'":
            j = s.find("'", i + 1)
            if j < 0:
                raise ShellSyntaxError("syntax error: unterminated quoted string", incomplete=True)
            i = j + 1
        elif ch == '"':
            i = _scan_double(s, i + 1)
        elif ch == "`":
            j = i + 1
            while j < n and s[j] != "`":
                j += 2 if s[j] == "\\" else 1
            if j >= n:
                raise ShellSyntaxError("syntax error: unterminated quoted string", incomplete=True)
            i = j + 1
        elif ch == "$" and s.startswith("$(", i):
            i = _scan_paren(s, i + 2)
        elif ch == "$" and s.startswith("${", i):
            j = s.find("}", i)
            if j < 0:
                raise ShellSyntaxError("syntax error: missing '}'", incomplete=True)
            i = j + 1
        else:
            i += 1
    return i


def _scan_double(s: str, i: int) -> int:
    n = len(s)
    while i < n:
        ch = s[i]
        if ch == "\\":
            i += 2
        elif ch == '"':
            return i + 1
        elif s.startswith("$(", i):
            i = _scan_paren(s, i + 2)
        elif ch == "`":
            j = s.find("`", i + 1)
            i = n if j < 0 else j + 1
        else:
            i += 1
    raise ShellSyntaxError("syntax error: unterminated quoted string", incomplete=True)


def _scan_paren(s: str, i: int) -> int:
    """The index after the ``)`` closing a ``$(`` whose content starts at ``i``."""
    depth, n = 1, len(s)
    while i < n:
        ch = s[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "'":
            j = s.find("'", i + 1)
            i = n if j < 0 else j + 1
            continue
        if ch == '"':
            i = _scan_double(s, i + 1)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ShellSyntaxError("syntax error: unterminated $(", incomplete=True)


def _tokens(s: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if ch in " \t":
            i += 1
        elif ch == "\\" and s.startswith("\\\n", i):
            i += 2  # a line continuation
        elif ch == "#" and (not out or out[-1].kind == "op" or s[i - 1] in " \t"):
            while i < n and s[i] != "\n":
                i += 1
        else:
            op = next((o for o in _OPERATORS if s.startswith(o, i)), None)
            if op is not None:
                out.append(_Tok("op", op))
                i += len(op)
                continue
            j = _scan_word(s, i)
            word = s[i:j]
            if word.isdigit() and j < n and s[j] in "<>":
                out.append(_Tok("io", word))
            else:
                out.append(_Tok("word", word))
            i = j
    out.append(_Tok("eof", ""))
    return out


# --- the parser (XCU 2.10.2's grammar, as recursive descent) --------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> _Tok:
        return self.toks[self.pos]

    def next(self) -> _Tok:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def is_word(self, *texts: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.text in texts

    def is_op(self, *texts: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.text in texts

    def unexpected(self) -> ShellSyntaxError:
        tok = self.peek()
        if tok.kind == "eof":
            # ash: "syntax error: unexpected end of file" (more input may finish it)
            return ShellSyntaxError("syntax error: unexpected end of file", incomplete=True)
        text = "newline" if tok.text == "\n" else tok.text
        return ShellSyntaxError(f'syntax error: unexpected "{text}"')

    def skip_newlines(self) -> None:
        while self.is_op("\n"):
            self.next()

    def expect_word(self, text: str) -> None:
        self.skip_newlines()
        if not self.is_word(text):
            raise self.unexpected()
        self.next()

    def program(self) -> list[AndOr]:
        body = self.list_until(())
        if self.peek().kind != "eof":
            raise self.unexpected()
        return body

    def list_until(self, ends: tuple[str, ...]) -> list[AndOr]:
        """A compound list, up to one of the reserved words ``ends`` (or ``)``, ``;;`` or the end)."""
        items: list[AndOr] = []
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok.kind == "eof" or (tok.kind == "word" and tok.text in ends) or self.is_op(")", ";;"):
                return items
            items.append(self.and_or())
            if self.is_op("&"):
                raise ShellRefusal("sh: the sandbox's shell does not run background jobs (&)")
            if self.is_op(";", "\n"):
                self.next()
            elif not (self.peek().kind == "eof" or self.is_op(")", ";;")
                      or (self.peek().kind == "word" and self.peek().text in ends)):
                raise self.unexpected()

    def and_or(self) -> AndOr:
        node = AndOr(self.pipeline())
        while self.is_op("&&", "||"):
            op = self.next().text
            self.skip_newlines()
            node.rest.append((op, self.pipeline()))
        return node

    def pipeline(self) -> Pipeline:
        negate = False
        if self.is_word("!"):
            self.next()
            negate = True
        commands = [self.command()]
        while self.is_op("|"):
            self.next()
            self.skip_newlines()
            commands.append(self.command())
        return Pipeline(commands, negate)

    def command(self) -> Any:
        tok = self.peek()
        node: Any
        if tok.kind == "op" and tok.text == "(":
            self.next()
            node = Group(self.list_until(()), subshell=True)
            if not self.is_op(")"):
                raise self.unexpected()
            self.next()
        elif tok.kind == "word" and tok.text == "{":
            self.next()
            node = Group(self.list_until(("}",)))
            self.expect_word("}")
        elif tok.kind == "word" and tok.text == "if":
            node = self.if_clause()
        elif tok.kind == "word" and tok.text in ("while", "until"):
            self.next()
            cond = self.list_until(("do",))
            self.expect_word("do")
            body = self.list_until(("done",))
            self.expect_word("done")
            node = Loop(cond, body, until=tok.text == "until")
        elif tok.kind == "word" and tok.text == "for":
            node = self.for_clause()
        elif tok.kind == "word" and tok.text == "case":
            node = self.case_clause()
        elif tok.kind == "word" and tok.text in _RESERVED - {"{", "!"}:
            raise self.unexpected()
        else:
            return self.simple()
        node.redirects = self.redirects()
        return node

    def if_clause(self) -> If:
        self.next()
        branches: list[tuple[list[AndOr], list[AndOr]]] = []
        orelse = None
        while True:
            cond = self.list_until(("then",))
            self.expect_word("then")
            body = self.list_until(("elif", "else", "fi"))
            branches.append((cond, body))
            self.skip_newlines()
            tok = self.next()
            if tok.kind == "word" and tok.text == "elif":
                continue
            if tok.kind == "word" and tok.text == "else":
                orelse = self.list_until(("fi",))
                self.expect_word("fi")
            elif not (tok.kind == "word" and tok.text == "fi"):
                self.pos -= 1
                raise self.unexpected()
            return If(branches, orelse)

    def for_clause(self) -> For:
        self.next()
        tok = self.next()
        if tok.kind != "word" or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tok.text):
            self.pos -= 1
            raise ShellSyntaxError("syntax error: bad for loop variable" if tok.kind == "word"
                                   else self.unexpected().args[0], incomplete=tok.kind == "eof")
        words: list[str] | None = None
        self.skip_newlines()
        if self.is_word("in"):
            self.next()
            words = []
            while self.peek().kind == "word":
                words.append(self.next().text)
            if not self.is_op(";", "\n"):
                raise self.unexpected()
            self.next()
        elif self.is_op(";"):
            self.next()
        self.expect_word("do")
        body = self.list_until(("done",))
        self.expect_word("done")
        return For(tok.text, words, body)

    def case_clause(self) -> Case:
        self.next()
        tok = self.next()
        if tok.kind != "word":
            self.pos -= 1
            raise self.unexpected()
        self.expect_word("in")
        items: list[tuple[list[str], list[AndOr]]] = []
        while True:
            self.skip_newlines()
            if self.is_word("esac"):
                self.next()
                return Case(tok.text, items)
            if self.is_op("("):
                self.next()
            patterns = []
            while True:
                if self.peek().kind != "word":
                    raise self.unexpected()
                patterns.append(self.next().text)
                if self.is_op("|"):
                    self.next()
                    continue
                break
            if not self.is_op(")"):
                raise self.unexpected()
            self.next()
            body = self.list_until(("esac",))
            items.append((patterns, body))
            if self.is_op(";;"):
                self.next()
            elif not self.is_word("esac"):
                raise self.unexpected()

    def redirects(self) -> list[Redirect]:
        out: list[Redirect] = []
        while True:
            red = self.redirect()
            if red is None:
                return out
            out.append(red)

    def redirect(self) -> Redirect | None:
        fd: int | None = None
        if self.peek().kind == "io":
            fd = int(self.next().text)
        if not self.is_op(">", ">>", "<", ">&", "<&", "&>", "<<"):
            if fd is not None:
                raise self.unexpected()
            return None
        op = self.next().text
        if op == "<<":
            raise ShellRefusal("sh: the sandbox's shell does not read here-documents (<<)")
        if self.peek().kind != "word":
            raise self.unexpected()
        target = self.next().text
        default = 0 if op in ("<", "<&") else 1
        return Redirect(default if fd is None else fd, op, target)

    def simple(self) -> Simple:
        node = Simple()
        while True:
            red = self.redirect()
            if red is not None:
                node.redirects.append(red)
                continue
            tok = self.peek()
            if tok.kind != "word":
                break
            if not node.words and re.match(r"[A-Za-z_][A-Za-z0-9_]*=", tok.text):
                node.assigns.append(self.next().text)
                continue
            if node.words == [] and self.toks[self.pos + 1].kind == "op" and self.toks[self.pos + 1].text == "(" \
                    and self.toks[self.pos + 2].text == ")":
                raise ShellRefusal("sh: the sandbox's shell does not define functions")
            node.words.append(self.next().text)
        if not node.words and not node.assigns and not node.redirects:
            raise self.unexpected()
        return node


def parse(text: str) -> list[AndOr]:
    """Parse a script into its list of and-or lists.

    Args:
        text: The script.

    Returns:
        The syntax tree.

    Raises:
        ShellSyntaxError: The script is not valid shell (``incomplete`` when it ended inside a construct).
        ShellRefusal: The script uses what the sandbox's shell does not run.
    """
    return _Parser(text).program()


# --- running --------------------------------------------------------------------------------------------


class _Exit(Exception):  # noqa: N818 - control flow
    def __init__(self, code: int) -> None:
        self.code = code


class _Break(Exception):  # noqa: N818 - control flow
    def __init__(self, levels: int, cont: bool) -> None:
        self.levels = levels
        self.cont = cont


class _Fail(Exception):  # noqa: N818 - an expansion error: the command is not run, status 1 (2 for syntax)
    def __init__(self, message: str, code: int = 1) -> None:
        self.message = message
        self.code = code


_ARITH_OPS: dict[type, Callable[..., int]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Mod: lambda a, b: int(
        a - b * int(a / b)), ast.FloorDiv: lambda a, b: int(a / b), ast.LShift: operator.lshift,
    ast.RShift: operator.rshift, ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
}


def _arith(expr: str, lookup: Callable[[str], str]) -> int:
    """``$((EXPR))``: integer arithmetic on numbers and variable names (C's operators that shells use)."""
    text = re.sub(r"\$?\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: str(_int(lookup(m.group(1)) or "0")), expr)
    text = text.replace("/", "//").replace("&&", " and ").replace("||", " or ").replace("!=", "<>")
    text = re.sub(r"!(?!=)", " not ", text).replace("<>", "!=")
    try:
        tree = ast.parse(text.strip() or "0", mode="eval")
        return _arith_node(tree.body)
    except (SyntaxError, ValueError, ZeroDivisionError, TypeError) as exc:
        raise _Fail(f"sh: arithmetic syntax error: {expr.strip()}" if not isinstance(exc, ZeroDivisionError)
                    else "sh: divide by zero", 2) from None


def _int(text: str) -> int:
    try:
        return int(text.strip(), 0) if text.strip() else 0
    except ValueError:
        raise ValueError(text) from None


def _arith_node(node: ast.AST) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return int(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH_OPS:
        return int(_ARITH_OPS[type(node.op)](_arith_node(node.left), _arith_node(node.right)))
    if isinstance(node, ast.UnaryOp):
        v = _arith_node(node.operand)
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.UAdd):
            return v
        if isinstance(node.op, ast.Not):
            return int(not v)
        if isinstance(node.op, ast.Invert):
            return ~v
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        a, b = _arith_node(node.left), _arith_node(node.comparators[0])
        ops = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
               ast.Eq: operator.eq, ast.NotEq: operator.ne}
        if type(node.ops[0]) in ops:
            return int(ops[type(node.ops[0])](a, b))
    if isinstance(node, ast.BoolOp):
        values = [_arith_node(v) for v in node.values]
        return int(all(values) if isinstance(node.op, ast.And) else any(values))
    if isinstance(node, ast.IfExp):
        return _arith_node(node.body) if _arith_node(node.test) else _arith_node(node.orelse)
    raise ValueError("unsupported")


class Shell:
    """One shell: its variables, positional parameters, last status and working directory.

    Args:
        target: The container it runs in (its env is the shell's exported environment).
        run: Runs one command of the exec command set: ``(argv, target, io) -> exit code``.
        argv0: ``$0``.
        args: The positional parameters.
        exists: Whether a command name is in the image (else ash's ``sh: NAME: not found``, 127); all when None.
    """

    def __init__(self, target: ExecTarget, run: Runner, argv0: str = "sh", args: list[str] | None = None,
                 exists: Callable[[str], bool] | None = None) -> None:
        self.target = target
        self.run_command = run
        self.exists = exists
        self.vars: dict[str, str] = dict(target.env)
        self.exported: set[str] = set(target.env)
        self.argv0 = argv0
        self.args = list(args or [])
        self.status = 0
        self.errexit = False
        self.pipefail = False

    def child(self) -> Shell:
        """A subshell: a copy whose changes stay inside it (``( ... )``, ``$(...)``, pipeline stages)."""
        sub = Shell(_copy_target(self.target), self.run_command, self.argv0, self.args, self.exists)
        sub.vars, sub.exported = dict(self.vars), set(self.exported)
        sub.status, sub.errexit, sub.pipefail = self.status, self.errexit, self.pipefail
        return sub

    async def run_script(self, text: str, io: ExecIO) -> tuple[int, bool]:
        """Parse and run a script.

        Args:
            text: The script.
            io: Its streams.

        Returns:
            ``(exit status, whether the shell exited)``: ``exit``, a syntax error and a refusal end it.
        """
        try:
            tree = parse(text)
        except ShellSyntaxError as exc:
            await io.say(f"sh: {exc}\n")
            return 2, True
        except ShellRefusal as exc:
            await io.say(f"{exc}\n")
            return 2, True
        return await self.run_tree(tree, io)

    async def run_tree(self, tree: list[AndOr], io: ExecIO) -> tuple[int, bool]:
        """Run a parsed script; ``(status, exited)`` as :meth:`run_script`.

        Args:
            tree: What :func:`parse` returned.
            io: Its streams.

        Returns:
            The status and whether ``exit`` (or ``set -e``) ended the shell.
        """
        try:
            return await self._run_list(tree, io), False
        except _Exit as exc:
            self.status = exc.code
            return exc.code, True
        except _Break:
            return self.status, False  # break outside a loop: ash ignores it

    async def _run_list(self, items: list[AndOr], io: ExecIO) -> int:
        for item in items:
            await self._run_and_or(item, io)
        return self.status

    async def _run_and_or(self, node: AndOr, io: ExecIO) -> int:
        status = await self._run_pipeline(node.first, io)
        checked = bool(node.rest) or node.first.negate
        for op, pipeline in node.rest:
            if (op == "&&") == (status == 0):
                status = await self._run_pipeline(pipeline, io)
                checked = pipeline is not node.rest[-1][1] or pipeline.negate
        if self.errexit and status != 0 and not checked:
            raise _Exit(status)  # set -e: POSIX exempts all but the last command of an and-or list
        return status

    async def _run_pipeline(self, node: Pipeline, io: ExecIO) -> int:
        if len(node.commands) == 1:
            status = await self._run_command_node(node.commands[0], io)
        else:
            status = await self._pipe(node.commands, io)
        if node.negate:
            status = int(status == 0)
        self.status = status
        return status

    async def _pipe(self, commands: list[Any], io: ExecIO) -> int:
        # XCU 2.9.2: the stages run concurrently, each one's stdout the next one's stdin, each in a subshell;
        # the status is the last one's (with `set -o pipefail`, the last non-zero one's).
        queues: list[asyncio.Queue[bytes | None]] = [asyncio.Queue(_PIPE_BUFFER) for _ in commands[1:]]
        statuses = [0] * len(commands)

        async def stage(k: int) -> None:
            out_q = queues[k] if k < len(queues) else None

            async def to_pipe(data: bytes, q: asyncio.Queue[bytes | None] | None = out_q) -> None:
                if q is not None and data:
                    await q.put(data)

            stage_io = io.derive(stdout=to_pipe if out_q is not None else io.stdout,
                                 stdin=queues[k - 1] if k > 0 else None, keep_stdin=k == 0)
            sub = self.child()
            cancelled = False
            try:
                statuses[k] = await sub._run_command_node(commands[k], stage_io)
            except _Exit as exc:
                statuses[k] = exc.code
            except _Break:
                statuses[k] = sub.status
            except asyncio.CancelledError:
                cancelled = True
                raise
            finally:
                # EOF for the reader; a stage cancelled because its reader ended (SIGPIPE) has nobody to tell
                if out_q is not None and not cancelled:
                    await out_q.put(None)

        tasks = [asyncio.create_task(stage(k)) for k in range(len(commands))]
        try:
            await tasks[-1]
            # The reader is gone: a writer still running would get SIGPIPE (status 141) on its next write.
            rest = tasks[:-1]
            for k, task in enumerate(rest):
                if not task.done():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(asyncio.shield(task), 0.05)
                if not task.done():
                    task.cancel()
                    statuses[k] = 141
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.pipefail:
            return next((s for s in reversed(statuses) if s), 0)
        return statuses[-1]

    async def _run_command_node(self, node: Any, io: ExecIO) -> int:
        if isinstance(node, Simple):
            return await self._run_simple(node, io)
        try:
            io2, close = await self._redirect(node.redirects, io)
        except _Fail as exc:
            await io.say(exc.message + "\n")
            self.status = exc.code
            return exc.code
        try:
            return await self._compound(node, io2)
        finally:
            close()

    async def _compound(self, node: Any, io: ExecIO) -> int:
        if isinstance(node, Group):
            if node.subshell:
                sub = self.child()
                try:
                    self.status = await sub._run_list(node.body, io)
                except _Exit as exc:
                    self.status = exc.code
                except _Break:
                    self.status = sub.status
                return self.status
            return await self._run_list(node.body, io)
        if isinstance(node, If):
            for cond, body in node.branches:
                if await self._condition(cond, io) == 0:
                    return await self._run_list(body, io)
            self.status = 0
            if node.orelse is not None:
                return await self._run_list(node.orelse, io)
            return 0
        if isinstance(node, Loop):
            return await self._loop(node, io)
        if isinstance(node, For):
            words = (await self._expand_words(node.words, io)) if node.words is not None else list(self.args)
            status = 0
            for word in words:
                self.vars[node.name] = word
                status, stop = await self._iteration(node.body, io, status)
                if stop:
                    break
                await asyncio.sleep(0)
            self.status = status
            return status
        if isinstance(node, Case):
            fields = await self.expand_word(node.word, io, split=False)
            subject = fields[0] if fields else ""
            for patterns, body in node.items:
                for pattern in patterns:
                    pat = await self.expand_word(pattern, io, split=False, pattern=True)
                    if fnmatch.fnmatchcase(subject, pat[0] if pat else ""):
                        self.status = 0
                        return await self._run_list(body, io)
            self.status = 0
            return 0
        raise TypeError(node)

    async def _condition(self, cond: list[AndOr], io: ExecIO) -> int:
        errexit, self.errexit = self.errexit, False  # set -e does not apply to conditions (XCU 2.14 set)
        try:
            return await self._run_list(cond, io)
        finally:
            self.errexit = errexit

    async def _iteration(self, body: list[AndOr], io: ExecIO, status: int) -> tuple[int, bool]:
        """Run a loop's body once: its status (the previous one after a break or continue), and whether to stop.

        ``break N``/``continue N`` with N > 1 leave this loop too: raised on with one level less.
        """
        try:
            return await self._run_list(body, io), False
        except _Break as brk:
            if brk.levels > 1:
                raise _Break(brk.levels - 1, brk.cont) from None
            return status, not brk.cont

    async def _loop(self, node: Loop, io: ExecIO) -> int:
        status = 0
        for _ in range(_MAX_LOOPS):
            if (await self._condition(node.condition, io) == 0) == node.until:
                break
            status, stop = await self._iteration(node.body, io, status)
            if stop:
                break
            # a `while true; do ...; done` without a sleep must not starve the event loop (other execs, pods)
            await asyncio.sleep(0)
        self.status = status
        return status

    # --- simple commands ---

    async def _run_simple(self, node: Simple, io: ExecIO) -> int:
        try:
            words = await self._expand_words(node.words, io)
            assigns = [(a.split("=", 1)[0], await self._expand_assign(a.split("=", 1)[1], io)) for a in node.assigns]
            io2, close = await self._redirect(node.redirects, io)
        except _Fail as exc:
            await io.say(exc.message + "\n")
            self.status = exc.code
            return exc.code
        try:
            if not words:
                for name, value in assigns:
                    self.vars[name] = value
                # A bare assignment's status is that of its last command substitution (XCU 2.9.1), else 0.
                self.status = self.status if any("$(" in a or "`" in a for a in node.assigns) else 0
                return self.status
            builtin = _BUILTINS.get(words[0])
            if builtin is not None:
                self.status = await builtin(self, words[1:], io2)
                return self.status
            if self.exists is not None and not self.exists(words[0]):
                # shell/ash.c shellexec: "%s: not found", exit 127 (the runtime's message is for exec's own argv)
                await io2.say(f"sh: {words[0]}: not found\n")
                self.status = 127
                return 127
            env = {k: v for k, v in self.vars.items() if k in self.exported}
            env.update(assigns)
            target = _copy_target(self.target, env)
            self.status = await self.run_command(words, target, io2)
            return self.status
        finally:
            close()

    async def _expand_assign(self, raw: str, io: ExecIO) -> str:
        fields = await self.expand_word(raw, io, split=False)
        return fields[0] if fields else ""

    async def _redirect(self, redirects: list[Redirect], io: ExecIO) -> tuple[ExecIO, Callable[[], None]]:
        if not redirects:
            return io, lambda: None
        outs: dict[int, Callable[[bytes], Awaitable[None]]] = {1: io.stdout, 2: io.stderr}
        stdin: Any = None
        for red in redirects:
            fields = await self.expand_word(red.target, io, split=False)
            target = fields[0] if fields else ""
            if red.op == ">&" and target in ("1", "2"):
                outs[red.fd] = outs[int(target)]
            elif red.op in (">&", "<&") and target == "-":
                outs[red.fd] = _discard
            elif red.op == "&>" or (red.op == ">&" and not target.isdigit()):
                if target != "/dev/null":
                    raise _Fail(f"sh: can't create {target}: Read-only file system")
                outs[1] = outs[2] = _discard
            elif red.op in (">", ">>"):
                if target in ("/dev/null",):
                    outs[red.fd] = _discard
                elif target in ("/dev/stdout", "/dev/fd/1"):
                    outs[red.fd] = io.stdout
                elif target in ("/dev/stderr", "/dev/fd/2"):
                    outs[red.fd] = io.stderr
                else:
                    # The emulated container has no writable filesystem (its image is not there).
                    raise _Fail(f"sh: can't create {target}: Read-only file system")
            elif red.op == "<" and red.fd == 0:
                if target == "/dev/null":
                    stdin = b""
                else:
                    try:
                        stdin = await asyncio.to_thread(self.target.read, target)
                    except OSError:
                        raise _Fail(f"sh: can't open {target}: no such file") from None
            elif red.op == "<&" and red.fd == 0 and target == "0":
                pass
            else:
                raise _Fail(f"sh: the sandbox's shell does not redirect {red.fd}{red.op}{target}")
        if stdin is not None:
            q: asyncio.Queue[bytes | None] = asyncio.Queue()
            if stdin:
                q.put_nowait(stdin)
            q.put_nowait(None)
            return io.derive(stdout=outs[1], stderr=outs[2], stdin=q), lambda: None
        return io.derive(stdout=outs[1], stderr=outs[2], keep_stdin=True), lambda: None

    # --- expansion (XCU 2.6) ---

    async def _expand_words(self, raws: list[str], io: ExecIO) -> list[str]:
        out: list[str] = []
        for raw in raws:
            out.extend(await self.expand_word(raw, io))
        return out

    def _lookup(self, name: str) -> str | None:
        if name == "?":
            return str(self.status)
        if name == "$":
            return "1"  # the shell is PID 1's child in a container; scripts use $$ only for unique names
        if name == "#":
            return str(len(self.args))
        if name in ("@", "*"):
            return " ".join(self.args)
        if name == "0":
            return self.argv0
        if name.isdigit():
            k = int(name)
            return self.args[k - 1] if k <= len(self.args) else None
        return self.vars.get(name)

    async def expand_word(self, raw: str, io: ExecIO, split: bool = True, pattern: bool = False) -> list[str]:
        """Expand one raw word into fields: parameters, substitutions, arithmetic, then splitting and quotes.

        Args:
            raw: The word as written.
            io: The streams (a command substitution's stderr goes to the shell's).
            split: Whether unquoted expansions are split into fields.
            pattern: Keep ``*?[`` that were quoted escaped (a ``case`` pattern).

        Returns:
            The fields.
        """
        # pieces: (text, splittable); a field boundary comes only from splitting an unquoted expansion
        fields: list[str] = []
        current: list[str] = []
        have = False  # a quoted empty string still makes a field
        i, n = 0, len(raw)

        def add(text: str, quoted: bool) -> None:
            nonlocal have
            if quoted or not split:
                current.append(_escape_glob(text) if pattern and quoted else text)
                have = have or quoted or bool(text)
                return
            parts = re.split(r"[ \t\n]+", text)
            for k, part in enumerate(parts):
                if k > 0:
                    if have or current:
                        fields.append("".join(current))
                    current.clear()
                    have = False
                if part:
                    current.append(part)
                    have = True

        while i < n:
            ch = raw[i]
            if ch == "\\":
                add(raw[i + 1:i + 2], True)
                i += 2
            elif ch == "'":
                j = raw.index("'", i + 1)
                add(raw[i + 1:j], True)
                i = j + 1
            elif ch == '"':
                j = _scan_double(raw, i + 1)
                add(await self._expand_double(raw[i + 1:j - 1], io), True)
                i = j
            elif ch in "$`":
                value, i = await self._expansion(raw, i, io)
                if value is None:
                    add("$", True)  # a lone `$` is itself
                else:
                    add(value, False)
            else:
                j = i
                while j < n and raw[j] not in "\\'\"$`":
                    j += 1
                current.append(raw[i:j])
                have = True
                i = j
        if have or current:
            fields.append("".join(current))
        return fields

    async def _expand_double(self, text: str, io: ExecIO) -> str:
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n and text[i + 1] in '$`"\\\n':
                out.append(text[i + 1] if text[i + 1] != "\n" else "")
                i += 2
            elif ch in "$`":
                value, i = await self._expansion(text, i, io)
                out.append("$" if value is None else value)
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    async def _expansion(self, s: str, i: int, io: ExecIO) -> tuple[str | None, int]:
        """The expansion starting at ``s[i]`` (``$`` or a backquote) and the index after it; None: a lone ``$``."""
        if s[i] == "`":
            j = i + 1
            while j < len(s) and s[j] != "`":
                j += 2 if s[j] == "\\" else 1
            return await self._substitute(re.sub(r"\\([$`\\])", r"\1", s[i + 1:j]), io), j + 1
        if s.startswith("$((", i):
            j = _scan_paren(s, i + 2)
            inner = s[i + 3:j - 2] if s[j - 2:j] == "))" else s[i + 3:j - 1]
            expanded = await self._expand_double(inner, io)
            return str(_arith(expanded, lambda name: self._lookup(name) or "")), j
        if s.startswith("$(", i):
            j = _scan_paren(s, i + 2)
            return await self._substitute(s[i + 2:j - 1], io), j
        if s.startswith("${", i):
            j = s.index("}", i)
            return await self._brace(s[i + 2:j], io), j + 1
        m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*!-])", s[i:])
        if m is None:
            return None, i + 1
        name = m.group(1)
        value = self._lookup(name)
        return value or "", i + m.end()

    async def _brace(self, body: str, io: ExecIO) -> str:
        if body.startswith("#") and len(body) > 1:
            return str(len(self._lookup(body[1:]) or ""))
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*])(?:(:?[-=+?])(.*))?", body, re.S)
        if m is None:
            raise _Fail("sh: syntax error: bad substitution", 2)
        name, op, word = m.group(1), m.group(2), m.group(3) or ""
        value = self._lookup(name)
        if op is None:
            return value or ""
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            return (await self._expand_double(word, io)) if unset else value or ""
        if op.endswith("="):
            if unset:
                self.vars[name] = await self._expand_double(word, io)
            return self.vars.get(name, "")
        if op.endswith("+"):
            return "" if unset else await self._expand_double(word, io)
        if unset:  # ?
            raise _Fail(f"sh: {name}: {await self._expand_double(word, io) or 'parameter not set'}")
        return value or ""

    async def _substitute(self, script: str, io: ExecIO) -> str:
        # $(COMMAND): the command's stdout in a subshell, trailing newlines removed (XCU 2.6.3).
        captured = bytearray()

        async def keep(data: bytes) -> None:
            captured.extend(data)

        sub = self.child()
        status, _ = await sub.run_script(script, io.derive(stdout=keep, keep_stdin=True))
        self.status = status
        return captured.decode(errors="replace").rstrip("\n")


async def _discard(data: bytes) -> None:
    return None


def _escape_glob(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _copy_target(target: ExecTarget, env: dict[str, str] | None = None) -> ExecTarget:
    import copy

    new = copy.copy(target)
    if env is not None:
        new.env = env
    return new


# --- builtins (ash's, shell/ash.c) ---------------------------------------------------------------------


async def _b_exit(sh: Shell, args: list[str], io: ExecIO) -> int:
    if not args:
        raise _Exit(sh.status)
    try:
        raise _Exit(int(args[0]) & 0xFF)
    except ValueError:
        await io.say(f"sh: exit: Illegal number: {args[0]}\n")
        raise _Exit(2) from None


async def _loop_control(args: list[str], io: ExecIO, cont: bool) -> int:
    levels = 1
    if args:
        try:
            levels = int(args[0])
        except ValueError:
            levels = 0
        if levels <= 0:
            await io.say(f"sh: {'continue' if cont else 'break'}: Illegal number: {args[0]}\n")
            raise _Exit(2)
    raise _Break(levels, cont)


async def _b_break(sh: Shell, args: list[str], io: ExecIO) -> int:
    return await _loop_control(args, io, False)


async def _b_continue(sh: Shell, args: list[str], io: ExecIO) -> int:
    return await _loop_control(args, io, True)


async def _b_colon(sh: Shell, args: list[str], io: ExecIO) -> int:
    return 0


async def _b_cd(sh: Shell, args: list[str], io: ExecIO) -> int:
    import posixpath

    dest = args[0] if args else sh.vars.get("HOME", "/")
    full = posixpath.normpath(posixpath.join(sh.target.workdir, dest))
    if not sh.target.is_dir(full):
        await io.say(f"sh: cd: can't cd to {dest}: No such file or directory\n")
        return 2
    sh.target.workdir = full
    sh.vars["PWD"] = full
    return 0


async def _b_export(sh: Shell, args: list[str], io: ExecIO) -> int:
    for arg in args:
        if arg == "-p":
            continue
        name, eq, value = arg.partition("=")
        if eq:
            sh.vars[name] = value
        sh.exported.add(name)
    return 0


async def _b_unset(sh: Shell, args: list[str], io: ExecIO) -> int:
    for name in args:
        if name in ("-v", "-f"):
            continue
        sh.vars.pop(name, None)
        sh.exported.discard(name)
    return 0


async def _b_set(sh: Shell, args: list[str], io: ExecIO) -> int:
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            sh.args = args[i + 1:]
            return 0
        if arg in ("-o", "+o") and i + 1 < len(args):
            if args[i + 1] == "pipefail":
                sh.pipefail = arg == "-o"
            elif args[i + 1] == "errexit":
                sh.errexit = arg == "-o"
            i += 2
            continue
        if arg[:1] in "-+" and len(arg) > 1:
            if "e" in arg:
                sh.errexit = arg[0] == "-"
            i += 1
            continue
        sh.args = args[i:]
        return 0
    return 0


async def _b_shift(sh: Shell, args: list[str], io: ExecIO) -> int:
    k = int(args[0]) if args and args[0].isdigit() else 1
    if k > len(sh.args):
        await io.say("sh: shift: can't shift that many\n")
        return 2
    sh.args = sh.args[k:]
    return 0


async def _b_read(sh: Shell, args: list[str], io: ExecIO) -> int:
    raw = False
    names = []
    for arg in args:
        if arg == "-r":
            raw = True
        elif not arg.startswith("-"):
            names.append(arg)
    line, eof = await io.read_line()
    text = line.decode(errors="replace").rstrip("\n")
    if not raw:
        text = re.sub(r"\\(.)", r"\1", text)
    names = names or ["REPLY"]
    parts = text.strip(" \t").split(None, len(names) - 1) if text.strip() else []
    for k, name in enumerate(names):
        sh.vars[name] = parts[k] if k < len(parts) else ""
    return 1 if eof and not line else 0


async def _b_test(sh: Shell, args: list[str], io: ExecIO) -> int:
    # test and [ are ash builtins: their messages carry the shell's name (applet_name is "sh"), e.g. "sh: x: bad
    # number", "sh: missing ]" (coreutils/test.c run as ash's testcmd)
    return await pod_exec_tools.run_test(args, sh.target, io, "sh")


async def _b_bracket(sh: Shell, args: list[str], io: ExecIO) -> int:
    if not args or args[-1] != "]":
        await io.say("sh: missing ]\n")
        return 2
    return await pod_exec_tools.run_test(args[:-1], sh.target, io, "sh")


_BUILTINS: dict[str, Callable[[Shell, list[str], Any], Awaitable[int]]] = {
    "test": _b_test, "[": _b_bracket,
    "exit": _b_exit, "break": _b_break, "continue": _b_continue, ":": _b_colon, "cd": _b_cd, "export": _b_export,
    "unset": _b_unset, "set": _b_set, "shift": _b_shift, "read": _b_read,
}
