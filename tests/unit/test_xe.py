"""xe output parsing, error classification, validation and quoting (literal outputs: docs/xapi.md)."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolterm.sim.records import field_key, format_minimal, format_record, format_records
from poolterm.xe import (
    ERROR_TEXTS,
    XeParseError,
    address_key,
    parse_error,
    parse_map,
    parse_minimal,
    parse_records,
    parse_set,
    validate_address,
    validate_name,
    validate_param_name,
    validate_uuid,
    wrap_timeout,
    xe_command,
)

HOST_LIST = (
    "uuid ( RO)                : 3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11\n"
    "          name-label ( RW): xcp-ng-01\n"
    "    name-description ( RW): Default install\n"
    "\n"
    "\n"
    "uuid ( RO)                : 8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22\n"
    "          name-label ( RW): xcp-ng-02\n"
    "    name-description ( RW): Default install\n"
    "\n"
    "\n"
)

POOL_LIST = (
    "uuid ( RO)                : b7e3c0d2-1a4f-4e8b-9c6d-2f5a8e1b3c44\n"
    "          name-label ( RW): prod-pool\n"
    "    name-description ( RW): \n"
    "              master ( RO): 3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11\n"
    "          default-SR ( RW): 6d0e4b1a-9f2c-4a7e-8b3d-1c5f9e2a7d55\n"
    "\n"
    "\n"
)

HOST_PARAMS = (
    "uuid ( RO)                 : 3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11\n"
    "              enabled ( RO): true\n"
    "              address ( RO): 10.0.0.11\n"
    "    host-metrics-live ( RO): true\n"
    "\n"
    "\n"
)


# --------------------------------------------------------------------------- records


def test_host_list():
    assert parse_records(HOST_LIST) == [
        {"uuid": "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11", "name-label": "xcp-ng-01",
         "name-description": "Default install"},
        {"uuid": "8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22", "name-label": "xcp-ng-02",
         "name-description": "Default install"},
    ]


def test_pool_list_with_the_trailing_space_of_an_empty_value():
    [pool] = parse_records(POOL_LIST)
    assert pool == {
        "uuid": "b7e3c0d2-1a4f-4e8b-9c6d-2f5a8e1b3c44",
        "name-label": "prod-pool",
        "name-description": "",
        "master": "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11",
        "default-SR": "6d0e4b1a-9f2c-4a7e-8b3d-1c5f9e2a7d55",
    }
    assert list(pool) == ["uuid", "name-label", "name-description", "master", "default-SR"]


def test_params_output():
    assert parse_records(HOST_PARAMS) == [{
        "uuid": "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11", "enabled": "true",
        "address": "10.0.0.11", "host-metrics-live": "true",
    }]


def test_empty_value_whose_trailing_space_was_stripped_in_transit():
    assert parse_records("uuid ( RO)    : u\n    name ( RW):\n") == [{"uuid": "u", "name": ""}]


def test_values_containing_colons_maps_and_markers():
    text = (
        "uuid ( RO)                 : u1\n"
        "         other-config (MRW): agent_start_time: 1700000000.; boot_time: 1699999999.\n"
        "             API-version-vendor-implementation ( RO) [DEPRECATED]: \n"
        "           name-label ( RW): weird ( RW): label\n"
        "     allowed-operations (SRO): evacuate; provision\n"
        "                  url ( RO):  http://h:80/x : y\n"
        "\n\n"
    )
    [record] = parse_records(text)
    assert record == {
        "uuid": "u1",
        "other-config": "agent_start_time: 1700000000.; boot_time: 1699999999.",
        "API-version-vendor-implementation": "",
        "name-label": "weird ( RW): label",
        "allowed-operations": "evacuate; provision",
        "url": " http://h:80/x : y",
    }
    assert parse_map(record["other-config"]) == {"agent_start_time": "1700000000.", "boot_time": "1699999999."}
    assert parse_set(record["allowed-operations"]) == ["evacuate", "provision"]


@pytest.mark.parametrize("access", [" RO", " RW", "MRO", "MRW", "SRO", "SRW"])
def test_every_access_marker(access: str):
    assert parse_records(f"key ({access}): v\n") == [{"key": "v"}]


def test_crlf_line_endings():
    assert parse_records(HOST_LIST.replace("\n", "\r\n")) == parse_records(HOST_LIST)


def test_value_continued_on_the_next_line():
    text = "uuid ( RO)       : u\n  description ( RW): line one\nline two\n\n\n"
    assert parse_records(text) == [{"uuid": "u", "description": "line one\nline two"}]


@pytest.mark.parametrize("text", ["", "\n", "\n\n\n"])
def test_no_records(text: str):
    assert parse_records(text) == []


@pytest.mark.parametrize("text", [
    "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11\n",
    "Error: No matching hosts found\n",
    "uuid (RO): missing space in the marker\n",
    "uuid ( XX): unknown marker\n",
])
def test_text_that_is_not_records(text: str):
    with pytest.raises(XeParseError) as info:
        parse_records(text)
    assert "line 1" in str(info.value) and "\n" not in str(info.value)


LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
FIELD_NAMES = st.builds(lambda head, tail: head + tail, st.sampled_from(LETTERS),
                        st.text(alphabet=LETTERS + "0123456789_-", max_size=24))
ACCESS = st.sampled_from(["RO", "RW", "MRO", "MRW", "SRO", "SRW"])
PRINTABLE = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")), max_size=40)
RECORD = st.lists(st.tuples(FIELD_NAMES, ACCESS, PRINTABLE), min_size=1, max_size=8,
                  unique_by=lambda field: field[0])


@settings(max_examples=150)
@given(st.lists(RECORD, max_size=5))
def test_records_printed_by_the_simulator_parse_back(rows):
    parsed = parse_records(format_records(rows))
    assert parsed == [{name: value for name, _, value in row} for row in rows]
    assert [list(record) for record in parsed] == [[name for name, _, _ in row] for row in rows]


@given(RECORD, st.data())
def test_deprecated_fields_parse_back_without_the_marker(row, data):
    flags = data.draw(st.lists(st.booleans(), min_size=len(row), max_size=len(row)))
    text = format_record([(field_key(n, a, deprecated=d), v) for (n, a, v), d in zip(row, flags)])
    assert parse_records(text) == [{name: value for name, _, value in row}]


def test_simulator_printer_matches_the_literal_pool_list():
    rows = [[("uuid", "RO", "b7e3c0d2-1a4f-4e8b-9c6d-2f5a8e1b3c44"), ("name-label", "RW", "prod-pool"),
             ("name-description", "RW", ""), ("master", "RO", "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11"),
             ("default-SR", "RW", "6d0e4b1a-9f2c-4a7e-8b3d-1c5f9e2a7d55")]]
    assert format_records(rows) == POOL_LIST


# --------------------------------------------------------------------------- --minimal, maps, sets


@pytest.mark.parametrize("text, expected", [
    ("3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11\n", ["3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11"]),
    ("3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11,8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22\n",
     ["3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11", "8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22"]),
    ("10.0.0.11,10.0.0.12\n", ["10.0.0.11", "10.0.0.12"]),
    ("10.0.0.11,10.0.0.12", ["10.0.0.11", "10.0.0.12"]),
    ("10.0.0.11,10.0.0.12\r\n", ["10.0.0.11", "10.0.0.12"]),
    ("", []),
    ("\n", []),
    ("a\\,b,c\n", ["a,b", "c"]),
    ("a,,b\n", ["a", "", "b"]),
    ("a\\b,c\n", ["a\\b", "c"]),
    ("a\\\\b,c\\\\\n", ["a\\b", "c\\"]),
    ("c:\\\\dir\\,x\n", ["c:\\dir,x"]),
    ("trailing space \n", ["trailing space "]),
])
def test_parse_minimal(text: str, expected: list[str]):
    assert parse_minimal(text) == expected


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n"), min_size=1), min_size=1))
def test_minimal_round_trips_the_simulators_printer(items: list[str]):
    assert parse_minimal(format_minimal(items) + "\n") == items


@pytest.mark.parametrize("text, expected", [
    ("", {}),
    ("a: 1", {"a": "1"}),
    ("k1: v1; k2: v2", {"k1": "v1", "k2": "v2"}),
    ("url: http://x:80/; empty: ", {"url": "http://x:80/", "empty": ""}),
    ("lonely", {"lonely": ""}),
])
def test_parse_map(text: str, expected: dict[str, str]):
    assert parse_map(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("", []),
    ("a", ["a"]),
    ("a; b", ["a", "b"]),
    ("10.0.0.1; 10.0.0.2; 10.0.0.3", ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
])
def test_parse_set(text: str, expected: list[str]):
    assert parse_set(text) == expected


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("stderr, code, params", [
    ("The host toolstack is still initialising. Please wait.\n", "HOST_STILL_BOOTING", {}),
    ("The operation could not be performed because HA is enabled on the Pool\n", "HA_IS_ENABLED", {}),
    ("This operation cannot be completed because the server is still live.\n"
     "host: 8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22 (xcp-ng-02)\n",
     "HOST_IS_LIVE", {"host": "8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22 (xcp-ng-02)"}),
    ("This operation cannot be completed as the host is still live.\nhost: u (n)\n", "HOST_IS_LIVE", {"host": "u (n)"}),
    ("You cannot make regular API calls directly on a supporter. Please pass API calls via the coordinator host.\n"
     "Master IP address: 10.0.0.11\n", "HOST_IS_SLAVE", {"Master IP address": "10.0.0.11"}),
    ("You cannot make regular API calls directly on a slave. Please pass API calls via the master host.\n",
     "HOST_IS_SLAVE", {}),
    ("The host is its own supporter. Please use pool-emergency-transition-to-master or "
     "pool-emergency-reset-master.\n", "HOST_ITS_OWN_SLAVE", {}),
    ("The host is its own slave. Please use pool-emergency-transition-to-master or "
     "pool-emergency-reset-master.\n", "HOST_ITS_OWN_SLAVE", {}),
    ("The coordinator says the server is not known to it. Is the server in the coordinator's database and "
     "pointing to the correct coordinator? Are all servers using the same pool secret?\nhost: u1\n",
     "HOST_UNKNOWN_TO_MASTER", {"host": "u1"}),
    ("The master says the host is not known to it. Perhaps the Host was deleted from the master's database? "
     "Perhaps the slave is pointing to the wrong master?\n", "HOST_UNKNOWN_TO_MASTER", {}),
    ("The coordinator reports that it cannot talk back to the supporter on the supplied management IP "
     "address.\nip: 10.0.0.12\n", "HOST_MASTER_CANNOT_TALK_BACK", {"ip": "10.0.0.12"}),
    ("The server failed to acquire an IP address on its management interface and therefore cannot "
     "contact the coordinator.\n", "HOST_HAS_NO_MANAGEMENT_IP", {}),
    ("This server failed in the middle of an automatic failover operation and needs to retry the "
     "failover action.\n", "HOST_BROKEN", {}),
    ("This host failed in the middle of an automatic failover operation and needs to retry the "
     "failover action\n", "HOST_BROKEN", {}),
    ("Cannot perform operation as the host is running in emergency mode.\n", "HOST_IN_EMERGENCY_MODE", {}),
    ("This server cannot be forgotten because there are user VMs still running.\nhost: u\n",
     "HOST_HAS_RESIDENT_VMS", {"host": "u"}),
    ("The pool coordinator host cannot be removed.\n", "HOST_CANNOT_DESTROY_SELF", {}),
    ("The pool master host cannot be removed.\n", "HOST_CANNOT_DESTROY_SELF", {}),
    ("You attempted an operation which involves a host which could not be contacted.\nhost: u\n",
     "HOST_OFFLINE", {"host": "u"}),
    ("Cannot forward messages because the server cannot be contacted. The server may be switched off or "
     "there may be network connectivity problems.\nhost: u\n", "CANNOT_CONTACT_HOST", {"host": "u"}),
    ("This pool is not in emergency mode.\n", "POOL_NOT_IN_EMERGENCY_MODE", {}),
    ("The server failed to handle your request, due to an internal error. The given message may give "
     "details useful for debugging the problem.\nmessage: Failure: master unreachable\n",
     "INTERNAL_ERROR", {"message": "Failure: master unreachable"}),
    ("This operation cannot be performed because the host is not disabled. Please disable the host and "
     "then try again.\n", "HOST_NOT_DISABLED", {}),
    # client-side failures
    ("Error: Connection refused (calling connect )\n", "XAPI_NOT_RUNNING", {"reason": "Connection refused"}),
    ("Error: No such file or directory (calling connect /var/lib/xcp/xapi)\n", "XAPI_NOT_RUNNING",
     {"reason": "No such file or directory"}),
    ("Lost connection to the server.\n", "LOST_CONNECTION", {}),
    ("Unable to contact server. Please check server and port settings.\n", "UNABLE_TO_CONTACT_SERVER", {}),
    ("Failed to contact a running management agent.\n", "NO_MANAGEMENT_AGENT", {}),
    ("Error: No matching hosts found\n", "NO_MATCHING_HOSTS", {}),
    ("Error: Multiple matching hosts found. --multiple required to complete the operation\n",
     "MULTIPLE_MATCHING_HOSTS", {}),
    ("Error: This operation is dangerous and may cause data loss. This operation must be forced "
     "(use --force).\n", "FORCE_REQUIRED", {}),
    ("Error: This operation is extremely dangerous and may cause data loss. This operation must be "
     "forced (use --force).\n", "FORCE_REQUIRED", {}),
    # What xe really prints for a missing --force (`fail_without_force` is a failwith, docs/xapi.md):
    # an internal error whose message carries the text.
    ("The server failed to handle your request, due to an internal error. The given message may give "
     "details useful for debugging the problem.\nmessage: Failure: This operation is dangerous and may cause "
     "data loss. This operation must be forced (use --force).\n",
     "INTERNAL_ERROR", {"message": "Failure: This operation is dangerous and may cause data loss. This operation "
                                  "must be forced (use --force)."}),
    ("Host agent is already master. Use '--force' to execute the operation anyway.\n", "ALREADY_MASTER", {}),
    ("Error: Key MAINTENANCE_MODE not found in map\n", "KEY_NOT_FOUND", {"key": "MAINTENANCE_MODE"}),
    ("Authentication failed\n", "AUTHENTICATION_FAILED", {}),
])
def test_known_error_texts(stderr: str, code: str, params: dict[str, str]):
    failure = parse_error(stderr)
    assert (failure.code, failure.params) == (code, params)
    assert failure.known
    assert failure.text == stderr.strip()


def test_every_table_entry_is_recognised():
    for code, text in ERROR_TEXTS:
        assert parse_error(text + "\n").code == code, text


def test_matching_tolerates_spacing_case_and_the_final_stop():
    assert parse_error("the host toolstack is still  initialising. please wait").code == "HOST_STILL_BOOTING"
    assert parse_error("\n\n  Lost connection to the server.  \r\n").code == "LOST_CONNECTION"


def test_unknown_text_is_its_own_code():
    failure = parse_error("bash: xe: command not found\n")
    assert failure.code == "bash: xe: command not found"
    assert not failure.known and failure.params == {}


def test_empty_stderr():
    failure = parse_error("")
    assert (failure.code, failure.params, failure.known) == ("", {}, False)


# --------------------------------------------------------------------------- validation

INJECTIONS = [
    "a;reboot", "a && reboot", "$(reboot)", "`reboot`", "a\nreboot", "a'b", 'a"b', "-rf", "--force",
    "a b", "a|b", "a>b", "a\\b", "", " ", "a\x00b", "${IFS}", "*", "a/../b", "\u2028",
]


@pytest.mark.parametrize("value", ["3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11", "00000000-0000-0000-0000-000000000000"])
def test_valid_uuids(value: str):
    assert validate_uuid(value) == value


@pytest.mark.parametrize("value", INJECTIONS + [
    "3F1C2A7E-5B0D-4C1E-9A57-0E6F2B8D4C11", "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c1", "3f1c2a7e5b0d4c1e9a570e6f2b8d4c11",
    "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11\n", "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11;id", None, 5,
])
def test_invalid_uuids(value):
    with pytest.raises(ValueError) as info:
        validate_uuid(value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["10.0.0.11", "127.77.0.11", "::1", "2001:db8::1", "plot1",
                                   "xcp-ng-01.example.net", "a", "host.example.", "x" * 63 + ".example"])
def test_valid_addresses(value: str):
    assert validate_address(value) == value


@pytest.mark.parametrize("value", INJECTIONS + [
    "10.0.0.256", "10.0.0", "1.2.3.4.5", "010.0.0.1", "fe80::1%eth0", "fe80::1%;reboot", "-host", "host-",
    "ho_st", "x" * 64 + ".example", ".", "a..b", "a" * 254, "[::1]", "10.0.0.1:22", None,
])
def test_invalid_addresses(value):
    with pytest.raises(ValueError) as info:
        validate_address(value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["plot1", "P", "9", "xcp-ng_01.lab", "a" * 63])
def test_valid_names(value: str):
    assert validate_name(value) == value


@pytest.mark.parametrize("value", INJECTIONS + ["a" * 64, ".hidden", "_x", "..", "plöt", "plot1\n"])
def test_invalid_names(value: str):
    with pytest.raises(ValueError) as info:
        validate_name(value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["uuid", "param-name", "host-uuid", "master-address", "a1"])
def test_valid_param_names(value: str):
    assert validate_param_name(value) == value


@pytest.mark.parametrize("value", INJECTIONS + ["Uuid", "1a", "param_name", "-x", "a=b", "other-config:k"])
def test_invalid_param_names(value: str):
    with pytest.raises(ValueError):
        validate_param_name(value)


def test_address_key_compares_addresses_by_value():
    assert address_key("2001:0db8:0::1") == address_key("2001:db8::1")
    assert address_key("Plot1.Example.") == address_key("plot1.example")
    assert address_key("10.0.0.1") != address_key("10.0.0.2")


# --------------------------------------------------------------------------- command lines


@pytest.mark.parametrize("args, kwargs, expected", [
    (("host-list",), {}, "xe host-list"),
    (("pool-list", "--minimal"), {"params": "master"}, "xe pool-list params=master --minimal"),
    (("host-list", "--minimal"), {"params": "uuid,name-label,address"},
     "xe host-list params=uuid,name-label,address --minimal"),
    (("host-param-get",), {"uuid": "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11", "param_name": "address"},
     "xe host-param-get uuid=3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11 param-name=address"),
    (("pool-emergency-reset-master",), {"master_address": "10.0.0.12"},
     "xe pool-emergency-reset-master master-address=10.0.0.12"),
    (("host-forget", "--force"), {"uuid": "u"}, "xe host-forget uuid=u --force"),
    (("host-list",), {"name_label": "a b"}, "xe host-list name-label='a b'"),
    (("host-list",), {"name_label": "$(reboot)"}, "xe host-list name-label='$(reboot)'"),
    (("host-list",), {"name_label": "it's"}, "xe host-list name-label='it'\"'\"'s'"),
    (("host-list",), {"name_label": ""}, "xe host-list name-label=''"),
])
def test_xe_command(args, kwargs, expected: str):
    assert xe_command(*args, **kwargs) == expected


@pytest.mark.parametrize("command", ["host list", "host-list;reboot", "-host-list", "Host-list", "", "$(x)",
                                     "host-list\n", "1host"])
def test_xe_command_refuses_bad_command_names(command: str):
    with pytest.raises(ValueError):
        xe_command(command)


@pytest.mark.parametrize("flag", ["-f", "force", "--", "--force;reboot", "--Force", "--force ", "---x"])
def test_xe_command_refuses_bad_flags(flag: str):
    with pytest.raises(ValueError):
        xe_command("host-forget", flag, uuid="u")


def test_xe_command_refuses_non_string_values_and_nul():
    with pytest.raises(ValueError):
        xe_command("host-list", enabled=True)
    with pytest.raises(ValueError):
        xe_command("host-list", name_label="a\x00b")
    with pytest.raises(ValueError):
        xe_command("host-list", **{"bad key": "x"})


@pytest.mark.parametrize("value", [v for v in INJECTIONS if "\x00" not in v])
def test_a_real_shell_sees_each_hostile_value_as_one_argument(value: str):
    # xe is replaced by a shell function that prints its argv, NUL-separated.
    line = xe_command("host-list", "--minimal", name_label=value)
    script = 'xe() { for a in "$@"; do printf "%s\\0" "$a"; done; }; ' + line
    out = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    assert out.split(b"\0")[:-1] == [b"host-list", f"name-label={value}".encode(), b"--minimal"]


PARAM_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,8}(_[a-z0-9]{1,5}){0,2}", fullmatch=True)
VALUES = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))


@settings(max_examples=150)
@given(st.dictionaries(PARAM_NAMES, VALUES, max_size=5),
       st.lists(st.from_regex(r"--[a-z][a-z0-9-]{0,10}", fullmatch=True), max_size=3))
def test_shlex_split_gives_back_exactly_the_intended_argv(params: dict[str, str], flags: list[str]):
    line = xe_command("host-list", *flags, **params)
    expected = ["xe", "host-list"] + [f"{k.replace('_', '-')}={v}" for k, v in params.items()] + flags
    assert shlex.split(line) == expected


@pytest.mark.parametrize("args, expected", [
    (("xe host-list", 5), "timeout -k 2 5 xe host-list"),
    (("xe host-list", 5, 1), "timeout -k 1 5 xe host-list"),
    (("xe pool-list params=master --minimal", 2.5), "timeout -k 2 2.5 xe pool-list params=master --minimal"),
    (("x", 0.1, 0.25), "timeout -k 0.25 0.1 x"),
    (("x", 0.0001), "timeout -k 2 0.001 x"),
])
def test_wrap_timeout(args, expected: str):
    assert wrap_timeout(*args) == expected


@pytest.mark.parametrize("args", [("", 5), ("  ", 5), ("x", 0), ("x", -1), ("x", float("inf")),
                                  ("x", float("nan")), ("x", 5, 0), ("x", "5"), ("x", True)])
def test_wrap_timeout_refuses(args):
    with pytest.raises(ValueError):
        wrap_timeout(*args)


def test_wrapped_command_really_times_out():
    line = wrap_timeout("sleep 5", 0.2, kill_after=0.5)
    result = subprocess.run(["sh", "-c", line], capture_output=True)
    assert result.returncode == 124
