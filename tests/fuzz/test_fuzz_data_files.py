"""Fuzz: every data file poolterm reads loads, or fails with one safe line of its own error class.

The files an operator writes or drops in (hosts.yaml, config.yaml, a theme) and the ones poolterm
ships (playbooks, simulator scenarios, verdicts.yaml), each through its public loader from a
real file: random bytes, YAML-ish text built of structural pieces, the kind's own keys and hostile
characters (terminal escapes, C1 controls, direction and zero-width marks, lone surrogates, NUL),
and random edits of a valid file. A load either succeeds or raises that kind's
:class:`~poolterm.errors.FileError` subclass whose message is one line (no newline or carriage
return), names the file, and holds no character a terminal would act on. Never a traceback,
never another exception type.

Then the command line, for a few fixed nasty inventories: ``poolterm check -i FILE`` exits 2
with exactly one line on stderr, that line safe, and nothing on stdout.

Run with ``POOLTERM_FUZZ_EXAMPLES=10000`` for the long run (tests/helpers/fuzz.py).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from poolterm.config.inventory import load_inventory
from poolterm.config.settings import load_settings
from poolterm.datafile import read_text
from poolterm.diagnosis.explain import VERDICTS_FILE, parse
from poolterm.errors import (
    ConfigError,
    ExplanationError,
    FileError,
    PlaybookError,
    ScenarioError,
    SettingsError,
    ThemeError,
)
from poolterm.playbooks import PLAYBOOK_DIR, load_file
from poolterm.sim.scenario import SCENARIO_DIR, load_scenario
from poolterm.ui.themes import SHIPPED_DIR, load_theme_file
from poolterm.untrusted import is_safe
from tests.helpers.fuzz import HOSTILE_TEXT, fuzz, unsafe_part
from tests.helpers.mutation import mutate, mutations

pytestmark = pytest.mark.fuzz


def load_verdicts(path: Path) -> object:
    """verdicts.yaml is read once from the package; read a copy the way its loader does."""
    return parse(read_text(path, ExplanationError), str(path))


INVENTORY = textwrap.dedent("""\
    ssh:
      port: 2222
      user: root
      connect_timeout: 5
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
            ssh_host: 198.51.100.7
    """)
SETTINGS = "theme: poolterm-light\nlow_bandwidth: true\nascii: false\nkeymap:\n  pause: ctrl+s\nsave_dir: caps\n"

# kind -> (loader, file name, error class, a valid file, the kind's own words)
KINDS = {
    "inventory": (load_inventory, "hosts.yaml", ConfigError, INVENTORY,
                  ["ssh", "probe", "pools", "name", "hosts", "address", "port", "user", "jump", "identity",
                   "known_hosts", "ssh_host", "interval", "timeout", "connect_timeout", "config", "192.0.2.1",
                   "::1", "a@b:22", "plot1"]),
    "settings": (load_settings, "config.yaml", SettingsError, SETTINGS,
                 ["theme", "keymap", "low_bandwidth", "ascii", "save_dir", "pause", "ctrl+s", "poolterm-dark"]),
    "theme": (load_theme_file, "mine.yaml", ThemeError, (SHIPPED_DIR / "poolterm-dark.yaml").read_text(),
              ["name", "primary", "dark", "ansi", "variables", "luminosity_spread", "text_alpha", "#ff0000",
               "red", "rgb(1,2,3)", "host-up", "banner-critical"]),
    "playbook": (load_file, "master-lost.yaml", PlaybookError, (PLAYBOOK_DIR / "master-lost.yaml").read_text(),
                 ["id", "title", "summary", "for_verdicts", "bindings", "target", "goal", "steps", "done", "run",
                  "xe", "shell", "params", "host", "expect", "wait", "when", "changes_pool", "master.uuid"]),
    "scenario": (load_scenario, "cable-pull.yaml", ScenarioError, (SCENARIO_DIR / "cable-pull.yaml").read_text(),
                 ["description", "steps", "note", "fault", "ctl", "action", "host", "run", "command",
                  "expect_exit", "expect_stdout", "sleep", "plot1", "\\A", "[0-9"]),
    "verdicts": (load_verdicts, "verdicts.yaml", ExplanationError, VERDICTS_FILE.read_text(),
                 ["healthy", "degraded", "master-lost", "meaning", "careful"]),
}

STRUCTURE = [
    ":", ": ", "- ", "-", "  ", "    ", "\n", "\n", "\t", "[", "]", "{", "}", ",", "'", '"', "&a ", "*a",
    "!!int ", "!!str ", "!!float ", "!!binary ", "!x ", "!!python/object:os.system ", "? ", "|", ">", "#", "~",
    "null", "0", "-1", "65536", "1e400", ".inf", ".nan", "0x1F", "1:20", "yes", "%", "@", "`", "---", "...",
    "<<: ", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "\\", "\\x1b", "\\u202e",
]
HOSTILE = HOSTILE_TEXT + ["\x1b", "\x9b", "\x8d", "\x0c", "\x1b[6n", "\U000e0041", "\ue000", "\ufffe", "\uffff"]


def pieces(kind: str) -> st.SearchStrategy[str]:
    return st.sampled_from(STRUCTURE + HOSTILE + KINDS[kind][4])


_FILES = itertools.count()


def write(tmp_path: Path, kind: str, data: str | bytes) -> Path:
    """A fresh file of this kind (its name matters: a playbook's id must match it)."""
    folder = tmp_path / str(next(_FILES))
    folder.mkdir()
    path = folder / KINDS[kind][1]
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8", errors="surrogatepass")
    return path


def loads_or_fails_cleanly(kind: str, path: Path) -> bool:
    """True when the file loaded; a failure must be one safe line of the kind's own class."""
    loader, _, error, _, _ = KINDS[kind]
    try:
        loader(path)
    except FileError as err:
        assert isinstance(err, error), repr(err)
        message = str(err)
        assert "\n" not in message and "\r" not in message, message
        problem = unsafe_part(message)
        assert problem is None and is_safe(message), problem
        assert message.startswith(str(path)), message
        return False
    return True


@pytest.mark.parametrize("kind", KINDS)
@fuzz(default=150, seconds_per_example=0.1)
@given(data=st.binary(max_size=400))
def test_random_bytes_load_or_fail_with_one_safe_line(tmp_path: Path, kind: str, data: bytes):
    loads_or_fails_cleanly(kind, write(tmp_path, kind, data))


@st.composite
def yamlish(draw, kind: str) -> str:
    return "".join(draw(st.lists(pieces(kind), max_size=60)))


@pytest.mark.parametrize("kind", KINDS)
@fuzz(default=150, seconds_per_example=0.1)
@given(data=st.data())
@example(data=None)
def test_yamlish_text_loads_or_fails_with_one_safe_line(tmp_path: Path, kind: str, data):
    text = "\x1b]52;c;cHduZWQ=\x07:\n  \u202e: [\x9b2J, \ud800]\n" if data is None else data.draw(yamlish(kind))
    loads_or_fails_cleanly(kind, write(tmp_path, kind, text))


@pytest.mark.parametrize("kind", KINDS)
@fuzz(default=150, seconds_per_example=0.2)
@given(data=st.data())
def test_edits_of_a_valid_file_load_or_fail_with_one_safe_line(tmp_path: Path, kind: str, data):
    text = KINDS[kind][3]
    edits = data.draw(st.lists(mutations(pieces(kind), lines=text.count("\n") + 1, chars=len(text)),
                               min_size=1, max_size=4))
    for edit in edits:
        text = mutate(text, edit)
    loads_or_fails_cleanly(kind, write(tmp_path, kind, text))


def test_the_valid_files_load(tmp_path: Path):
    for kind in KINDS:
        assert loads_or_fails_cleanly(kind, write(tmp_path, kind, KINDS[kind][3])), kind


# --------------------------------------------------------------------------- the command line

NASTY = {
    "osc52-key": "\x1b]52;c;cHduZWQ=\x07\x1b[2J: 1\n",
    "osc52-host-name": "pools:\n  - name: lab\n    hosts:\n      - {name: \"p\\e]52;c;eA==\\a\", address: 192.0.2.1}\n",
    "c1-and-bidi-address": "pools:\n  - name: lab\n    hosts:\n      - {name: plot1, address: \"\u202e1.2.3.4\x85\"}\n",
    "nul-and-invalid-utf8": b"pools:\n  - name: \x00lab\xff\xfe\n",
    "binary": bytes(range(256)) * 4,
    "deep": "[" * 100_000,
    "bad-tag": "pools: !!python/object/apply:os.system ['touch /tmp/poolterm-pwned']\n",
    "known-hosts-with-escape": "ssh:\n  known_hosts: \"/tmp/\\e[2Jkh\"\npools: []\n",
}


@pytest.mark.parametrize("name", NASTY)
def test_poolterm_check_on_a_nasty_inventory_says_one_safe_line(tmp_path: Path, name: str):
    path = tmp_path / "bad.yaml"
    content = NASTY[name]
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("POOLTERM_")}
    env["HOME"] = str(tmp_path)  # no user ~/.ssh/config or user inventory takes part
    done = subprocess.run([sys.executable, "-m", "poolterm", "check", "-i", str(path)], capture_output=True,
                          env=env, timeout=60, cwd=tmp_path)
    stderr = done.stderr.decode("utf-8")
    assert done.returncode == 2, (done.returncode, stderr)
    assert done.stdout == b""
    assert stderr.startswith(f"poolterm: {path}") and stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    assert unsafe_part(stderr) is None and is_safe(stderr), stderr
    assert not Path("/tmp/poolterm-pwned").exists()
