"""The xe commands the simulator answers: their table (`cli_frontend.ml`), their bodies
(`cli_operations.ml`) and the record listing, filtering and host selection they share.

Why one module of this size: it is a table of commands, one short body each, mirroring
`cli_frontend.ml`; the table is easier to check against xapi's whole than split by topic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from poolterm.sim.api_errors import ApiError
from poolterm.sim.host import MASTER, SimHost
from poolterm.sim.pooldb import HostRecord
from poolterm.sim.record_schema import (
    EXPENSIVE,
    HOST_FIELDS,
    HOST_LIST_DEFAULT,
    POOL_FIELDS,
    POOL_LIST_DEFAULT,
    Field,
    HostView,
    PoolView,
)
from poolterm.sim.records import field_key
from poolterm.sim.xe_output import AskUser, CliFailure, MissingParam, MultipleFailure, Output

if TYPE_CHECKING:
    from poolterm.sim.world import World

# Parameters every command accepts and that never filter records (`Cli_operations.stdparams`).
STDPARAMS = (
    "server",
    "password",
    "port",
    "username",
    "minimal",
    "force",
    "multiple",
    "all",
    "message-priority",
    "trace",
)

FORGET_WARNINGS = (
    "WARNING: A host should only be forgotten if it is physically unrecoverable;\n"
    "WARNING: if possible, Hosts should be 'ejected' from the Pool instead.\n"
    "WARNING: Once a host has been forgotten it will have to be re-installed.\n"
    "WARNING: This operation is irreversible.\n"
    "Type 'yes' to continue\n"
)
JOIN_CONNECTION_FAILED = [
    "Host cannot contact destination host: connection refused.",
    "Check destination host has services running and accessible from this host.",
]
NO_FORCE = "This operation is dangerous and may cause data loss. This operation must be forced (use --force)."


def ocaml_float(x: float) -> str:
    """OCaml's string_of_float: ``10.`` for 10.0, ``0.5`` for 0.5."""
    text = f"{x:.12g}"
    return text + "." if text.lstrip("-").isdigit() else text


@dataclass
class Ctx:
    world: World
    local: SimHost  # the host whose xapi received the command
    master: SimHost | None  # where a forwarded command runs (None for local-only commands)
    params: list[tuple[str, str]]
    now: float
    reply: str | None
    out: Output

    def get(self, key: str) -> str | None:
        """The first value given for `key` (OCaml List.assoc)."""
        for k, v in self.params:
            if k == key:
                return v
        return None

    def flag(self, key: str, default: bool = False) -> bool:
        """`get_bool_param` with `Record_util.bool_of_string`."""
        value = self.get(key)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("true", "yes"):
            return True
        if lowered in ("false", "no"):
            return False
        raise CliFailure(f"Failed to parse parameter '{key}': Expected 'true','yes','false','no', got {value}")

    @property
    def m(self) -> SimHost:
        assert self.master is not None, "a forwarded command needs its master"
        return self.master

    def host_record(self, uuid: str) -> HostRecord:
        rec = self.m.db.record(uuid)
        if rec is None:
            raise ApiError("UUID_INVALID", "host", uuid)
        return rec

    def host_views(self) -> list[HostView]:
        xapi = self.world.xapi
        return [HostView(rec, xapi.live(self.m, rec.uuid, self.now)) for rec in self.m.db.hosts.values()]


@dataclass(frozen=True)
class Command:
    reqd: tuple[str, ...]
    optn: tuple[str, ...]
    help: str
    impl: Callable[[Ctx], None]
    neverforward: bool = False
    host_selectors: bool = False
    standard: bool = False


# ---------------------------------------------------------------------------
# records: list, param-list, param-get, filters
# ---------------------------------------------------------------------------


