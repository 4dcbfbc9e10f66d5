"""The simulated dom0 shell: the parser on its own, then commands on a live world."""

from __future__ import annotations

import asyncio
import hashlib
import shlex
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poolterm.sim.runtime import HostView, LiveWorld
from poolterm.sim.shell import AndOr, Command, Io, Redirect, Shell, ShellError, Status, StreamInput, parse
from poolterm.sim.world import SimParams, World

# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


def words(source: str) -> list[list[str]]:
    """The literal words of each command (no $? in them)."""
    return [[ "".join(p for p in w) for w in cmd.words] for al in parse(source).lists for cmd in _commands(al)]


def _commands(al: AndOr) -> list[Command]:
    return [al.first, *(c for _, c in al.rest)]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("echo a  b\tc", [["echo", "a", "b", "c"]]),
        ("echo 'a b' \"c d\" e\\ f", [["echo", "a b", "c d", "e f"]]),
        ("echo '' \"\"", [["echo", "", ""]]),
        ("echo 'it'\\''s'", [["echo", "it's"]]),
        ('echo "a\\"b\\\\c\\$d\\x"', [["echo", 'a"b\\c$d\\x']]),
        ("echo \"%{http_code}\" '%{http_code}'", [["echo", "%{http_code}", "%{http_code}"]]),
        ("echo a$ 'b$?' $", [["echo", "a$", "b$?", "$"]]),
        ("xe host-list params=uuid,address --minimal", [["xe", "host-list", "params=uuid,address", "--minimal"]]),
        ("echo a\\\nb", [["echo", "ab"]]),
        ("echo one # a comment\necho two", [["echo", "one"], ["echo", "two"]]),
        ("[ -e /etc/xensource/pool.conf ]", [["[", "-e", "/etc/xensource/pool.conf", "]"]]),
        ("echo a=b c=d", [["echo", "a=b", "c=d"]]),
    ],
)
def test_words_are_split_and_unquoted_as_sh_does(source, expected):
    assert words(source) == expected


def test_status_expands_unquoted_and_in_double_quotes_but_not_single():
    cmd = parse("echo $? \"rc=$?\" 'rc=$?'").lists[0].first
    assert cmd.words[1] == (Status(),)
    assert cmd.words[2] == ("rc=", Status())
    assert cmd.words[3] == ("rc=$?",)


def test_lists_and_and_or_chains():
    script = parse("a; b && c || d\ne &&\n  f;")
    assert [al.first.words[0] for al in script.lists] == [("a",), ("b",), ("e",)]
    assert [(op, c.words[0]) for op, c in script.lists[1].rest] == [("&&", ("c",)), ("||", ("d",))]
    assert [(op, c.words[0]) for op, c in script.lists[2].rest] == [("&&", ("f",))]


@pytest.mark.parametrize(
    "source, redirects",
    [
        ("cmd >/dev/null", (Redirect(1, "null"),)),
        ("cmd > /dev/null", (Redirect(1, "null"),)),
        ("cmd 1>/dev/null 2>/dev/null", (Redirect(1, "null"), Redirect(2, "null"))),
        ("cmd 2>&1", (Redirect(2, "&1"),)),
        ("cmd >/dev/null 2>&1", (Redirect(1, "null"), Redirect(2, "&1"))),
        ("cmd </dev/null", (Redirect(0, "null"),)),
        ("cmd >&2", (Redirect(1, "&2"),)),
        ("2>/dev/null cmd", (Redirect(2, "null"),)),
    ],
)
def test_supported_redirections(source, redirects):
    cmd = parse(source).lists[0].first
    assert cmd.redirects == redirects
    assert cmd.words == (("cmd",),)


@pytest.mark.parametrize(
    "source, thing",
    [
        ("xe host-list | grep uuid", "|"),
        ("sleep 5 &", "&"),
        ("echo hi >out.txt", ">out.txt"),
        ("echo hi >>/dev/null", ">>/dev/null"),
        ("cat 2>/tmp/err", "2>/tmp/err"),
        ("cat <<EOF", "<<EOF"),
        ("echo $(hostname)", "$("),
        ("echo `hostname`", "`"),
        ("echo $HOME", "$HOME"),
        ('echo "${x}"', "${"),
        ("echo $1", "$1"),
        ("cat /etc/*.conf", "*"),
        ("echo {a,b}", "{"),
        ("cat ~/x", "~"),
        ("(true)", "("),
        ("if true; then echo; fi", "if"),
        ("LANG=C xe host-list", "LANG=C"),
        ("ls a[0]", "a[0]"),
        ("! true", "!"),
    ],
)
def test_unsupported_syntax_is_refused_honestly(source, thing):
    with pytest.raises(ShellError) as refused:
        parse(source)
    assert str(refused.value) == f"sh: {thing}: unsupported in the poolterm simulator"
    assert refused.value.status == 2


