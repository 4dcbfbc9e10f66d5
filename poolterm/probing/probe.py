"""The probe: one remote command per host per round, and the parser of its output.

Pure: builds a command string and turns the lines it prints into an
:class:`~poolterm.model.Observation`. Running it is ``watch``'s job.

The command is a flat list of sections, each ``echo @@NAME; CMD; echo " @@end $?"``,
so it runs unchanged in a real dom0 bash and in the simulator's small shell,
and each section's result can be used the moment its end marker arrives: the
cheap, local facts (pool.conf, inventory, secret hash) come first, the calls
that may hang on a lost master come last, each under ``timeout -k``.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections import deque
from dataclasses import dataclass, field

from poolterm import xe, xha
from poolterm.model import DbHost, Observation, Reach, Role, XeCall

#: Exit statuses of GNU timeout: 124 after TERM, 137 (128+KILL) after -k.
TIMED_OUT = frozenset({124, 137})
#: curl's exit statuses for "could not connect" and "timed out".
CURL_REFUSED, CURL_TIMEOUT = 7, 28

MASTER_PORT_TIMEOUT = 1  # seconds: a slave that cannot reach its master's xapi in 1 s has lost it
EMERGENCY_FLAG_TIMEOUT = 2  # host-is-in-emergency-mode is local; it only hangs when xapi itself does
LIVESET_TIMEOUT = 2  # ha_query_liveset asks the local xhad over a socket; it only hangs with xhad

#: The pool record's fields a slave asks its master for: who the master is, and its HA.
POOL_FIELDS = "master,ha-enabled,ha-host-failures-to-tolerate"

DB_FIELDS = "uuid,name-label,address,enabled,host-metrics-live"
#: The newest output lines of a round kept for the host view.
RAW_LINES = 200
#: Bytes one round may print: a 5000-host pool's listing is about 1 MB. A host printing more
#: is stopped, and the round says so in its last line.
ROUND_OUTPUT_LIMIT = 16 << 20

_END = re.compile(r"^(.*) @@end (\d+)$")
_SECTION = re.compile(r"^@@([a-z]+)$")
_INSTALLATION_UUID = re.compile(r"""^INSTALLATION_UUID=['"]?([0-9a-fA-F-]{36})['"]?\s*$""", re.M)


def _section(name: str, command: str) -> str:
    return f'echo @@{name}; {command}; echo " @@end $?"'


def build_probe_command(previous: Observation | None, timeout: float, *, read_inventory: bool = True,
                        deep: bool = True, ask_emergency: bool = True) -> str:
    """The round's command for one host, shaped by what the last round learned.

    A host that was master last round lists its pool database (who it thinks is
    in the pool); any other host asks its master for the pool record, which is
    the forwarded call that hangs when the master is gone. A slave also checks
    that its master's xapi port answers within a second, the fastest sign of a
    lost master from the pool's side. ``read_inventory`` adds the host's
    inventory (its uuid), which changes only when the host is reinstalled.

    Paced (:mod:`poolterm.probing.pacing`): a slave's round that is not ``deep`` pings its
    master instead of costing it a session and a TLS handshake, and ``ask_emergency`` False
    leaves out host-is-in-emergency-mode (a session on the host itself).
    """
    t = _seconds(timeout)
    sections = [_section("conf", "cat /etc/xensource/pool.conf 2>/dev/null")]
    if read_inventory:
        sections.append(_section("inv", "cat /etc/xensource-inventory 2>/dev/null"))
    sections += [
        _section("secret", "sha256sum /etc/xensource/ptoken 2>/dev/null"),
        _section("init", "test -e /var/run/xapi_init_complete.cookie"),
        _section("svc", "systemctl is-active xapi 2>&1"),
    ]
    if ask_emergency:
        sections.append(_section(
            "emerg",
            f"timeout -k 1 {_seconds(min(EMERGENCY_FLAG_TIMEOUT, timeout))} xe host-is-in-emergency-mode 2>&1"))
    sections.append(_section("ha", f"cat {xha.LOCAL_DB} 2>/dev/null"))
    if previous is None or previous.ha_armed:
        # Only an armed host runs xhad; its liveset is the one view of the election without a master.
        # On a first round nobody knows yet: a host without xhad answers at once (exit 14).
        sections.append(_section(
            "live", f"timeout -k 1 {_seconds(min(LIVESET_TIMEOUT, timeout))} {xha.QUERY_LIVESET} 2>/dev/null"))
    master_address = previous.believed_master_address if previous else None
    if master_address and _valid_address(master_address) and not deep:
        sections.append(_section("ping", f"ping -c 1 -W {MASTER_PORT_TIMEOUT} {shlex.quote(master_address)} "
                                         ">/dev/null 2>&1"))
        return "; ".join(sections)
    if master_address and _valid_address(master_address):
        url = shlex.quote(f"https://{_url_host(master_address)}/")
        sections.append(
            _section(
                "mport",
                f"curl -s -k -m {MASTER_PORT_TIMEOUT} -o /dev/null -w '%{{http_code}}' {url}",
            )
        )
    if previous is not None and previous.role is Role.MASTER:
        sections.append(_section("db", f"timeout -k 1 {t} xe host-list params={DB_FIELDS} 2>&1"))
    else:
        sections.append(_section("xe", f"timeout -k 1 {t} xe pool-list params={POOL_FIELDS} 2>&1"))
    return "; ".join(sections)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@functools.lru_cache(maxsize=4096)  # one master address per pool, asked every round by every slave
