"""The xe command line on a simulated host: parsing, errors and output, byte for byte.

Expected texts are the fact sheet's literal outputs (docs/xapi.md) with this
pool's uuids, and the xen-api sources' strings for the errors.
"""

import pytest

from poolterm.sim.world import SimParams, World, XeAsk, XeDone, XeHang

USAGE_ERR = "For usage run: 'xe help'\n"


@pytest.fixture
def w() -> World:
    return World(3)


def xe(w: World, *argv: str, host: str = "plot2", now: float = 1.0, reply: str | None = None) -> XeDone:
    r = w.xe(host, list(argv), now, reply=reply)
    assert isinstance(r, XeDone), r
    return r


def u(w: World, name: str) -> str:
    return w.host(name).uuid


# ---------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------


def test_host_list_default_columns(w):
    expected = "".join(
        f"uuid ( RO)                : {u(w, n)}\n"
        f"          name-label ( RW): {n}\n"
        "    name-description ( RW): Default install\n"
        "\n\n"
        for n in ("plot1", "plot2", "plot3")
    )
    assert xe(w, "host-list") == XeDone(expected, "", 0)


def test_pool_list_default_columns(w):
    db = w.host("plot1").db
    assert xe(w, "pool-list").stdout == (
        f"uuid ( RO)                : {db.pool_uuid}\n"
        "          name-label ( RW): lab\n"
        "    name-description ( RW): \n"
        f"              master ( RO): {u(w, 'plot1')}\n"
        f"          default-SR ( RW): {db.default_sr_uuid}\n"
        "\n\n"
    )


def test_params_are_printed_in_record_order(w):
    out = xe(w, "host-list", "params=host-metrics-live,address,enabled,uuid", "name-label=plot1").stdout
    assert out == (
        f"uuid ( RO)                 : {u(w, 'plot1')}\n"
        "              enabled ( RO): true\n"
        "              address ( RO): 127.77.0.11\n"
        "    host-metrics-live ( RO): true\n"
        "\n\n"
    )


def test_minimal_outputs(w):
    assert xe(w, "pool-list", "params=master", "--minimal").stdout == u(w, "plot1") + "\n"
    assert xe(w, "host-list", "--minimal").stdout == ",".join(u(w, n) for n in w.names) + "\n"
    assert xe(w, "host-list", "params=address", "--minimal").stdout == "127.77.0.11,127.77.0.12,127.77.0.13\n"
    assert xe(w, "host-list", "name-label=nope", "--minimal").stdout == "\n"
    assert xe(w, "host-list", "minimal=true", "address=127.77.0.13").stdout == u(w, "plot3") + "\n"


def test_field_filters(w):
    assert xe(w, "host-list", "name-label=plot2", "params=uuid", "--minimal").stdout == u(w, "plot2") + "\n"
    assert xe(w, "host-list", "address=127.77.0.13", "params=name-label", "--minimal").stdout == "plot3\n"
    assert xe(w, "host-list", "enabled=false").stdout == ""
    assert xe(w, "host-list", "software-version:xapi=24.19", "params=name-label", "--minimal").stdout == (
        "plot1,plot2,plot3\n"
    )
    assert xe(w, "host-list", "software-version-xapi=1", "--minimal").stdout == "\n"
    assert xe(w, "host-list", "tags:contains=x", "--minimal").stdout == "\n"
    r = xe(w, "host-list", "tags:has=x")
    assert r.stderr == "Error: Invalid syntax for set filtering (should be set-param:contains=key)\n"
    assert xe(w, "host-list", "bogus=1") == XeDone("", "Error: Unknown field 'bogus'\n", 1)
    assert xe(w, "host-list", "enabled:x=1").stderr == "Error: Field 'enabled' is not a set or map\n"
    assert xe(w, "host-list", "--all", "name-label=plot1", "--minimal").stdout.count(",") == 2


def test_params_all_lists_every_visible_field_with_expensive_placeholder(w):
    out = xe(w, "host-list", "params=all", "name-label=plot3").stdout
    lines = out.rstrip("\n").split("\n")
    assert lines[0].startswith("uuid ( RO)") and lines[0].endswith(u(w, "plot3"))
    assert "                  memory-free-computed ( RO): <expensive field>" in lines
    assert "                  patches (SRO) [DEPRECATED]: " in lines
    assert not any("uefi-certificates" in line for line in lines)
    keys = [line.split(": ", 1)[0].strip() for line in lines]
    assert keys.index("enabled ( RO)") < keys.index("address ( RO)") < keys.index("host-metrics-live ( RO)")
    assert len({line.index(": ") for line in lines[1:]}) == 1


def test_unknown_params_column_prints_empty_records(w):
    assert xe(w, "host-list", "params=no-such-field").stdout == "\n\n\n" * 3


