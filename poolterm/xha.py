"""What a host's HA daemon leaves on the host, read without its master: xapi's local.db
(``ha.armed``, the HA timeout) and xhad's own view of the liveset (``ha_query_liveset``).

Pure parsers of untrusted text (docs/xapi.md, "Local evidence without the master"). Both
formats are fixed by their writers (xapi's Hashtbl_xml, xha's calldaemon.c), so they are
matched line by line with regular expressions, never handed to an XML parser: a host's
bytes must not be able to make us expand entities or fetch anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Where xapi keeps its host-local flags, and the HA daemon's query command.
LOCAL_DB = "/var/lib/xcp/local.db"
QUERY_LIVESET = "/usr/libexec/xapi/cluster-stack/xhad/ha_query_liveset"
#: ha_query_liveset's exit status when xhad is not running (MTC_EXIT_DAEMON_IS_NOT_PRESENT).
DAEMON_NOT_PRESENT = 14
#: xapi's HA timeout when the pool sets none (ha_default_timeout_base).
DEFAULT_TIMEOUT = 60.0

_ROW = re.compile(r'<row key="([^"<>]{1,100})" value="([^"<>]{0,20000})"\s*/>')
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_LOCAL = re.compile(r"<localhost>\s*<HostID>(" + _UUID + r")</HostID>")
_HOST = re.compile(
    r"<host>\s*<HostID>(" + _UUID + r")</HostID>\s*<HostIndex>\d+</HostIndex>\s*"
    r"<liveness>(TRUE|FALSE)</liveness>\s*<master>(TRUE|FALSE)</master>\s*"
    r"<statefile_access>(TRUE|FALSE)</statefile_access>\s*<statefile_corrupted>(?:TRUE|FALSE)</statefile_corrupted>\s*"
    r"<excluded>(TRUE|FALSE)</excluded>\s*</host>")
_STATUS = re.compile(r"<status>(Online|Starting)</status>")
_SF_LOST = re.compile(r"<statefile_lost>(TRUE|FALSE)</statefile_lost>")
_PEER = re.compile(r"\('(" + _UUID + r")' '([0-9A-Fa-f.:]{1,45})'\)")
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'"}


@dataclass(frozen=True)
class LocalHa:
    """local.db's HA keys: ``armed`` is the host's own word on whether its HA is armed."""

    armed: bool
    timeout: float | None  # ha_base_t, the T the pool's HA was enabled with
    peers: tuple[tuple[str, str], ...] = ()  # ha_peers: (uuid, address) of every host at enable


@dataclass(frozen=True)
class Peer:
    uuid: str
    live: bool
    master: bool  # holds the master lock on the statefile
    statefile: bool  # this peer reaches the statefile
    excluded: bool  # left the liveset cleanly (shut down by xapi)


@dataclass(frozen=True)
class Liveset:
    """One host's xhad's view of the pool: who is live, who holds the master lock."""

    local: str
    online: bool  # False while xhad is still starting (no host entries then)
    peers: tuple[Peer, ...]
    statefile_lost: bool  # this host cannot reach the statefile

    @property
    def live(self) -> frozenset[str]:
        return frozenset(p.uuid for p in self.peers if p.live)

    @property
    def lock_holder(self) -> str | None:
        return next((p.uuid for p in self.peers if p.live and p.master), None)


def parse_local_db(text: str) -> LocalHa:
    """local.db's HA keys. A local.db without ``ha.armed`` is a host HA never armed (xapi's default)."""
    rows = {key: _unescape(value) for key, value in _ROW.findall(text)}
    armed = rows.get("ha.armed", "false").strip().lower() == "true"
    peers = tuple((uuid.lower(), ip) for uuid, ip in _PEER.findall(rows.get("ha_peers", "")))
    return LocalHa(armed=armed, timeout=_seconds(rows.get("ha_base_t")), peers=peers)


def parse_liveset(text: str) -> Liveset | None:
    """``ha_query_liveset``'s XML, or None when it is not that (nothing is guessed)."""
    if "<ha_liveset_info" not in text:
        return None
    local = _LOCAL.search(text)
    status = _STATUS.search(text)
    if local is None or status is None:
        return None
    peers = tuple(Peer(uuid.lower(), live == "TRUE", master == "TRUE", sf == "TRUE", excluded == "TRUE")
                  for uuid, live, master, sf, excluded in _HOST.findall(text))
    lost = _SF_LOST.search(text)
    return Liveset(local.group(1).lower(), status.group(1) == "Online", peers,
                   lost is not None and lost.group(1) == "TRUE")


def _unescape(value: str) -> str:
    return re.sub(r"&(?:amp|lt|gt|quot|apos);", lambda m: _ENTITIES[m.group(0)], value)


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 < seconds < 1e6 else None
