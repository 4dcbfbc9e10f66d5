"""`poolterm exporter` as Prometheus meets it: a real process probing a simulated pool over real SSH,
scraped over HTTP and read with prometheus_client's own parser; stopped by a signal, like a service."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import textwrap
import urllib.error
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.cli import POOLTERM, poolterm
from tests.helpers.sshd import free_port

#: The done-means of issue #14: a crashed master shows as master-lost within this many seconds.
DETECTION = 5.0


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    """Sample name -> {sorted label items: value}, as Prometheus would read the page."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        text = answer.read().decode()
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def current_verdict(found, pool: str = "lab") -> list[str]:
    return [dict(k)["verdict"] for k, v in found.get("poolterm_pool_verdict", {}).items()
            if v == 1.0 and dict(k)["pool"] == pool]


async def until(url: str, wanted, timeout: float) -> dict:
    """Scrape until ``wanted(found)``; the last scrape's samples."""
    async with asyncio.timeout(timeout):
        while True:
            found = await asyncio.to_thread(scrape, url)  # this loop runs the simulator: never block it
            if wanted(found):
                return found
            await asyncio.sleep(0.1)


async def start_exporter(sim, port: int) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        *POOLTERM, "exporter", "-i", str(sim.hosts_yaml), "--listen", f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "HOME": str(sim.directory)})
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert f"http://127.0.0.1:{port}/metrics" in line, line
    return proc, f"http://127.0.0.1:{port}/metrics"


async def stop(proc: asyncio.subprocess.Process, signum: int) -> tuple[int, bytes, bytes]:
    proc.send_signal(signum)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    return proc.returncode, out, err


async def test_healthy_then_master_lost_within_five_seconds_then_sigterm_exits_0(sim):
    proc, url = await start_exporter(sim, free_port("127.0.0.1"))
    try:
        found = await until(url, lambda f: current_verdict(f) == ["healthy"], 30)
        assert found["poolterm_pool_verdict"][(("pool", "lab"), ("verdict", "healthy"))] == 1.0
        names = [f"plot{i}" for i in range(1, 9)]
        found = await until(url, lambda f: len(f.get("poolterm_host_up", {})) == 8
                            and all(v == 1.0 for v in f["poolterm_host_up"].values()), 30)
        assert sorted(dict(k)["host"] for k in found["poolterm_host_up"]) == sorted(names)
        believers = [dict(k)["host"] for k, v in found["poolterm_host_believes_master"].items() if v == 1.0]
        assert believers == ["plot1"]
        assert found["poolterm_host_xapi_state"][(("host", "plot2"), ("pool", "lab"), ("state", "answering"))] == 1.0
        assert all(age < 10 for age in found["poolterm_host_last_answer_age_seconds"].values())
        assert found["poolterm_probe_rounds_total"][()] >= 8
        assert found["poolterm_probe_round_seconds_count"][(("pool", "lab"),)] >= 8
        assert sum(found["poolterm_probe_mode"].values()) == 1.0
        assert found["poolterm_probe_master_budget_per_minute"][()] == 60.0
        assert found["poolterm_probe_master_load_per_minute"][(("pool", "lab"),)] > 0

        loop = asyncio.get_running_loop()
        crashed = loop.time()
        await sim.ctl("crash", "plot1")
        found = await until(url, lambda f: current_verdict(f) == ["master-lost"], 3 * DETECTION)
        seen = loop.time() - crashed
        assert seen <= DETECTION, f"master-lost after {seen:.1f} s"
        assert found["poolterm_host_up"][(("host", "plot1"), ("pool", "lab"))] == 0.0
        assert found["poolterm_probe_mode"][(("mode", "alert"), ("pool", "lab"))] == 1.0
    finally:
        status, out, err = await stop(proc, signal.SIGTERM)
    assert status == 0, err.decode()
    # nothing per scrape: the start line was all it ever printed
    assert (out, err) == (b"", b""), (out, err)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def test_sigint_exits_0_and_closes_the_port(sim):
    port = free_port("127.0.0.1")
    proc, url = await start_exporter(sim, port)
    try:
        await until(url, lambda f: "poolterm_pool_verdict" in f, 30)
        assert await asyncio.to_thread(status_of, f"http://127.0.0.1:{port}/nothing-here") == 404
    finally:
        status, out, err = await stop(proc, signal.SIGINT)
    assert (status, out, err) == (0, b"", b"")
    with pytest.raises(ConnectionRefusedError):  # the listening socket is closed, not left behind
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


async def test_check_format_openmetrics_against_the_pool(sim):
    args = ["check", "-i", str(sim.hosts_yaml), "--timeout", "1.5", "--format", "openmetrics"]
    env = {"HOME": str(sim.directory)}
    status, out, err = await poolterm(*args, env=env)
    assert (status, err) == (0, "")
    families = {f.name: f for f in parse_openmetrics(out)}
    healthy = [s for s in families["poolterm_pool_verdict"].samples if s.labels["verdict"] == "healthy"]
    assert [s.value for s in healthy] == [1.0]
    assert len(families["poolterm_host_up"].samples) == 8

    await sim.ctl("shutdown", "plot1")
    status, out, err = await poolterm(*args, env=env)
    assert (status, err) == (2, "")
    families = {f.name: f for f in parse_openmetrics(out)}
    assert [s.labels["verdict"] for s in families["poolterm_pool_verdict"].samples if s.value == 1.0] == ["master-lost"]


@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.0.1:metrics", ":9864", "::1:9864", "127.0.0.1:70000",
                                    "*:9864", "in-use"])
async def test_a_bad_listen_address_is_one_line_and_exit_2(tmp_path, listen):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text(textwrap.dedent(f"""\
        ssh: {{known_hosts: {known_hosts}}}
        pools:
          - name: lab
            hosts:
              - {{name: plot1, address: 127.0.0.1}}
        """))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        if listen == "in-use":
            listen = f"127.0.0.1:{taken.getsockname()[1]}"
        status, out, err = await poolterm("exporter", "-i", str(inventory), "--listen", listen,
                                          env={"HOME": str(tmp_path)}, timeout=30)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("poolterm: --listen"), err
