"""One way to read a YAML file: every kind of data file fails the same way, one line
``FILE:LINE: KEY: message`` of its own FileError subclass, and never with a traceback.

Each kind is read from a real file in tmp_path through its public loader.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poolterm.config.inventory import load_inventory
from poolterm.config.settings import load_settings
from poolterm.datafile import MAX_DEPTH, DataFile, Keys, read_text
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
from tests.helpers.mutation import mutate, mutations


def load_verdicts(path: Path) -> object:
    """verdicts.yaml has no loader by path (the shipped file is read once): read it as the loader does."""
    return parse(read_text(path, ExplanationError), str(path))


# kind -> (loader, file name, error class, a valid file)
KINDS = {
    "inventory": (load_inventory, "hosts.yaml", ConfigError, textwrap.dedent("""\
        ssh:
          port: 2222
        probe:
          interval: 1.5
        pools:
          - name: lab
            hosts:
              - name: plot1
                address: 192.0.2.11
              - name: plot2
                address: 192.0.2.12
                port: 2201
        """)),
    "settings": (load_settings, "config.yaml", SettingsError,
                 "theme: poolterm-light\nlow_bandwidth: true\nkeymap:\n  pause: ctrl+s\nsave_dir: caps\n"),
    "playbook": (load_file, "master-lost.yaml", PlaybookError, (PLAYBOOK_DIR / "master-lost.yaml").read_text()),
    "scenario": (load_scenario, "cable-pull.yaml", ScenarioError, (SCENARIO_DIR / "cable-pull.yaml").read_text()),
    "theme": (load_theme_file, "poolterm-dark.yaml", ThemeError, (SHIPPED_DIR / "poolterm-dark.yaml").read_text()),
    "verdicts": (load_verdicts, "verdicts.yaml", ExplanationError, VERDICTS_FILE.read_text()),
}

PLAYBOOK = textwrap.dedent("""\
    id: master-lost
    title: t
    summary: s
    for_verdicts: [master-lost]
    bindings: {m: master}
    steps:
      - id: a
        title: t
        why: w
        changes_pool: sometimes
        expect: {all-follow: {master: m}}
    """)


def write(tmp_path: Path, kind: str, text: str) -> Path:
    path = tmp_path / KINDS[kind][1]
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def error_of(tmp_path: Path, kind: str, text: str) -> tuple[Path, FileError]:
    loader, _, error, _ = KINDS[kind]
    path = write(tmp_path, kind, text)
    with pytest.raises(FileError) as info:
        loader(path)
    assert type(info.value) is error, repr(info.value)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(str(path)), message
    return path, info.value


def shipped_verdicts_with(old: str, new: str) -> str:
    text = VERDICTS_FILE.read_text()
    assert old in text
    return text.replace(old, new, 1)


def line_of(text: str, fragment: str) -> int:
    return text[:text.index(fragment)].count("\n") + 1


# ---- a bad file: one line, FILE:LINE: KEY: message, the file kind's own class

BROKEN_VERDICTS = shipped_verdicts_with("degraded:\n  meaning:", "degraded:\n  meening:")
BAD = [
    ("inventory", "pools:\n  - name: lab\n    hosts:\n      - {name: a, address: 10.0.0.1, port: 0}\n",
     "4: pools[0].hosts[0].port: must be between 1 and 65535, not 0"),
    ("settings", "theme: x\nascii: maybe\n", "2: ascii: expected true or false"),
    ("playbook", PLAYBOOK, "10: steps[0].changes_pool: expected true or false"),
    ("scenario", "steps:\n  - sleep: 1\n  - run: {host: plot1}\n", "3: step 2: run needs 'command'"),
    ("theme", "name: x\nprimary: red\ndark: maybe\n", "3: dark: expected true or false, got 'maybe'"),
    ("verdicts", BROKEN_VERDICTS, f"{line_of(BROKEN_VERDICTS, 'meening:')}: degraded: needs exactly `meaning` "
                                  "and `careful`, both non-empty text"),
]


@pytest.mark.parametrize("kind, text, expected", BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_one_line_naming_file_line_and_key(tmp_path: Path, kind: str, text: str, expected: str):
    path, err = error_of(tmp_path, kind, text)
    assert str(err) == f"{path}:{expected}"
    line, key = expected.split(": ")[:2]
    assert (err.file, err.line, err.key) == (str(path), int(line), key)


UNKNOWN = [
    ("inventory", "pools:\n  - name: lab\n    hosts:\n      - name: a\n        adress: 10.0.0.1\n",
     "5: pools[0].hosts[0].adress: unknown key; did you mean 'address'?"),
    ("settings", "theme: x\ncolour: red\n", "2: colour: unknown setting (expected one of: theme, keymap,"),
    ("playbook", PLAYBOOK.replace("    why: w\n", "    why: w\n    retry: 3\n"), "10: steps[0]: unknown key 'retry'"),
    ("scenario", "steps:\n  - sleep: 1\n  - ctl: {action: crash}\n    color: red\n", "4: step 2: unknown key 'color'"),
    ("theme", "name: x\nprimary: red\nsecundary: blue\n", "3: secundary: unknown key; did you mean 'secondary'?"),
    ("verdicts", VERDICTS_FILE.read_text() + "on-fire: {meaning: x., careful: y.}\n",
     f"{line_of(VERDICTS_FILE.read_text() + 'on-fire:', 'on-fire:')}: 'on-fire' is not a verdict (healthy,"),
]


@pytest.mark.parametrize("kind, text, expected", UNKNOWN, ids=[u[0] for u in UNKNOWN])
def test_an_unknown_key_is_named_at_its_line(tmp_path: Path, kind: str, text: str, expected: str):
    path, err = error_of(tmp_path, kind, text)
    assert str(err).startswith(f"{path}:{expected}"), str(err)


def test_a_repeated_key_names_both_lines(tmp_path: Path):
    text = PLAYBOOK.replace("    why: w\n", "    why: w\n    title: again\n")
    path, err = error_of(tmp_path, "playbook", text)
    assert str(err) == f"{path}:10: steps[0].title: repeated key (first given on line 8)"


# ---- pathological input: one line, never a RecursionError


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("text", ["[" * 100_000, "a: " + "[" * 100_000, "- " * 50_000 + "x\n"],
                         ids=["flow", "flow-in-mapping", "block"])
def test_deeply_nested_input_is_one_line(tmp_path: Path, kind: str, text: str):
    _, err = error_of(tmp_path, kind, text)
    assert "nest" in str(err)


@pytest.mark.parametrize("kind", KINDS)
def test_nesting_deeper_than_any_file_needs_is_refused(tmp_path: Path, kind: str):
    depth = MAX_DEPTH + 5
    path, err = error_of(tmp_path, kind, "a:\n  b: " + "[" * depth + "]" * depth + "\n")
    assert str(err) == f"{path}:2: nested too deeply (more than {MAX_DEPTH} levels)"


@pytest.mark.parametrize("kind", KINDS)
def test_the_pure_python_parser_recursing_too_deep_is_one_line(tmp_path: Path, kind: str,
                                                               monkeypatch: pytest.MonkeyPatch):
    """Without libyaml, PyYAML's composer recurses once per level: RecursionError, caught at the loader."""
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    path, err = error_of(tmp_path, kind, "[" * 5000 + "]" * 5000)
    assert str(err) == f"{path}: YAML syntax error: nested too deeply"


