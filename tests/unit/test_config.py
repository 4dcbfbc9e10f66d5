"""hosts.yaml loading: resolution, FILE:LINE: KEY messages for every mistake, and no tracebacks."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from poolterm.config.inventory import (
    ConfigError,
    Inventory,
    JumpSpec,
    find_inventory,
    load_inventory,
    parse_jump,
)
from tests.helpers.mutation import mutate, mutations

REPO_ROOT = Path(__file__).resolve().parents[2]

VALID = textwrap.dedent("""\
    ssh:
      user: admin
      port: 2222
    probe:
      interval: 1.5
      timeout: 4
    pools:
      - name: lab
        hosts:
          - name: plot1
            address: 192.0.2.11
          - name: plot2
            address: 192.0.2.12
            port: 2201
            ssh_host: plot2-ipmi.example.net
      - name: prod
        hosts:
          - name: xcp1
            address: "2001:db8::1"
            user: ops
    """)

MESSAGE = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+): (?P<key>[^\s:]+): (?P<message>[^\n]+)$")


@pytest.fixture(autouse=True)
def fake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME without ~/.ssh, so results never depend on the machine running the tests."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home


def write(directory: Path, text: str, name: str = "hosts.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> Inventory:
    return load_inventory(write(tmp_path, textwrap.dedent(text)))


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    return info.value


# --------------------------------------------------------------------------- resolution


def test_valid_file_resolves_every_host_against_the_defaults(tmp_path: Path, fake_home: Path):
    inv = load_text(tmp_path, VALID)
    assert [p.name for p in inv.pools] == ["lab", "prod"]
    assert [h.name for h in inv.hosts()] == ["plot1", "plot2", "xcp1"]
    plot1, plot2, xcp1 = inv.hosts()
    assert (plot1.pool, plot1.address, plot1.ssh_host, plot1.port, plot1.user) == (
        "lab", "192.0.2.11", "192.0.2.11", 2222, "admin")
    assert (plot2.ssh_host, plot2.port, plot2.user) == ("plot2-ipmi.example.net", 2201, "admin")
    assert (xcp1.pool, xcp1.address, xcp1.port, xcp1.user) == ("prod", "2001:db8::1", 2222, "ops")
    assert inv.probe.interval == 1.5 and inv.probe.timeout == 4.0
    assert plot1.known_hosts == fake_home / ".ssh" / "known_hosts"
    assert plot1.identity is None and plot1.jump is None


def test_defaults_when_ssh_and_probe_sections_are_absent(tmp_path: Path, fake_home: Path):
    inv = load_text(tmp_path, """\
        pools:
          - name: lab
            hosts: [{name: a, address: 10.0.0.1}]
        """)
    host = inv.host("a")
    assert (host.user, host.port, host.identity, host.jump) == ("root", 22, None, None)
    assert host.known_hosts == fake_home / ".ssh" / "known_hosts"
    assert (inv.probe.interval, inv.probe.timeout, inv.probe.master_budget) == (2.0, 5.0, 60)
    assert (inv.ssh.connect_timeout, inv.ssh.keepalive_interval, inv.ssh.keepalive_count_max) == (5.0, 3.0, 3)
    assert inv.ssh.config is None  # no ~/.ssh/config in this HOME


def test_null_sections_and_per_host_nulls_mean_defaults(tmp_path: Path):
    inv = load_text(tmp_path, """\
        ssh:
        probe:
        pools:
          - name: lab
            hosts:
              - {name: a, address: 10.0.0.1, port: null, user: null, ssh_host: null, known_hosts: null}
        """)
    host = inv.host("a")
    assert (host.port, host.user, host.ssh_host) == (22, "root", "10.0.0.1")
    assert host.known_hosts == inv.ssh.known_hosts
    assert inv.probe.interval == 2.0


def test_ssh_config_defaults_to_the_users_file_when_it_exists(tmp_path: Path, fake_home: Path):
    (fake_home / ".ssh").mkdir()
    (fake_home / ".ssh" / "config").write_text("Host *\n")
    body = "pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]\n"
    assert load_text(tmp_path, body).ssh.config == fake_home / ".ssh" / "config"
    assert load_text(tmp_path, "ssh: {config: null}\n" + body).ssh.config is None


def test_relative_paths_are_relative_to_the_file_not_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    conf = tmp_path / "conf"
    (conf / "keys").mkdir(parents=True)
    (conf / "keys" / "id_ed25519").write_text("key")
    (conf / "kh").write_text("")
    (conf / "kh_prod").write_text("")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(conf, textwrap.dedent("""\
        ssh:
          identity: keys/id_ed25519
          known_hosts: kh
        pools:
          - name: lab
            hosts:
              - {name: a, address: 10.0.0.1}
              - {name: b, address: 10.0.0.2, known_hosts: ./kh_prod, identity: null}
        """))
    inv = load_inventory(path)
    a, b = inv.hosts()
    assert a.identity == conf / "keys" / "id_ed25519"
    assert a.known_hosts == conf / "kh"
    assert b.known_hosts == conf / "kh_prod"
    assert b.identity == conf / "keys" / "id_ed25519"  # per-host null = the ssh default


def test_tilde_is_expanded(tmp_path: Path, fake_home: Path):
    (fake_home / ".ssh").mkdir()
    (fake_home / ".ssh" / "id_lab").write_text("key")
    inv = load_text(tmp_path, """\
        ssh: {identity: ~/.ssh/id_lab}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """)
    assert inv.host("a").identity == fake_home / ".ssh" / "id_lab"


def test_a_missing_default_known_hosts_is_not_an_error_at_load(tmp_path: Path, fake_home: Path):
    inv = load_text(tmp_path, "pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]\n")
    assert not inv.host("a").known_hosts.exists()


def test_jump_is_parsed_and_applies_to_every_host(tmp_path: Path):
    inv = load_text(tmp_path, """\
        ssh: {jump: "ops@bastion.example.net:2022"}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}, {name: b, address: 10.0.0.2}]}]
        """)
    expected = JumpSpec(user="ops", host="bastion.example.net", port=2022)
    assert inv.ssh.jump == expected
    assert [h.jump for h in inv.hosts()] == [expected, expected]


@pytest.mark.parametrize("text, expected, rendered", [
    ("bastion", JumpSpec(None, "bastion", None), "bastion"),
    ("ops@bastion", JumpSpec("ops", "bastion", None), "ops@bastion"),
    ("bastion:2222", JumpSpec(None, "bastion", 2222), "bastion:2222"),
    ("ops@10.1.2.3:22", JumpSpec("ops", "10.1.2.3", 22), "ops@10.1.2.3:22"),
    ("ops@[2001:db8::5]:2200", JumpSpec("ops", "2001:db8::5", 2200), "ops@[2001:db8::5]:2200"),
    ("2001:db8::5", JumpSpec(None, "2001:db8::5", None), "[2001:db8::5]"),
])
def test_parse_jump(text: str, expected: JumpSpec, rendered: str):
    assert parse_jump(text) == expected
    assert str(expected) == rendered


@pytest.mark.parametrize("text", [
    "", "@host", "a@b@c", "ops@", "host:", "host:0", "host:65536", "host:22x", "host:²",
    "[2001:db8::5", "[nothost]:22", "bad user@host", "host;id", "$(reboot)", "ops@host:22:33",
])
def test_parse_jump_rejects(text: str):
    with pytest.raises(ValueError) as info:
        parse_jump(text)
    assert "\n" not in str(info.value)


def test_inventory_lookups(tmp_path: Path):
    inv = load_text(tmp_path, VALID)
    assert inv.pool("prod").hosts == (inv.host("xcp1"),)
    assert inv.by_address("192.0.2.12").name == "plot2"
    assert inv.by_address("2001:0db8:0::1").name == "xcp1"  # IPv6 compared by value
    assert inv.by_address("192.0.2.99") is None
    with pytest.raises(KeyError):
        inv.pool("nope")
    with pytest.raises(KeyError):
        inv.host("nope")


def test_the_example_hosts_yaml_loads_on_a_fresh_machine():
    inv = load_inventory(REPO_ROOT / "hosts.yaml")
    assert [p.name for p in inv.pools] == ["lab"]
    assert [h.name for h in inv.hosts()] == [f"plot{i}" for i in range(1, 9)]
    assert [h.address for h in inv.hosts()] == [f"192.0.2.{i}" for i in range(11, 19)]
    assert all(h.identity is None for h in inv.hosts())
    header = (REPO_ROOT / "hosts.yaml").read_text().splitlines()[0]
    assert header.startswith("#")


# --------------------------------------------------------------------------- errors


ERRORS = [
    # (id, yaml, line, key, fragment of message)
    ("unknown key suggests the nearest", """\
        pools:
          - name: lab
            hosts:
              - name: a
                adress: 10.0.0.1
        """, 5, "pools[0].hosts[0].adress", "did you mean 'address'?"),
    ("unknown top key", """\
        pool:
          - name: lab
        """, 1, "pool", "did you mean 'pools'?"),
    ("unknown key without a near match lists the valid ones", """\
        ssh: {colour: blue}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "ssh.colour", "expected one of: user, port"),
    ("port not a number", """\
        pools:
          - name: lab
            hosts:
              - name: a
                address: 10.0.0.1
              - name: b
                address: 10.0.0.2
                port: twenty-two
        """, 8, "pools[0].hosts[1].port", "expected a whole number 1..65535"),
    ("port zero", """\
        ssh:
          port: 0
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 2, "ssh.port", "between 1 and 65535"),
    ("port too big", """\
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1, port: 65536}]}]
        """, 1, "pools[0].hosts[0].port", "between 1 and 65535"),
    ("port as a quoted string", """\
        ssh: {port: "22"}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "ssh.port", "expected a whole number"),
    ("port as a boolean", """\
        ssh: {port: yes}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "ssh.port", "expected a whole number"),
    ("missing address", """\
        pools:
          - name: lab
            hosts:
              - name: a
        """, 4, "pools[0].hosts[0].address", "missing"),
    ("missing host name", """\
        pools:
          - name: lab
            hosts:
              - address: 10.0.0.1
        """, 4, "pools[0].hosts[0].name", "missing"),
    ("missing pool name", """\
        pools:
          - hosts: [{name: a, address: 10.0.0.1}]
        """, 2, "pools[0].name", "missing"),
    ("duplicate host name across pools names the first line", """\
        pools:
          - name: lab
            hosts:
              - name: plot1
                address: 10.0.0.1
          - name: prod
            hosts:
              - name: plot1
                address: 10.0.0.2
        """, 8, "pools[1].hosts[0].name", "duplicate host name 'plot1' (first used on line 4)"),
    ("duplicate address", """\
        pools:
          - name: lab
            hosts:
              - {name: a, address: 10.0.0.1}
              - {name: b, address: 10.0.0.1}
        """, 5, "pools[0].hosts[1].address", "duplicate address '10.0.0.1' (first used on line 4)"),
    ("duplicate IPv6 address written differently", """\
        pools:
          - name: lab
            hosts:
              - {name: a, address: "2001:db8::1"}
              - {name: b, address: "2001:0db8:0:0::1"}
        """, 5, "pools[0].hosts[1].address", "first used on line 4"),
    ("duplicate host name in different case is allowed only if different", """\
        pools:
          - name: lab
            hosts:
              - {name: a, address: host-a.example}
              - {name: b, address: HOST-A.example}
        """, 5, "pools[0].hosts[1].address", "duplicate address"),
    ("duplicate pool name", """\
        pools:
          - {name: lab, hosts: [{name: a, address: 10.0.0.1}]}
          - {name: lab, hosts: [{name: b, address: 10.0.0.2}]}
        """, 3, "pools[1].name", "duplicate pool name 'lab' (first used on line 2)"),
    ("repeated key in one mapping", """\
        pools:
          - name: lab
            hosts:
              - name: a
                address: 10.0.0.1
                address: 10.0.0.2
        """, 6, "pools[0].hosts[0].address", "repeated key (first given on line 5)"),
    ("zero interval", """\
        probe:
          interval: 0
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 2, "probe.interval", "positive"),
    ("negative timeout", """\
        probe:
          timeout: -1
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 2, "probe.timeout", "positive"),
    ("infinite timeout", """\
        probe: {timeout: .inf}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "probe.timeout", "positive"),
    ("master budget below the master's own check", """\
        probe: {interval: 2, master_budget: 20}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "probe.master_budget", "must be at least 30: the master's own check every 2 s costs 30 a minute"),
    ("master budget as a fraction", """\
        probe: {master_budget: 60.5}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "probe.master_budget", "expected a whole number"),
    ("interval as text", """\
        probe: {interval: fast}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "probe.interval", "expected a number of seconds"),
    ("zero keepalive", """\
        ssh: {keepalive_interval: 0}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "ssh.keepalive_interval", "positive"),
    ("bad jump", """\
        ssh:
          jump: "ops@bastion:99999"
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 2, "ssh.jump", "bad port"),
    ("jump that is a list", """\
        ssh:
          jump: [a, b]
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 2, "ssh.jump", "expected a single value"),
    ("identity file missing", """\
        ssh:
          identity: keys/nope
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 2, "ssh.identity", "file not found"),
    ("per-host known_hosts missing", """\
        pools:
          - name: lab
            hosts:
              - name: a
                address: 10.0.0.1
                known_hosts: /nonexistent/known_hosts
        """, 6, "pools[0].hosts[0].known_hosts", "file not found: /nonexistent/known_hosts"),
    ("identity is a directory", """\
        ssh: {identity: .}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "ssh.identity", "not a regular file"),
    ("named ssh config missing", """\
        ssh: {config: my_ssh_config}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "ssh.config", "file not found"),
    ("known_hosts null", """\
        ssh:
          known_hosts: null
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 2, "ssh.known_hosts", "host keys are always verified"),
    ("no pools", """\
        ssh: {user: root}
        """, 1, "pools", "missing"),
    ("empty pools list", """\
        pools: []
        """, 1, "pools", "no pools"),
    ("pools is a mapping", """\
        pools:
          lab: {}
        """, 2, "pools", "expected a list, found a mapping"),
    ("empty pool", """\
        pools:
          - name: lab
            hosts: []
        """, 3, "pools[0].hosts", "pool 'lab' is empty"),
    ("pool without hosts key", """\
        pools:
          - name: lab
        """, 2, "pools[0].hosts", "lists no hosts"),
    ("host is a plain string", """\
        pools:
          - name: lab
            hosts:
              - plot1
        """, 4, "pools[0].hosts[0]", "expected a mapping, found 'plot1'"),
    ("name with a space", """\
        pools: [{name: lab, hosts: [{name: "plot 1", address: 10.0.0.1}]}]
        """, 1, "pools[0].hosts[0].name", "not a valid name"),
    ("name with shell syntax", """\
        pools:
          - name: lab
            hosts:
              - name: "a;reboot"
                address: 10.0.0.1
        """, 4, "pools[0].hosts[0].name", "not a valid name"),
    ("name starting with a dash", """\
        pools: [{name: lab, hosts: [{name: "-rf", address: 10.0.0.1}]}]
        """, 1, "pools[0].hosts[0].name", "not a valid name"),
    ("name too long", f"""\
        pools: [{{name: lab, hosts: [{{name: {'a' * 64}, address: 10.0.0.1}}]}}]
        """, 1, "pools[0].hosts[0].name", "at most 63"),
    ("empty name", """\
        pools: [{name: lab, hosts: [{name: , address: 10.0.0.1}]}]
        """, 1, "pools[0].hosts[0].name", "must not be empty"),
    ("bad pool name", """\
        pools: [{name: "$(id)", hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "pools[0].name", "not a valid name"),
    ("address out of range", """\
        pools: [{name: lab, hosts: [{name: a, address: 192.0.2.300}]}]
        """, 1, "pools[0].hosts[0].address", "not an IP address or host name"),
    ("address with a zone id", """\
        pools: [{name: lab, hosts: [{name: a, address: "fe80::1%eth0"}]}]
        """, 1, "pools[0].hosts[0].address", "not an IP address or host name"),
    ("address with a command", """\
        pools: [{name: lab, hosts: [{name: a, address: "10.0.0.1;reboot"}]}]
        """, 1, "pools[0].hosts[0].address", "not an IP address or host name"),
    ("ssh_host with backticks", """\
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1, ssh_host: "`id`"}]}]
        """, 1, "pools[0].hosts[0].ssh_host", "not an IP address or host name"),
    ("bad user", """\
        ssh: {user: "root; id"}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "ssh.user", "not a valid user name"),
    ("custom tag", """\
        pools: [{name: lab, hosts: [{name: !shell a, address: 10.0.0.1}]}]
        """, 1, "pools[0].hosts[0].name", "not supported"),
    ("ssh is a list", """\
        ssh: [root]
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """, 1, "ssh", "expected a mapping, found a list"),
]