@pytest.mark.parametrize(
    "source, message",
    [
        ("echo 'open", "sh: -c: line 1: unexpected EOF while looking for matching `''"),
        ('echo "open', "sh: -c: line 1: unexpected EOF while looking for matching `\"'"),
        ("; echo", "sh: -c: line 1: syntax error near unexpected token `;'"),
        ("true && ; echo", "sh: -c: line 1: syntax error near unexpected token `;'"),
        ("true ;; echo", "sh: -c: line 1: syntax error near unexpected token `;;'"),
        ("true &&", "sh: -c: line 1: syntax error: unexpected end of file"),
        ("echo >", "sh: -c: line 1: syntax error near unexpected token `newline'"),
    ],
)
def test_syntax_errors_read_like_bash(source, message):
    with pytest.raises(ShellError) as bad:
        parse(source)
    assert str(bad.value) == message


def test_an_empty_script_is_nothing():
    assert parse("").lists == ()
    assert parse("  \n\n # only a comment\n").lists == ()


_any_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@given(st.lists(_any_text, min_size=1, max_size=6))
def test_shlex_quoted_words_round_trip(argv):
    assert words("echo " + " ".join(shlex.quote(a) for a in argv)) == [["echo", *argv]]


# ---------------------------------------------------------------------------
# Same results as bash, for what both run
# ---------------------------------------------------------------------------

_plain = st.text("abcxyz019_-.,=:/%@+", min_size=1, max_size=6)
_single = st.text("ab $?\"\\;&|<>()*{}~#`", max_size=6).map(lambda s: "'" + s + "'")
_double = st.lists(
    st.sampled_from(["a", " ", "$?", "\\\"", "\\\\", "\\$", "\\x", "'", ";", "|", "&", "*", "{", "%"]), max_size=5
).map(lambda parts: '"' + "".join(parts) + '"')
_escaped = st.sampled_from(list(";&|<> \"'$*?{}#~()`")).map(lambda c: "\\" + c)
_word = st.lists(st.one_of(_plain, _single, _double, _escaped, st.just("$?")), min_size=1, max_size=3).map("".join)
_echo = st.lists(_word, max_size=4).map(lambda ws: " ".join(["echo", *ws]))
_redirect = st.sampled_from(["", " >/dev/null", " 2>&1", " >&2", " 2>/dev/null", " >/dev/null 2>&1", " </dev/null"])
_simple = st.tuples(st.one_of(_echo, st.sampled_from(["true", "false", "echo -n x", "exit 3"])), _redirect).map("".join)
_and_or = st.lists(st.tuples(st.sampled_from([" && ", " || "]), _simple), max_size=2).flatmap(
    lambda rest: _simple.map(lambda first: first + "".join(op + c for op, c in rest))
)
_script = st.lists(st.tuples(_and_or, st.sampled_from(["; ", "\n", " ;\n"])), min_size=1, max_size=3).map(
    lambda items: "".join(a + sep for a, sep in items)
)


def bash(source: str) -> tuple[int, str, str]:
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", source], capture_output=True, text=True, timeout=10)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def world() -> World:
    return World(3, params=SimParams(fuse=0.5, boot=0.5))


async def run(world: World, source: str, host: str = "plot1", stdin: str = "") -> tuple[int, str, str]:
    live = LiveWorld(world)
    out: list[str] = []
    err: list[str] = []
    shell = Shell(HostView(live, host), Io(out.append, err.append, StreamInput(stdin, eof=True)))
    status = await shell.run(source)
    return status, "".join(out), "".join(err)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=_script)
async def test_scripts_of_the_subset_behave_as_in_bash(world, source):
    assert await run(world, source) == bash(source)


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


async def test_exit_status_flows_through_lists(world):
    assert await run(world, "false; echo $?; true && echo yes || echo no; false && echo no || echo $?") == (
        0,
        "1\nyes\n1\n",
        "",
    )
    assert await run(world, "exit 3; echo never") == (3, "", "")
    assert await run(world, "false; exit") == (1, "", "")
    assert await run(world, "exit nope") == (2, "", "sh: exit: nope: numeric argument required\n")


async def test_unknown_commands_and_unsupported_syntax(world):
    assert await run(world, "ls /") == (127, "", "sh: ls: command not found\n")
    assert await run(world, "echo a | cat") == (2, "", "sh: |: unsupported in the poolterm simulator\n")
    assert await run(world, "echo -e 'a\\n'") == (2, "", "sh: echo -e: unsupported in the poolterm simulator\n")


async def test_redirections_route_output(world):
    assert await run(world, "echo out >/dev/null; echo err >&2") == (0, "", "err\n")
    assert await run(world, "cat /nope 2>&1") == (1, "cat: /nope: No such file or directory\n", "")
    assert await run(world, "cat /nope 2>/dev/null || echo missing") == (0, "missing\n", "")
    assert await run(world, "cat /nope >/dev/null 2>&1") == (1, "", "")
    assert await run(world, "cat </dev/null", stdin="ignored") == (0, "", "")


async def test_cat_reads_files_and_stdin(world):
    address = world.host("plot1").address
    assert await run(world, "cat /etc/xensource/pool.conf", host="plot2") == (0, f"slave:{address}", "")
    assert await run(world, "cat /etc/xensource/pool.conf /nope") == (
        1,
        "master",
        "cat: /nope: No such file or directory\n",
    )
    assert await run(world, "cat", stdin="from stdin\n") == (0, "from stdin\n", "")


