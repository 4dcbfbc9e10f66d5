"""The HA evidence a host keeps without its master: local.db and xhad's liveset (poolterm/xha.py),
parsed from the literal formats of their writers, and through the probe's sections."""

from __future__ import annotations

from poolterm.model import Observation, Reach
from poolterm.probing.probe import build_probe_command
from poolterm.xha import parse_liveset, parse_local_db
from tests.helpers.factories import parse_probe, probe_lines, probe_section

A = "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11"
B = "8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22"


def liveset_text(*, b_live: bool = True, lost: bool = False) -> str:
    """ha_query_liveset's output on host A, as xha's print_query_liveset writes it."""
    def host(uuid: str, index: int, live: bool, master: bool) -> list[str]:
        return ["  <host>", f"    <HostID>{uuid}</HostID>", f"    <HostIndex>{index}</HostIndex>",
                f"    <liveness>{'TRUE' if live else 'FALSE'}</liveness>",
                f"    <master>{'TRUE' if master else 'FALSE'}</master>",
                f"    <statefile_access>{'FALSE' if lost else 'TRUE'}</statefile_access>",
                "    <statefile_corrupted>FALSE</statefile_corrupted>", "    <excluded>FALSE</excluded>", "  </host>"]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<ha_liveset_info version="1.0">', "  <status>Online</status>",
             "  <localhost>", f"    <HostID>{A}</HostID>", "    <HostIndex>0</HostIndex>", "  </localhost>",
             *host(A, 0, True, False), *host(B, 1, b_live, True),
             "  <raw_status_on_local_host>", "    <statefile_latency>3</statefile_latency>",
             "  </raw_status_on_local_host>", "  <warning_on_local_host>",
             f"    <statefile_lost>{'TRUE' if lost else 'FALSE'}</statefile_lost>",
             "  </warning_on_local_host>", "</ha_liveset_info>"]
    return "\n".join(lines)


def test_local_db_rows_say_armed_and_the_timeout():
    text = (f'<config><row key="ha.armed" value="true"/><row key="ha_base_t" value="10"/>'
            f'<row key="ha_peers" value="((&apos;{A}&apos; &apos;10.0.0.1&apos;))"/></config>')
    local = parse_local_db(text)
    assert (local.armed, local.timeout) == (True, 10.0)
    assert parse_local_db('<config><row key="ha.armed" value="false"/></config>').armed is False
    # xapi's default when the key was never written: not armed; a silly timeout is not taken.
    assert parse_local_db("<config></config>") == parse_local_db('<row key="ha_base_t" value="-1"/>')


def test_a_hostile_local_db_is_not_parsed_as_xml():
    text = ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><config>'
            '<row key="ha.armed" value="&e;"/><row key="ha_base_t" value="1e999"/></config>')
    local = parse_local_db(text)
    assert (local.armed, local.timeout) == (False, None)


def test_the_liveset_gives_who_is_live_and_who_holds_the_master_lock():
    live = parse_liveset(liveset_text())
    assert live.local == A and live.online and not live.statefile_lost
    assert live.live == {A, B} and live.lock_holder == B
    dead = parse_liveset(liveset_text(b_live=False, lost=True))
    assert dead.live == {A} and dead.lock_holder is None and dead.statefile_lost


def test_anything_but_the_liveset_format_gives_nothing():
    assert parse_liveset("") is None
    assert parse_liveset("<ha_liveset_info><status>Maybe</status></ha_liveset_info>") is None
    assert parse_liveset("\x1b]52;c;ZXZpbA==\x07<ha_liveset_info>") is None


def test_the_probe_reads_local_db_always_and_the_liveset_only_on_an_armed_host():
    first = build_probe_command(None, 5)  # nobody knows yet: a host without xhad answers at once
    assert "cat /var/lib/xcp/local.db 2>/dev/null" in first and "ha_query_liveset" in first
    disarmed = Observation(host="plot1", at=0, reach=Reach.CONNECTED, pool_conf="master", ha_armed=False)
    plain = build_probe_command(disarmed, 5)
    assert "cat /var/lib/xcp/local.db 2>/dev/null" in plain and "ha_query_liveset" not in plain
    armed = Observation(host="plot1", at=0, reach=Reach.CONNECTED, pool_conf="master", ha_armed=True)
    command = build_probe_command(armed, 5)
    assert "timeout -k 1 2 /usr/libexec/xapi/cluster-stack/xhad/ha_query_liveset 2>/dev/null" in command


def test_the_probe_sections_and_the_forwarded_pool_record_fill_the_observation():
    lines = probe_lines(conf="slave:10.0.0.1", uuid=A, secret="a" * 64)[:-2]  # without its xe section
    lines += probe_section("ha", '<config><row key="ha.armed" value="true"/><row key="ha_base_t" value="30"/></config>', 0)
    lines += probe_section("live", liveset_text(), 0)
    record = (f"master ( RO)                          : {B}\n                      ha-enabled ( RO): true\n"
              "    ha-host-failures-to-tolerate ( RW): 2\n\n")
    lines += probe_section("xe", record, 0)
    obs = parse_probe("plot2", lines, 5.0)
    assert (obs.ha_armed, obs.ha_timeout, obs.pool_master_uuid, obs.pool_ha_enabled, obs.pool_ha_tolerate) == \
        (True, 30.0, B, True, 2)
    assert obs.ha_live.lock_holder == B
    # No local.db: nothing learned (not "disarmed"); a liveset the daemon could not give: none.
    lines = probe_section("ha", "", 1) + probe_section("live", "", 14)
    obs = parse_probe("plot2", lines, 5.0)
    assert (obs.ha_armed, obs.ha_live) == (None, None)
