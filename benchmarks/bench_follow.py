"""Journal record written → shown on a follower's console, while the driver streams output (issue #15).

A writer process plays the driver: through poolterm's own Journal it writes a command's output
at ``--rate`` lines a second (2,000 by default) and, ten times a second, a note whose text carries
the moment it was written. The follower is the console in follow mode (Textual's headless
driver, in this process, on a fixed diagnosis so that only the journal feed is measured); a
note counts as shown when the log pane writes it to its widget (the next frame, at most 1/60 s
later, puts it on the terminal). The baseline, in the same run, is `tail -F` of the same
journal piped to a reader that timestamps each note as it arrives.

    python benchmarks/bench_follow.py [--seconds 20] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poolterm.actions.driver_lock import Seat  # noqa: E402
from poolterm.ui.logpane import LogPane  # noqa: E402
from tests.helpers.static_console import make_static_app  # noqa: E402

TARGET_P95 = 0.5
MARK = "bench-marker"

WRITER = textwrap.dedent("""
    import sys, time
    from poolterm.actions.journal import Journal
    from poolterm.actions.records import CommandStart, Note, OutputLine
    path, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    journal = Journal.open(path, operator="alice", role="driver")
    journal.write(CommandStart(id="c-1", host="plot2", command="xe vm-list", remote="xe vm-list",
                               changes_pool=False, operator="alice", source="console"))
    start = time.monotonic()
    lines = marks = 0
    while (now := time.monotonic()) - start < seconds:
        while lines < (now - start) * rate:
            journal.write(OutputLine(id="c-1", stream="stdout", line=f"uuid ( RO)  : line {lines} of a long vm-list"))
            lines += 1
        if marks < (now - start) * 10:
            journal.write(Note(operator="alice", role="driver", text=f"%s {marks} {time.time():.6f}"))
            marks += 1
        time.sleep(0.002)
    journal.close()
    print(lines, marks, flush=True)
""" % MARK)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [float("nan")]
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def marker_time(text: str) -> float | None:
    at = text.find(MARK)
    if at < 0:
        return None
    parts = text[at:].split()
    return float(parts[2]) if len(parts) >= 3 else None


def start_writer(journal: Path, rate: float, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(journal), str(rate), str(seconds)],
                            stdout=subprocess.PIPE, text=True)


def tail_baseline(journal: Path, rate: float, seconds: float) -> tuple[list[float], str]:
    latencies: list[float] = []
    journal.touch()
    tail = subprocess.Popen(["tail", "-F", "-n", "+1", str(journal)], stdout=subprocess.PIPE, text=True)

    def read() -> None:
        for line in tail.stdout:
            if MARK in line:
                written = marker_time(json.loads(line)["text"])
                latencies.append(time.time() - written)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    writer = start_writer(journal, rate, seconds)
    done = writer.communicate()[0].strip()
    time.sleep(0.5)  # the last notes' way through tail: a stretch of time is what is measured
    tail.terminate()
    tail.wait()
    return latencies, done


async def follower(journal: Path, rate: float, seconds: float) -> tuple[list[float], str]:
    latencies: list[float] = []
    journal.touch()
    app = make_static_app("healthy", seat=Seat(journal, None))
    flush = LogPane.flush

    def timed_flush(pane: LogPane) -> None:
        # The pane's own timer calls this: when it returns, the lines are in the widget, on the
        # terminal at the next frame.
        waiting = [marker_time(text) for _, text in pane._pending if MARK in text]
        flush(pane)
        now = time.time()
        latencies.extend(now - written for written in waiting if written is not None)

    LogPane.flush = timed_flush
    async with app.run_test(size=(160, 48)) as pilot:
        writer = start_writer(journal, rate, seconds)
        while writer.poll() is None:
            await pilot.pause(0.05)
        done = writer.stdout.read().strip()
        await pilot.pause(1.0)  # the last notes' way to the screen
    return latencies, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=2000)
    args = parser.parse_args()
    print(f"journal record -> follower, the driver streaming {args.rate:g} lines/s for {args.seconds:g} s")
    with tempfile.TemporaryDirectory(prefix="poolterm-bench-follow-") as tmp:
        shown, written = asyncio.run(follower(Path(tmp) / "console.jsonl", args.rate, args.seconds))
        base, base_written = tail_baseline(Path(tmp) / "tail.jsonl", args.rate, args.seconds)
    for label, values, done in (("poolterm follow (console)", shown, written), ("baseline: tail -F", base, base_written)):
        lines, marks = done.split()
        print(f"  {label:<26} {len(values)}/{marks} notes seen; p50 {percentile(values, 0.5) * 1000:6.1f} ms, "
              f"p95 {percentile(values, 0.95) * 1000:6.1f} ms, max {max(values) * 1000:6.1f} ms "
              f"({lines} output lines written)")
    met = percentile(shown, 0.95) <= TARGET_P95 and len(shown) > 0
    print(f"target p95 <= {TARGET_P95 * 1000:.0f} ms: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
