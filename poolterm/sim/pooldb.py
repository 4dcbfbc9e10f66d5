"""A pool database (xapi's state.db), as much of it as the simulator needs.

Each host has one on disk. On a master it is authoritative; on a slave it is the
last backup the master pushed, which is what the slave starts from if it is
promoted. Two masters therefore mean two databases that diverge.

Host records are immutable, so a copy of a database shares them, and a backup pushed
to many slaves at once is one frozen snapshot shared by all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class HostRecord:
    uuid: str
    name_label: str
    address: str
    dom0_uuid: str
    local_sr_uuid: str
    enabled: bool = True
    name_description: str = "Default install"

    @property
    def hostname(self) -> str:
        return self.name_label


@dataclass
class PoolDB:
    pool_uuid: str
    name_label: str
    master_uuid: str
    default_sr_uuid: str
    hosts: dict[str, HostRecord] = field(default_factory=dict)
    ha_enabled: bool = False
    ha_configuration: dict[str, str] = field(default_factory=dict)
    ha_statefiles: tuple[str, ...] = ()  # statefile VDI uuids: set by every enable, never cleared
    ha_host_failures_to_tolerate: int = 0
    name_description: str = ""
    # Heartbeats are runtime state of a live master, not part of the file: a copy starts without them.
    last_seen: dict[str, float] = field(default_factory=dict, compare=False)
    frozen: bool = field(default=False, compare=False)
    _snapshot: PoolDB | None = field(default=None, repr=False, compare=False)

    # -- reading -------------------------------------------------------------

    def record(self, uuid: str) -> HostRecord | None:
        return self.hosts.get(uuid)

    def __contains__(self, uuid: str) -> bool:
        return uuid in self.hosts

    # -- copies ----------------------------------------------------------------

    def copy(self) -> PoolDB:
        """A private, writable copy (records are shared: they are immutable)."""
        return PoolDB(
            pool_uuid=self.pool_uuid,
            name_label=self.name_label,
            master_uuid=self.master_uuid,
            default_sr_uuid=self.default_sr_uuid,
            hosts=dict(self.hosts),
            ha_enabled=self.ha_enabled,
            ha_configuration=dict(self.ha_configuration),
            ha_statefiles=self.ha_statefiles,
            ha_host_failures_to_tolerate=self.ha_host_failures_to_tolerate,
            name_description=self.name_description,
        )

    def snapshot(self) -> PoolDB:
        """A frozen copy to hand out as a backup; the same object until this database changes."""
        if self.frozen:
            return self
        if self._snapshot is None:
            snap = self.copy()
            snap.frozen = True
            self._snapshot = snap
        return self._snapshot

    def writable(self) -> PoolDB:
        """This database if it may be written, else a private copy of it."""
        return self.copy() if self.frozen else self

    # -- writing ---------------------------------------------------------------

    def _write(self) -> None:
        if self.frozen:
            raise RuntimeError("a backup snapshot of a pool database is read-only")
        self._snapshot = None

    def put_host(self, rec: HostRecord) -> None:
        self._write()
        self.hosts[rec.uuid] = rec

    def update_host(self, uuid: str, **changes: object) -> None:
        self._write()
        self.hosts[uuid] = replace(self.hosts[uuid], **changes)

    def remove_host(self, uuid: str) -> None:
        self._write()
        del self.hosts[uuid]
        self.last_seen.pop(uuid, None)

    def set_master(self, uuid: str) -> None:
        self._write()
        self.master_uuid = uuid

    def set_ha(self, enabled: bool) -> None:
        self._write()
        self.ha_enabled = enabled

    def configure_ha(self, configuration: dict[str, str], statefiles: tuple[str, ...]) -> None:
        """What `Pool.enable_ha` records before it starts: a later disable leaves both in place."""
        self._write()
        self.ha_configuration = dict(configuration)
        self.ha_statefiles = statefiles

    def set_pool_field(self, **changes: object) -> None:
        self._write()
        for name, value in changes.items():
            setattr(self, name, value)
