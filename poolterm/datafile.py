"""One way to read a YAML data file: the loader every reader uses, and the checks they share.

poolterm reads six kinds of data file: hosts.yaml, config.yaml, the playbooks, the
simulator's scenarios, themes and verdicts.yaml. :class:`DataFile` reads each the same
way: UTF-8 text, composed into YAML nodes rather than Python values so that every value
keeps the line it came from, and nested no deeper than :data:`MAX_DEPTH`. Its checks
(:meth:`DataFile.mapping` with a :class:`Keys` shape, :meth:`~DataFile.sequence`,
:meth:`~DataFile.string`, :meth:`~DataFile.integer`, :meth:`~DataFile.number`,
:meth:`~DataFile.boolean`, :meth:`~DataFile.value`) turn nodes into Python values or
raise the reader's :class:`~poolterm.errors.FileError` subclass, whose ``str()`` is the
one line ``FILE:LINE: KEY: message``. A reader declares its file's shape with these
and adds only what is particular to its file.

Each check's complaint has a standard wording; a reader whose messages predate this
module passes its own (``expected=...``, or a :class:`Keys` field), so every file
keeps the messages its operators and tests know.

Pure: only yaml and :mod:`poolterm.errors`, so any layer may use it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from poolterm.errors import FileError

TAG = "tag:yaml.org,2002:"
NULL, BOOL, INT, FLOAT, STR = (TAG + t for t in ("null", "bool", "int", "float", "str"))
#: Deeper than any poolterm file needs, and far inside Python's recursion limit, so nothing
#: that later walks the values (conditions, repr, comparisons) can overflow the stack.
MAX_DEPTH = 100

#: Where an unknown or missing key is reported: ``(mapping's key, key name, allowed keys)``
#: → ``(KEY, message)``. See :func:`suggest`, :func:`at_key` and :func:`at_mapping`.
Placement = Callable[[str, str, Sequence[str]], tuple[str, str]]


# --------------------------------------------------------------------------- naming the place


def line_of(node: Node) -> int:
    return node.start_mark.line + 1


def child(parent: str, key: str | int) -> str:
    """The KEY of a value inside ``parent``: ``ssh.port``, ``pools[0]``, or ``port`` at the top."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def describe(node: Node) -> str:
    """What was found instead, for "expected X, found Y"."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == NULL:
        return "nothing"
    return repr(node.value) if len(node.value) <= 40 else repr(node.value[:37] + "...")


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL


def suggest(parent: str, name: str, allowed: Sequence[str]) -> tuple[str, str]:
    """The standard unknown key message, at the key itself: the nearest valid key, or all of them."""
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return child(parent, name), f"unknown key; did you mean {close[0]!r}?"
    return child(parent, name), f"unknown key (expected one of: {', '.join(allowed)})"


def at_key(template: str) -> Placement:
    """A message at the key itself; ``{name}`` and ``{allowed}`` are filled in."""
    return lambda parent, name, allowed: (child(parent, name),
                                          template.format(name=name, allowed=", ".join(allowed)))


def at_mapping(template: str) -> Placement:
    """A message at the mapping that holds the key, naming it with ``{name}``."""
    return lambda parent, name, allowed: (parent, template.format(name=name, allowed=", ".join(allowed)))


@dataclass(frozen=True)
class Keys:
    """The shape of one mapping of a file: the keys it may and must hold, and how a mistake
    in them is worded. Templates get ``{found}`` (what the value is instead of a mapping)
    and ``{first}`` (the line a repeated key was first given on)."""

    allowed: Sequence[str] | None = None  # None: any key
    required: Sequence[str] = ()
    unknown: Placement = suggest
    missing: Placement = at_key("missing")
    repeated: str = "repeated key (first given on line {first})"
    expected: str = "expected a mapping, found {found}"


# --------------------------------------------------------------------------- reading


def read_text(path: Path, error: type[FileError] = FileError, *, missing_ok: bool = False) -> str | None:
    """The file's text; None if it does not exist and ``missing_ok``. One line on any problem."""
    label = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        if missing_ok:
            return None
        raise error(label, f"cannot read: {exc.strerror or exc}") from None
    except OSError as exc:
        raise error(label, f"cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise error(label, f"cannot read: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(label, f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line=line) from None


def compose(text: str, file: str, error: type[FileError] = FileError) -> Node | None:
    """The node tree of one YAML document (None if empty); YAML mistakes as one-line errors."""
    # compose (not load) keeps every node's line, for messages that point at the place.
    # libyaml composes 1000 hosts in ~20 ms where the pure-Python loader takes ~300 ms.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context and exc.context_mark:
            # The opening of an unclosed bracket or quote is usually the line to fix.
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise error(file, f"YAML syntax error: {problem}", line=line, column=column) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise error(file, f"YAML syntax error: character {exc.character!r} is not allowed", line=line) from None
    except yaml.YAMLError as exc:
        raise error(file, f"YAML syntax error: {exc}") from None
    except UnicodeEncodeError:  # libyaml takes UTF-8: a lone surrogate in text handed to parse()
        raise error(file, "not UTF-8 text (a lone surrogate)") from None
    except RecursionError:  # the pure-Python composer recurses once per level
        raise error(file, "YAML syntax error: nested too deeply") from None
    if root is not None:
        _check_depth(root, DataFile(file, root, error))
    return root


def _collections(node: Node) -> list[Node]:
    """The mappings and lists directly inside ``node`` (keys included): scalars add no depth."""
    if isinstance(node, MappingNode):
        parts = [part for pair in node.value for part in pair]
    elif isinstance(node, SequenceNode):
        parts = node.value
    else:
        return []
    return [part for part in parts if not isinstance(part, ScalarNode)]


def _check_depth(root: Node, data: DataFile) -> None:
    """Refuse a tree deeper than MAX_DEPTH, following aliases, without recursing.

    Aliases share nodes, so the tree is a graph: each node's height is computed once
    (a billion laughs stays linear), and an alias inside its own anchor is a cycle.
    A collection's height counts itself and its scalars: ``[[a]]`` is 2 deep.
    """
    heights: dict[int, int] = {}
    open_nodes: set[int] = set()  # the path from the root to the node being walked
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            open_nodes.discard(id(node))
            height = 1 + max((heights[id(c)] for c in _collections(node)), default=0)
            if height > MAX_DEPTH:
                raise data.fail(node, None, f"nested too deeply (more than {MAX_DEPTH} levels)")
            heights[id(node)] = height
            continue
        if id(node) in heights:
            continue
        if id(node) in open_nodes:
            raise data.fail(node, None, "nested too deeply (an alias inside its own anchor)")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in _collections(node))