@pytest.mark.parametrize("text, line, key, fragment", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_each_mistake_names_file_line_and_key(tmp_path: Path, text: str, line: int, key: str, fragment: str):
    err = error_of(tmp_path, text)
    match = MESSAGE.match(str(err))
    assert match, str(err)
    assert match["file"] == str(tmp_path / "hosts.yaml")
    assert (int(match["line"]), match["key"]) == (line, key), str(err)
    assert fragment in match["message"], str(err)
    assert (err.line, err.key) == (line, key)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a mode-000 file")
def test_unreadable_identity(tmp_path: Path):
    key = tmp_path / "id"
    key.write_text("secret")
    key.chmod(0)
    err = error_of(tmp_path, """\
        ssh: {identity: id}
        pools: [{name: lab, hosts: [{name: a, address: 10.0.0.1}]}]
        """)
    assert "not readable" in str(err)


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path):
    err = error_of(tmp_path, """\
        pools:
          - name: lab
            hosts: [a, b
        """)
    assert re.fullmatch(re.escape(str(tmp_path / "hosts.yaml")) + r":\d+:\d+: YAML syntax error: .+", str(err))
    assert err.line is not None and err.line >= 3


def test_tab_indentation_is_a_syntax_error_at_its_line(tmp_path: Path):
    path = write(tmp_path, "pools:\n\t- name: lab\n")
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert str(info.value).startswith(f"{path}:2:")