def _valid_address(address: str) -> bool:
    try:
        xe.validate_address(address)
    except ValueError:
        return False
    return True


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


#: Sections after which something may wait for seconds (a hung xapi, a silent master):
#: what arrived so far is worth publishing before that wait.
PUBLISH_AFTER = frozenset({"svc", "emerg", "live", "mport", "ping"})


@dataclass
class ProbeParser:
    """Feeds on the probe's output line by line; each section is interpreted once, as it ends."""

    host: str
    values: dict[str, object] = field(default_factory=dict)
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=RAW_LINES))
    _current: str | None = None
    _buffer: list[str] = field(default_factory=list)

    def feed(self, line: str) -> str | None:
        """Take one output line; return the section name when one just ended."""
        line = line.rstrip("\r\n")
        self.lines.append(line)
        if "@@" not in line:  # most lines: the regexes below cost more than this test
            if self._current is not None:
                self._buffer.append(line)
            return None
        start = _SECTION.match(line)
        if start:
            self._current, self._buffer = start.group(1), []
            return None
        end = _END.match(line)
        if end and self._current is not None:
            if end.group(1):
                self._buffer.append(end.group(1))
            name, self._current = self._current, None
            self.values.update(interpret_section(name, "\n".join(self._buffer), int(end.group(2))))
            return name
        if self._current is not None:
            self._buffer.append(line)
        return None

    def tells_news(self, known: Observation | None) -> bool:
        """Whether the sections finished so far say anything ``known`` (the last round) did not."""
        return known is None or any(getattr(known, name) != value for name, value in self.values.items())

    def unfinished(self) -> str | None:
        """The section still waiting for its end marker (the one that hangs)."""
        return self._current

    def observation(self, at: float, *, complete: bool, hung: bool = False) -> Observation:
        """What the sections seen so far say. ``hung``: the round was cut off by our deadline."""
        values = dict(self.values)
        if hung and self._current in ("xe", "db") and "xe" not in values:
            values["xe"] = XeCall("hung", "no answer before the probe deadline")
        return Observation(host=self.host, at=at, reach=Reach.CONNECTED, last_seen=at, complete=complete,
                           raw=tuple(self.lines), **values)