def test_param_list_computes_expensive_fields(w):
    out = xe(w, "host-param-list", f"uuid={u(w, 'plot2')}").stdout
    assert "memory-free-computed ( RO): 60124180480\n" in out
    db = w.host("plot1").db
    out = xe(w, "pool-param-list", f"uuid={db.pool_uuid}").stdout
    assert f"default-SR ( RW): {db.default_sr_uuid}\n" in out
    assert "supported-sr-types ( RO): lvm; ext;" in out
    assert "ha-enabled ( RO): false\n" in out


def test_param_get(w):
    u2 = u(w, "plot2")
    assert xe(w, "host-param-get", f"uuid={u2}", "param-name=address").stdout == "127.77.0.12\n"
    assert xe(w, "host-param-get", f"uuid={u2}", "param-name=software-version", "param-key=xapi").stdout == "24.19\n"
    assert xe(w, "host-param-get", f"uuid={u2}", "param-name=address", "param-key=x").stdout == "127.77.0.12\n"
    r = xe(w, "host-param-get", f"uuid={u2}", "param-name=other-config", "param-key=nope")
    assert r == XeDone("", "Error: Key nope not found in map\n", 1)
    r = xe(w, "host-param-get", f"uuid={u2}", "param-name=nope")
    assert r == XeDone("", "Error code: Missing parameter\nError parameters: nope\n", 1)
    r = xe(w, "host-param-get", "uuid=bad", "param-name=address")
    assert r == XeDone("", "The uuid you supplied was invalid.\ntype: host\nuuid: bad\n", 1)
    pool = w.host("plot1").db.pool_uuid
    assert xe(w, "pool-param-get", f"uuid={pool}", "param-name=master").stdout == u(w, "plot1") + "\n"
    assert xe(w, "pool-param-get", "uuid=x", "param-name=master").stderr == (
        "The uuid you supplied was invalid.\ntype: pool\nuuid: x\n"
    )


# ---------------------------------------------------------------------------
# parsing and client errors
# ---------------------------------------------------------------------------


def test_usage_without_a_command_or_with_help(w):
    usage = (
        "Usage: xe <cmd> [-s server] [-p port] ([-u username] [-pw password] or [-pwf <password file>]) "
        "[--traceparent traceparent] <other arguments>\n\n"
        "A full list of commands can be obtained by running \n\txe help -s <server> -p <port>\n"
    )
    assert xe(w) == XeDone("", usage, 0)
    assert xe(w, "host-list", "--help") == XeDone("", usage, 0)
    assert xe(w, "-u", "root", "-pw", "secret") == XeDone("", usage, 0)


def test_unknown_command_syntax_and_missing_parameters(w):
    assert xe(w, "vm-frobnicate") == XeDone("", "Unknown command: vm-frobnicate\n" + USAGE_ERR, 1)
    assert xe(w, "uuid=x") == XeDone("", "Syntax error: \n" + USAGE_ERR, 1)
    assert xe(w, "host-list", "-z") == XeDone("", "Syntax error: \n" + USAGE_ERR, 1)
    assert xe(w, "host-param-get", "uuid=x") == XeDone("", "Required parameter not found: param-name\n" + USAGE_ERR, 1)
    assert xe(w, "host-forget") == XeDone("", "Required parameter not found: uuid\n" + USAGE_ERR, 1)
    assert xe(w, "pool-emergency-reset-master").stderr == "Required parameter not found: master-address\n" + USAGE_ERR


def test_required_parameters_are_checked_before_forwarding():
    w = World(3)
    w.cable_out("plot1", 1.0)
    assert isinstance(w.xe("plot2", ["host-forget", "uuid=x"], 2.0), XeHang)
    assert xe(w, "host-forget", now=2.0).stderr == "Required parameter not found: uuid\n" + USAGE_ERR


def test_boolean_parameters(w):
    r = xe(w, "pool-list", "minimal=1")
    assert r.rc == 1 and 'Invalid_argument("bool_of_string")' in r.stderr
    r = xe(w, "pool-emergency-transition-to-master", "force=maybe")
    assert r.stderr == "Error: Failed to parse parameter 'force': Expected 'true','yes','false','no', got maybe\n"
    assert "already master" in xe(w, "pool-emergency-transition-to-master", "force=no", host="plot1").stdout


def test_client_options_are_taken_by_the_client(w):
    assert xe(w, "-u", "root", "-pw", "x", "host-list", "--minimal").stdout.count(",") == 2
    assert xe(w, "host-list", "username=root", "password=x", "--minimal").stdout.count(",") == 2


