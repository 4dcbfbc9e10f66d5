"""The guard rails: one policy for every command that could change a pool.

Pure: ``decide(argv, target, diagnosis, read_only=..., facts=...)`` looks at the
command, the host it would run on and the latest diagnosis, and answers
:class:`Allow` (it only reads), :class:`Confirm` (show the exact command and
target, ask) or :class:`Refuse` (why, in one sentence, and what to do instead).
The console's prompt and every playbook step go through the same function, so a
command typed by hand is held to exactly the rules a playbook is.

The rules come from the field notes and the dangers in docs/xapi.md ("Recovery procedures"):

* ``pool-emergency-transition-to-master`` while another reachable host is a
  working master, or has just been promoted and is restarting into the role,
  makes a second master (split brain);
* ``pool-recover-slaves`` anywhere but on the true master re-points every
  reachable host, the real master included, at a stale pool;
* ``host-forget`` of a host that is only unreachable guarantees a forgotten host
  that still believes it is a member ("unreachable is not off");
* ``host-shutdown``/``host-reboot`` of the master cuts every host off from the
  pool (the notes' first incident): hand the role over first;
* ``--read-only`` refuses everything that is not a query.

A refusal can be overridden only by typing the name of the host it protects and
a reason (:func:`accepts_override`); ``--yes`` answers confirmations, never
refusals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from poolterm.diagnosis.diagnose import wait_for_promotion
from poolterm.model import Diagnosis, HostState, PoolDiagnosis, Role, Verdict, XapiState
from poolterm.xe import address_key

#: xe commands that only read. Anything not listed here is treated as a change.
READ_ONLY_XE = frozenset({
    "help",
    "host-list", "host-param-list", "host-param-get", "host-is-in-emergency-mode",
    "host-cpu-info", "host-data-source-list", "host-data-source-query", "host-get-cpu-features",
    "host-metrics-list", "host-crashdump-list", "host-call-plugin-list",
    "pool-list", "pool-param-list", "pool-param-get",
    "vm-list", "vm-param-list", "vm-param-get",
    "sr-list", "sr-param-list", "pbd-list", "pbd-param-list",
    "vdi-list", "vdi-param-list", "vbd-list", "vif-list",
    "network-list", "network-param-list", "pif-list", "pif-param-list", "bond-list", "vlan-list",
    "patch-list", "update-list", "task-list", "message-list", "log-get-keys",
})
#: Flags that change nothing about what a read-only xe command does.
READ_ONLY_FLAGS = frozenset({"--minimal", "--all", "--multiple"})
#: Programs other than xe that only read.
READ_ONLY_PROGRAMS = frozenset({"cat", "hostname", "test", "sha256sum"})

#: What each pool-changing command does, in one sentence, for the confirmation.
EFFECTS: Mapping[str, str] = {
    "pool-emergency-transition-to-master":
        "It writes `master` into this host's pool.conf; its xapi restarts as master after the fuse.",
    "pool-recover-slaves":
        "Every other host in this master's database that answers is pointed at it and restarts its xapi.",
    "pool-emergency-reset-master":
        "It points this host's pool.conf at the given master; its xapi restarts after the fuse.",
    "pool-designate-new-master":
        "An orderly two-phase handover: every host is told the new master, then restarts its xapi.",
    "pool-join":
        "The host joins the given master's pool: it takes the pool secret and restarts its xapi as that "
        "master's slave after the fuse.",
    "host-forget":
        "The master deletes the host from its database; the host itself is not told and must be reinstalled.",
    "host-declare-dead":
        "The master marks the host dead and resets its VMs; wrong if the host is still running.",
    "host-shutdown": "The host powers off (it must be disabled first).",
    "host-reboot": "The host reboots (it must be disabled first).",
    "host-disable": "The host accepts no new VMs; needed before a shutdown or reboot.",
    "host-enable": "The host accepts VMs again.",
    "pool-ha-disable": "HA is disabled on the whole pool: no automatic failover until it is enabled again.",
    "pool-ha-enable": "HA is enabled: hosts that lose the heartbeat fence themselves.",
    "host-emergency-ha-disable": "HA is disarmed on this host only, without the master.",
    "pool-eject": "The host leaves the pool, its local SRs are wiped and it reboots as a master of its own.",
    "pool-sync-database": "The master pushes a copy of its database to every host.",
    "xe-toolstack-restart": "xapi restarts on this host and re-reads its pool.conf.",
}
GENERIC_EFFECT = "poolterm does not know this command: treat it as a change to the pool."

#: Selectors xe accepts for host commands (`xe host-shutdown uuid=...`).
HOST_SELECTORS = ("uuid", "name-label", "host", "hostname", "address")
#: Shortest reason accepted for an override: a word, not a keystroke.
MIN_REASON = 3


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Allow:
    """Runs without asking: the command only reads."""

    text: str = "read-only command"


@dataclass(frozen=True)
class Confirm:
    """Show the exact command, its target and its effect, then ask."""

    text: str


@dataclass(frozen=True)
class Refuse:
    """Not sent. ``reason`` says why in one sentence, ``instead`` what to do."""

    rule: str
    reason: str
    instead: str
    host: str  # the host the rule protects: the name an override must type
    overridable: bool = True

    @property
    def text(self) -> str:
        return f"{self.reason} {self.instead}"


Decision = Allow | Confirm | Refuse


@dataclass(frozen=True)
class Facts:
    """What poolterm knows beyond the diagnosis, as the guards need it."""

    uuids: Mapping[str, str] = field(default_factory=dict)  # host name -> uuid, from the probes
    powered_off: frozenset[str] = frozenset()  # hosts the operator confirmed powered off (journaled)
    ha_enabled: bool | None = None  # last answer of `pool-list params=ha-enabled` on the master


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Command:
    """One command line as the guards read it."""

    argv: tuple[str, ...]
    name: str  # the xe sub-command, or the program for anything else
    is_xe: bool
    params: Mapping[str, str]
    flags: frozenset[str]

    @property
    def read_only(self) -> bool:
        if self.is_xe:
            return self.name in READ_ONLY_XE and self.flags <= READ_ONLY_FLAGS
        if self.name == "systemctl":
            return self.argv[1:2] == ("is-active",)
        return self.name in READ_ONLY_PROGRAMS

    @property
    def text(self) -> str:
        return " ".join(self.argv)


def parse_command(argv: Sequence[str]) -> Command:
    words = tuple(argv)
    if not words:
        return Command((), "", False, {}, frozenset())
    if words[0] != "xe" or len(words) < 2:
        return Command(words, words[0], False, {}, frozenset())
    params: dict[str, str] = {}
    flags: set[str] = set()
    for word in words[2:]:
        if word.startswith("--"):
            flags.add(word)
        else:
            key, _, value = word.partition("=")
            params[key] = value
    return Command(words, words[1], True, params, frozenset(flags))


# --------------------------------------------------------------------------- the policy


def decide(argv: Sequence[str], target: str, diagnosis: Diagnosis, *, read_only: bool,
           facts: Facts = Facts()) -> Decision:
    """The one policy: what happens if ``argv`` is sent to host ``target`` now."""
    command = parse_command(argv)
    if command.read_only:
        return Allow()
    if not command.argv:
        return Refuse("empty", "There is no command to run.", "Type an xe command.", target, overridable=False)
    if read_only:
        return Refuse("read-only", f"`{command.text}` changes the pool and this session is read-only (--read-only).",
                      "Only queries run here; start poolterm without --read-only to make changes.", target,
                      overridable=False)
    pool = pool_of(diagnosis, target)
    if pool is None:
        return Refuse("unknown-host", f"{target} is not a host of the inventory.",
                      "Pick a host from the inventory.", target, overridable=False)
    rule = RULES.get(command.name)
    found = rule(command, target, _Pool(pool, facts)) if rule else None
    if isinstance(found, Refuse):
        return found
    warnings = f" Warning: {found}" if isinstance(found, str) else ""
    host = _host(pool, target)
    where = f"{target} ({host.address})" if host else target
    return Confirm(f"On {where}: {command.text}. {EFFECTS.get(command.name, GENERIC_EFFECT)}{warnings}")


def accepts_override(refusal: Refuse, typed_host: str, reason: str) -> bool:
    """An override needs the exact name of the protected host and a reason, both journaled."""
    return refusal.overridable and typed_host.strip() == refusal.host and len(reason.strip()) >= MIN_REASON


def pool_of(diagnosis: Diagnosis, host: str) -> PoolDiagnosis | None:
    return next((p for p in diagnosis.pools if any(h.name == host for h in p.hosts)), None)


def _host(pool: PoolDiagnosis, name: str | None) -> HostState | None:
    return next((h for h in pool.hosts if h.name == name), None)


@dataclass(frozen=True)
class _Pool:
    """One pool's diagnosis with the helpers every rule needs."""

    diagnosis: PoolDiagnosis
    facts: Facts

    @property
    def master(self) -> str | None:
        return self.diagnosis.master

    def host(self, name: str | None) -> HostState | None:
        return _host(self.diagnosis, name)

    @property
    def promoted(self) -> str | None:
        """The host promoted moments ago that is restarting into the master role, if any."""
        return next((f.hosts[0] for f in self.diagnosis.findings if f.kind == "master-taking-over"), None)

    def by_uuid(self, uuid: str) -> str | None:
        return next((name for name, u in self.facts.uuids.items() if u == uuid.lower()), None)

    def by_address(self, address: str) -> str | None:
        key = address_key(address)
        return next((h.name for h in self.diagnosis.hosts if address_key(h.address) == key), None)

    def followers(self, master: str) -> int:
        return sum(1 for h in self.diagnosis.hosts
                   if h.reachable and h.role is Role.SLAVE and h.believed_master == master)

    def selected_host(self, command: Command) -> str | None:
        """The one host a host-selector command names, if it names exactly one we know."""
        for key in HOST_SELECTORS:
            value = command.params.get(key)
            if not value:
                continue
            if key == "uuid":
                return self.by_uuid(value)
            if key == "address":
                return self.by_address(value)
            if self.host(value) is not None:
                return value
            if key == "host":
                return self.by_uuid(value) or self.by_address(value)
        return None