def interpret_section(name: str, text: str, rc: int) -> dict[str, object]:
    """The Observation fields one finished section gives."""
    if name == "conf":
        return {"pool_conf": text.strip() if rc == 0 else None}
    if name == "inv":
        match = _INSTALLATION_UUID.search(text)
        return {"uuid": match.group(1).lower() if match else None}
    if name == "secret":
        words = text.split()
        digest = words[0] if rc == 0 and words else None
        return {"secret_hash": digest if digest and re.fullmatch(r"[0-9a-f]{64}", digest) else None}
    if name == "init":
        return {"init_complete": rc == 0}
    if name == "svc":
        return {"xapi_service": text.strip().splitlines()[-1] if text.strip() else None}
    if name == "emerg":
        word = text.strip().lower()
        return {"emergency_flag": {"true": True, "false": False}.get(word) if rc == 0 else None}
    if name == "ha":
        # No local.db at all: not a host HA can arm (or not readable): nothing learned.
        local = xha.parse_local_db(text) if rc == 0 else None
        if local is None:
            return {"ha_armed": None}
        return {"ha_armed": local.armed, "ha_timeout": local.timeout, "ha_peers": local.peers or None}
    if name == "live":
        return {"ha_live": xha.parse_liveset(text) if rc == 0 else None}
    if name == "mport":
        return {"master_port": _master_port(text, rc)}
    if name == "ping":
        # iputils: 0 an answer, 1 none; anything else (2, 127) says nothing about the master.
        return {"master_ping": {0: True, 1: False}.get(rc)}
    if name in ("xe", "db"):
        call = _xe_call(text, rc)
        values: dict[str, object] = {"xe": call}
        if call.answered and name == "xe":
            values.update(_pool_record(text))
        elif call.answered:
            try:
                hosts = _db_hosts(text)
            except xe.XeParseError as exc:
                # Not xe's record layout (a warning line before the records, a broken xe): xapi
                # answered, its database is not known. Raising here would end the host's probe loop.
                values["xe"] = XeCall("answered", f"host list not readable: {exc}")
                return values
            values["db_hosts"] = hosts
            # The records are kept parsed; the raw listing (200 KB at 1000 hosts) stays in `raw`.
            values["xe"] = XeCall("answered", f"{len(hosts)} records")
        return values
    return {}


def _pool_record(text: str) -> dict[str, object]:
    """The forwarded pool-list: the record layout, or one --minimal uuid (an older probe's question)."""
    try:
        records = xe.parse_records(text) if ":" in text else []
    except xe.XeParseError:
        records = []
    if not records:
        uuids = xe.parse_minimal(text.strip())
        return {"pool_master_uuid": uuids[0].lower() if uuids else None}
    record = records[0]
    master = record.get("master", "").strip().lower()
    tolerate = record.get("ha-host-failures-to-tolerate", "").strip()
    return {
        "pool_master_uuid": master or None,
        "pool_ha_enabled": _bool(record.get("ha-enabled")),
        "pool_ha_tolerate": int(tolerate) if tolerate.isdigit() and len(tolerate) < 6 else None,
    }


def _master_port(text: str, rc: int) -> str:
    if rc == 0 and text.strip() and text.strip() != "000":
        return "ok"
    if rc == CURL_TIMEOUT:
        return "timeout"
    if rc == CURL_REFUSED:
        return "refused"
    return "timeout" if rc in TIMED_OUT else "refused"


def _xe_call(text: str, rc: int) -> XeCall:
    if rc == 0:
        return XeCall("answered", text.strip())
    if rc in TIMED_OUT:
        return XeCall("hung", "xe did not answer before the timeout")
    failure = xe.parse_error(text)
    first = next((line for line in text.splitlines() if line.strip()), f"exit status {rc}")
    status = "refused" if failure.code == "XAPI_NOT_RUNNING" else "failed"
    return XeCall(status, first.strip(), failure.code)


def _db_hosts(text: str) -> tuple[DbHost, ...]:
    hosts = []
    for record in xe.parse_records(text):
        uuid = record.get("uuid", "").lower()
        if not uuid:
            continue
        hosts.append(
            DbHost(
                uuid=uuid,
                name=record.get("name-label", ""),
                address=record.get("address", ""),
                enabled=_bool(record.get("enabled")),
                live=_bool(record.get("host-metrics-live")),
            )
        )
    return tuple(hosts)


def _bool(value: str | None) -> bool | None:
    return {"true": True, "false": False}.get((value or "").strip().lower())