def _field_type(fields: tuple[Field, ...], key: str) -> tuple[str, Field]:
    """`Cli_operations.get_field_type`: a plain field, ``map:key`` / ``map-key``, or ``set:contains``."""
    by_name = {f.name: f for f in fields}
    if key in by_name:
        return "normal", by_name[key]
    if ":" in key:
        real = key.split(":", 1)[0]
        field = by_name.get(real)
        if field is None:
            raise CliFailure(f"Unknown field '{key}'")
        if field.access.startswith("S"):
            return "set", field
        if field.access.startswith("M"):
            return "map", field
        raise CliFailure(f"Field '{field.name}' is not a set or map")
    for kind in ("M", "S"):
        candidates = sorted((f for f in fields if f.access.startswith(kind)), key=lambda f: -len(f.name))
        for field in candidates:
            if key.startswith(field.name + "-"):
                return ("map" if kind == "M" else "set"), field
    raise CliFailure(f"Unknown field '{key}'")


def _filter(views: list, fields: tuple[Field, ...], key: str, value: str) -> list:
    if not views:
        return []
    kind, field = _field_type(fields, key)
    if kind == "normal":
        return [v for v in views if field.text(v) == value]
    rest = key[len(field.name) + 1 :]
    if kind == "map":
        return [v for v in views if field.as_map(v).get(rest) == value]
    if rest != "contains":
        raise CliFailure("Invalid syntax for set filtering (should be set-param:contains=key)")
    return [v for v in views if value in field.get(v)]


def _row(view: object, fields: list[Field], *, cheap: bool) -> list[tuple[str, str]]:
    return [
        (field_key(f.name, f.access, f.deprecated), EXPENSIVE if cheap and f.expensive else f.text(view))
        for f in fields
        if not f.hidden
    ]


def _list(ctx: Ctx, views: list, fields: tuple[Field, ...], defaults: tuple[str, ...]) -> None:
    """`<class>-list`: filter on every non-standard parameter, print the chosen fields."""
    selected = views
    for key, value in ctx.params:
        if key in ("params", *STDPARAMS) or key.startswith("database:"):
            continue
        selected = _filter(selected, fields, key, value)
    chosen = ctx.get("params")
    names: tuple[str, ...] | None = defaults
    if chosen is not None:
        names = None if chosen == "all" else tuple(chosen.split(","))
    shown = views if ctx.flag("all") else selected
    columns = [f for f in fields if names is None or f.name in names]
    ctx.out.table([_row(v, columns, cheap=True) for v in shown])


def _param_get(ctx: Ctx, view: object, fields: tuple[Field, ...]) -> None:
    name = ctx.get("param-name") or ""
    field = next((f for f in fields if f.name == name), None)
    if field is None:
        raise MissingParam(name)
    key = ctx.get("param-key")
    if key is not None and field.is_map:
        mapping = field.as_map(view)
        if key not in mapping:
            raise CliFailure(f"Key {key} not found in map")
        ctx.out.items([mapping[key]])
    else:
        ctx.out.items([field.text(view)])


def _host_view(ctx: Ctx) -> HostView:
    rec = ctx.host_record(ctx.get("uuid") or "")
    return HostView(rec, ctx.world.xapi.live(ctx.m, rec.uuid, ctx.now))


def _pool_view(ctx: Ctx) -> PoolView:
    uuid = ctx.get("uuid")
    if uuid is not None and uuid != ctx.m.db.pool_uuid:
        raise ApiError("UUID_INVALID", "pool", uuid)
    return PoolView(ctx.m.db)


def host_list(ctx: Ctx) -> None:
    _list(ctx, ctx.host_views(), HOST_FIELDS, HOST_LIST_DEFAULT)


def pool_list(ctx: Ctx) -> None:
    _list(ctx, [PoolView(ctx.m.db)], POOL_FIELDS, POOL_LIST_DEFAULT)


def host_param_list(ctx: Ctx) -> None:
    ctx.out.table([_row(_host_view(ctx), list(HOST_FIELDS), cheap=False)])


def pool_param_list(ctx: Ctx) -> None:
    ctx.out.table([_row(_pool_view(ctx), list(POOL_FIELDS), cheap=False)])


