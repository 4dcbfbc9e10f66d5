"""Options and loading shared by the sub-commands that work on an inventory."""

from __future__ import annotations

import argparse
from fnmatch import fnmatchcase

from poolterm.config.inventory import find_inventory, load_inventory
from poolterm.errors import UsageError
from poolterm.probing.shards import MAX_WORKERS

#: Pools named in the one-line error of a --pool that matches none; the rest are counted.
KNOWN_POOLS_SHOWN = 10


def shared_default(sub_command: bool, default=None):
    """The default of an option both `poolterm` and its sub-command take: a sub-command's parser must
    leave the value alone when the option is not given after it, or `poolterm -i FILE check` would
    check ./hosts.yaml (argparse sets a sub-command's defaults over what the top level parsed)."""
    return argparse.SUPPRESS if sub_command else default


def add_inventory_option(parser: argparse.ArgumentParser, *, sub_command: bool = True) -> None:
    parser.add_argument("-i", "--inventory", metavar="HOSTS_YAML", default=shared_default(sub_command),
                        help="inventory file (default: ./hosts.yaml, then the user config dir)")


def checked_workers(asked: int | None, *, least: int) -> int | None:
    """``--probe-workers`` as given (None when it was not), or a one-line error: ``least`` is 0 for a
    console (0: probe in its own process), 1 for `check` (1: in its own process; one worker process
    would only add its start-up to a single round)."""
    if asked is not None and not least <= asked <= MAX_WORKERS:
        raise UsageError(f"--probe-workers must be between {least} and {MAX_WORKERS}, not {asked}")
    return asked


def load_pools(args):
    """The inventory and the pools the command is about (``--pool``, see :func:`select_pools`), or a one-line error."""
    inventory = load_inventory(find_inventory(args.inventory))
    return inventory, select_pools(inventory, getattr(args, "pool", None))


def select_pools(inventory, wanted) -> list:
    """The pools ``wanted`` names, in inventory order: ``None`` for all, else one value or a list of them
    (``--pool`` given several times), each a comma-separated list of names or shell globs (``lab*``).
    A name or glob that matches no pool is a :class:`UsageError` naming the pools there are."""
    if not wanted:
        return list(inventory.pools)
    patterns = [part.strip() for value in ([wanted] if isinstance(wanted, str) else wanted)
                for part in value.split(",") if part.strip()]
    if not patterns:
        raise UsageError("--pool needs a pool name or a glob (lab*)")
    chosen = set()
    for pattern in patterns:
        matched = {p.name for p in inventory.pools if fnmatchcase(p.name, pattern)}
        if not matched:
            raise UsageError(f"no pool matches {pattern!r} in {inventory.path} (pools: {_known(inventory)})")
        chosen |= matched
    return [p for p in inventory.pools if p.name in chosen]


def _known(inventory) -> str:
    names = [p.name for p in inventory.pools]
    shown = ", ".join(names[:KNOWN_POOLS_SHOWN])
    return shown + (f" and {len(names) - KNOWN_POOLS_SHOWN} more" if len(names) > KNOWN_POOLS_SHOWN else "")
