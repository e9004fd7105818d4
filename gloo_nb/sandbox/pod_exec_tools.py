"""The exec command set's text, archive and system applets, written after busybox's (``BusyBox v1.36.1``).

Each behaves as busybox's applet of the same name does, for the options listed in its usage (the usage texts
below are busybox's own, from each applet's ``//usage:`` block with the image's default configuration), and
answers a bad option as busybox does: libc getopt's ``APPLET: invalid option -- 'X'`` then ``bb_show_usage``
(libbb/appletlib.c: the banner, ``Usage: APPLET ...``), exit 1. Sources: archival/gzip.c, archival/bbunzip.c,
coreutils/{head,tail,wc,sort,uniq,tr,cut,uudecode(base64),id,whoami,uname,test,expr,printf}.c, findutils/grep.c,
procps/uptime.c in github.com/mirror/busybox.

Standard library only: this module also runs inside pods' processes.
"""

from __future__ import annotations

import asyncio
import base64 as b64
import os
import platform
import re
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gloo_nb.sandbox.pod_exec import ExecIO, ExecTarget

__all__ = ["TOOLS", "bad_option", "gzip_compress", "printf_escape", "run_test", "usage"]

BANNER = "BusyBox v1.36.1 (2023-05-18 22:34:17 UTC)"
"""``bb_banner`` of the busybox image the sandbox emulates (libbb/messages.c: version and build time)."""

_USAGE: dict[str, str] = {
    'gzip': (
        '[-cfkdt123456789] [FILE]...\n'
        '\n'
        'Compress FILEs (or stdin)\n'
        '\n'
        '\t-1..9\tCompression level\n'
        '\t-d\tDecompress\n'
        '\t-c\tWrite to stdout\n'
        '\t-f\tForce\n'
        '\t-k\tKeep input files\n'
        '\t-t\tTest integrity'
    ),
    'gunzip': (
        '[-cfkt] [FILE]...\n'
        '\n'
        'Decompress FILEs (or stdin)\n'
        '\n'
        '\t-c\tWrite to stdout\n'
        '\t-f\tForce\n'
        '\t-k\tKeep input files\n'
        '\t-t\tTest integrity'
    ),
    'zcat': (
        '[FILE]...\n'
        '\n'
        'Decompress to stdout'
    ),
    'head': (
        '[OPTIONS] [FILE]...\n'
        '\n'
        'Print first 10 lines of FILEs (or stdin).\n'
        'With more than one FILE, precede each with a filename header.\n'
        '\n'
        '\t-n N[bkm]\tPrint first N lines\n'
        '\t-n -N[bkm]\tPrint all except N last lines\n'
        '\t-c [-]N[bkm]\tPrint first N bytes\n'
        '\t\t\t(b:*512 k:*1024 m:*1024^2)\n'
        '\t-q\t\tNever print headers\n'
        '\t-v\t\tAlways print headers'
    ),
    'tail': (
        '[OPTIONS] [FILE]...\n'
        '\n'
        'Print last 10 lines of FILEs (or stdin) to.\n'
        'With more than one FILE, precede each with a filename header.\n'
        '\n'
        '\t-c [+]N[bkm]\tPrint last N bytes\n'
        '\t-n N[bkm]\tPrint last N lines\n'
        '\t-n +N[bkm]\tStart on Nth line and print the rest\n'
        '\t\t\t(b:*512 k:*1024 m:*1024^2)\n'
        '\t-q\t\tNever print headers\n'
        '\t-v\t\tAlways print headers\n'
        '\t-f\t\tPrint data as file grows\n'
        '\t-F\t\tSame as -f, but keep retrying\n'
        '\t-s SECONDS\tWait SECONDS between reads with -f'
    ),
    'wc': (
        '[-clwL] [FILE]...\n'
        '\n'
        'Count lines, words, and bytes for FILEs (or stdin)\n'
        '\n'
        '\t-c\tCount bytes\n'
        '\t-l\tCount newlines\n'
        '\t-w\tCount words\n'
        '\t-L\tPrint longest line length'
    ),
    'grep': (
        '[-HhnlLoqvsrRiwFE] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]...\n'
        '\n'
        'Search for PATTERN in FILEs (or stdin)\n'
        '\n'
        "\t-H\tAdd 'filename:' prefix\n"
        "\t-h\tDo not add 'filename:' prefix\n"
        "\t-n\tAdd 'line_no:' prefix\n"
        '\t-l\tShow only names of files that match\n'
        "\t-L\tShow only names of files that don't match\n"
        '\t-c\tShow only count of matching lines\n'
        '\t-o\tShow only the matching part of line\n'
        '\t-q\tQuiet. Return 0 if PATTERN is found, 1 otherwise\n'
        '\t-v\tSelect non-matching lines\n'
        '\t-s\tSuppress open and read errors\n'
        '\t-r\tRecurse\n'
        '\t-R\tRecurse and dereference symlinks\n'
        '\t-i\tIgnore case\n'
        '\t-w\tMatch whole words only\n'
        '\t-x\tMatch whole lines only\n'
        '\t-F\tPATTERN is a literal (not regexp)\n'
        '\t-E\tPATTERN is an extended regexp\n'
        '\t-m N\tMatch up to N times per file\n'
        '\t-A N\tPrint N lines of trailing context\n'
        '\t-B N\tPrint N lines of leading context\n'
        "\t-C N\tSame as '-A N -B N'\n"
        '\t-e PTRN\tPattern to match\n'
        '\t-f FILE\tRead pattern from file'
    ),
    'sort': (
        '[-nrughMcszbdfiokt] [-o FILE] [-k START[.OFS][OPTS][,END[.OFS][OPTS]] [-t CHAR] [FILE]...\n'
        '\n'
        'Sort lines of text\n'
        '\n'
        '\t-o FILE\tOutput to FILE\n'
        '\t-c\tCheck whether input is sorted\n'
        '\t-b\tIgnore leading blanks\n'
        '\t-f\tIgnore case\n'
        '\t-i\tIgnore unprintable characters\n'
        '\t-d\tDictionary order (blank or alphanumeric only)\n'
        '\t-n\tSort numbers\n'
        '\t-g\tGeneral numerical sort\n'
        '\t-h\tSort human readable numbers (2K 1G)\n'
        '\t-M\tSort month\n'
        '\t-V\tSort version\n'
        '\t-t CHAR\tField separator\n'
        '\t-k N[,M] Sort by Nth field\n'
        '\t-r\tReverse sort order\n'
        "\t-s\tStable (don't sort ties alphabetically)\n"
        '\t-u\tSuppress duplicate lines\n'
        '\t-z\tNUL terminated input and output'
    ),
    'uniq': (
        '[-cduiz] [-f,s,w N] [FILE [OUTFILE]]\n'
        '\n'
        'Discard duplicate lines\n'
        '\n'
        '\t-c\tPrefix lines by the number of occurrences\n'
        '\t-d\tOnly print duplicate lines\n'
        '\t-u\tOnly print unique lines\n'
        '\t-i\tIgnore case\n'
        '\t-z\tNUL terminated output\n'
        '\t-f N\tSkip first N fields\n'
        '\t-s N\tSkip first N chars (after any skipped fields)\n'
        '\t-w N\tCompare N characters in line'
    ),
    'tr': (
        '[-cds] STRING1 [STRING2]\n'
        '\n'
        'Translate, squeeze, or delete characters from stdin, writing to stdout\n'
        '\n'
        '\t-c\tTake complement of STRING1\n'
        '\t-d\tDelete input characters coded STRING1\n'
        '\t-s\tSqueeze multiple output characters of STRING2 into one character'
    ),
    'cut': (
        '[OPTIONS] [FILE]...\n'
        '\n'
        'Print selected fields from FILEs to stdout\n'
        '\n'
        '\t-b LIST\tOutput only bytes from LIST\n'
        '\t-c LIST\tOutput only characters from LIST\n'
        '\t-d SEP\tField delimiter for input (default -f TAB, -F run of whitespace)\n'
        '\t-O SEP\tField delimeter for output (default = -d for -f, one space for -F)\n'
        "\t-D\tDon't sort/collate sections or match -fF lines without delimeter\n"
        '\t-f LIST\tPrint only these fields (-d is single char)\n'
        '\t-F LIST\tPrint only these fields (-d is regex)\n'
        '\t-s\tOutput only lines containing delimiter\n'
        '\t-n\tIgnored'
    ),
    'base64': (
        '[-d] [-w COL] [FILE]\n'
        '\n'
        'Base64 encode or decode FILE to standard output\n'
        '\n'
        '\t-d\tDecode data\n'
        '\t-w COL\tWrap lines at COL (default 76, 0 disables)'
    ),
    'uptime': (
        '\n'
        '\n'
        'Display the time since the last boot'
    ),
    'id': (
        '[-ugGnr] [USER]\n'
        '\n'
        'Print information about USER or the current user\n'
        '\n'
        '\t-u\tUser ID\n'
        '\t-g\tGroup ID\n'
        '\t-G\tSupplementary group IDs\n'
        '\t-n\tPrint names instead of numbers\n'
        '\t-r\tPrint real ID instead of effective ID'
    ),
    'whoami': (
        '\n'
        '\n'
        'Print the user name associated with the current effective user id'
    ),
    'uname': (
        '[-amnrspvio]\n'
        '\n'
        'Print system information\n'
        '\n'
        '\t-a\tPrint all\n'
        '\t-m\tMachine (hardware) type\n'
        '\t-n\tHostname\n'
        '\t-r\tKernel release\n'
        '\t-s\tKernel name (default)\n'
        '\t-p\tProcessor type\n'
        '\t-v\tKernel version\n'
        '\t-i\tHardware platform\n'
        '\t-o\tOS name'
    ),
    'printf': (
        'FORMAT [ARG]...\n'
        '\n'
        'Format and print ARG(s) according to FORMAT (a-la C printf)'
    ),
    'ls': (
        '[-1AaCxdlins] [FILE]...\n'
        '\n'
        'List directory contents\n'
        '\n'
        '\t-1\tOne column output\n'
        '\t-a\tInclude names starting with .\n'
        '\t-A\tLike -a, but exclude . and ..\n'
        '\t-x\tList by lines\n'
        '\t-d\tList directory names, not contents\n'
        '\t-l\tLong format\n'
        '\t-i\tList inode numbers\n'
        '\t-n\tList numeric UIDs and GIDs instead of names\n'
        '\t-s\tList allocated blocks\n'
        '\t-r\tReverse sort order'
    ),
}