def pool_param_set(ctx: Ctx) -> None:
    """`p_set` for the pool: each ``field=value`` in turn. The fields the simulator keeps:
    name-label, name-description, ha-host-failures-to-tolerate."""
    _pool_view(ctx)
    by_name = {f.name: f for f in POOL_FIELDS}
    for key, value in ctx.params:
        if key in ("uuid", *STDPARAMS):
            continue
        field = by_name.get(key.split(":", 1)[0])
        if field is None:
            raise ApiError("INTERNAL_ERROR", f"Failure: Unknown field '{key}'")
        if ":" in key:
            raise CliFailure(f"pool-param-set {key}: unsupported in the poolterm simulator")
        if field.access != "RW":
            raise ApiError("INTERNAL_ERROR", f"Failure: Field '{key}' is read-only.")
        setter = _POOL_SETTERS.get(key)
        if setter is None:
            raise CliFailure(f"pool-param-set {key}: unsupported in the poolterm simulator")
        setter(ctx, value)
        ctx.world.changed()


def _set_failures_to_tolerate(ctx: Ctx, value: str) -> None:
    """`Pool.set_ha_host_failures_to_tolerate`: an Int64, not negative."""
    if not re.fullmatch(r"[-+]?[0-9]+", value):
        raise ApiError("INTERNAL_ERROR", "Failure: Int64.of_string")
    n = int(value)
    if n < 0:
        raise ApiError("INVALID_VALUE", "ha_host_failures_to_tolerate", str(n))
    _set_pool(ctx, ha_host_failures_to_tolerate=n)


def _set_pool(ctx: Ctx, **changes: object) -> None:
    ctx.m.db = ctx.m.db.writable()  # a master that just joined another pool holds that pool's backup until its fuse
    ctx.m.db.set_pool_field(**changes)


_POOL_SETTERS: dict[str, Callable[[Ctx, str], None]] = {
    "name-label": lambda ctx, value: _set_pool(ctx, name_label=value),
    "name-description": lambda ctx, value: _set_pool(ctx, name_description=value),
    "ha-host-failures-to-tolerate": _set_failures_to_tolerate,
}


def host_param_get(ctx: Ctx) -> None:
    _param_get(ctx, _host_view(ctx), HOST_FIELDS)


def pool_param_get(ctx: Ctx) -> None:
    _param_get(ctx, _pool_view(ctx), POOL_FIELDS)


# ---------------------------------------------------------------------------
# host selectors (`do_host_op`)
# ---------------------------------------------------------------------------


def _select_hosts(ctx: Ctx, ignore: tuple[str, ...]) -> list[HostRecord]:
    views = ctx.host_views()
    params = list(ctx.params)
    wanted = ctx.get("host")
    if wanted is not None:
        # The pseudo-field `host` matches a uuid, a hostname or a name-label.
        views = [v for v in views if wanted in (v.rec.uuid, v.rec.hostname, v.rec.name_label)]
        params.remove(("host", wanted))
    for key, value in params:
        if key.split(":", 1)[0] in (*STDPARAMS, *ignore):
            continue
        views = _filter(views, HOST_FIELDS, key, value)
    return [v.rec for v in views]


def _failure_message(error: ApiError) -> str:
    doc, lines = error.parts()
    if doc is None:
        return f"{error.code}: [ {'; '.join(error.params)} ]"
    return doc + "\n" + "\n".join(lines)


def _host_op(ctx: Ctx, op: Callable[[HostRecord], None], ignore: tuple[str, ...] = ()) -> None:
    hosts = _select_hosts(ctx, ignore)
    if not hosts:
        raise CliFailure("No matching hosts found")
    if len(hosts) == 1:
        op(hosts[0])
        return
    if not ctx.flag("multiple"):
        raise CliFailure("Multiple matching hosts found. --multiple required to complete the operation")
    failures = []
    for rec in hosts:
        try:
            op(rec)
        except ApiError as error:
            failures.append((rec.uuid, _failure_message(error)))
    if failures:
        raise MultipleFailure(failures[::-1])


def host_disable(ctx: Ctx) -> None:
    auto_enable = ctx.flag("auto-enable", default=True)
    xapi = ctx.world.xapi
    _host_op(ctx, lambda rec: xapi.set_enabled(ctx.m, rec, False, ctx.now, auto_enable=auto_enable), ("auto-enable",))


