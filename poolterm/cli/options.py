"""Options and loading shared by the sub-commands that work on an inventory."""

from __future__ import annotations

import argparse

from poolterm.config.inventory import find_inventory, load_inventory
from poolterm.errors import UsageError


def add_inventory_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--inventory", metavar="HOSTS_YAML",
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
