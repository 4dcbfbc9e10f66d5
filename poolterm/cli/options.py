"""Options and loading shared by the sub-commands that work on an inventory."""

from __future__ import annotations

import argparse

from poolterm.config.inventory import find_inventory, load_inventory
from poolterm.errors import UsageError


def shared_default(sub_command: bool, default=None):
    """The default of an option both `poolterm` and its sub-command take: a sub-command's parser must
    leave the value alone when the option is not given after it, or `poolterm -i FILE check` would
    check ./hosts.yaml (argparse sets a sub-command's defaults over what the top level parsed)."""
    return argparse.SUPPRESS if sub_command else default


def add_inventory_option(parser: argparse.ArgumentParser, *, sub_command: bool = True) -> None:
    parser.add_argument("-i", "--inventory", metavar="HOSTS_YAML", default=shared_default(sub_command),
                        help="inventory file (default: ./hosts.yaml, then the user config dir)")


def load_pools(args):
    """The inventory and the pools the command is about, or a one-line error."""
    inventory = load_inventory(find_inventory(args.inventory))
    pools = list(inventory.pools)
    if getattr(args, "pool", None):
        pools = [p for p in pools if p.name == args.pool]
        if not pools:
            known = ", ".join(p.name for p in inventory.pools)
            raise UsageError(f"no pool named {args.pool!r} in {inventory.path} (pools: {known})")
    return inventory, pools
