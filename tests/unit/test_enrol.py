"""The inventory writer behind `poolterm discover`: a new hosts.yaml, or one more pool inserted into an
existing one with every other byte kept, checked by the real loader before it replaces the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from poolterm.config import enrol
from poolterm.config.enrol import Enrolment, Member
from poolterm.config.inventory import load_inventory, parse_jump
from poolterm.errors import ConfigError

EXISTING = """\
# The team's inventory: prod first.
ssh:
  user: root
  identity: keys/id_ed25519   # relative to this file
  known_hosts: keys/known_hosts

pools:
  # prod: the billing pool
  - name: prod
    hosts:
      - {name: prod1, address: 192.0.2.11}   # the master, usually
      - name: prod2
        address: 192.0.2.12
      # - {name: prod3, address: 192.0.2.13}   (waiting for a disk)

# Probing every 2 s is fine for two pools.
probe:
  interval: 2
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    for name in ("id_ed25519", "known_hosts"):
        (tmp_path / "keys" / name).write_text("")
    return tmp_path


def lab(**settings) -> Enrolment:
    hosts = (Member("plot1", "198.51.100.11"), Member("plot2", "198.51.100.12"))
    return Enrolment("lab", hosts, **settings)


def team_settings(folder: Path, **changes) -> dict:
    return {"identity": folder / "keys" / "id_ed25519", "known_hosts": folder / "keys" / "known_hosts", **changes}


def inserted(old: str, new: str) -> str:
    """What ``new`` adds to ``old``, asserting that ``old`` is all there, byte for byte and in one piece."""
    at = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), len(old))
    tail = len(old) - at
    assert new[:at] == old[:at] and new[len(new) - tail:] == old[at:], "the old text is not kept around one insertion"
    return new[at:len(new) - tail]