def host_enable(ctx: Ctx) -> None:
    xapi = ctx.world.xapi
    _host_op(ctx, lambda rec: xapi.set_enabled(ctx.m, rec, True, ctx.now))


def host_shutdown(ctx: Ctx) -> None:
    xapi = ctx.world.xapi
    _host_op(ctx, lambda rec: xapi.power_off_host(ctx.m, rec, ctx.now, reboot=False))


def host_reboot(ctx: Ctx) -> None:
    xapi = ctx.world.xapi
    _host_op(ctx, lambda rec: xapi.power_off_host(ctx.m, rec, ctx.now, reboot=True))


# ---------------------------------------------------------------------------
# the pool-master commands
# ---------------------------------------------------------------------------


def host_is_in_emergency_mode(ctx: Ctx) -> None:
    ctx.out.message("true" if ctx.local.emergency else "false")


def pool_emergency_transition_to_master(ctx: Ctx) -> None:
    force = ctx.flag("force")
    if ctx.local.role != MASTER or force:
        ctx.world.xapi.emergency_transition_to_master(ctx.local, ctx.now)
        fuse = ocaml_float(ctx.world.params.fuse)
        ctx.out.items([f"Host agent will restart and transition to master in {fuse} seconds..."])
    else:
        ctx.out.items(["Host agent is already master. Use '--force' to execute the operation anyway."])


def pool_emergency_reset_master(ctx: Ctx) -> None:
    address = ctx.get("master-address") or ""
    ctx.world.xapi.emergency_reset_master(ctx.local, address, ctx.now)
    fuse = ocaml_float(ctx.world.params.fuse)
    ctx.out.items([f"Host agent will restart and become slave of {address} in {fuse} seconds..."])


def pool_join(ctx: Ctx) -> None:
    """`Cli_operations.pool_join`: a failed connection is not an error to xe: it prints
    two lines on stdout and exits 0."""
    try:
        ctx.world.xapi.join(
            ctx.m,
            ctx.get("master-address") or "",
            ctx.get("master-username") or "",
            ctx.get("master-password") or "",
            ctx.now,
            force=ctx.flag("force"),
        )
    except ApiError as error:
        if error.code != "JOINING_HOST_CONNECTION_FAILED":
            raise
        ctx.out.items(JOIN_CONNECTION_FAILED)
        return
    fuse = ocaml_float(ctx.world.params.fuse)
    ctx.out.items([f"Host agent will restart and attempt to join pool in {fuse} seconds..."])


def pool_recover_slaves(ctx: Ctx) -> None:
    ctx.out.items(ctx.world.xapi.recover_slaves(ctx.m, ctx.now))


def pool_designate_new_master(ctx: Ctx) -> None:
    rec = ctx.host_record(ctx.get("host-uuid") or "")
    ctx.world.xapi.designate_new_master(ctx.m, rec, ctx.now)


def pool_sync_database(ctx: Ctx) -> None:
    ctx.world.xapi.sync_database(ctx.m, ctx.now)


def pool_ha_enable(ctx: Ctx) -> None:
    srs = ctx.get("heartbeat-sr-uuids")
    for uuid in srs.split(",") if srs else []:
        if uuid != ctx.m.db.default_sr_uuid:
            raise ApiError("UUID_INVALID", "SR", uuid)
    config = {k[len("ha-config:") :]: v for k, v in ctx.params if k.startswith("ha-config:") and len(k) > 10}
    ctx.world.xapi.ha_enable(ctx.m, config, ctx.now)


def pool_ha_disable(ctx: Ctx) -> None:
    ctx.world.xapi.ha_disable(ctx.m, ctx.now)


def host_emergency_ha_disable(ctx: Ctx) -> None:
    soft = ctx.flag("soft")  # parsed (and rejected if not a boolean) before --force is checked, as xe does
    if not ctx.flag("force"):
        # `fail_without_force` is a plain `failwith`: the CLI prints it as an internal error.
        raise ApiError("INTERNAL_ERROR", f"Failure: {NO_FORCE}")
    ctx.world.xapi.emergency_ha_disable(ctx.local, ctx.now, soft=soft)


