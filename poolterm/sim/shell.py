"""The small sh subset a simulated dom0 understands.

Two halves: :func:`parse` turns a command string into a :class:`Script` the way
sh would (pure, no I/O), and :class:`Shell` runs a script on one simulated host
(async and cancellable: cancelling the task is the signal that kills it).

The subset is what poolterm's probe and an operator at a prompt use: words with
'single', "double" (with ``$?``) and backslash quoting, ``;``, ``&&``, ``||``,
newlines, ``$?``, the redirections ``>/dev/null``, ``2>/dev/null``, ``2>&1``,
``>&2`` and ``</dev/null``, and the commands in :data:`COMMANDS`.  Anything sh
would treat specially but this subset does not implement is refused up front
with ``sh: <thing>: unsupported in the poolterm simulator`` (exit 2) rather
than silently doing something a real dom0 would not.

Why one module of this size: a small sh interpreter (lexer, parser, redirections, builtins)
whose parts share one grammar; it is checked whole against real bash by property tests.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Protocol

from poolterm.sim.ha import QUERY_LIVESET
from poolterm.sim.world import SimError, XeAsk, XeDone, XeHang

UNSUPPORTED_STATUS = 2
NOT_FOUND_STATUS = 127
TIMEOUT_STATUS = 124


# ---------------------------------------------------------------------------
# Syntax tree
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """``$?`` inside a word: expanded when the command runs."""


Part = str | Status
Word = tuple[Part, ...]


@dataclass(frozen=True)
class Redirect:
    """One supported redirection: ``fd`` goes to ``target``.

    ``target`` is ``"null"`` (``/dev/null``) or ``"&1"``/``"&2"`` (a dup of the
    other output as it is at that point, left to right as sh applies them).
    """

    fd: int
    target: str


@dataclass(frozen=True)
class Command:
    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...] = ()
    timed: bool = False  # prefixed by the `time` reserved word


@dataclass(frozen=True)
class AndOr:
    """``first (&&|| next)*``: sh gives && and || equal precedence, left to right."""

    first: Command
    rest: tuple[tuple[str, Command], ...] = ()


@dataclass(frozen=True)
class Script:
    lists: tuple[AndOr, ...]


class ShellError(Exception):
    """A script sh would reject, or one this subset refuses: one line, exit 2."""

    def __init__(self, message: str, status: int = UNSUPPORTED_STATUS):
        super().__init__(message)
        self.status = status


def unsupported(thing: str) -> ShellError:
    return ShellError(f"sh: {thing}: unsupported in the poolterm simulator")


# ---------------------------------------------------------------------------
# Lexer
# ---------------------------------------------------------------------------

_BLANK = " \t"
_WORD_END = " \t\n;&|<>()"
_NAME_START = re.compile(r"[A-Za-z_]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
# Reserved words sh would parse as syntax; `time` is implemented, the rest refused.
_RESERVED = frozenset(
    "if then else elif fi do done case esac while until for in function select ! [[ ]] { }".split()
)


@dataclass
class _Token:
    kind: str  # "word" | "op" | "redir"
    line: int
    text: str = ""  # op text, redirection operator, or the word's source text
    parts: Word = ()
    fd: int | None = None  # redirections: explicit IO number


class _Lexer:
    def __init__(self, source: str):
        self.src = source
        self.i = 0
        self.line = 1

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.src[j] if j < len(self.src) else ""

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        while self.i < len(self.src):
            c = self.peek()
            if c in _BLANK:
                self.i += 1
            elif c == "\\" and self.peek(1) == "\n":
                self.i += 2
                self.line += 1
            elif c == "#":
                while self.i < len(self.src) and self.peek() != "\n":
                    self.i += 1
            elif c == "\n":
                out.append(_Token("op", self.line, "\n"))
                self.i += 1
                self.line += 1
            elif c == ";":
                if self.peek(1) == ";":
                    raise _syntax_near(";;", self.line)
                out.append(_Token("op", self.line, ";"))
                self.i += 1
            elif c in "&|":
                if self.peek(1) != c:
                    raise unsupported(c)
                out.append(_Token("op", self.line, c * 2))
                self.i += 2
            elif c in "<>":
                out.append(self.redirection(None))
            elif c in "()":
                raise unsupported(c)
            else:
                out.append(self.word())
        return out

    def redirection(self, fd: int | None) -> _Token:
        start = self.i
        self.i += 1
        if self.peek() in ">&<|" and self.peek() != "":
            self.i += 1
            if self.src[start : self.i] == "<<" and self.peek() == "-":
                self.i += 1
        return _Token("redir", self.line, self.src[start : self.i], fd=fd)

    def word(self) -> _Token:
        start, line = self.i, self.line
        parts: list[Part] = []
        buf: list[str] = []

        def flush() -> None:
            text = "".join(buf)
            if text:
                parts.append(text)
            buf.clear()

        while self.i < len(self.src):
            c = self.peek()
            if c in _WORD_END:
                break
            if c == "\\":
                nxt = self.peek(1)
                if nxt == "\n":
                    self.i += 2
                    self.line += 1
                    continue
                buf.append(nxt or "\\")
                self.i += 2 if nxt else 1
            elif c == "'":
                end = self.src.find("'", self.i + 1)
                if end < 0:
                    raise _unterminated("'", self.line)
                chunk = self.src[self.i + 1 : end]
                buf.append(chunk)
                self.line += chunk.count("\n")
                self.i = end + 1
            elif c == '"':
                self.double_quoted(buf, flush, parts)
            elif c == "$":
                self.dollar(buf, flush, parts, quoted=False)
            elif c == "`":
                raise unsupported("`")
            elif c in "*?{}":
                raise unsupported(c)
            elif c == "~" and self.i == start:
                raise unsupported("~")
            else:
                buf.append(c)
                self.i += 1
        flush()
        text = self.src[start : self.i]
        if not parts:
            parts.append("")  # '' or "": an empty argument, not no argument
        if self.peek() in ("<", ">") and self.peek() and text.isdigit():
            return self.redirection(int(text))
        if "[" in text and text != "[" and _unquoted_bracket(text):
            raise unsupported(text)
        return _Token("word", line, text, parts=tuple(parts))

    def double_quoted(self, buf: list[str], flush: Callable[[], None], parts: list[Part]) -> None:
        open_line = self.line
        self.i += 1
        while True:
            if self.i >= len(self.src):
                raise _unterminated('"', open_line)
            c = self.peek()
            if c == '"':
                self.i += 1
                return
            if c == "\\":
                nxt = self.peek(1)
                if nxt == "\n":
                    self.i += 2
                    self.line += 1
                elif nxt in '$`"\\':
                    buf.append(nxt)
                    self.i += 2
                else:
                    buf.append("\\")
                    self.i += 1
            elif c == "$":
                self.dollar(buf, flush, parts, quoted=True)
            elif c == "`":
                raise unsupported("`")
            else:
                if c == "\n":
                    self.line += 1
                buf.append(c)
                self.i += 1

    def dollar(self, buf: list[str], flush: Callable[[], None], parts: list[Part], *, quoted: bool) -> None:
        nxt = self.peek(1)
        if nxt == "?":
            flush()
            parts.append(Status())
            self.i += 2
        elif nxt in ("(", "{"):
            raise unsupported("$" + nxt)
        elif nxt and _NAME_START.match(nxt):
            m = _NAME.match(self.src, self.i + 1)
            assert m is not None
            raise unsupported("$" + m.group(0))
        elif nxt and (nxt.isdigit() or nxt in "@*#!$-"):
            raise unsupported("$" + nxt)
        elif nxt in ("'", '"') and nxt and not quoted:
            raise unsupported("$" + nxt)
        else:
            buf.append("$")
            self.i += 1


def _unquoted_bracket(text: str) -> bool:
    """Whether `text` has a `[` outside quotes (a glob bracket in sh)."""
    quote = ""
    escaped = False
    for c in text:
        if escaped:
            escaped = False
        elif c == "\\" and quote != "'":
            escaped = True
        elif quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "[":
            return True
    return False


def _unterminated(quote: str, line: int) -> ShellError:
    return ShellError(f"sh: -c: line {line}: unexpected EOF while looking for matching `{quote}'")


def _syntax_near(token: str, line: int) -> ShellError:
    shown = "newline" if token == "\n" else token
    return ShellError(f"sh: -c: line {line}: syntax error near unexpected token `{shown}'")


def _unexpected_eof(line: int) -> ShellError:
    return ShellError(f"sh: -c: line {line}: syntax error: unexpected end of file")


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def parse(source: str) -> Script:
    """Parse `source` as sh would for this subset; raise :class:`ShellError` otherwise.

    Cached: a probe sends the same script every round to every host (one per master
    address and probe depth: a fleet of 50 pools has a few hundred of them).
    """
    return _Parser(_Lexer(source).tokens()).script()


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.toks = tokens
        self.i = 0

    def peek(self) -> _Token | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def last_line(self) -> int:
        return self.toks[-1].line if self.toks else 1

    def is_op(self, *texts: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "op" and tok.text in texts

    def skip_newlines(self) -> None:
        while self.is_op("\n"):
            self.i += 1

    def script(self) -> Script:
        lists: list[AndOr] = []
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok is None:
                return Script(tuple(lists))
            if tok.kind == "op":
                raise _syntax_near(tok.text, tok.line)
            lists.append(self.and_or())
            tok = self.peek()
            if tok is not None and tok.text == ";" and tok.kind == "op":
                self.i += 1

    def and_or(self) -> AndOr:
        first = self.command()
        rest: list[tuple[str, Command]] = []
        while self.is_op("&&", "||"):
            op = self.toks[self.i].text
            self.i += 1
            self.skip_newlines()
            tok = self.peek()
            if tok is None:
                raise _unexpected_eof(self.last_line())
            if tok.kind == "op":
                raise _syntax_near(tok.text, tok.line)
            rest.append((op, self.command()))
        return AndOr(first, tuple(rest))

    def command(self) -> Command:
        words: list[Word] = []
        redirects: list[Redirect] = []
        timed = False
        while (tok := self.peek()) is not None and tok.kind != "op":
            self.i += 1
            if tok.kind == "redir":
                redirects.append(self.redirect(tok))
                continue
            if not words:
                if tok.text == "time" and not timed:
                    timed = True
                    continue
                if tok.text in _RESERVED or _ASSIGNMENT.match(tok.text):
                    raise unsupported(tok.text)
            words.append(tok.parts)
        return Command(tuple(words), tuple(redirects), timed)

    def redirect(self, tok: _Token) -> Redirect:
        target = self.peek()
        if target is None:
            raise _syntax_near("\n", tok.line)
        if target.kind != "word":
            raise _syntax_near(target.text, target.line)
        self.i += 1
        prefix = "" if tok.fd is None else str(tok.fd)
        shown = f"{prefix}{tok.text}{target.text}"
        if any(isinstance(p, Status) for p in target.parts):
            raise unsupported(shown)
        dest = "".join(p for p in target.parts if isinstance(p, str))
        op = tok.text
        if op == ">" and dest == "/dev/null" and tok.fd in (None, 1, 2):
            return Redirect(tok.fd or 1, "null")
        if op == "<" and dest == "/dev/null" and tok.fd in (None, 0):
            return Redirect(0, "null")
        if op == ">&" and dest in ("1", "2") and tok.fd in (None, 1, 2):
            return Redirect(tok.fd or 1, "&" + dest)
        raise unsupported(shown)


# ---------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------


class Machine(Protocol):
    """What commands on one simulated host can see and do (the runtime provides it)."""

    name: str

    @property
    def version(self) -> int: ...

    async def wait_change(self, version: int) -> None: ...

    def read_file(self, path: str) -> str | None: ...

    def xe(self, argv: list[str], reply: str | None = None) -> XeDone | XeHang | XeAsk: ...

    def xapi_epoch(self) -> int: ...

    def toolstack_restart(self) -> XeDone: ...

    def xapi_port(self, address: str) -> str: ...

    def ping(self, address: str) -> tuple[str, bool] | None: ...

    def systemctl_xapi(self) -> str: ...

    def ha_query_liveset(self) -> tuple[str, int]: ...


class Input(Protocol):
    async def readline(self) -> str: ...  # "" at end of input

    async def read(self) -> str: ...


class NoInput:
    """``</dev/null``, or a session whose client sent nothing."""

    async def readline(self) -> str:
        return ""

    async def read(self) -> str:
        return ""


class StreamInput:
    """Standard input fed as it arrives (an SSH channel, a control-socket stream)."""

    def __init__(self, text: str = "", *, eof: bool = False):
        self._buf = text
        self._eof = eof
        self._more = asyncio.Event()

    def feed(self, text: str) -> None:
        self._buf += text
        self._more.set()

    def feed_eof(self) -> None:
        self._eof = True
        self._more.set()

    async def _wait(self) -> None:
        self._more.clear()
        await self._more.wait()

    async def readline(self) -> str:
        while "\n" not in self._buf and not self._eof:
            await self._wait()
        line, nl, self._buf = self._buf.partition("\n")
        return line + nl

    async def read(self) -> str:
        while not self._eof:
            await self._wait()
        text, self._buf = self._buf, ""
        return text


Write = Callable[[str], None]


def _discard(_text: str) -> None:
    """Output sent to /dev/null."""


@dataclass
class Io:
    out: Write
    err: Write
    inp: Input = field(default_factory=NoInput)

    def redirected(self, redirects: tuple[Redirect, ...]) -> "Io":
        fds: dict[int, Write] = {1: self.out, 2: self.err}
        inp = self.inp
        for r in redirects:
            if r.fd == 0:
                inp = NoInput()
            elif r.target == "null":
                fds[r.fd] = _discard
            else:
                fds[r.fd] = fds[int(r.target[1:])]
        return Io(fds[1], fds[2], inp)


class _Exit(Exception):
    def __init__(self, status: int):
        self.status = status


CommandFn = Callable[["Shell", list[str], Io], Awaitable[int]]


class Shell:
    """Runs scripts on one host; ``await shell.run(source)`` returns the exit status."""

    def __init__(self, machine: Machine, io: Io, *, clock: Callable[[], float] | None = None):
        self.machine = machine
        self.io = io
        self.status = 0
        self.exited = False  # `exit` ran: an interactive session ends here
        self._clock = clock or asyncio.get_running_loop().time

    async def run(self, source: str) -> int:
        try:
            script = parse(source)
        except ShellError as exc:
            self.io.err(f"{exc}\n")
            return exc.status
        try:
            for and_or in script.lists:
                await self._and_or(and_or)
        except _Exit as done:
            self.status = done.status
            self.exited = True
        return self.status

    async def _and_or(self, and_or: AndOr) -> None:
        self.status = await self._command(and_or.first)
        for op, cmd in and_or.rest:
            if (op == "&&") == (self.status == 0):
                self.status = await self._command(cmd)

    async def _command(self, cmd: Command) -> int:
        started = self._clock()
        argv = [self.expand(w) for w in cmd.words]
        io = self.io.redirected(cmd.redirects)
        status = await self.call(argv, io) if argv else 0
        if cmd.timed:
            self.io.err(_time_report(self._clock() - started))
        return status

    def expand(self, word: Word) -> str:
        return "".join(str(self.status) if isinstance(p, Status) else p for p in word)

    async def call(self, argv: list[str], io: Io) -> int:
        """Run one simple command (also what `timeout` runs)."""
        name = argv[0]
        if name == "exit":
            raise _Exit(_exit_status(argv[1:], self.status, io))
        fn = COMMANDS.get(name)
        if fn is None:
            io.err(f"sh: {name}: command not found\n")
            return NOT_FOUND_STATUS
        try:
            return await fn(self, argv[1:], io)
        except ShellError as exc:
            io.err(f"{exc}\n")
            return exc.status
        except SimError as exc:
            # The world refused (e.g. the host is going down under the command).
            io.err(f"{name}: {exc}\n")
            return 1


def _time_report(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"\nreal\t{int(minutes)}m{secs:.3f}s\nuser\t0m0.000s\nsys\t0m0.000s\n"


def _exit_status(args: list[str], last: int, io: Io) -> int:
    if not args:
        return last
    if not re.fullmatch(r"-?\d+", args[0]):
        io.err(f"sh: exit: {args[0]}: numeric argument required\n")
        return 2
    return int(args[0]) & 0xFF


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float | None:
    """GNU sleep/timeout durations: a number with an optional s/m/h/d suffix."""
    m = _DURATION.fullmatch(text)
    return float(m.group(1)) * _UNIT[m.group(2)] if m else None


async def _true(sh: Shell, args: list[str], io: Io) -> int:
    return 0


async def _false(sh: Shell, args: list[str], io: Io) -> int:
    return 1


async def _echo(sh: Shell, args: list[str], io: Io) -> int:
    newline = True
    while args and re.fullmatch(r"-[neE]+", args[0]):
        if set(args[0][1:]) != {"n"}:
            raise unsupported(f"echo {args[0]}")
        newline = False
        args = args[1:]
    io.out(" ".join(args) + ("\n" if newline else ""))
    return 0


async def _hostname(sh: Shell, args: list[str], io: Io) -> int:
    if args:
        raise unsupported("hostname " + " ".join(args))
    io.out(sh.machine.name + "\n")
    return 0


def _reject_options(cmd: str, args: list[str]) -> None:
    for a in args:
        if a.startswith("-") and a != "-":
            raise unsupported(f"{cmd} {a}")


async def _cat(sh: Shell, args: list[str], io: Io) -> int:
    _reject_options("cat", args)
    status = 0
    for path in args or ["-"]:
        if path == "-":
            io.out(await io.inp.read())
            continue
        text = sh.machine.read_file(path)
        if text is None:
            io.err(f"cat: {path}: No such file or directory\n")
            status = 1
        else:
            io.out(text)
    return status


async def _sha256sum(sh: Shell, args: list[str], io: Io) -> int:
    _reject_options("sha256sum", args)
    status = 0
    for path in args or ["-"]:
        text = await io.inp.read() if path == "-" else sh.machine.read_file(path)
        if text is None:
            io.err(f"sha256sum: {path}: No such file or directory\n")
            status = 1
        else:
            io.out(f"{hashlib.sha256(text.encode()).hexdigest()}  {path}\n")
    return status


async def _test(sh: Shell, args: list[str], io: Io) -> int:
    if len(args) == 2 and args[0] in ("-e", "-f"):
        return 0 if sh.machine.read_file(args[1]) is not None else 1
    raise unsupported("test " + " ".join(args))


async def _bracket(sh: Shell, args: list[str], io: Io) -> int:
    if not args or args[-1] != "]":
        io.err("sh: [: missing `]'\n")
        return 2
    if len(args) == 3 and args[0] in ("-e", "-f"):
        return await _test(sh, args[:-1], io)
    raise unsupported("[ " + " ".join(args))


async def _sleep(sh: Shell, args: list[str], io: Io) -> int:
    if not args:
        io.err("sleep: missing operand\nTry 'sleep --help' for more information.\n")
        return 1
    total = 0.0
    for a in args:
        seconds = parse_duration(a)
        if seconds is None:
            io.err(f"sleep: invalid time interval ‘{a}’\nTry 'sleep --help' for more information.\n")
            return 1
        total += seconds
    await asyncio.sleep(total)
    return 0


async def _systemctl(sh: Shell, args: list[str], io: Io) -> int:
    if args not in (["is-active", "xapi"], ["is-active", "xapi.service"]):
        raise unsupported("systemctl " + " ".join(args))
    state = sh.machine.systemctl_xapi()
    io.out(state + "\n")
    return 0 if state == "active" else 3


async def _toolstack_restart(sh: Shell, args: list[str], io: Io) -> int:
    if args:
        raise unsupported("xe-toolstack-restart " + " ".join(args))
    return _print_done(sh.machine.toolstack_restart(), io)


async def _ha_query_liveset(sh: Shell, args: list[str], io: Io) -> int:
    """xha's script ignores its arguments; without xhad it prints nothing and exits 14."""
    text, status = sh.machine.ha_query_liveset()
    if text:
        io.out(text)
    return status


