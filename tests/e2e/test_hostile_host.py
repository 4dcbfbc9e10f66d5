"""A host that sends hostile bytes: nothing it sends reaches a terminal, a report or a file raw.

plot3's pool.conf becomes ``slave:`` + an OSC 52 clipboard write + a clear-screen +
bytes that are not UTF-8 + a right-to-left mark, planted as a person would
(`poolterm sim ctl write-file`, content on standard input). Every way poolterm
shows it (``check`` text and JSON, ``playbook run``, the journal, ``report``
markdown and JSON) must show it written out, and the verdict must still be right.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from poolterm.actions.journal import read_journal
from tests.helpers.cli import poolterm
from tests.helpers.playbook_run import PlaybookRun
from tests.helpers.sim import fast_inventory, simulated_pool
from tests.helpers.ssh import xe
from tests.helpers.tmux import start_demo
from tests.helpers.truth import assert_healthy, host_field

POOL_CONF = "/etc/xensource/pool.conf"
HOSTILE = b"slave:\x1b]52;c;cHduZWQ=\x07\x1b[2J\xff\xfe\xe2\x80\x8f"
SHOWN = "slave:\\x1b]52;c;cHduZWQ=\\x07\\x1b[2J\\xff\\xfe\\u200f"
BELIEF = SHOWN.removeprefix("slave:")
#: What must never come out: C0 controls but tab and newline, DEL, C1 (as characters and as raw bytes).
RAW = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")


async def plant(directory, host: str, path: str, content: bytes) -> None:
    code, out, err = await poolterm("sim", "ctl", "--dir", str(directory), "write-file", host, path, stdin=content)
    assert (code, err) == (0, ""), err
    assert out == f"{host}: write-file done\n"


async def run_raw(*args: str, env: dict | None = None) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "poolterm", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                env={**os.environ, **(env or {})})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out, err


async def test_an_osc52_pool_conf_is_shown_written_out_everywhere(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        control = sim.directory
        await plant(control, "plot3", POOL_CONF, HOSTILE)
        inventory = fast_inventory(sim)

        code, out, err = await run_raw("check", "-i", str(inventory))
        assert code in (1, 2) and err == b""
        assert not RAW.search(out), out
        row = next(line for line in out.decode().splitlines() if line.lstrip().startswith("plot3 "))
        assert BELIEF in row
        assert "ORPHANED SLAVES" in out.decode()

        code, out, err = await run_raw("check", "-i", str(inventory), "--json")
        assert code in (1, 2) and err == b"" and not RAW.search(out)
        data = json.loads(out)
        (pool,) = data["pools"]
        assert pool["verdict"] == "orphaned-slaves"
        plot3 = next(host for host in pool["hosts"] if host["name"] == "plot3")
        assert plot3["believed_master"] == BELIEF

        # Once plot3's xapi restarts it reads the file and is orphaned; the playbook brings it
        # back, and its journal and the report keep the belief written out.
        code, out = await xe(sim, "plot3", "xe-toolstack-restart")
        assert code == 0, out
        await sim.wait_until(lambda status: host_field(status, "plot3", "emergency"), 10)
        journal = tmp_path / "journal.jsonl"
        run = await PlaybookRun.start(sim, "orphaned-slaves", journal)
        assert await run.finish() == 0, run.output
        assert not RAW.search(run.output.encode()), run.output
        await assert_healthy(sim, "plot1")
        raw_journal = journal.read_bytes()
        assert not RAW.search(raw_journal)
        assert any(BELIEF in record.get("summary", "") for record in read_journal(journal).records)

        for form in ("md", "json"):
            code, out, err = await run_raw("report", str(journal), "--format", form)
            assert code == 0 and err == b"", err
            assert not RAW.search(out)
            shown = out.decode() if form == "md" else json.loads(out)["timeline"]
            assert any(BELIEF in line for line in (shown.splitlines() if form == "md" else
                                                   [entry["text"] for entry in shown]))


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_console_in_a_real_terminal_never_passes_the_clipboard_write_on(tmux, tmp_path):
    """tmux with set-clipboard on turns an OSC 52 that reaches it into a paste buffer: the next
    paste into a root shell would be the host's text. The console must show it, not send it."""
    directory, status_file = tmp_path / "sim", tmp_path / "status"
    start_demo(tmux, directory, status_file)
    tmux("set-option", "-g", "set-clipboard", "on")
    tmux.wait_for_text("HEALTHY", timeout=30)
    planted = subprocess.run([sys.executable, "-m", "poolterm", "sim", "ctl", "--dir", str(directory), "write-file",
                              "plot3", POOL_CONF], input=HOSTILE, capture_output=True, timeout=30)
    assert planted.returncode == 0, planted.stderr
    screen = tmux.wait_for_text("\\x1b]52;c;cHduZWQ=", timeout=20)
    assert "ORPHANED SLAVES" in screen
    assert tmux("list-buffers") == "", "a host's OSC 52 reached the terminal and filled a paste buffer"
    tmux("send-keys", "-t", "demo", "q")
    tmux.wait_until_gone(timeout=20)
    assert status_file.read_text().strip() == "0"