async def test_file_tests(world):
    assert (await run(world, "test -e /etc/xensource/pool.conf"))[0] == 0
    assert (await run(world, "test -f /etc/xensource/nope"))[0] == 1
    assert (await run(world, "[ -e /var/run/xapi_init_complete.cookie ] && echo up"))[1] == "up\n"
    assert await run(world, "[ -e /etc/xensource/pool.conf") == (2, "", "sh: [: missing `]'\n")
    assert (await run(world, "test -d /etc"))[0] == 2


async def test_echo_hostname_and_time(world):
    assert await run(world, "echo -n a b; echo; hostname", host="plot3") == (0, "a b\nplot3\n", "")
    status, out, err = await run(world, "time echo hi >/dev/null")
    assert (status, out) == (0, "")
    assert err.startswith("\nreal\t0m0.") and "\nuser\t" in err and "\nsys\t" in err


async def test_sha256sum_prints_coreutils_format(world):
    ptoken = world.read_file("plot1", "/etc/xensource/ptoken")
    assert ptoken
    digest = hashlib.sha256(ptoken.encode()).hexdigest()
    assert await run(world, "sha256sum /etc/xensource/ptoken") == (0, f"{digest}  /etc/xensource/ptoken\n", "")
    assert await run(world, "sha256sum /nope") == (1, "", "sha256sum: /nope: No such file or directory\n")


async def test_systemctl_is_active_xapi(world):
    assert await run(world, "systemctl is-active xapi") == (0, "active\n", "")
    assert (await run(world, "systemctl restart xapi"))[0] == 2


async def test_sleep_and_its_errors(world):
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await run(world, "sleep 0.2") == (0, "", "")
    assert loop.time() - started >= 0.2
    assert (await run(world, "sleep soon"))[0:2] == (1, "")
    assert (await run(world, "sleep"))[0] == 1


async def test_timeout_expires_with_124_and_kill_with_137(world):
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await run(world, "timeout 0.2 sleep 10; echo $?") == (0, "124\n", "")
    assert await run(world, "timeout -s KILL 0.2 sleep 10") == (137, "", "")
    assert await run(world, "timeout -k 1 0.2 sleep 10") == (124, "", "")
    assert await run(world, "timeout --signal=INT --kill-after=1 0.2 sleep 10") == (124, "", "")
    assert loop.time() - started < 3
    assert await run(world, "timeout 5 echo quick") == (0, "quick\n", "")
    assert await run(world, "timeout 5 false") == (1, "", "")


async def test_timeout_usage_errors(world):
    assert await run(world, "timeout 1 exit") == (
        127,
        "",
        "timeout: failed to run command ‘exit’: No such file or directory\n",
    )
    assert (await run(world, "timeout x sleep 1"))[0] == 125
    assert (await run(world, "timeout 1"))[0] == 125


async def test_curl_needs_exactly_the_probe_flags(world):
    probe = "curl -s -k -m 1 -o /dev/null -w '%{http_code}' https://127.1.2.3/"
    status, out, err = await run(world, probe + " --compressed")
    assert (status, out) == (2, "")
    assert "unsupported in the poolterm simulator" in err
    assert (await run(world, "curl -s -m 1 -o /dev/null -w '%{http_code}' https://127.1.2.3/"))[0] == 2


async def test_curl_reaches_the_master_xapi(world):
    master = world.host("plot1").address
    cmd = f"curl -w '%{{http_code}}' -o /dev/null -s -k -m 2 https://{master}/"
    assert await run(world, cmd, host="plot2") == (0, "200", "")


async def test_a_running_command_is_cancellable(world):
    live = LiveWorld(world)
    shell = Shell(HostView(live, "plot1"), Io(lambda _t: None, lambda _t: None))
    task = asyncio.ensure_future(shell.run("sleep 30"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)


async def test_a_hung_xe_loses_its_connection_when_xapi_restarts(world):
    live = LiveWorld(world)
    live.act("crash", "plot1")
    err: list[str] = []
    hung = asyncio.ensure_future(Shell(HostView(live, "plot2"), Io(lambda _t: None, err.append)).run("xe pool-list"))
    await asyncio.sleep(0.05)
    assert not hung.done(), "a forwarded xe must hang while the master is gone"
    restart = Shell(HostView(live, "plot2"), Io(lambda _t: None, lambda _t: None))
    assert await restart.run("xe-toolstack-restart") == 0
    assert await asyncio.wait_for(hung, 2) == 1
    assert err == ["Lost connection to the server.\n"]


async def test_xe_prompts_read_one_line_of_stdin(world):
    uuid = world.host("plot3").uuid
    world.crash("plot3", 0.0)
    _, out, _ = await run(world, f"xe host-forget uuid={uuid}", stdin="no thanks\nyes\n")
    assert out.endswith("Type 'yes' to continue\nAborted (you typed: 'no thanks')\n")
    assert world.host("plot1").db.record(uuid) is not None
    _, out, _ = await run(world, f"xe host-forget uuid={uuid}", stdin="yes\n")
    assert "Aborted" not in out
    assert world.host("plot1").db.record(uuid) is None