def _print_done(done: XeDone, io: Io) -> int:
    if done.stdout:
        io.out(done.stdout)
    if done.stderr:
        io.err(done.stderr)
    return done.rc


async def _xe(sh: Shell, args: list[str], io: Io) -> int:
    machine = sh.machine
    epoch = machine.xapi_epoch()
    reply: str | None = None
    while True:
        result = machine.xe(list(args), reply=reply)
        if isinstance(result, XeDone):
            return _print_done(result, io)
        if isinstance(result, XeAsk):
            io.out(result.text)
            line = await io.inp.readline()
            reply = line.rstrip("\n")
            continue
        # XeHang: blocked in xapi; nothing can change until the world does.
        version = machine.version
        await machine.wait_change(version)
        if machine.xapi_epoch() != epoch:
            io.err("Lost connection to the server.\n")
            return 1


_CURL_URL = re.compile(r"https://([^/:\s]+)(?::443)?/?")


async def _curl(sh: Shell, args: list[str], io: Io) -> int:
    """Exactly ``curl -s -k -m SECS -o /dev/null -w '%{http_code}' https://ADDR/``."""
    shown = "curl " + " ".join(args)
    flags: dict[str, str] = {}
    url = None
    rest = list(args)
    while rest:
        a = rest.pop(0)
        if a in ("-s", "-k"):
            flags[a] = ""
        elif a in ("-m", "-o", "-w") and rest:
            flags[a] = rest.pop(0)
        elif _CURL_URL.fullmatch(a) and url is None:
            url = a
        else:
            raise unsupported(shown)
    seconds = parse_duration(flags.get("-m", ""))
    if (
        url is None
        or set(flags) != {"-s", "-k", "-m", "-o", "-w"}
        or flags["-o"] != "/dev/null"
        or flags["-w"] != "%{http_code}"
        or seconds is None
    ):
        raise unsupported(shown)
    m = _CURL_URL.fullmatch(url)
    assert m is not None
    answer = sh.machine.xapi_port(m.group(1))
    if answer == "ok":
        io.out("200")
        return 0
    if answer == "refused":
        io.out("000")
        return 7
    await asyncio.sleep(seconds)
    io.out("000")
    return 28