# --------------------------------------------------------------------------- the rules
# Each rule returns a Refuse, a warning to add to the confirmation, or None.


def _transition_to_master(command: Command, target: str, pool: _Pool) -> Refuse | str | None:
    promoted = pool.promoted
    if promoted is not None and promoted != target:
        return Refuse(
            "second-master",
            f"{promoted} has been promoted and its xapi is restarting as master, so promoting {target} too "
            "would make two masters.",
            f"{wait_for_promotion(promoted)} Then run pool-recover-slaves on {promoted}.",
            target)
    others = [h for h in pool.diagnosis.hosts if h.name != target and h.reachable and h.role is Role.MASTER]
    working = [h for h in others if h.xapi not in (XapiState.HUNG, XapiState.DOWN, XapiState.EMERGENCY)]
    if working:
        master = working[0].name
        return Refuse(
            "second-master",
            f"{master} is reachable and is a working master, so promoting {target} would create a split brain.",
            f"If hosts are orphaned, run pool-recover-slaves on {master}; for a planned change use the "
            "planned-handover playbook (pool-designate-new-master).",
            target)
    warnings = []
    if others:
        names = ", ".join(h.name for h in others)
        warnings.append(f"{names} still claims master with xapi {others[0].xapi.value}: once it answers again "
                        f"there will be two masters; restart its toolstack instead if you can.")
    stale = [h for h in pool.diagnosis.hosts if h.name != target and not h.reachable and h.role is Role.MASTER]
    if stale:
        names = ", ".join(h.name for h in stale)
        warnings.append(f"{names} was master when last seen and may still run cut off: when it is back, "
                        f"recover it with pool-recover-slaves on {target}, never the other way round.")
    return " ".join(warnings) or None


