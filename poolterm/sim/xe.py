"""The `xe` command on a simulated host: the thin client (`newcli.ml`), the CLI server's
parsing and dispatch (`xapi_cli.ml`, `cli_frontend.ml`), its printer and its errors.

Where a command runs: Neverforward commands on the local xapi, even in emergency mode;
every other command is forwarded to the master in the local xapi's role, and blocks
while that master does not answer (`XeHang`), or fails at once with the stored error
when the local xapi is in emergency mode.

:func:`run` also says which xapi answered, for the world's meters (`poolterm.sim.meters`):
the local one for what it answers itself, the master for a forwarded command that reached
it, the addressed one over TCP (`-s`), and nobody when no xapi answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poolterm.sim.api_errors import ApiError
from poolterm.sim.host import HUNG, MASTER, ON, STARTING, STOPPED, SimHost, role_master_address
from poolterm.sim.meters import UNKNOWN_COMMAND
from poolterm.sim.outcomes import XeAsk, XeDone, XeHang
from poolterm.sim.xe_commands import COMMANDS, Ctx, help_command
from poolterm.sim.xe_output import AskUser, Blocked, CliFailure, MissingParam, MultipleFailure, Output

if TYPE_CHECKING:
    from poolterm.sim.world import World

USAGE = (
    "Usage: xe <cmd> [-s server] [-p port] ([-u username] [-pw password] or [-pwf <password file>]) "
    "[--traceparent traceparent] <other arguments>\n"
    "\n"
    "A full list of commands can be obtained by running \n"
    "\txe help -s <server> -p <port>\n"
)
CONNECTION_REFUSED = "Error: Connection refused (calling connect )\n"
UNABLE_TO_CONTACT = "Unable to contact server. Please check server and port settings.\n"

# Options the thin client takes for itself (newcli `parse_args`); everything else goes to the server.
_CLIENT_SWITCHES = {
    "-s": "server",
    "-p": "port",
    "-u": "username",
    "-pw": "password",
    "-pwf": "passwordfile",
    "-h": "server",
    "--traceparent": "traceparent",
}
_CLIENT_FLAGS = {"--nossl": "nossl", "--debug": "debug", "--debug-on-fail": "debugonfail"}
_CLIENT_KEYS = {*_CLIENT_SWITCHES.values(), *_CLIENT_FLAGS.values(), "port"}


class _ParseError(Exception):
    pass


@dataclass(frozen=True)
class Answer:
    """What one `xe` run came to, and the xapi that answered it (None: no xapi did, or not yet)."""

    outcome: XeDone | XeHang | XeAsk
    by: SimHost | None = None
    command: str = UNKNOWN_COMMAND  # the command's name as `api_commands` counts it


def run(world: World, host: SimHost, argv: list[str], now: float, reply: str | None) -> Answer:
    args, options, wants_help = _client_args(argv)
    if wants_help or not args:
        return Answer(XeDone("", USAGE, 0))  # the thin client prints this without connecting
    server = options.get("server", "127.0.0.1")
    if server == "127.0.0.1":
        if host.power != ON or host.xapi in (STOPPED, STARTING):
            return Answer(XeDone("", CONNECTION_REFUSED, 1))
        if host.xapi == HUNG:
            return Answer(XeHang(f"xapi on {host.name} is not responding"))
        return _serve(world, host, args, now, reply, over_unix_socket=True)
    address = world.resolve(server)
    target = world.host_at(address) if address else None
    if target is None or not world.reachable(host, target) or target.xapi in (STOPPED, STARTING):
        return Answer(XeDone("", UNABLE_TO_CONTACT, 1))
    if target.xapi == HUNG:
        return Answer(XeHang(f"xapi on {target.name} is not responding"))
    return _serve(world, target, args, now, reply, over_unix_socket=False)


def _client_args(argv: list[str]) -> tuple[list[str], dict[str, str], bool]:
    wants_help = any(a in ("-help", "--help") for a in argv)
    rest: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _CLIENT_SWITCHES and i + 1 < len(argv):
            options[_CLIENT_SWITCHES[arg]] = argv[i + 1]
            i += 2
            continue
        if arg in _CLIENT_FLAGS:
            options[_CLIENT_FLAGS[arg]] = "true"
        else:
            key, sep, value = arg.partition("=")
            if sep and key in _CLIENT_KEYS:
                options[key] = value
            else:
                rest.append(arg)
        i += 1
    return rest, options, wants_help


def _parse_params(args: list[str]) -> list[tuple[str, str]]:
    """`Cli_frontend.parse_params_2`: ``--x`` is x=true, ``k=v`` splits at the first ``=``,
    a lone word is k=""; any other ``-x`` switch is a syntax error."""
    params = []
    for arg in args:
        if arg.startswith("--"):
            params.append((arg[2:], "true"))
        elif arg.startswith("-"):
            raise _ParseError(arg)
        else:
            key, _, value = arg.partition("=")
            params.append((key, value))
    return params


def _param_error(prefix: str, text: str) -> XeDone:
    line = f"{prefix}: {text}" if prefix else text
    return XeDone("", line + "\nFor usage run: 'xe help'\n", 1)


def _serve(
    world: World, host: SimHost, args: list[str], now: float, reply: str | None, *, over_unix_socket: bool
) -> Answer:
    """The command on the xapi of `host` (the local one, or the one `-s` named)."""
    name = args[0]
    known = name if name in COMMANDS or name == "help" else UNKNOWN_COMMAND

    def by_host(outcome: XeDone | XeHang | XeAsk) -> Answer:
        return Answer(outcome, host, known)

    if "=" in name:
        return by_host(_param_error("Syntax error", ""))
    try:
        params = _parse_params(args[1:])
    except _ParseError:
        return by_host(_param_error("Syntax error", ""))
    minimal_value = next((v for k, v in params if k == "minimal"), None)
    if minimal_value not in (None, "true", "false"):
        # exec_command's OCaml bool_of_string raises before anything else runs.
        error = ApiError("INTERNAL_ERROR", 'INTERNAL_ERROR: [ Invalid_argument("bool_of_string") ]')
        return by_host(XeDone("", error.text(), 1))
    out = Output(minimal=minimal_value == "true")
    if name == "help":
        help_command(out, params)
        return by_host(XeDone(out.finish(), "", 0))
    command = COMMANDS.get(name)
    if command is None:
        return by_host(_param_error("Unknown command", name))
    given = {key for key, _ in params}
    for key in command.reqd:
        if key not in given:
            return by_host(_param_error("Required parameter not found", key))
    master: SimHost | None = None
    if not command.neverforward:
        if host.emergency and host.emergency_error is not None:
            code, values = host.emergency_error
            # Refused before it reaches any master: over the Unix socket it counts on nobody
            # (a forwarded command is the master's session); over TCP the addressed xapi answered.
            return Answer(XeDone("", ApiError(code, *values).text(), 1), None if over_unix_socket else host, name)
        if host.role == MASTER:
            master = host
        elif not over_unix_socket:
            # Only the local Unix-socket CLI forwards; over TCP a slave refuses.
            return by_host(XeDone("", ApiError("HOST_IS_SLAVE", role_master_address(host.role) or "").text(), 1))
        else:
            master = world.xapi.route(host)
            if master is None:
                return Answer(XeHang(f"waiting for the master at {role_master_address(host.role)}"), None, name)
    ctx = Ctx(world=world, local=host, master=master, params=params, now=now, reply=reply, out=out)
    return Answer(_execute(command.impl, ctx), master or host, name)


def _execute(impl, ctx: Ctx) -> XeDone | XeAsk | XeHang:
    out = ctx.out
    try:
        impl(ctx)
    except AskUser as ask:
        return XeAsk(out.printed() + ask.text)
    except Blocked as blocked:
        return XeHang(blocked.reason)
    except ApiError as error:
        if error.code == "SESSION_AUTHENTICATION_FAILED":
            # `Xapi_cli.exception_handler` words a failed login itself, without the error's text.
            given = error.params[0] if error.params else ""
            return _param_error("", "Authentication failed" if given else "Username/password must be specified")
        return XeDone(out.printed(), error.text(), 1)
    except CliFailure as failure:
        return XeDone(out.printed(), f"Error: {failure}\n", 1)
    except MissingParam as missing:
        return XeDone(out.printed(), ApiError("Missing parameter", missing.name).text(), 1)
    except MultipleFailure as failures:
        lines = "".join(f"operation failed on {uuid}: {message}\n" for uuid, message in failures.failures)
        return XeDone(out.printed() + lines, "", 1)
    return XeDone(out.finish(), "", 0)