_PING_OPTION = re.compile(r"-([cW])(.*)")
PING_LOST_STATUS = 1
PING_ERROR_STATUS = 2
#: What every echo reply takes (the simulator has no wire to time).
PING_RTT = "0.045"


async def _ping(sh: Shell, args: list[str], io: Io) -> int:
    """iputils ping as on a dom0, for one echo request: ``ping -c 1 -W SECS ADDRESS`` (options
    attached or not, in any order). It is answered when the address's host is reachable from
    this one (powered on, cables in, not cut apart), xapi or not; otherwise, after SECS, lost."""
    shown = "ping " + " ".join(args)
    options: dict[str, str] = {}
    targets: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        m = _PING_OPTION.fullmatch(arg)
        if m and m.group(1) not in options:
            options[m.group(1)] = m.group(2) or (rest.pop(0) if rest else "")
        elif arg.startswith("-"):
            raise unsupported(shown)
        else:
            targets.append(arg)
    wait = options.get("W", "")
    # One packet and a wait in whole seconds, as the dom0's iputils takes it; without -c ping never
    # ends, and without -W a real host waits for ARP to fail (3 s) and prints more than this does.
    if options.get("c") != "1" or not wait.isdigit() or int(wait) < 1 or len(targets) != 1:
        raise unsupported(shown)
    target = targets[0]
    answer = sh.machine.ping(target)
    if answer is None:
        io.err(f"ping: unknown host {target}\n")
        return PING_ERROR_STATUS
    address, answered = answer
    named = target if target == address else f"{target} ({address})"
    io.out(f"PING {target} ({address}) 56(84) bytes of data.\n")
    if answered:
        io.out(
            f"64 bytes from {named}: icmp_seq=1 ttl=64 time={PING_RTT} ms\n"
            f"\n--- {target} ping statistics ---\n"
            "1 packets transmitted, 1 received, 0% packet loss, time 0ms\n"
            f"rtt min/avg/max/mdev = {PING_RTT}/{PING_RTT}/{PING_RTT}/0.000 ms\n"
        )
        return 0
    await asyncio.sleep(int(wait))
    io.out(
        f"\n--- {target} ping statistics ---\n"
        "1 packets transmitted, 0 received, 100% packet loss, time 0ms\n\n"
    )
    return PING_LOST_STATUS