def _recover_slaves(command: Command, target: str, pool: _Pool) -> Refuse | None:
    true = pool.master
    if true is None:
        return Refuse(
            "not-true-master",
            f"No host is a confirmed working master yet, so pool-recover-slaves on {target} could point every "
            "host at the wrong one.",
            _promote_first(pool), target)
    if target != true:
        return Refuse(
            "not-true-master",
            f"{target} is not the true master ({true} is: {pool.followers(true)} reachable slaves follow it, "
            f"{pool.followers(target)} follow {target}); pool-recover-slaves there would pull every reachable "
            f"host, {true} included, into a stale pool.",
            f"Run pool-recover-slaves on {true} only (playbook split-brain or orphaned-slaves).",
            target)
    lead = pool.followers(true)
    rivals = [h.name for h in pool.diagnosis.hosts
              if h.name != true and h.reachable and h.role is Role.MASTER and pool.followers(h.name) >= lead]
    if rivals:
        return Refuse(
            "ambiguous-master",
            f"{true} and {', '.join(rivals)} both claim master with as many followers each, so the evidence does "
            "not say which one is the true master.",
            "Compare their pool databases (xe host-list on each) and decide; then override naming the true master.",
            target)
    return None


def _forget(command: Command, target: str, pool: _Pool) -> Refuse | None:
    uuid = command.params.get("uuid", "")
    name = pool.by_uuid(uuid) if uuid else None
    if name is None:
        return Refuse(
            "forget-unknown",
            f"uuid {uuid or '(none)'} is not a host poolterm has seen, so it cannot tell whether it is powered off.",
            "Find the host with xe host-list on the master; forget only a host confirmed powered off.",
            target)
    if name == pool.master:
        return Refuse("forget-master", f"{name} is the pool master and cannot be forgotten.",
                      "Hand the role over first (playbook planned-handover).", name)
    host = pool.host(name)
    if host is not None and host.reachable:
        return Refuse(
            "forget-running",
            f"{name} answers SSH, so it is running, and a forgotten running host splits the pool.",
            f"If {name} should leave, eject it with pool-eject; otherwise leave it in the pool.",
            name)
    if name not in pool.facts.powered_off:
        return Refuse(
            "forget-not-off",
            f"{name} is unreachable, but unreachable is not off: if it is only cut off it comes back believing "
            "it is a member and the master will not know it (the notes' dead end).",
            f"Power {name} off through its BMC and confirm that in poolterm first; forget only a host that is "
            "physically unrecoverable.",
            name)
    return None