def host_forget(ctx: Ctx) -> None:
    rec = ctx.host_record(ctx.get("uuid") or "")
    if not ctx.flag("force"):
        if ctx.reply is None:
            raise AskUser(FORGET_WARNINGS)
        if ctx.reply.strip().lower() != "yes":
            ctx.out.line(f"Aborted (you typed: '{ctx.reply}')")
            return
    ctx.world.xapi.forget(ctx.m, rec, ctx.now)


# ---------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------

_LIST_HELP = (
    "Lists all the {plural}, filtering on the optional arguments. "
    "To filter on map parameters, use the syntax 'map-param:key=value'"
)
_PARAM_LIST_HELP = "Lists all the parameters of the object specified by the uuid."
_PARAM_GET_HELP = (
    "Gets the parameter specified of the object. If the parameter is a map of key=value pairs, "
    "use 'param-key=<key>' to get the value associated with a particular key."
)

COMMANDS: dict[str, Command] = {
    "host-list": Command(
        (), ("params", "database:", *(f.name for f in HOST_FIELDS if not f.hidden)), _LIST_HELP.format(plural="hosts"),
        host_list,
    ),
    "host-param-list": Command(("uuid",), ("database:",), _PARAM_LIST_HELP, host_param_list),
    "host-param-get": Command(("uuid", "param-name"), ("param-key", "database:"), _PARAM_GET_HELP, host_param_get),
    "pool-list": Command(
        (), ("params", "database:", *(f.name for f in POOL_FIELDS if not f.hidden)), _LIST_HELP.format(plural="pools"),
        pool_list,
    ),
    "pool-param-list": Command(("uuid",), ("database:",), _PARAM_LIST_HELP, pool_param_list),
    "pool-param-get": Command(("uuid", "param-name"), ("param-key", "database:"), _PARAM_GET_HELP, pool_param_get),
    "pool-param-set": Command(
        ("uuid",), tuple(f.name for f in POOL_FIELDS if f.access in ("RW", "MRW") and not f.hidden),
        "Sets the parameter specified. If param-value is not given, the parameter is set to a null value. To set a "
        "(key,value) pair in a map parameter, use the syntax 'map-param:key=value'.",
        pool_param_set,
    ),
    "host-is-in-emergency-mode": Command(
        (), (), "Query the target host to discover if it is in emergency mode.", host_is_in_emergency_mode,
        neverforward=True,
    ),
    "pool-emergency-transition-to-master": Command(
        (), ("force",),
        "Instruct slave to become pool master. The operation will be ignored if this host is already master; "
        "the optional parameter '--force' will force the operation.",
        pool_emergency_transition_to_master, neverforward=True,
    ),
    "pool-emergency-reset-master": Command(
        ("master-address",), (), "Instruct slave to reset master address.", pool_emergency_reset_master,
        neverforward=True,
    ),
    "pool-recover-slaves": Command(
        (), (),
        "Instruct master to try and reset master-address of all slaves currently running in emergency mode.",
        pool_recover_slaves,
    ),
    "pool-designate-new-master": Command(
        ("host-uuid",), (), "Request an orderly handover of the role of master to another host.",
        pool_designate_new_master,
    ),
    "pool-join": Command(
        ("master-address", "master-username", "master-password"), ("force",),
        "Instruct host to join an existing pool.", pool_join,
    ),
    "pool-sync-database": Command(
        (), (), "Synchronise the current database across all hosts in the pool.", pool_sync_database,
    ),
    "pool-ha-enable": Command(
        (), ("heartbeat-sr-uuids", "ha-config:"), "Enable HA on this Pool.", pool_ha_enable,
    ),
    "pool-ha-disable": Command((), (), "Disable HA on this Pool.", pool_ha_disable),
    "host-emergency-ha-disable": Command(
        (), ("force", "soft"),
        "Disable HA on the local host. Only to be used to recover a pool with a broken HA setup.",
        host_emergency_ha_disable, neverforward=True,
    ),
    "host-disable": Command(
        (), ("auto-enable",), "Disable the XE host.", host_disable, host_selectors=True, standard=True,
    ),
    "host-enable": Command((), (), "Enable the XE host.", host_enable, host_selectors=True, standard=True),
    "host-shutdown": Command((), (), "Shutdown the XE host.", host_shutdown, host_selectors=True, standard=True),
    "host-reboot": Command((), (), "Reboot the XE host.", host_reboot, host_selectors=True, standard=True),
    "host-forget": Command(
        ("uuid",), (),
        "Forget about the host without contacting it explicitly. WARNING: this call is useful if the host to "
        "'forget' is dead; however, if the host is live and part of the pool, you should consider using "
        "pool-eject instead.",
        host_forget,
    ),
}