_SIGNALS = {"TERM": 15, "INT": 2, "KILL": 9, "HUP": 1, "QUIT": 3}


def _signal_name(text: str) -> str | None:
    name = text.upper().removeprefix("SIG")
    if name.isdigit():
        by_number = {v: k for k, v in _SIGNALS.items()}
        return by_number.get(int(name))
    return name if name in _SIGNALS else None


async def _timeout(sh: Shell, args: list[str], io: Io) -> int:
    """GNU timeout: TERM (or -s SIG) after N s, exit 124; KILL after -k K more s."""
    signal, kill_after, rest = "TERM", None, list(args)
    while rest and rest[0].startswith("-") and rest[0] != "-":
        opt = rest.pop(0)
        if opt == "--":
            break
        key, value = _option(opt, rest)
        if key in ("-k", "--kill-after"):
            kill_after = parse_duration(value)
            if kill_after is None:
                return _timeout_usage(io, f"timeout: invalid time interval ‘{value}’\n")
        elif key in ("-s", "--signal"):
            sig = _signal_name(value)
            if sig is None:
                return _timeout_usage(io, f"timeout: {value}: invalid signal\n")
            signal = sig
        else:
            raise unsupported(f"timeout {opt}")
    if len(rest) < 2:
        return _timeout_usage(io, "timeout: missing operand\n")
    seconds = parse_duration(rest[0])
    if seconds is None:
        return _timeout_usage(io, f"timeout: invalid time interval ‘{rest[0]}’\n")
    argv = rest[1:]
    if argv[0] not in COMMANDS:
        io.err(f"timeout: failed to run command ‘{argv[0]}’: No such file or directory\n")
        return NOT_FOUND_STATUS
    task = asyncio.ensure_future(sh.call(argv, io))
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds or None)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        return task.result()
    # Every command here dies on the first signal; -k only bounds how long we wait.
    task.cancel(signal)
    await asyncio.wait({task}, timeout=kill_after)
    return 128 + 9 if signal == "KILL" or not task.done() else TIMEOUT_STATUS


def _option(opt: str, rest: list[str]) -> tuple[str, str]:
    if opt.startswith("--"):
        key, _, value = opt.partition("=")
        return key, value
    key, value = opt[:2], opt[2:]
    if not value and key in ("-k", "-s"):
        value = rest.pop(0) if rest else ""
    return key, value


def _timeout_usage(io: Io, message: str) -> int:
    io.err(message + "Try 'timeout --help' for more information.\n")
    return 125


COMMANDS: dict[str, CommandFn] = {
    "cat": _cat,
    "test": _test,
    "[": _bracket,
    "echo": _echo,
    "true": _true,
    "false": _false,
    "sleep": _sleep,
    "hostname": _hostname,
    "timeout": _timeout,
    "xe": _xe,
    "xe-toolstack-restart": _toolstack_restart,
    "sha256sum": _sha256sum,
    "systemctl": _systemctl,
    "curl": _curl,
    "ping": _ping,
    QUERY_LIVESET: _ha_query_liveset,
}