def _power(command: Command, target: str, pool: _Pool) -> Refuse | None:
    if "--multiple" in command.flags or not any(command.params.get(k) for k in HOST_SELECTORS):
        return Refuse(
            "power-selector",
            f"`{command.text}` does not name exactly one host, and xe applies it to every host it matches.",
            "Name one host: uuid=<its uuid>.",
            target)
    name = pool.selected_host(command)
    if name is None:
        return Refuse("power-unknown", f"`{command.text}` names no host poolterm knows.",
                      "Name the host by its uuid (xe host-list on the master).", target)
    host = pool.host(name)
    if name == pool.master or (host is not None and host.role is Role.MASTER):
        return Refuse(
            "master-power",
            f"{name} is the pool master: shutting it down or rebooting it cuts every host off from the pool "
            "(the notes' first incident).",
            f"Hand the role over first with the planned-handover playbook (pool-designate-new-master), then "
            f"{command.name.removeprefix('host-')} {name} as a slave.",
            name)
    return None


def _promote_first(pool: _Pool) -> str:
    if pool.promoted is not None:
        return wait_for_promotion(pool.promoted)
    return "Promote the best candidate first (playbook master-lost) and wait until it answers as master."


def _reset_master(command: Command, target: str, pool: _Pool) -> Refuse | None:
    address = command.params.get("master-address", "")
    named = pool.by_address(address) if address else None
    if pool.master is None:
        return Refuse("reset-no-master",
                      f"No host is a confirmed working master, so pointing {target} at {address or 'nothing'} "
                      "may orphan it.",
                      _promote_first(pool), target)
    if target == pool.master:
        return Refuse("reset-master-itself",
                      f"{target} is the working master; resetting its master demotes the only master of the pool.",
                      "For a planned change use the planned-handover playbook.", target)
    if named != pool.master:
        master = pool.host(pool.master)
        return Refuse("reset-wrong-master",
                      f"{address or '(no address)'} is not the working master {pool.master}, so {target} would "
                      "be orphaned.",
                      f"Use master-address={master.address if master else pool.master}, or run "
                      f"pool-recover-slaves on {pool.master}.",
                      target)
    return None


def _designate(command: Command, target: str, pool: _Pool) -> Refuse | str | None:
    master = pool.master
    if master is None or pool.diagnosis.verdict not in (Verdict.HEALTHY, Verdict.DEGRADED):
        return Refuse("designate-no-master",
                      "pool-designate-new-master needs a working master, and this pool is "
                      f"{pool.diagnosis.verdict.title}.",
                      "Use the playbook for that verdict (poolterm check names it).", target)
    down = [h.name for h in pool.diagnosis.hosts if not h.reachable]
    if down:
        return Refuse("designate-host-down",
                      f"{', '.join(down)} {'is' if len(down) == 1 else 'are'} not reachable, and the two-phase "
                      "commit needs every member (a failed commit leaves hosts with pool.conf `broken`).",
                      "Bring them back first, or power them off and forget them if they are dead for good.",
                      target)
    if pool.facts.ha_enabled:
        return Refuse("designate-ha",
                      "HA is enabled, so the handover fails with HA_IS_ENABLED and HA's own failover could fight it.",
                      "Disable HA first (xe pool-ha-disable) and enable it again afterwards.", target)
    new = pool.by_uuid(command.params.get("host-uuid", ""))
    if new is None:
        return Refuse("designate-unknown", "host-uuid names no host poolterm has seen.",
                      "Take the uuid from xe host-list on the master.", target)
    if new == master:
        return Refuse("designate-self", f"{new} is already the master.", "Nothing to hand over.", target)
    if pool.facts.ha_enabled is None:
        return "HA state unknown: check xe pool-list params=ha-enabled on the master first."
    return None


def _toolstack_restart(command: Command, target: str, pool: _Pool) -> Refuse | None:
    if pool.facts.ha_enabled:
        return Refuse("toolstack-ha",
                      f"HA is enabled, and restarting a toolstack under HA fences {target} at once.",
                      "Disable HA first (xe pool-ha-disable), or use xe host-emergency-ha-disable --force if HA "
                      "itself is broken.",
                      target)
    return None


RULES = {
    "pool-emergency-transition-to-master": _transition_to_master,
    "pool-recover-slaves": _recover_slaves,
    "host-forget": _forget,
    "host-declare-dead": _forget,
    "host-shutdown": _power,
    "host-reboot": _power,
    "pool-emergency-reset-master": _reset_master,
    "pool-designate-new-master": _designate,
    "xe-toolstack-restart": _toolstack_restart,
}
