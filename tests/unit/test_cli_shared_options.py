"""Options `poolterm` and its sub-commands both take mean the same wherever they are given: given
before the sub-command they are not reset by it (`poolterm -i FILE check` checks FILE)."""

from __future__ import annotations

import pytest

from poolterm.cli.main import build_parser


@pytest.mark.parametrize("argv,inventory", [
    (["-i", "a.yaml", "check"], "a.yaml"),
    (["check", "-i", "b.yaml"], "b.yaml"),
    (["-i", "a.yaml", "check", "-i", "b.yaml"], "b.yaml"),  # the nearer one wins, as everywhere
    (["check"], None),
    (["-i", "a.yaml", "console"], "a.yaml"),
    (["-i", "a.yaml", "playbook", "run", "master-lost"], "a.yaml"),
    (["-i", "a.yaml", "exporter", "--listen", "127.0.0.1:0"], "a.yaml"),
    (["-i", "a.yaml", "follow", "j.jsonl"], "a.yaml"),
])
def test_the_inventory_given_anywhere_is_the_one_used(argv, inventory):
    assert build_parser().parse_args(argv).inventory == inventory


@pytest.mark.parametrize("argv", [["--read-only", "console"], ["--read-only", "playbook", "run", "master-lost"],
                                  ["console", "--read-only"]])
def test_read_only_before_or_after_the_sub_command_is_read_only(argv):
    assert build_parser().parse_args(argv).read_only is True


def test_console_options_keep_their_defaults_when_not_given():
    args = build_parser().parse_args(["console"])
    assert (args.theme, args.read_only, args.journal, args.journal_group, args.teach) == (None, False, None, None,
                                                                                          False)


def test_a_sub_command_imports_only_its_own_module():
    """`poolterm check` runs every minute under a monitoring system: it does not pay for the simulator."""
    import subprocess
    import sys

    code = ("import sys; from poolterm.cli.main import build_parser; build_parser(['check', '--json']); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('poolterm.cli.') or m == 'poolterm.sim')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "poolterm.cli.check" in loaded
    assert not {"poolterm.cli.sim", "poolterm.cli.demo", "poolterm.cli.exporter", "poolterm.sim"} & set(loaded)
    assert build_parser(["-i", "report", "check"]).parse_args(["-i", "report", "check"]).command == "check"


def test_a_reader_that_went_away_ends_the_command_quietly():
    """`poolterm check | head -1`: the pipe closes under the writer; no traceback, the shell's SIGPIPE status."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "poolterm", "playbook", "list"], stdout=write,
                              stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, b"")