# --------------------------------------------------------------------------- checking


class DataFile:
    """One composed file: its name for messages, its root node, and the checks on its nodes.

    Every check takes the node and its KEY (``ssh.port``, ``steps[2].run``; ``""`` at the
    top) and raises :attr:`error` with the node's line. A reader subclasses it, setting
    :attr:`error` to its file's error class and adding the checks only its file needs.
    """

    error: type[FileError] = FileError

    def __init__(self, file: str, root: Node | None, error: type[FileError] | None = None):
        self.file = file
        self.root = root
        if error is not None:
            self.error = error

    @classmethod
    def read(cls, path: Path, *, missing_ok: bool = False, error: type[FileError] | None = None) -> Self | None:
        """Read and compose ``path``; None only for a missing file with ``missing_ok``."""
        text = read_text(path, error or cls.error, missing_ok=missing_ok)
        if text is None:
            return None
        return cls.parse(text, str(path), error)

    @classmethod
    def parse(cls, text: str, file: str, error: type[FileError] | None = None) -> Self:
        """Compose ``text``, naming it ``file`` in messages."""
        return cls(file, compose(text, file, error or cls.error), error)

    def fail(self, node: Node | None, key: str | None, message: str) -> FileError:
        """The error to raise for ``node``: ``FILE:LINE: KEY: message``."""
        return self.error(self.file, message, line=None if node is None else line_of(node), key=key or None)

    def top(self, message: str, key: str | None = None) -> Node:
        """The root node; ``message`` at line 1 when the file holds nothing but comments."""
        if self.root is None:
            raise self.error(self.file, message, line=1, key=key)
        return self.root

    def mapping(self, node: Node, key: str, keys: Keys = Keys()) -> Fields:
        """The mapping's entries, its keys checked against ``keys``; repeated keys are refused."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, key, keys.expected.format(found=describe(node)))
        allowed = keys.allowed or ()
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise self.fail(key_node, key, "keys must be plain words")
            name = key_node.value
            if name in entries:
                first = line_of(entries[name][0])
                raise self.fail(key_node, child(key, name), keys.repeated.format(first=first))
            if keys.allowed is not None and name not in allowed:
                raise self.fail(key_node, *keys.unknown(key, name, allowed))
            entries[name] = (key_node, value_node)
        fields = Fields(self, node, key, entries)
        for name in keys.required:
            if name not in entries:
                raise self.fail(node, *keys.missing(key, name, allowed))
        return fields

    def sequence(self, node: Node, key: str, expected: str = "expected a list, found {found}") -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, key, expected.format(found=describe(node)))
        return list(node.value)

    def string(self, node: Node, key: str, expected: str = "expected a single value, found {found}") -> str | None:
        """A scalar's text (``22`` and ``yes`` are text here); None for null."""
        if not isinstance(node, ScalarNode):
            raise self.fail(node, key, expected.format(found=describe(node)))
        if node.tag == NULL:
            return None
        if not node.tag.startswith(TAG):
            raise self.fail(node, key, f"YAML tag {node.tag!r} is not supported")
        return node.value

    def integer(self, node: Node, key: str, low: int, high: int) -> int:
        if not isinstance(node, ScalarNode) or node.tag != INT:
            raise self.fail(node, key, f"expected a whole number {low}..{high}, found {describe(node)}")
        try:
            value = SafeConstructor().construct_yaml_int(node)
        except (ValueError, IndexError, yaml.YAMLError):
            raise self.fail(node, key, f"expected a whole number, found {describe(node)}") from None
        if not low <= value <= high:
            raise self.fail(node, key, f"must be between {low} and {high}, not {value}")
        return value

    def number(self, node: Node, key: str, expected: str, *, low: float = -math.inf, high: float = math.inf,
               above: float | None = None, out_of_range: str | None = None) -> float:
        """An int or float (never a boolean) with ``low <= value <= high`` and ``value > above``.

        ``expected`` is the message for anything else; ``out_of_range`` (default: the same)
        for a number outside the range, infinity and NaN included. Both get ``{found}``,
        ``{text}`` (the value as written) and ``{value}`` (the value as YAML reads it).
        """
        value = None
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            try:
                value = float(SafeConstructor().construct_object(node))
            except (ValueError, IndexError, OverflowError, yaml.YAMLError):
                value = None
        if value is None:
            raise self.fail(node, key, self._format(expected, node))
        if not math.isfinite(value) or not low <= value <= high or (above is not None and value <= above):
            raise self.fail(node, key, self._format(out_of_range or expected, node))
        return value

    def boolean(self, node: Node, key: str, expected: str = "expected true or false") -> bool:
        """``true``/``false`` (YAML 1.1's ``yes``/``no``/``on``/``off`` too, as YAML reads them)."""
        if not isinstance(node, ScalarNode) or node.tag != BOOL:
            raise self.fail(node, key, self._format(expected, node))
        try:
            return SafeConstructor().construct_yaml_bool(node)
        except KeyError:  # an explicit `!!bool maybe`
            raise self.fail(node, key, self._format(expected, node)) from None

    def value(self, node: Node, key: str) -> object:
        """The node as plain Python data, exactly as ``yaml.safe_load`` would build it."""
        try:
            return SafeConstructor().construct_document(node)
        except yaml.MarkedYAMLError as exc:  # an unknown tag, an unhashable key
            raise self.fail(node, key, f"cannot use this value: {exc.problem or exc.context}") from None
        except (yaml.YAMLError, *_CONSTRUCTION_SLIPS):
            raise self.fail(node, key, f"cannot use this value: {describe(node)} is not a valid "
                                       f"{node.tag.removeprefix(TAG)}") from None

    def _format(self, template: str, node: Node) -> str:
        fields = {"found": describe(node), "text": getattr(node, "value", "")}
        if "{value" in template:  # built only when the message shows it
            try:
                fields["value"] = SafeConstructor().construct_document(node)
            except (yaml.YAMLError, *_CONSTRUCTION_SLIPS):
                fields["value"] = fields["text"]
        return template.format(**fields)


