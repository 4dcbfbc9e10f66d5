"""The SSH config check: a line that would weaken host-key checks is one error naming its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from poolterm.config.ssh_config import check_ssh_config
from poolterm.errors import ConfigError, SshConfigError

OFF = "turns off host-key checks; poolterm always verifies host keys"
NEW = "trusts a host's first key unchecked; poolterm always verifies host keys"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(("line", "message"), [
    ("StrictHostKeyChecking no", f"StrictHostKeyChecking no {OFF}"),
    ("StrictHostKeyChecking off", f"StrictHostKeyChecking off {OFF}"),
    ("StrictHostKeyChecking false", f"StrictHostKeyChecking false {OFF}"),
    ("stricthostkeychecking NO", f"StrictHostKeyChecking NO {OFF}"),
    ("StrictHostKeyChecking=no", f"StrictHostKeyChecking no {OFF}"),
    ("StrictHostKeyChecking = no", f"StrictHostKeyChecking no {OFF}"),
    ("\tStrictHostKeyChecking  \"no\"   # a comment OpenSSH would reject", f"StrictHostKeyChecking no {OFF}"),
    ("StrictHostKeyChecking accept-new", f"StrictHostKeyChecking accept-new {NEW}"),
    ("UserKnownHostsFile none", f"UserKnownHostsFile none {OFF}"),
    ("UserKnownHostsFile=/dev/null", f"UserKnownHostsFile /dev/null {OFF}"),
    ("USERKNOWNHOSTSFILE ~/.ssh/known_hosts /dev/null", f"UserKnownHostsFile /dev/null {OFF}"),
    ("ProxyCommand ssh -o StrictHostKeyChecking=no -W %h:%p bastion",
     f"ProxyCommand passes StrictHostKeyChecking no to ssh, which {OFF}"),
    ("ProxyCommand ssh -o 'UserKnownHostsFile /dev/null' -W %h:%p bastion",
     f"ProxyCommand passes UserKnownHostsFile /dev/null to ssh, which {OFF}"),
])
def test_each_weakening_line_is_an_error_naming_file_and_line(tmp_path: Path, line: str, message: str):
    config = write(tmp_path / "config", f"# jump box\nHost *.lab\n    User root\n  {line}\n")
    with pytest.raises(SshConfigError) as caught:
        check_ssh_config(config)
    assert str(caught.value) == f"{config}:4: {message}"
    assert isinstance(caught.value, ConfigError)  # every command that loads an inventory reports it already
    assert (caught.value.file, caught.value.line) == (str(config), 4)


@pytest.mark.parametrize("text", [
    "",
    "Host *\n  StrictHostKeyChecking yes\n  UserKnownHostsFile ~/.ssh/known_hosts ~/.ssh/known_hosts2\n",
    "StrictHostKeyChecking ask\n",
    # the system-wide file is only one of the two lists: the user's known_hosts is still checked
    "GlobalKnownHostsFile /dev/null\n",
    "# StrictHostKeyChecking no\n   # UserKnownHostsFile none\n",
    "Host nostricthostkeychecking\n  HostName no.example.net\n  ProxyJump none\n",
    "ProxyCommand ssh -W %h:%p bastion\nCiphers aes128-cbc\n",
])
def test_configs_that_keep_host_key_checks_pass(tmp_path: Path, text: str):
    check_ssh_config(write(tmp_path / "config", text))


def test_no_config_and_a_missing_config_pass(tmp_path: Path):
    check_ssh_config(None)
    check_ssh_config(tmp_path / "absent")


def test_every_host_and_match_block_counts(tmp_path: Path):
    # Which hosts a block applies to is ssh's decision at connect time; any occurrence is refused.
    config = write(tmp_path / "config", "Host github.com\n  User git\nMatch host unrelated exec false\n"
                                        "  UserKnownHostsFile none\n")
    with pytest.raises(SshConfigError, match=r":4: UserKnownHostsFile none"):
        check_ssh_config(config)


def test_included_files_are_checked_and_named(tmp_path: Path):
    included = write(tmp_path / "conf.d" / "lab.conf", "Host lab-*\n\n  StrictHostKeyChecking=off\n")
    write(tmp_path / "conf.d" / "other.conf", "Host other\n  User ops\n")
    config = write(tmp_path / "config", f"Host *\n  Include {tmp_path}/conf.d/*.conf\n")
    with pytest.raises(SshConfigError) as caught:
        check_ssh_config(config)
    assert str(caught.value) == f"{included}:3: StrictHostKeyChecking off {OFF}"


def test_a_relative_include_is_read_from_the_users_ssh_directory(tmp_path: Path, monkeypatch):
    # as OpenSSH and asyncssh both do for a user config
    home = tmp_path / "home"
    included = write(home / ".ssh" / "extra", "UserKnownHostsFile none\n")
    monkeypatch.setenv("HOME", str(home))
    config = write(tmp_path / "elsewhere" / "config", "Include extra\n")
    with pytest.raises(SshConfigError, match=rf"^{included}:1: "):
        check_ssh_config(config)


def test_an_include_loop_ends_in_an_error_not_a_hang(tmp_path: Path):
    config = write(tmp_path / "config", f"Include {tmp_path}/config\n")
    with pytest.raises(SshConfigError, match=rf"^{config}:1: Include nested more than 16 deep"):
        check_ssh_config(config)


def test_an_unreadable_config_is_one_error(tmp_path: Path):
    directory = tmp_path / "config"
    directory.mkdir()
    with pytest.raises(SshConfigError, match=rf"^{directory}: cannot read"):
        check_ssh_config(directory)
