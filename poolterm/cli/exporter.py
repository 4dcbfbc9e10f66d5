"""`poolterm exporter`: keep probing and serve the pools' diagnosis to Prometheus at /metrics.

Many jump boxes and many pools are aggregated by Prometheus and Alertmanager, as any
other exporter's targets are; poolterm builds no aggregator of its own. Example alert
rules: docs/alerts.yml (docs/alerting.md says what each asks of the on-call).
"""

from __future__ import annotations

import asyncio

from poolterm.cli.options import add_inventory_option, load_pools
from poolterm.monitoring import exporter
from poolterm.monitoring.http import MetricsServer, parse_listen
from poolterm.transport.ssh import raise_nofile_limit


def register(sub) -> None:
    parser = sub.add_parser(
        "exporter",
        help="keep probing every host and serve the diagnosis as Prometheus metrics",
        description="Probe every host of the inventory as the console does (same pace, same load on each "
                    "master) and serve the diagnosis as Prometheus metrics at http://HOST:PORT/metrics. "
                    "SIGTERM or Ctrl-C stops it (exit 0).",
    )
    add_inventory_option(parser)
    parser.add_argument("--listen", metavar="HOST:PORT", required=True,
                        help="where to serve, e.g. 127.0.0.1:9864; another interface only when named "
                             "(0.0.0.0:9864 for all)")
    parser.set_defaults(func=run)


def run(args) -> int:
    host, port = parse_listen(args.listen)
    inventory, _pools = load_pools(args)
    raise_nofile_limit()
    server = MetricsServer(host, port)  # bound now: a port in use stops us before any host is probed
    print(f"poolterm exporter: serving {server.url} for {len(inventory.hosts())} hosts in "
          f"{len(inventory.pools)} pool(s)", flush=True)
    try:
        asyncio.run(exporter.run(inventory, server, interval=inventory.probe.interval,
                                 timeout=inventory.probe.timeout))
    finally:
        server.close()  # the run closed it, unless it failed before serving
    return 0