def test_nesting_up_to_the_limit_is_read():
    assert DataFile.parse("[" * MAX_DEPTH + "]" * MAX_DEPTH, "x.yaml").root is not None
    with pytest.raises(FileError) as info:
        DataFile.parse("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "x.yaml")
    assert str(info.value) == f"x.yaml:1: nested too deeply (more than {MAX_DEPTH} levels)"


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path):
    path, err = error_of(tmp_path, "settings", "keymap: &a {pause: *a}\n")
    assert str(err) == f"{path}:1: nested too deeply (an alias inside its own anchor)"


def test_aliases_are_walked_once_however_often_they_are_used(tmp_path: Path):
    """A billion laughs: each level doubles the values, the loader's work stays linear."""
    lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 60)]
    path, err = error_of(tmp_path, "settings", "\n".join(lines) + "\n")
    assert str(err) == f"{path}:1: a0: unknown setting (expected one of: theme, keymap, low_bandwidth, ascii, save_dir)"


# ---- reading


@pytest.mark.parametrize("kind", KINDS)
def test_not_utf8_names_the_line(tmp_path: Path, kind: str):
    loader, name, error, _ = KINDS[kind]
    path = tmp_path / name
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(error) as info:
        loader(path)
    assert str(info.value) == f"{path}:2: not UTF-8 text (byte 0xe9)"


