"""Password redaction: linear in the text whatever it holds, applied to commands and typed text only."""

from __future__ import annotations

import shlex
import time

import pytest

from poolterm.actions.journal import Journal, read_journal, redact

KB100 = 100 * 1024

# Lines shaped to make a backtracking pattern retry every suffix: a long run of name characters
# with no `=` after it, many names, many `pass`, many `-pw`, quotes that never close.
ADVERSARIAL = {
    "hyphen-run": ("a-" * KB100)[:KB100],
    "pass-run": ("pass-" * KB100)[:KB100],
    "many-names": ("a=" * KB100)[:KB100],
    "many-pw": (" -pw" * KB100)[:KB100],
    "pass-no-value": ("password= " * KB100)[:KB100],
    "blank-run": "-pw" + " " * KB100,
}


def fastest(text: str, tries: int = 3) -> float:
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        redact(text)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_a_100_kb_adversarial_line_redacts_in_linear_time(name):
    # The backtracking pattern took 1.8 s on 20 KB of "a-a-…" (quadratic: ~45 s on 100 KB).
    assert fastest(ADVERSARIAL[name]) < 0.05


def test_a_long_line_still_loses_its_password():
    noise = "a-" * 20_000
    assert redact(f"{noise} master-password=hunter2 {noise}") == f"{noise} master-password=<redacted> {noise}"


@pytest.mark.parametrize("text, shown", [
    ("xe pool-join master-address=10.0.0.11 master-username=root master-password=hunter2",
     "xe pool-join master-address=10.0.0.11 master-username=root master-password=<redacted>"),
    ("xe -u root -pw hunter2 host-list", "xe -u root -pw <redacted> host-list"),
    ("-pw hunter2", "-pw <redacted>"),
    ("xe host-list -PW   hunter2", "xe host-list -PW   <redacted>"),
    ("xe host-list params=uuid", "xe host-list params=uuid"),
    ("password=a new-password=b PASSWORD=c passwordfile=d x_pass_y=e", "password=<redacted> "
     "new-password=<redacted> PASSWORD=<redacted> passwordfile=<redacted> x_pass_y=<redacted>"),
    ("a=password=x", "a=password=<redacted>"),
    ("password=a-password=b c", "password=<redacted> c"),  # the value is one word, `=` and all
    ("master-password='a b' --force", "master-password=<redacted> --force"),
    ("master-password=\"a \\\" b\" --force", "master-password=<redacted> --force"),
    ("master-password=a\\ b --force", "master-password=<redacted> --force"),
    ("master-password='never closed", "master-password=<redacted>"),  # an open quote hides the rest
    ("password= x", "password= x"),  # nothing to hide
    ("-pwf /root/pw", "-pwf /root/pw"),  # a file name, not the password
    ("x-pw hunter2", "x-pw hunter2"),  # not the option
    ("bypass=1", "bypass=<redacted>"),  # any name holding `pass`: better hidden than shown
    ("`xe pool-join master-password=hunter2` changes", "`xe pool-join master-password=<redacted>` changes"),
    ("password=a`b c", "password=<redacted> c"),
])
def test_redaction_semantics(text, shown):
    assert redact(text) == shown
    assert redact(shown) == shown  # a text masked before it reaches the journal stays as it is


@pytest.mark.parametrize("password", ["Lab root pw", "it's", 'a"b c', "back\\slash x", "=;&|$(reboot)"])
def test_a_quoted_password_is_hidden_whole(password):
    line = f"xe pool-join master-password={shlex.quote(password)} --force"
    assert redact(line) == "xe pool-join master-password=<redacted> --force"


def test_the_journal_redacts_commands_and_reasons_but_keeps_output_lines_as_sent(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = Journal.open(path, operator="alice", argv=["poolterm", "master-password=hunter2"])
    journal.write("command-start", id="a-1", host="plot1", command="xe x password=hunter2",
                  remote="timeout 5 xe x password=hunter2")
    journal.write("refused", host="plot1", command="xe x password=hunter2",
                  reason="`xe x password=hunter2` changes the pool")
    # A host's output is the host's: it is not a command, and scanning every line cost the event loop.
    journal.write("output", id="a-1", stream="stdout", line="name-label ( RW): bypass=on")
    journal.close()
    records = read_journal(path).records
    assert "hunter2" not in path.read_text()
    assert records[0]["argv"] == ["poolterm", "master-password=<redacted>"]
    assert records[-3]["command"] == "xe x password=<redacted>"
    assert records[-2]["reason"] == "`xe x password=<redacted>` changes the pool"
    assert records[-1]["line"] == "name-label ( RW): bypass=on"


def test_the_session_record_hides_a_password_given_as_two_words(tmp_path):
    argv = ["poolterm", "playbook", "run", "join", "-pw", "hunter 2", "--master-password=s3cret", "--yes"]
    Journal.open(tmp_path / "j.jsonl", operator="alice", argv=argv).close()
    (session,) = read_journal(tmp_path / "j.jsonl").records
    assert session["argv"] == ["poolterm", "playbook", "run", "join", "-pw", "<redacted>",
                               "--master-password=<redacted>", "--yes"]
    assert "hunter" not in (tmp_path / "j.jsonl").read_text() and "s3cret" not in (tmp_path / "j.jsonl").read_text()
