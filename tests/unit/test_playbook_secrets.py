"""A playbook step that needs a password: how it is declared, shown, sent and redacted."""

import shlex
from pathlib import Path

import pytest

from poolterm.actions.journal import Journal, read_journal, redact
from poolterm.playbooks import PlaybookError, load_file, load_playbook
from poolterm.playbooks.engine import SECRET_MARK, RunCommand
from poolterm.playbooks.runner import secret_problem

PASSWORDS = ["Lab root pw", "it's", 'a"b c', "back\\slash x", "=;&|$(reboot)"]


def test_forgotten_host_joins_with_a_literal_user_and_an_asked_password():
    playbook = load_playbook("forgotten-host")
    join = playbook.steps[playbook.step_index("join")]
    assert join.changes_pool and join.run is not None
    assert join.run.template == ("xe pool-join master-address=<master.address> master-username=root "
                                 "master-password=<master.password, asked>")
    assert join.run.secrets == (("master-password", "master"),)


@pytest.mark.parametrize("password", PASSWORDS)
def test_the_secret_is_only_in_what_is_sent(password):
    command = f"xe pool-join master-address=10.0.0.1 master-username=root master-password={SECRET_MARK}"
    action = RunCommand(0, None, "plot5", "10.0.0.15", command, f"timeout -k 2 30 {command}",  # type: ignore[arg-type]
                        tuple(shlex.split(command)), True, 30.0, secrets=(("master-password", "plot1"),),
                        xe="pool-join", values=(("master-address", "10.0.0.1"), ("master-username", "root"),
                                                ("master-password", SECRET_MARK)))
    sent = action.sent({"master-password": password})
    words = shlex.split(sent)
    assert words[:5] == ["timeout", "-k", "2", "30", "xe"]
    assert words[-1] == f"master-password={password}"  # one argument, whatever it holds
    assert password not in action.command + action.remote + " ".join(action.argv)
    assert password not in redact(sent)


@pytest.mark.parametrize("password", PASSWORDS)
def test_the_journal_redacts_a_quoted_password_whole(tmp_path, password):
    journal = Journal.open(tmp_path / "j.jsonl", operator="alice")
    line = f"xe pool-join master-username=root master-password={shlex.quote(password)} --force"
    journal.write("command-start", command=line, remote=f"timeout 5 {line}")
    journal.close()
    text = (tmp_path / "j.jsonl").read_text()
    assert password not in text
    record = read_journal(tmp_path / "j.jsonl").records[-1]
    assert record["command"] == "xe pool-join master-username=root master-password=<redacted> --force"


@pytest.mark.parametrize("value,problem", [("", "empty"), ("a\nb", "line break"), ("a\0b", "NUL")])
def test_a_password_that_cannot_be_one_xe_parameter_is_refused(value, problem):
    assert problem in (secret_problem(value) or "")
    assert secret_problem("Lab root pw") is None


def _playbook(tmp_path: Path, run: str) -> Path:
    path = tmp_path / "forgotten-host.yaml"
    path.write_text(f"""
id: forgotten-host
title: t
summary: s
for_verdicts: [emergency]
bindings: {{master: master, forgotten: forgotten}}
steps:
  - id: join
    title: t
    why: w
    changes_pool: true
    run: {run}
    expect: {{follows: {{hosts: forgotten, master: master}}}}
""")
    return path


@pytest.mark.parametrize("run,message", [
    ("{host: forgotten, xe: pool-join, secrets: {master-password: master.address}}", "binding.password"),
    ("{host: forgotten, xe: pool-join, secrets: {master-password: nobody.password}}", "binding.password"),
    ("{host: forgotten, xe: pool-join, literals: {master-username: 'root; reboot'}}", "not a valid name"),
    ("{host: forgotten, xe: pool-join, literals: {a: root}, secrets: {a: master.password}}", "given twice"),
    ("{host: forgotten, shell: xe-toolstack-restart, secrets: {a: master.password}}", "no parameters"),
])
def test_the_loader_refuses_bad_literals_and_secrets(tmp_path, run, message):
    with pytest.raises(PlaybookError, match=message):
        load_file(_playbook(tmp_path, run))