def test_a_new_file_holds_the_pool_and_resolves_paths_from_where_discover_ran(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    (cwd / "keys").mkdir(parents=True)
    (cwd / "keys" / "id").write_text("")
    (cwd / "keys" / "known").write_text("")
    monkeypatch.chdir(cwd)
    target = tmp_path / "elsewhere" / "hosts.yaml"
    target.parent.mkdir()
    plan = enrol.plan(target, lab(port=2222, identity=Path("keys/id"), known_hosts=Path("keys/known"),
                                  jump=parse_jump("ops@bastion.example.net:2200")))
    assert plan.before is None
    inventory = plan.write()
    (pool,) = inventory.pools
    assert [(h.name, h.address, h.port, h.user) for h in pool.hosts] == [
        ("plot1", "198.51.100.11", 2222, "root"), ("plot2", "198.51.100.12", 2222, "root")]
    # The inventory resolves relative paths against its own folder: what was typed in cwd must still be found.
    assert pool.hosts[0].identity == cwd / "keys" / "id"
    assert pool.hosts[0].known_hosts == cwd / "keys" / "known"
    assert str(pool.hosts[0].jump) == "ops@bastion.example.net:2200"
    assert target.stat().st_mode & 0o777 == enrol.NEW_FILE_MODE
    assert sorted(p.name for p in target.parent.iterdir()) == ["hosts.yaml"]  # no temporary file left


def test_a_pool_is_inserted_after_the_last_one_keeping_every_comment_and_byte(folder):
    path = folder / "hosts.yaml"
    path.write_text(EXISTING)
    enrol.plan(path, lab(**team_settings(folder), source="root@198.51.100.12:22")).write()
    new = path.read_text()
    block = inserted(EXISTING, new)
    # after prod's commented-out host (it belongs to prod), before the comment that belongs to probe
    assert new.index("# - {name: prod3") < new.index(block) < new.index("# Probing every 2 s")
    assert block == ("  # discovered by poolterm discover from root@198.51.100.12:22\n"
                     "  - name: lab\n"
                     "    hosts:\n"
                     "      - {name: plot1, address: 198.51.100.11}\n"
                     "      - {name: plot2, address: 198.51.100.12}\n")
    inventory = load_inventory(path)
    assert [p.name for p in inventory.pools] == ["prod", "lab"]
    assert inventory.host("plot2").identity == folder / "keys" / "id_ed25519"


def test_the_lists_own_indentation_is_followed(folder):
    old = ("ssh: {identity: keys/id_ed25519, known_hosts: keys/known_hosts}\n"
           "pools:\n"
           "- name: prod\n"
           "  hosts:\n"
           "  - {name: prod1, address: 192.0.2.11}")  # indentless lists, and no newline at the end
    path = folder / "hosts.yaml"
    path.write_text(old)
    enrol.plan(path, lab(**team_settings(folder))).write()
    block = inserted(old + "\n", path.read_text())
    assert block.splitlines() == ["- name: lab", "  hosts:", "  - {name: plot1, address: 198.51.100.11}",
                                  "  - {name: plot2, address: 198.51.100.12}"]
    assert [p.name for p in load_inventory(path).pools] == ["prod", "lab"]


def test_settings_the_file_does_not_share_go_on_each_new_host(folder):
    path = folder / "hosts.yaml"
    path.write_text(EXISTING)
    other_known = folder / "lab_known_hosts"
    other_known.write_text("")
    enrol.plan(path, lab(**team_settings(folder, known_hosts=other_known), port=2222, user="admin")).write()
    inventory = load_inventory(path)
    assert (inventory.host("plot1").port, inventory.host("plot1").user) == (2222, "admin")
    assert inventory.host("plot1").known_hosts == other_known
    # prod keeps the file's settings
    assert (inventory.host("prod1").port, inventory.host("prod1").user) == (22, "root")
    assert inventory.host("prod1").known_hosts == folder / "keys" / "known_hosts"


def test_names_yaml_would_read_as_other_types_stay_strings(tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    hosts = (Member("true", "198.51.100.11"), Member("123", "198.51.100.12"), Member("null", "2001:db8::1"))
    enrol.plan(tmp_path / "hosts.yaml", Enrolment("1e3", hosts, known_hosts=known)).write()
    inventory = load_inventory(tmp_path / "hosts.yaml")
    assert [p.name for p in inventory.pools] == ["1e3"]
    assert [(h.name, h.address) for h in inventory.hosts()] == [(m.name, m.address) for m in hosts]


@pytest.mark.parametrize("enrolment, message", [
    (lambda f: Enrolment("prod", (Member("plot1", "198.51.100.11"),), **team_settings(f)),
     "hosts.yaml:9: pool 'prod' is already in this file: discover never overwrites a pool"),
    (lambda f: Enrolment("lab", (Member("prod2", "198.51.100.11"),), **team_settings(f)),
     "host name prod2 of pool 'lab' is already used by prod2 of pool 'prod'"),
    (lambda f: Enrolment("lab", (Member("plot1", "192.0.2.11"),), **team_settings(f)),
     "host address 192.0.2.11 of pool 'lab' is already used by prod1 of pool 'prod'"),
    (lambda f: lab(**team_settings(f), jump=parse_jump("bastion.example.net")),
     "hosts.yaml has one jump for all its pools; write this pool to a file of its own"),
    (lambda f: lab(known_hosts=f / "keys" / "known_hosts"),
     "a host cannot undo the file's identity"),
    (lambda f: Enrolment("lab", (Member("plot1", "198.51.100.11"), Member("plot1", "198.51.100.12"))),
     "two hosts of pool 'lab' are called 'plot1'"),
])
def test_what_cannot_be_added_as_asked_is_refused_and_nothing_is_written(folder, enrolment, message):
    path = folder / "hosts.yaml"
    path.write_text(EXISTING)
    with pytest.raises(ConfigError) as caught:
        enrol.plan(path, enrolment(folder))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert path.read_text() == EXISTING


def test_a_pool_name_already_taken_is_told_before_anything_is_fetched(folder):
    path = folder / "hosts.yaml"
    path.write_text(EXISTING)
    with pytest.raises(ConfigError, match=r"hosts.yaml:9: pool 'prod' is already in this file"):
        enrol.check_pool_name(path, load_inventory(path), "prod")
    enrol.check_pool_name(path, load_inventory(path), "lab")  # a free name passes


def test_a_flow_list_of_pools_is_refused(folder):
    path = folder / "hosts.yaml"
    path.write_text("ssh: {identity: keys/id_ed25519, known_hosts: keys/known_hosts}\n"
                    "pools: [{name: prod, hosts: [{name: prod1, address: 192.0.2.11}]}]\n")
    with pytest.raises(ConfigError, match="pools is written as a flow list"):
        enrol.plan(path, lab(**team_settings(folder)))


def test_the_file_keeps_its_mode_and_no_temporary_file_is_left(folder):
    path = folder / "hosts.yaml"
    path.write_text(EXISTING)
    path.chmod(0o600)
    inode = path.stat().st_ino
    enrol.plan(path, lab(**team_settings(folder))).write()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.stat().st_ino != inode  # replaced by a rename, never rewritten in place
    assert sorted(p.name for p in folder.iterdir()) == ["hosts.yaml", "keys"]


def test_a_file_changed_while_discover_ran_is_left_alone(folder):
    path = folder / "hosts.yaml"
    path.write_text(EXISTING)
    plan = enrol.plan(path, lab(**team_settings(folder)))
    edited = EXISTING.replace("interval: 2", "interval: 3")
    path.write_text(edited)
    with pytest.raises(ConfigError, match="changed while discover ran: nothing written"):
        plan.write()
    assert path.read_text() == edited
    assert sorted(p.name for p in folder.iterdir()) == ["hosts.yaml", "keys"]


def test_a_new_file_that_appeared_meanwhile_is_never_overwritten(tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    path = tmp_path / "hosts.yaml"
    plan = enrol.plan(path, lab(known_hosts=known))
    path.write_text("# someone else's\n")
    with pytest.raises(ConfigError, match="appeared while discover ran"):
        plan.write()
    assert path.read_text() == "# someone else's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hosts.yaml", "known_hosts"]


def test_an_existing_file_that_does_not_load_is_reported_first(folder):
    path = folder / "hosts.yaml"
    path.write_text("pools:\n  - name: prod\n")
    with pytest.raises(ConfigError, match="hosts.yaml:2"):
        enrol.plan(path, lab(**team_settings(folder)))
    assert path.read_text() == "pools:\n  - name: prod\n"
    assert sorted(p.name for p in folder.iterdir()) == ["hosts.yaml", "keys"]