# What SafeConstructor raises, besides its own errors, on scalars such as `!!int ''`,
# `!!bool maybe` or `!!timestamp soon`.
_CONSTRUCTION_SLIPS = (ValueError, TypeError, AttributeError, IndexError, KeyError, OverflowError)


class Fields:
    """One checked mapping of a file: each value's node, its line and its KEY, by key name."""

    def __init__(self, data: DataFile, node: MappingNode, where: str, entries: dict[str, tuple[Node, Node]]):
        self.data = data
        self.node = node
        self.where = where
        self._entries = entries

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def at(self, name: str) -> str:
        """The KEY of the value under ``name``."""
        return child(self.where, name)

    def key_node(self, name: str) -> Node:
        return self._entries[name][0]

    def __getitem__(self, name: str) -> Node:
        """The value node under ``name``; KeyError if absent."""
        return self._entries[name][1]

    def items(self) -> Iterator[tuple[str, Node]]:
        return ((name, value) for name, (_, value) in self._entries.items())

    def get(self, name: str, default: object = None) -> object:
        """The value under ``name`` as plain Python data (null is None), or ``default`` if absent."""
        if name not in self._entries:
            return default
        return self.data.value(self[name], self.at(name))

    def place(self, name: str) -> Node:
        """Where a problem with ``name`` is reported: its value, or this mapping when it is absent."""
        return self[name] if name in self._entries else self.node

    def require(self, name: str, message: str) -> Node:
        """The value node under ``name``, or ``message`` at this mapping's line."""
        if name not in self._entries:
            raise self.data.fail(self.node, self.at(name), message)
        return self[name]