Tool = Callable[[list[str], "ExecTarget", "ExecIO"], Awaitable[int]]


def usage(applet: str) -> str:
    """``bb_show_usage``'s text for an applet (libbb/appletlib.c): banner, then ``Usage: APPLET ...``.

    Args:
        applet: The applet's name.

    Returns:
        The text, as busybox writes it to stderr.
    """
    text = _USAGE.get(applet, "")
    return f"{BANNER} multi-call binary.\n\nUsage: {applet}{' ' if text and text[0] != chr(10) else ''}{text}\n"


def bad_option(applet: str, flag: str) -> str:
    """What busybox prints for an option its applet lacks: libc getopt's complaint, then the usage.

    Args:
        applet: The applet's name.
        flag: The option letter (or ``--long`` option).

    Returns:
        The text for stderr (the applet then exits 1).
    """
    if flag.startswith("--"):
        return f"{applet}: unrecognized option '{flag}'\n" + usage(applet)
    return f"{applet}: invalid option -- '{flag}'\n" + usage(applet)


class _OptError(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _getopt(applet: str, args: list[str], spec: str) -> tuple[dict[str, list[str]], list[str]]:
    # getopt(3) as glibc runs it for busybox's getopt32: ``spec`` letters, ``X:`` taking a value; options and
    # operands may mix (GNU permutation); ``--`` ends the options; ``-`` alone is an operand.
    takes = {spec[k] for k in range(len(spec) - 1) if spec[k + 1] == ":"}
    opts: dict[str, list[str]] = {}
    operands: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            operands.extend(args[i + 1:])
            break
        if a.startswith("--"):
            raise _OptError(bad_option(applet, a))
        if not a.startswith("-") or a == "-":
            operands.append(a)
            i += 1
            continue
        j = 1
        while j < len(a):
            ch = a[j]
            if ch == ":" or ch not in spec:
                raise _OptError(bad_option(applet, ch))
            if ch in takes:
                value = a[j + 1:]
                if not value:
                    i += 1
                    if i >= len(args):
                        raise _OptError(f"{applet}: option requires an argument -- '{ch}'\n" + usage(applet))
                    value = args[i]
                opts.setdefault(ch, []).append(value)
                break
            opts.setdefault(ch, []).append("")
            j += 1
        i += 1
    return opts, operands


async def _inputs(applet: str, files: list[str], target: ExecTarget, io: ExecIO) -> tuple[list[tuple[str, bytes]],
                                                                                          int]:
    """The named files' contents (stdin for none or ``-``), with busybox's message for each one missing."""
    out: list[tuple[str, bytes]] = []
    code = 0
    for name in files or ["-"]:
        if name == "-":
            out.append(("standard input", await io.read_all()))
            continue
        try:
            out.append((name, await asyncio.to_thread(target.read, name)))
        except IsADirectoryError:
            await io.say(f"{applet}: read error: Is a directory\n")
            code = 1
        except OSError:
            # libbb/wfopen_input.c fopen_or_warn_stdin: bb_perror_msg("can't open '%s'")
            await io.say(f"{applet}: can't open '{name}': No such file or directory\n")
            code = 1
    return out, code


def _lines(data: bytes) -> list[bytes]:
    """Lines with their newlines; a last line without one stays as it is."""
    return data.splitlines(keepends=True) if b"\r" not in data else [x + b"\n" for x in data.split(b"\n")[:-1]] + (
        [data.rsplit(b"\n", 1)[-1]] if not data.endswith(b"\n") else [])


def _nl(line: bytes) -> bytes:
    return line if line.endswith(b"\n") else line + b"\n"


# --- gzip, gunzip, zcat (archival/gzip.c, archival/bbunzip.c) ---


def gzip_compress(data: bytes, level: int = 6) -> bytes:
    """Compress as busybox gzip writes a stream: no name, mtime 0, XFL 2 only at -9, OS 3 (Unix).

    archival/gzip.c zip(): ``put_32bit(0x00088b1f); put_32bit(0); /* Unix timestamp */`` then
    ``deflate_flags = 0x300`` (OS 3) ``| 0x02`` for level 9; the CRC32 and size follow the deflate stream.

    Args:
        data: The input.
        level: The compression level, 1..9 (busybox's default is 6).

    Returns:
        The gzip member.
    """
    comp = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = comp.compress(data) + comp.flush()
    header = struct.pack("<IIBB", 0x00088B1F, 0, 0x02 if level == 9 else 0, 3)
    return header + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)