@pytest.mark.parametrize("kind", ["inventory", "playbook", "theme", "verdicts"])
def test_an_unreadable_file_is_one_line(tmp_path: Path, kind: str):
    loader, _, error, _ = KINDS[kind]
    with pytest.raises(error) as info:
        loader(tmp_path)  # a directory
    assert re.fullmatch(re.escape(str(tmp_path)) + r": cannot read: [^\n]+", str(info.value))


def test_a_yaml_syntax_error_has_line_and_column(tmp_path: Path):
    path, err = error_of(tmp_path, "scenario", "steps:\n  - ctl: {action: crash\n")
    assert str(err).startswith(f"{path}:3:1: YAML syntax error: ")
    assert (err.line, err.column) == (3, 1)


def test_a_lookup_by_name_names_no_file():
    with pytest.raises(ScenarioError) as info:
        load_scenario("no-such-incident")
    assert str(info.value).startswith("no scenario 'no-such-incident' (shipped: cable-pull, ")
    assert info.value.file is None


def test_a_reader_declares_its_shape_once(tmp_path: Path):
    """The loader on its own: a Keys shape, checks that return Python values, errors with lines."""
    path = tmp_path / "x.yaml"
    path.write_text("name: lab\ncount: 3\n")
    data = DataFile.read(path)
    fields = data.mapping(data.top("empty"), "", Keys(("name", "count", "ratio"), required=("name",)))
    assert data.string(fields["name"], "name") == "lab"
    assert data.integer(fields["count"], "count", 1, 9) == 3
    assert fields.get("ratio", 0.5) == 0.5
    with pytest.raises(FileError) as info:
        data.integer(fields["count"], "count", 5, 9)
    assert str(info.value) == f"{path}:2: count: must be between 5 and 9, not 3"
    with pytest.raises(FileError) as info:
        data.mapping(data.root, "", Keys(("name",)))
    assert str(info.value) == f"{path}:2: count: unknown key (expected one of: name)"


# ---- random damage to a valid file: a FileError of the file's class, or a loaded file

PIECES = st.sampled_from([
    ":", ": ", "- ", "  ", "\n", "\t", "[", "]", "{", "}", ",", "'", '"', "&a ", "*a", "!!int ", "!!bool ",
    "!!float ", "!x ", "? ", "|", ">", "#", "~", "null", "0", "-1", ".inf", ".nan", "yes", "<<: ", "---",
    "\x00", "\u2028", "\ud800", "id", "steps", "run", "name", "primary", "variables", "meaning", "host",
])
MUTATIONS = mutations(PIECES, lines=500, chars=20000)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(MUTATIONS, min_size=1, max_size=4))
def test_mutations_of_a_valid_file_load_or_fail_with_one_line(tmp_path: Path, kind: str, mutations: list):
    loader, _, error, text = KINDS[kind]
    for mutation in mutations:
        text = mutate(text, mutation)
    path = write(tmp_path, kind, text)
    try:
        loader(path)
    except FileError as err:
        assert type(err) is error, repr(err)
        message = str(err)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith(str(path)), message


@pytest.mark.parametrize("kind", KINDS)
def test_the_valid_files_load(tmp_path: Path, kind: str):
    loader, _, _, text = KINDS[kind]
    assert loader(write(tmp_path, kind, text))
