"""Log pane ingest: lines per second through LogPane vs the stock Log, and memory after 1M lines.

    python benchmarks/bench_log.py [--lines 1000000] [--single 20000]

Every run feeds realistic remote output (xe records, 8 hosts, some stderr) in
bursts, yielding to the event loop between bursts so the flush timer, the
repaints and Log's width-measuring workers all run, as they do live. The clock
stops when every line is in the widget and every worker has finished.

- LogPane.append: sanitise + prefix + buffer, one write_lines per flush
- Log.write_lines: the stock widget fed the same batches (no prefix, no sanitising)
- Log.write_line: the stock widget fed one line at a time (the slow way)

DESIGN target: at least 100,000 lines/s, memory bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from procstat import rss_mb  # beside this script
from textual.app import App
from textual.widget import Widget
from textual.widgets import Log
from widget_app import WidgetApp  # beside this script

from poolterm.ui.logpane import LogPane

TARGET = 100_000
BURST = 1_000
MAX_LINES = 10_000

SAMPLE = [
    "uuid ( RO)                : 4a7b2c1e-9d3f-4e8a-b6c5-1f2e3d4c5b6a",
    "          name-label ( RW): plot3",
    "             address ( RO): 192.0.2.13",
    "             enabled ( RO): true",
    "    host-metrics-live ( RO): true",
    "",
    "The host is still booting.",
    "code: HOST_STILL_BOOTING",
    "\x1b[31mError:\x1b[0m connection refused\tretrying",
    "Broadcast message from root@plot1 (somewhere) (Sat Mar 14 09:26:53 2026):",
]


async def settle(app: App) -> None:
    await app.workers.wait_for_complete()
    await asyncio.sleep(0)


async def feed_pane(pane: LogPane, count: int, checkpoints: dict[int, float]) -> None:
    hosts = [f"plot{i}" for i in range(1, 9)]
    streams = ["stdout"] * 9 + ["stderr"]
    checkpoints[0] = rss_mb()  # the app is up, nothing fed yet
    for start in range(0, count, BURST):
        for i in range(start, min(start + BURST, count)):
            pane.append(hosts[i % 8], streams[i % 10], SAMPLE[i % len(SAMPLE)])
        if start + BURST in checkpoints:
            checkpoints[start + BURST] = rss_mb()
        await asyncio.sleep(0)
    pane.flush()


async def feed_log_batched(log: Log, count: int) -> None:
    lines: list[str] = []
    for i in range(count):
        lines.append(SAMPLE[i % len(SAMPLE)])
        if len(lines) == BURST:
            log.write_lines(lines)
            lines = []
            await asyncio.sleep(0)
    if lines:
        log.write_lines(lines)


async def feed_log_single(log: Log, count: int) -> None:
    for i in range(count):
        log.write_line(SAMPLE[i % len(SAMPLE)])
        if i % BURST == BURST - 1:
            await asyncio.sleep(0)


async def run(widget: Widget, feed, count: int) -> tuple[float, Widget]:
    app = WidgetApp(widget)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        start = time.perf_counter()
        await feed(widget, count)
        await settle(app)
        elapsed = time.perf_counter() - start
        await pilot.pause()
    return elapsed, widget


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines through LogPane and batched Log")
    parser.add_argument("--single", type=int, default=20_000, help="lines through Log.write_line (slow)")
    args = parser.parse_args()

    print("load average before the run: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} CPUs (figures are wall time: a busy machine lowers them)")
    print(f"{'how':<34} {'lines':>10} {'seconds':>8} {'lines/s':>10}")

    def row(label: str, count: int, seconds: float) -> float:
        rate = count / seconds
        print(f"{label:<34} {count:>10,} {seconds:>8.2f} {rate:>10,.0f}")
        return rate

    # LogPane first, so the memory it is charged with is its own.
    marks = {n: 0.0 for n in (args.lines // 10, args.lines // 2, args.lines) if n and n % BURST == 0}
    pane = LogPane(max_lines=MAX_LINES)
    seconds, pane = await run(pane, lambda p, n: feed_pane(p, n, marks), args.lines)
    rate = row("LogPane.append (sanitise+prefix)", args.lines, seconds)
    after = rss_mb()
    batched, _ = await run(Log(max_lines=MAX_LINES), feed_log_batched, args.lines)
    row(f"Log.write_lines, {BURST}-line batches", args.lines, batched)
    single, _ = await run(Log(max_lines=MAX_LINES), feed_log_single, args.single)
    row("Log.write_line, one at a time", args.single, single)

    print(f"LogPane: {pane.writes} write_lines calls, {len(pane.lines):,} lines kept "
          f"(max_lines {MAX_LINES:,}), ring {pane.retained:,}")
    print(f"RSS MB: app up, nothing fed {marks.pop(0):.1f}"
          + "".join(f"; after {n:,} lines {mb:.1f}" for n, mb in marks.items())
          + f"; app closed {after:.1f}")
    print(f"LogPane vs one-at-a-time Log: x{rate / (args.single / single):.0f}; "
          f"{'meets' if rate >= TARGET else 'MISSES'} the {TARGET:,} lines/s target")


if __name__ == "__main__":
    asyncio.run(main())