def test_remote_server_over_tcp_does_not_forward(w):
    r = xe(w, "-s", "127.77.0.13", "host-list", "--minimal", host="plot2")
    assert r.stderr == (
        "You cannot make regular API calls directly on a supporter. Please pass API calls via the coordinator host.\n"
        "Master IP address: 127.77.0.11\n"
    )
    assert xe(w, "-s", "plot1", "host-list", "--minimal").stdout.count(",") == 2
    assert xe(w, "-s", "127.77.0.13", "host-is-in-emergency-mode").stdout == "false\n"
    w.crash("plot3", 2.0)
    assert xe(w, "-s", "127.77.0.13", "host-list", now=2.0) == XeDone(
        "", "Unable to contact server. Please check server and port settings.\n", 1
    )


def test_connection_refused_and_hung_xapi(w):
    w.toolstack_restart("plot2", 1.0)
    refused = XeDone("", "Error: Connection refused (calling connect )\n", 1)
    assert xe(w, "host-is-in-emergency-mode", now=1.5) == refused
    w.hang_xapi("plot3", 2.0)
    assert isinstance(w.xe("plot3", ["host-is-in-emergency-mode"], 2.0), XeHang)
    assert isinstance(w.xe("plot3", ["help"], 2.0), XeHang)


def test_minimal_drops_messages_but_keeps_lists(w):
    assert xe(w, "host-is-in-emergency-mode", "--minimal").stdout == "\n"
    assert xe(w, "pool-emergency-transition-to-master", "--minimal", host="plot1").stdout == (
        "Host agent is already master. Use '--force' to execute the operation anyway.\n"
    )
    assert xe(w, "pool-sync-database", "--minimal").stdout == "\n"


def test_no_output_commands_print_nothing(w):
    assert xe(w, "pool-sync-database") == XeDone("", "", 0)
    assert xe(w, "host-enable", "host=plot3") == XeDone("", "", 0)


# ---------------------------------------------------------------------------
# emergency-mode errors
# ---------------------------------------------------------------------------


def test_emergency_error_texts_with_params():
    w = World(3, params=SimParams(emergency_retry=5.0))
    w.crash("plot1", 1.0)
    w.toolstack_restart("plot2", 1.0)
    w.advance(3.0)
    r = xe(w, "host-list", now=3.0)
    assert r == XeDone(
        "",
        "The server failed to handle your request, due to an internal error. "
        "The given message may give details useful for debugging the problem.\n"
        'message: Unix.Unix_error(Unix.EHOSTUNREACH, "connect", "")\n',
        1,
    )
    # local-only commands still answer
    assert xe(w, "host-is-in-emergency-mode", now=3.0).stdout == "true\n"
    assert xe(w, "help", "host-list", now=3.0).stdout.startswith("command name            : host-list\n")


def test_hung_master_leaves_a_restarting_slave_still_booting():
    w = World(3)
    w.hang_xapi("plot1", 1.0)
    w.toolstack_restart("plot2", 1.0)
    w.advance(3.0)
    assert xe(w, "host-list", now=3.0).stderr == "The host toolstack is still initialising. Please wait.\n"


# ---------------------------------------------------------------------------
# host-forget's prompt, help
# ---------------------------------------------------------------------------


def test_host_forget_prompt_round_trip(w):
    w.crash("plot3", 1.0)
    ask = w.xe("plot2", ["host-forget", f"uuid={u(w, 'plot3')}"], 2.0)
    assert isinstance(ask, XeAsk) and ask.text.endswith("Type 'yes' to continue\n")
    assert xe(w, "host-forget", f"uuid={u(w, 'plot3')}", now=2.0, reply=" Yes ").rc == 0
    r = xe(w, "host-forget", f"uuid={u(w, 'plot3')}", now=2.0, reply="yes")
    assert r.stderr == f"The uuid you supplied was invalid.\ntype: host\nuuid: {u(w, 'plot3')}\n"


def test_host_forget_aborted_keeps_the_typed_text(w):
    r = xe(w, "host-forget", f"uuid={u(w, 'plot3')}", reply="nope ")
    assert r == XeDone("Aborted (you typed: 'nope ')\n", "", 0)


def test_help_for_one_command_and_unknown(w):
    assert xe(w, "help", "pool-recover-slaves").stdout == (
        "command name            : pool-recover-slaves\n"
        "        reqd params     : \n"
        "        optional params : \n"
        "        description     : Instruct master to try and reset master-address of all slaves currently "
        "running in emergency mode.\n"
        "\n\n"
    )
    assert xe(w, "help", "nope").stdout == "Unknown command 'nope'\n"
    out = xe(w, "help", "--all").stdout
    assert "Full command list\n-----------------\n" in out and "pool-recover-slaves" in out
    assert "Common command list" in xe(w, "help").stdout


def test_forwarded_errors_from_the_master_are_printed_by_the_slave(w):
    assert xe(w, "pool-ha-enable").rc == 0
    r = xe(w, "pool-designate-new-master", f"host-uuid={u(w, 'plot3')}")
    assert r == XeDone("", "The operation could not be performed because HA is enabled on the Pool\n", 1)