def _gunzip(data: bytes) -> bytes:
    out = []
    while data:
        if data[:2] != b"\x1f\x8b":
            raise ValueError("invalid magic")
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.append(d.decompress(data))
        except zlib.error as exc:
            raise ValueError("corrupted data") from exc
        if not d.eof:
            raise ValueError("unexpected end of file")
        data = d.unused_data
    return b"".join(out)


async def _gzip_like(applet: str, args: list[str], target: ExecTarget, io: ExecIO, decompress: bool,
                     spec: str) -> int:
    try:
        opts, files = _getopt(applet, args, spec)
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    decompress = decompress or "d" in opts
    to_stdout = applet == "zcat" or "c" in opts or not files or files == ["-"]
    if not to_stdout:
        # without -c busybox writes FILE.gz (or FILE without .gz) beside FILE: nothing is writable here
        name = files[0] if decompress else files[0] + ".gz"
        if decompress and name.endswith(".gz"):
            name = name[:-3]
        await io.say(f"{applet}: can't open '{name}': Read-only file system\n")
        return 1
    level = int(max((k for k in opts if k.isdigit()), default="6"))
    inputs, code = await _inputs(applet, files, target, io)
    for _, data in inputs:
        if decompress:
            try:
                result = _gunzip(data)
            except ValueError as exc:
                # archival/libarchive/decompress_gunzip.c: bb_simple_error_msg("invalid magic"), ...
                await io.say(f"{applet}: {exc}\n")
                code = 1
                continue
            if "t" in opts:
                continue
            await io.stdout(result)
        else:
            await io.stdout(gzip_compress(data, level))
    return code