# ---------------------------------------------------------------------------
# help (`Cli_frontend.rio_help`)
# ---------------------------------------------------------------------------

HOST_SELECTORS_INFO = (
    " Hosts can be specified by filtering the full list of hosts on the values of zero or more fields. "
    "For example, specifying 'uuid=<some_uuid>' will select only the host with that uuid, and "
    "'enabled=true' will select only hosts whose 'enabled' field is equal to 'true'. The special "
    "pseudo-field 'host' matches any of hostname, name-label or uuid. Where multiple hosts are matching, "
    "and the operation can be performed on multiple hosts, the option '--multiple' must be specified to "
    "perform the operation. The full list of fields that can be matched can be obtained by the command "
    "'xe host-list params=all'. If no parameters to select hosts are given, the operation will be "
    "performed on all hosts."
)

HELP_HEADER = """Usage:
  xe <command>
    [ -s <server> ]            XenServer host
    [ -p <port> ]              XenServer port number
    [ -u <username> -pw <password> | -pwf <password file> ]
                               User authentication (password or file)
    [ --nossl ]                Disable SSL/TLS
    [ --debug ]                Enable debug output
    [ --debug-on-fail ]        Enable debug output only on failure
    [ --traceparent <value> ]  Distributed tracing context
    [ <other arguments> ... ]  Command-specific options

To get help on a specific command:
  xe help <command>

"""
HELP_COMMON = "To get a full listing of commands:\n  xe help --all\n\nCommon command list\n-------------------\n"
HELP_FULL = "Full command list\n-----------------\n"


def _make_list(names: list[str]) -> list[str]:
    """`Cli_frontend.make_list`: comma-separated names, indented, wrapped at 74 columns."""
    lines: list[str] = []
    current = "    " + names[0]
    for name in names[1:]:
        if len(current) + len(name) > 74:
            lines.append(current)
            current = "    " + name
        else:
            current += ", " + name
    lines.append(current)
    return lines


def help_command(out: Output, params: list[tuple[str, str]]) -> None:
    asked = [k for k, _ in params if k not in ("server", "username", "password", "port", "minimal", "all")]
    if asked:
        for name in asked:
            _help_one(out, name)
        return
    names = sorted(COMMANDS)
    if any(k == "all" and v == "true" for k, v in params):
        hosts = [n for n in names if n.startswith("host-")]
        others = [n for n in names if not n.startswith("host-")]
        out.items([HELP_HEADER + HELP_FULL])
        out.items(_make_list(hosts) + _make_list([""]) + _make_list(others))
        return
    common = [n for n in names if COMMANDS[n].standard]
    out.items([HELP_HEADER + HELP_COMMON])
    out.items(_make_list(common))


def _help_one(out: Output, name: str) -> None:
    command = COMMANDS.get(name)
    if command is None:
        out.items([f"Unknown command '{name}'"])
        return
    optional = list(command.optn) + (["<host-selectors>"] if command.host_selectors else [])
    description = command.help + (HOST_SELECTORS_INFO if command.host_selectors else "")
    out.table(
        [
            [
                ("command name        ", name),
                ("reqd params     ", ", ".join(command.reqd)),
                ("optional params ", ", ".join(optional)),
                ("description     ", description),
            ]
        ]
    )