@pytest.mark.parametrize("content, fragment", [
    ("", "file is empty"),
    ("# only a comment\n", "file is empty"),
    ("- a\n- b\n", "expected a mapping, found a list"),
    ("just words\n", "expected a mapping, found 'just words'"),
    ("a: 1\n---\nb: 2\n", "YAML syntax error"),
])
def test_file_that_is_not_a_mapping(tmp_path: Path, content: str, fragment: str):
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert str(info.value).startswith(f"{path}:")
    assert fragment in str(info.value)


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_inventory(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"


def test_directory_instead_of_file(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_inventory(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: cannot read:")


def test_not_utf8(tmp_path: Path):
    path = tmp_path / "hosts.yaml"
    path.write_bytes(b"pools:\n  - name: l\xe9b\n")
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}:2: not UTF-8 text (byte 0xe9)"


def test_control_characters_in_the_file_never_break_the_line(tmp_path: Path):
    err = error_of(tmp_path, 'pools: [{name: lab, hosts: [{name: "a\\nb\\u2028c", address: 10.0.0.1}]}]\n')
    assert "\n" not in str(err) and "\u2028" not in str(err)
    assert "not a valid name" in str(err)


# --------------------------------------------------------------------------- find_inventory


def test_find_inventory_prefers_explicit_then_cwd_then_config_dir(tmp_path: Path):
    cwd, conf = tmp_path / "cwd", tmp_path / "conf"
    cwd.mkdir()
    conf.mkdir()
    assert find_inventory("some/where.yaml", cwd=cwd, config_dir=conf) == Path("some/where.yaml")
    write(conf, "x")
    assert find_inventory(None, cwd=cwd, config_dir=conf) == conf / "hosts.yaml"
    write(cwd, "x")
    assert find_inventory(None, cwd=cwd, config_dir=conf) == cwd / "hosts.yaml"


def test_find_inventory_expands_tilde(fake_home: Path):
    assert find_inventory("~/pools.yaml") == fake_home / "pools.yaml"


def test_find_inventory_uses_the_platform_config_dir(tmp_path: Path, fake_home: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    target = fake_home / ".config" / "poolterm"
    target.mkdir(parents=True)
    write(target, "x")
    assert find_inventory(None) == target / "hosts.yaml"


def test_find_inventory_says_where_it_looked(tmp_path: Path):
    cwd, conf = tmp_path / "cwd", tmp_path / "conf"
    with pytest.raises(ConfigError) as info:
        find_inventory(None, cwd=cwd, config_dir=conf)
    message = str(info.value)
    assert str(cwd / "hosts.yaml") in message and str(conf / "hosts.yaml") in message
    assert "\n" not in message


# --------------------------------------------------------------------------- never a traceback

YAML_PIECES = st.sampled_from([
    "ssh", "probe", "pools", "name", "hosts", "address", "port", "user", "jump", "identity",
    "known_hosts", "ssh_host", "interval", "timeout", "config", ":", ": ", "- ", "-", "  ", "    ",
    "\n", "\t", "[", "]", "{", "}", ",", "'", '"', "&a ", "*a", "!!int ", "!!str ", "!x ", "? ",
    "|", ">", "#", "~", "null", "0", "-1", "65536", "1.5", ".inf", ".nan", "0x1F", "1:20",
    "yes", "192.0.2.1", "::1", "a@b:22", "plot1", "%", "@", "`", "---", "...", "<<: ", "\x00", "\u2028",
])


def assert_loads_or_fails_cleanly(path: Path) -> None:
    try:
        load_inventory(path)
    except ConfigError as err:
        message = str(err)
        assert "\n" not in message and "\r" not in message
        assert message.startswith(str(path)), message


QUIET = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@QUIET
@given(st.lists(YAML_PIECES, max_size=60).map("".join))
@example("pools: [{name: a, hosts: [{name: b, address: c, port: !!int ''}]}]")
@example("probe: {interval: !!float ''}\npools: []")
@example("&a [*a]")
@example("[" * 2000)
def test_yamlish_text_never_raises_anything_but_config_error(tmp_path: Path, text: str):
    path = tmp_path / "hosts.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_loads_or_fails_cleanly(path)


@QUIET
@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_config_error(tmp_path: Path, data: bytes):
    path = tmp_path / "hosts.yaml"
    path.write_bytes(data)
    assert_loads_or_fails_cleanly(path)


MUTATIONS = mutations(YAML_PIECES, lines=100, chars=2000)


@QUIET
@given(st.lists(MUTATIONS, min_size=1, max_size=4))
def test_mutations_of_a_valid_file_load_or_fail_with_one_line(tmp_path: Path, mutations: list):
    text = VALID
    for mutation in mutations:
        text = mutate(text, mutation)
    path = tmp_path / "hosts.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_loads_or_fails_cleanly(path)