async def _gzip(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    return await _gzip_like("gzip", args, target, io, False, "cfkdt123456789")


async def _gunzip_cmd(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    return await _gzip_like("gunzip", args, target, io, True, "cfkt")


async def _zcat(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    return await _gzip_like("zcat", args, target, io, True, "")


# --- head, tail (coreutils/head.c, tail.c) ---


def _count(applet: str, text: str) -> int:
    # xatoul_sfx with bkm_suffixes: b 512, k 1024, m 1024*1024
    m = re.fullmatch(r"([0-9]+)([bkm]?)", text)
    if m is None:
        raise _OptError(f"{applet}: invalid number '{text}'\n")
    return int(m.group(1)) * {"": 1, "b": 512, "k": 1024, "m": 1024 * 1024}[m.group(2)]


async def _head_tail(applet: str, args: list[str], target: ExecTarget, io: ExecIO) -> int:
    if args and re.fullmatch(r"-[0-9]+", args[0]):
        args = ["-n", args[0][1:], *args[1:]]  # head.c/tail.c: the obsolescent "-NUM" means "-n NUM"
    try:
        opts, files = _getopt(applet, args, "n:c:qv" if applet == "head" else "n:c:qvfFs:")
        by_bytes = "c" in opts
        raw = (opts.get("c") or opts.get("n") or ["10"])[-1]
        sign = raw[:1] if raw[:1] in "+-" else ""
        count = _count(applet, raw[len(sign):])
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    if applet == "head" and sign != "-" and files in ([], ["-"]) and "v" not in opts:
        # head.c reads no more than it prints: a writer before it in a pipe may never end (`yes | head`)
        await io.stdout(await _head_stream(io, count, by_bytes))
        return 0
    inputs, code = await _inputs(applet, files, target, io)
    headers = ("v" in opts or len(inputs) > 1) and "q" not in opts
    out: list[bytes] = []
    for k, (name, data) in enumerate(inputs):
        if headers:
            out.append(f"{chr(10) if k else ''}==> {name} <==\n".encode())
        units: list[bytes] = [data[i:i + 1] for i in range(len(data))] if by_bytes else _lines(data)
        if applet == "head":
            picked = units[:-count] if sign == "-" else units[:count]
        else:
            picked = units[count - 1:] if sign == "+" else (units[-count:] if count else [])
        out.append(b"".join(picked))
    await io.stdout(b"".join(out))
    if applet == "tail" and {"f", "F"} & set(opts) and inputs and files not in ([], ["-"]):
        # tail.c follows the files until it is killed; the emulated files do not grow, so nothing more comes
        await asyncio.Event().wait()
    return code


async def _head_stream(io: ExecIO, count: int, by_bytes: bool) -> bytes:
    buf = b""
    while (by_bytes and len(buf) < count) or (not by_bytes and buf.count(b"\n") < count):
        chunk = await io.read_stdin()
        if chunk is None:
            break
        buf += chunk
    if by_bytes:
        return buf[:count]
    return b"".join(_lines(buf)[:count])


async def _head(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    return await _head_tail("head", args, target, io)


async def _tail(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    return await _head_tail("tail", args, target, io)


# --- wc (coreutils/wc.c) ---


async def _wc(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    try:
        opts, files = _getopt("wc", args, "lwmcL")
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    kinds = [k for k in "lwcL" if k in opts or (k == "c" and "m" in opts)] or ["l", "w", "c"]
    inputs, code = await _inputs("wc", files, target, io)
    # wc.c: " %9u" columns ("%u" alone for one count of one input), then " NAME" unless stdin was read
    one = len(kinds) == 1 and len(inputs) <= 1
    totals = dict.fromkeys(kinds, 0)
    out = []
    for name, data in inputs:
        counts = {"l": data.count(b"\n"), "w": len(data.split()), "c": len(data),
                  "L": max((len(x.rstrip(b"\n")) for x in _lines(data)), default=0)}
        cols = "".join((f"{counts[k]}" if one else f" {counts[k]:9d}") for k in kinds)
        out.append((cols if one else cols[1:]) + (f" {name}" if files else "") + "\n")
        for k in kinds:
            totals[k] = max(totals[k], counts[k]) if k == "L" else totals[k] + counts[k]
    if len(inputs) > 1:
        out.append("".join(f" {totals[k]:9d}" for k in kinds)[1:] + " total\n")
    await io.stdout("".join(out).encode())
    return code


# --- grep (findutils/grep.c) ---


def _bre_to_python(pattern: str) -> str:
    # A POSIX basic regular expression as Python's: ``\\(`` ``\\)`` ``\\{`` ``\\}`` ``\\|`` ``\\+`` ``\\?`` are the
    # operators, ``( ) { } | + ?`` literals (GNU's BRE extensions, which busybox's glibc regcomp has).
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "(){}|+?" else "\\" + nxt)
            i += 2
            continue
        if ch == "[":
            j = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("]", "^") else i + 1)
            if pattern[i + 1:i + 3] == "^]":
                j = pattern.find("]", i + 3)
            if j > 0:
                out.append(_bracket(pattern[i:j + 1]))
                i = j + 1
                continue
        out.append("\\" + ch if ch in "(){}|+?" else ch)
        i += 1
    return "".join(out)


def _bracket(expr: str) -> str:
    classes = {"[:alpha:]": "a-zA-Z", "[:digit:]": "0-9", "[:alnum:]": "a-zA-Z0-9", "[:upper:]": "A-Z",
               "[:lower:]": "a-z", "[:space:]": " \\t\\n\\r\\f\\v", "[:blank:]": " \\t", "[:punct:]": "!-/:-@\\[-`{-~",
               "[:xdigit:]": "0-9A-Fa-f"}
    for name, chars in classes.items():
        expr = expr.replace(name, chars)
    return expr.replace("\\", "\\\\") if "\\\\" not in expr else expr


def _ere_to_python(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "[":
            j = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("]", "^") else i + 1)
            if j > 0:
                out.append(_bracket(pattern[i:j + 1]))
                i = j + 1
                continue
        out.append(pattern[i:i + 2] if pattern[i] == "\\" else pattern[i])
        i += 2 if pattern[i] == "\\" else 1
    return "".join(out)


async def _grep(args: list[str], target: ExecTarget, io: ExecIO, applet: str = "grep") -> int:
    try:
        opts, operands = _getopt(applet, args, "HhnlLcoqvsrRiwxFEzm:A:B:C:e:f:")
    except _OptError as exc:
        await io.say(exc.text)
        return 2
    patterns = list(opts.get("e", []))
    if not patterns and "f" not in opts:
        if not operands:
            await io.say(usage(applet))
            return 2
        patterns = [operands.pop(0)]
    for pfile in opts.get("f", []):
        try:
            patterns.extend(target.read(pfile).decode(errors="replace").splitlines())
        except OSError:
            await io.say(f"{applet}: can't open '{pfile}': No such file or directory\n")
            return 2
    flags = re.IGNORECASE if "i" in opts else 0
    compiled = []
    for p in patterns:
        if "F" in opts:
            body = re.escape(p)
        elif "E" in opts or applet == "egrep":
            body = _ere_to_python(p)
        else:
            body = _bre_to_python(p)
        if "w" in opts:
            body = rf"(?<!\w)(?:{body})(?!\w)"
        if "x" in opts:
            body = rf"^(?:{body})$"
        try:
            compiled.append(re.compile(body, flags))
        except re.error:
            # grep.c: bb_error_msg_and_die("bad regex '%s'", ...) after regcomp fails
            await io.say(f"{applet}: bad regex '{p}'\n")
            return 2
    inputs, code = await _inputs(applet, operands, target, io)
    if code and "s" in opts:
        code = 0
    show_name = ("H" in opts or len(operands) > 1) and "h" not in opts
    limit = int(opts["m"][-1]) if "m" in opts and opts["m"][-1].isdigit() else -1
    matched_any = False
    out: list[str] = []
    for name, data in inputs:
        text = data.decode(errors="replace")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        hits = 0
        for no, line in enumerate(lines, 1):
            found = [m for c in compiled for m in [c.search(line)] if m]
            if bool(found) == ("v" in opts):
                continue
            hits += 1
            matched_any = True
            if "q" in opts:
                return 0
            if not ({"c", "l", "L"} & set(opts)):
                prefix = (f"{name}:" if show_name else "") + (f"{no}:" if "n" in opts else "")
                if "o" in opts and "v" not in opts:
                    out.extend(prefix + m.group(0) + "\n" for c in compiled for m in c.finditer(line) if m.group(0))
                else:
                    out.append(prefix + line + "\n")
            if hits == limit:
                break
        if "c" in opts:
            out.append((f"{name}:" if show_name else "") + f"{hits}\n")
        elif "l" in opts and hits:
            out.append(f"{name}\n")
        elif "L" in opts and not hits:
            out.append(f"{name}\n")
    await io.stdout("".join(out).encode())
    if code:
        return 2
    return 0 if matched_any else 1


async def _egrep(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    return await _grep(args, target, io, "egrep")


async def _fgrep(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    return await _grep(["-F", *args], target, io, "fgrep")


# --- sort, uniq (coreutils/sort.c, uniq.c) ---


async def _sort(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    try:
        opts, files = _getopt("sort", args, "nrughMcszbdfiVo:k:t:")
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    if "o" in opts:
        await io.say(f"sort: can't open '{opts['o'][-1]}': Read-only file system\n")
        return 1
    inputs, code = await _inputs("sort", files, target, io)
    lines = [ln.rstrip("\n") for _, data in inputs for ln in data.decode(errors="replace").splitlines()]
    sep = opts.get("t", [None])[-1]
    key_spec = opts.get("k", [""])[-1]

    def key_text(line: str) -> str:
        if not key_spec:
            return line
        m = re.match(r"(\d+)(?:\.\d+)?[a-zA-Z]*(?:,(\d+))?", key_spec)
        if m is None:
            return line
        start, end = int(m.group(1)), int(m.group(2)) if m.group(2) else None
        fields = line.split(sep) if sep else line.split()
        chosen = fields[start - 1:end] if end else fields[start - 1:]
        return (sep or " ").join(chosen)

    def key(line: str) -> tuple:
        text = key_text(line)
        if "b" in opts:
            text = text.lstrip()
        if "n" in opts or "g" in opts or "h" in opts:
            m = re.match(r"\s*(-?\d+(?:\.\d+)?)", text)
            return (float(m.group(1)) if m else 0.0, line if "s" not in opts else "")
        return ((text.lower() if "f" in opts else text), "")

    if "c" in opts:
        for k in range(1, len(lines)):
            if key(lines[k]) < key(lines[k - 1]):
                await io.say(f"sort: -:{k + 1}: disorder: {lines[k]}\n")
                return 1
        return 0
    result = sorted(lines, key=key, reverse="r" in opts)
    if "u" in opts:
        seen: set = set()
        unique = []
        for ln in result:
            kv = key(ln)
            if kv not in seen:
                seen.add(kv)
                unique.append(ln)
        result = unique
    await io.stdout("".join(ln + "\n" for ln in result).encode())
    return code


async def _uniq(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    try:
        opts, files = _getopt("uniq", args, "cduizf:s:w:")
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    if len(files) > 1:
        await io.say(f"uniq: can't open '{files[1]}': Read-only file system\n")
        return 1
    inputs, code = await _inputs("uniq", files[:1], target, io)
    lines = [ln for _, data in inputs for ln in data.decode(errors="replace").splitlines()]
    skip_f = int(opts.get("f", ["0"])[-1] or 0)
    skip_s = int(opts.get("s", ["0"])[-1] or 0)
    width = int(opts["w"][-1]) if "w" in opts else None

    def key(line: str) -> str:
        rest = line
        for _ in range(skip_f):
            rest = re.sub(r"^\s*\S+", "", rest, count=1)
        rest = rest[skip_s:]
        if width is not None:
            rest = rest[:width]
        return rest.lower() if "i" in opts else rest

    groups: list[tuple[str, int]] = []
    for line in lines:
        if groups and key(groups[-1][0]) == key(line):
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        else:
            groups.append((line, 1))
    out = []
    for line, n in groups:
        if ("d" in opts and n == 1) or ("u" in opts and n > 1):
            continue
        # uniq.c: printf("%7lu ", dups + 1) before the line with -c
        out.append((f"{n:7d} " if "c" in opts else "") + line + ("\0" if "z" in opts else "\n"))
    await io.stdout("".join(out).encode())
    return code


# --- tr, cut (coreutils/tr.c, cut.c) ---


def _tr_set(spec: str) -> list[str]:
    classes = {"[:alpha:]": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "[:digit:]": "0123456789",
               "[:lower:]": "abcdefghijklmnopqrstuvwxyz", "[:upper:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
               "[:space:]": " \t\n\r\f\v", "[:blank:]": " \t", "[:punct:]": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
               "[:xdigit:]": "0123456789ABCDEFabcdef"}
    classes["[:alnum:]"] = classes["[:alpha:]"] + classes["[:digit:]"]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "f": "\f", "v": "\v", "a": "\a", "b": "\b"}
    out: list[str] = []
    i = 0
    while i < len(spec):
        cls = next((c for c in classes if spec.startswith(c, i)), None)
        if cls:
            out.extend(classes[cls])
            i += len(cls)
            continue
        ch = spec[i]
        if ch == "\\" and i + 1 < len(spec):
            m = re.match(r"[0-7]{1,3}", spec[i + 1:])
            if m:
                ch = chr(int(m.group(0), 8))
                i += len(m.group(0))
            else:
                ch = escapes.get(spec[i + 1], spec[i + 1])
                i += 1
        if i + 2 < len(spec) and spec[i + 1] == "-":
            end = spec[i + 2]
            out.extend(chr(c) for c in range(ord(ch), ord(end) + 1))
            i += 3
            continue
        if ch == "[" and re.match(r"\[(.)\*(\d*)\]", spec[i:]):
            m2 = re.match(r"\[(.)\*(\d*)\]", spec[i:])
            assert m2 is not None
            out.extend(m2.group(1) * int(m2.group(2) or 0))
            i += len(m2.group(0))
            continue
        out.append(ch)
        i += 1
    return out


async def _tr(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    try:
        opts, sets = _getopt("tr", args, "cdsC")
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    if not sets or (len(sets) < 2 and "d" not in opts and "s" not in opts):
        await io.say(usage("tr"))
        return 1
    data = (await io.read_all()).decode("latin-1")
    set1 = _tr_set(sets[0])
    if "c" in opts or "C" in opts:
        set1 = [chr(c) for c in range(256) if chr(c) not in set1]
    set2 = _tr_set(sets[1]) if len(sets) > 1 else []
    if "d" in opts:
        data = "".join(ch for ch in data if ch not in set1)
        squeeze = set(set2)
    else:
        if set2:
            table = {ord(a): (set2[k] if k < len(set2) else set2[-1]) for k, a in enumerate(set1)}
            data = data.translate(table)
        squeeze = set(set2 or set1)
    if "s" in opts:
        data = re.sub("|".join(f"(?:{re.escape(c)})+" for c in sorted(squeeze)) or "(?!)",
                      lambda m: m.group(0)[0], data)
    await io.stdout(data.encode("latin-1"))
    return 0


def _ranges(applet: str, spec: str) -> list[tuple[int, int]]:
    out = []
    for part in spec.split(","):
        m = re.fullmatch(r"(\d*)(-?)(\d*)", part)
        if m is None or not (m.group(1) or m.group(3)) or m.group(1) == "0":
            # cut.c: bb_error_msg_and_die("invalid range") / ("missing list of positions")
            raise _OptError(f"{applet}: invalid byte or character range\n" if m is None or m.group(1) == "0"
                            else f"{applet}: invalid range\n")
        lo = int(m.group(1) or 1)
        hi = (int(m.group(3)) if m.group(3) else 1 << 30) if m.group(2) else lo
        out.append((lo, hi))
    return out


async def _cut(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    try:
        opts, files = _getopt("cut", args, "b:c:d:f:O:DsnF:")
        kinds = [k for k in "bcfF" if k in opts]
        if len(kinds) != 1:
            raise _OptError("cut: expected a list of bytes, characters, or fields\n" if not kinds
                            else "cut: only one list may be specified\n")
        kind = kinds[0]
        ranges = _ranges("cut", opts[kind][-1])
        delim = opts.get("d", ["\t"])[-1]
        if kind == "f" and len(delim) != 1:
            raise _OptError("cut: the delimiter must be a single character\n")
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    inputs, code = await _inputs("cut", files, target, io)
    out = []
    for _, data in inputs:
        for line in data.decode(errors="replace").splitlines():
            if kind in "bc":
                keep = [ch for k, ch in enumerate(line, 1) if any(lo <= k <= hi for lo, hi in ranges)]
                out.append("".join(keep) + "\n")
                continue
            if kind == "F":
                fields = re.split(delim if "d" in opts else r"\s+", line.strip())
                sep = opts.get("O", [" " if "d" not in opts else delim])[-1]
            else:
                if delim not in line:
                    if "s" not in opts:
                        out.append(line + "\n")
                    continue
                fields = line.split(delim)
                sep = opts.get("O", [delim])[-1]
            out.append(sep.join(f for k, f in enumerate(fields, 1) if any(lo <= k <= hi for lo, hi in ranges))
                       + "\n")
    await io.stdout("".join(out).encode())
    return code


# --- base64 (coreutils/uudecode.c) ---


async def _base64(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    try:
        opts, files = _getopt("base64", args, "dw:")
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    if len(files) > 1:
        await io.say(usage("base64"))
        return 1
    inputs, code = await _inputs("base64", files, target, io)
    if code:
        return code
    data = inputs[0][1] if inputs else b""
    if "d" in opts:
        try:
            await io.stdout(b64.b64decode(re.sub(rb"\s+", b"", data), validate=True))
        except ValueError:
            # uudecode.c read_base64: bb_simple_error_msg_and_die("truncated base64 input")
            await io.say("base64: truncated base64 input\n")
            return 1
        return 0
    encoded = b64.b64encode(data)
    width = int(opts.get("w", ["76"])[-1] or 76)
    if width > 0:
        encoded = b"\n".join(encoded[i:i + width] for i in range(0, len(encoded), width))
    await io.stdout(encoded + b"\n" if encoded else b"")
    return 0


# --- uptime, id, whoami, uname (procps/uptime.c, coreutils/id.c, whoami.c, uname.c) ---


async def _uptime(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    try:
        opts, _ = _getopt("uptime", args, "s")
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    up = int(max(0.0, time.time() - target.started))
    now = time.gmtime()  # the sandbox's containers have no TZ data: localtime is UTC
    if "s" in opts:
        await io.stdout(time.strftime("%Y-%m-%d %H:%M:%S\n", time.gmtime(time.time() - up)).encode())
        return 0
    # uptime.c: " %02u:%02u:%02u up ", "%u day%s, ", "%2u:%02u" or "%u min", ",  %u users",
    # ",  load average: %u.%02u, %u.%02u, %u.%02u\n"; the load is the machine's (/proc/loadavg)
    days, minutes = up // 86400, up // 60
    hours, minutes = (minutes // 60) % 24, minutes % 60
    text = time.strftime(" %H:%M:%S up ", now)
    if days:
        text += f"{days} day{'s' if days != 1 else ''}, "
    text += f"{hours:2d}:{minutes:02d}" if hours else f"{minutes} min"
    loads = os.getloadavg()
    text += ",  0 users,  load average: " + ", ".join(f"{v:.2f}" for v in loads) + "\n"
    await io.stdout(text.encode())
    return 0


async def _id(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    # The emulated containers run as root (no runAsUser is applied): id.c prints "uid=0(root) gid=0(root)" and
    # the supplementary groups the image's /etc/group gives root (busybox's: root).
    try:
        opts, users = _getopt("id", args, "ugGnr")
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    if users and users[0] not in ("root", "0"):
        await io.say(f"id: unknown user {users[0]}\n")
        return 1
    name = "n" in opts
    if "u" in opts or "g" in opts:
        await io.stdout(b"root\n" if name else b"0\n")
    elif "G" in opts:
        await io.stdout(b"root\n" if name else b"0\n")
    else:
        await io.stdout(b"uid=0(root) gid=0(root) groups=0(root)\n")
    return 0


async def _whoami(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    if args:
        await io.say(usage("whoami") if not args[0].startswith("-") else bad_option("whoami", args[0][1:2]))
        return 1
    await io.stdout(b"root\n")
    return 0


async def _uname(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    try:
        opts, rest = _getopt("uname", args, "snrvmpioa")
    except _OptError as exc:
        await io.say(exc.text)
        return 1
    if rest:
        await io.say(usage("uname"))
        return 1
    # uname(2) is the machine's kernel (containers share it); the nodename is the pod's (its UTS namespace).
    host = platform.uname()
    unknown = "" if "a" in opts else "unknown"
    fields = {"s": host.system, "n": target.host_name, "r": host.release, "v": host.version, "m": host.machine,
              "p": unknown, "i": unknown, "o": "GNU/Linux"}
    chosen = "snrvmpio" if "a" in opts else ("".join(k for k in "snrvmpio" if k in opts) or "s")
    await io.stdout((" ".join(fields[k] for k in chosen if fields[k]) + "\n").encode())
    return 0


# --- test / [ (coreutils/test.c) ---


class _TestError(Exception):
    pass


def _test_eval(args: list[str], target: ExecTarget) -> bool:
    """POSIX test: ``!``, ``-a``, ``-o``, parentheses, unary file and string tests, binary comparisons."""
    pos = 0

    def number(s: str) -> int:
        try:
            return int(s.strip())
        except ValueError:
            raise _TestError(f"{s}: bad number") from None  # test.c getn -> syntax(s, "bad number")

    def primary() -> bool:
        nonlocal pos
        if pos >= len(args):
            raise _TestError("argument expected")
        a = args[pos]
        if a == "!":
            pos += 1
            return not primary()
        if a == "(" and pos + 1 < len(args):
            pos += 1
            value = expr_or()
            if pos >= len(args) or args[pos] != ")":
                raise _TestError("closing paren expected")
            pos += 1
            return value
        if pos + 2 < len(args) + 0 and pos + 1 < len(args) and args[pos + 1] in _BINARY:
            op, b = args[pos + 1], args[pos + 2] if pos + 2 < len(args) else None
            if b is None:
                raise _TestError(f"{op}: argument expected")
            pos += 3
            if op in ("=", "=="):
                return a == b
            if op == "!=":
                return a != b
            if op == "<":
                return a < b
            if op == ">":
                return a > b
            x, y = number(a), number(b)
            return {"-eq": x == y, "-ne": x != y, "-lt": x < y, "-le": x <= y, "-gt": x > y, "-ge": x >= y}[op]
        if a in _UNARY and pos + 1 < len(args):
            b = args[pos + 1]
            pos += 2
            if a == "-n":
                return b != ""
            if a == "-z":
                return b == ""
            if a == "-t":
                return False  # exec without -t has no terminal
            if a == "-d":
                return target.is_dir(b)
            try:
                data = target.read(b)
            except IsADirectoryError:
                return a in ("-e", "-r", "-x", "-s", "-w")
            except OSError:
                return False
            return {"-e": True, "-f": True, "-r": True, "-w": False, "-x": False, "-s": bool(data),
                    "-h": False, "-L": False}.get(a, True)
        pos += 1
        return a != ""

    def expr_and() -> bool:
        nonlocal pos
        value = primary()
        while pos < len(args) and args[pos] == "-a":
            pos += 1
            value = primary() and value
        return value

    def expr_or() -> bool:
        nonlocal pos
        value = expr_and()
        while pos < len(args) and args[pos] == "-o":
            pos += 1
            value = expr_and() or value
        return value

    if not args:
        return False
    result = expr_or()
    if pos < len(args):
        raise _TestError(f"{args[pos]}: unknown operand")
    return result


_BINARY = {"=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge"}
_UNARY = {"-n", "-z", "-e", "-f", "-d", "-r", "-w", "-x", "-s", "-t", "-h", "-L", "-b", "-c", "-p", "-S", "-g",
          "-u", "-k", "-O", "-G"}


async def run_test(args: list[str], target: ExecTarget, io: ExecIO, applet: str = "test") -> int:
    """Evaluate a ``test`` expression (coreutils/test.c): 0 true, 1 false, 2 with busybox's message on error.

    Args:
        args: The expression's words (without ``[``'s closing ``]``).
        target: The container (file tests look at its files).
        io: The streams.
        applet: The name the messages carry (``test``, ``[``, or ``sh`` for ash's builtin).

    Returns:
        The exit status.
    """
    try:
        return 0 if _test_eval(args, target) else 1
    except _TestError as exc:
        await io.say(f"{applet}: {exc}\n")
        return 2


async def _bracket_cmd(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    if not args or args[-1] != "]":
        await io.say("[: missing ]\n")  # test.c: bb_simple_error_msg("missing ]"), exit 2
        return 2
    return await run_test(args[:-1], target, io, "[")


# --- expr (coreutils/expr.c) ---


class _ExprError(Exception):
    pass


def _expr_eval(args: list[str]) -> str:
    pos = 0

    def is_int(s: str) -> bool:
        return re.fullmatch(r"-?\d+", s) is not None

    def atom() -> str:
        nonlocal pos
        if pos >= len(args):
            raise _ExprError("syntax error")
        a = args[pos]
        pos += 1
        if a == "(":
            v = or_()
            if pos >= len(args) or args[pos] != ")":
                raise _ExprError("syntax error")
            pos += 1
            return v
        if a == "quote":
            pos += 1
            return args[pos - 1]
        if a == "length":
            return str(len(atom()))
        if a == "substr":
            s, p, n = atom(), atom(), atom()
            if not (is_int(p) and is_int(n)):
                raise _ExprError("non-numeric argument")
            start = int(p)
            return s[start - 1:start - 1 + int(n)] if start >= 1 and int(n) > 0 else ""
        if a == "index":
            s, chars = atom(), atom()
            return str(next((k + 1 for k, ch in enumerate(s) if ch in chars), 0))
        if a == "match":
            return match(atom(), atom())
        return a

    def match(s: str, pattern: str) -> str:
        m = re.match(_bre_to_python(pattern), s)
        if re.compile(_bre_to_python(pattern)).groups:
            return (m.group(1) or "") if m else ""
        return str(len(m.group(0)) if m else 0)

    def colon() -> str:
        nonlocal pos
        v = atom()
        while pos < len(args) and args[pos] == ":":
            pos += 1
            v = match(v, atom())
        return v

    def mul() -> str:
        nonlocal pos
        v = colon()
        while pos < len(args) and args[pos] in ("*", "/", "%"):
            op = args[pos]
            pos += 1
            w = colon()
            if not (is_int(v) and is_int(w)):
                raise _ExprError("non-numeric argument")
            if op != "*" and int(w) == 0:
                raise _ExprError("division by zero")
            x, y = int(v), int(w)
            v = str(x * y if op == "*" else int(x / y) if op == "/" else x - y * int(x / y))
        return v

    def add() -> str:
        nonlocal pos
        v = mul()
        while pos < len(args) and args[pos] in ("+", "-"):
            op = args[pos]
            pos += 1
            w = mul()
            if not (is_int(v) and is_int(w)):
                raise _ExprError("non-numeric argument")
            v = str(int(v) + int(w) if op == "+" else int(v) - int(w))
        return v

    def cmp() -> str:
        nonlocal pos
        v = add()
        while pos < len(args) and args[pos] in ("<", "<=", "=", "==", "!=", ">=", ">"):
            op = args[pos]
            pos += 1
            w = add()
            # expr.c: arithmetic comparison when both are integers, else string comparison (strcoll)
            ka: tuple[int, str] = (int(v), "") if is_int(v) and is_int(w) else (0, v)
            kb: tuple[int, str] = (int(w), "") if is_int(v) and is_int(w) else (0, w)
            v = str(int({"<": ka < kb, "<=": ka <= kb, "=": ka == kb, "==": ka == kb, "!=": ka != kb,
                         ">=": ka >= kb, ">": ka > kb}[op]))
        return v

    def truthy(s: str) -> bool:
        return s != "" and not (is_int(s) and int(s) == 0)

    def and_() -> str:
        nonlocal pos
        v = cmp()
        while pos < len(args) and args[pos] == "&":
            pos += 1
            w = cmp()
            v = v if truthy(v) and truthy(w) else "0"
        return v

    def or_() -> str:
        nonlocal pos
        v = and_()
        while pos < len(args) and args[pos] == "|":
            pos += 1
            w = and_()
            v = v if truthy(v) else (w if truthy(w) else "0")
        return v

    result = or_()
    if pos != len(args):
        raise _ExprError("syntax error")
    return result


async def _expr(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    if not args:
        await io.say(usage("expr") if "expr" in _USAGE else "expr: too few arguments\n")
        return 2
    try:
        value = _expr_eval(args)
    except _ExprError as exc:
        await io.say(f"expr: {exc}\n")
        return 2
    await io.stdout((value + "\n").encode())
    # expr.c: exit status 1 when the result is null or 0
    return 1 if value == "" or re.fullmatch(r"-?0+", value) else 0


# --- printf (coreutils/printf.c) ---


def printf_escape(text: str, stop_at_c: bool = False) -> tuple[str, bool]:
    r"""Interpret backslash escapes as printf's format and ``echo -e`` do (``\n``, ``\0NNN``...).

    Args:
        text: The text.
        stop_at_c: Whether ``\\c`` ends the output (``%b``, ``echo -e``).

    Returns:
        The text and whether a ``\\c`` stopped it.
    """
    out: list[str] = []
    i = 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
               '"': '"', "'": "'"}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "c" and stop_at_c:
                return "".join(out), True
            m = re.match(r"0?[0-7]{1,3}", text[i + 1:])
            if m:
                out.append(chr(int(m.group(0), 8) & 0xFF))
                i += 1 + len(m.group(0))
                continue
            if nxt in escapes:
                out.append(escapes[nxt])
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out), False


async def _printf(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    if not args:
        await io.say(usage("printf"))
        return 1
    fmt, values = args[0], args[1:]
    spec = re.compile(r"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d+))?([diouxXeEfgGcsb%])")
    out: list[str] = []
    code = 0
    k = 0
    while True:
        consumed = False
        pos = 0
        for m in spec.finditer(fmt):
            out.append(printf_escape(fmt[pos:m.start()])[0])
            pos = m.end()
            flags, width, prec, conv = m.groups()
            if conv == "%":
                out.append("%")
                continue

            def take() -> str:
                nonlocal k, consumed
                consumed = True
                value = values[k] if k < len(values) else ""
                k += 1
                return value

            if width == "*":
                width = take()
            if prec == "*":
                prec = take()
            arg = take()
            pyfmt = "%" + flags + (width or "") + (("." + prec) if prec is not None else "")
            if conv in "diouxXc" and conv != "c":
                try:
                    number = int(arg, 0) if arg.strip() else 0
                except ValueError:
                    if arg[:1] in "'\"":
                        number = ord(arg[1]) if len(arg) > 1 else 0
                    else:
                        # printf.c: bb_error_msg("invalid number '%s'"), the value 0, exit 1 at the end
                        await io.say(f"printf: invalid number '{arg}'\n")
                        number, code = 0, 1
                out.append((pyfmt + ("d" if conv in "iu" else conv)) % number)
            elif conv in "eEfgG":
                try:
                    fnum = float(arg) if arg.strip() else 0.0
                except ValueError:
                    await io.say(f"printf: invalid number '{arg}'\n")
                    fnum, code = 0.0, 1
                out.append((pyfmt + conv) % fnum)
            elif conv == "c":
                out.append((pyfmt + "s") % arg[:1])
            elif conv == "b":
                text, stop = printf_escape(arg, stop_at_c=True)
                out.append((pyfmt + "s") % text)
                if stop:
                    await io.stdout("".join(out).encode("latin-1", errors="replace"))
                    return code
            else:
                out.append((pyfmt + "s") % arg)
        out.append(printf_escape(fmt[pos:])[0])
        # POSIX: the format is reused while arguments remain
        if not consumed or k >= len(values):
            break
    await io.stdout("".join(out).encode(errors="replace"))
    return code


TOOLS: dict[str, Tool] = {
    "gzip": _gzip, "gunzip": _gunzip_cmd, "zcat": _zcat, "head": _head, "tail": _tail, "wc": _wc, "grep": _grep,
    "egrep": _egrep, "fgrep": _fgrep, "sort": _sort, "uniq": _uniq, "tr": _tr, "cut": _cut, "base64": _base64,
    "uptime": _uptime, "id": _id, "whoami": _whoami, "uname": _uname, "test": run_test, "[": _bracket_cmd,
    "expr": _expr, "printf": _printf,
}
"""The applets this module adds to the exec command set, by name."""
