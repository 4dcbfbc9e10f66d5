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
* while a master change is under way (verdict HANDOVER IN PROGRESS or HA FAILOVER) nothing is
  promoted, re-pointed, recovered, handed over or restarted: the change finishes by itself, and
  a second change on top of it is the split brain it avoids;
* on a host armed for HA, a promotion or a reset of its master fails with HA_IS_ENABLED and, forced
  by disarming, fights HA's own election; a toolstack restart fences the host; ``pool-ha-enable``
  during an incident arms fencing on a pool that is not whole;
* ``--read-only`` refuses everything that is not a query;
* xe's own client options (``server=``, ``-s``, ``username=``, ``password=``, ``--debug``,
  ...) are refused everywhere, queries included: they send the command to another host than
  the one judged, or log the session;
* a host selector other than ``uuid=`` (``name-label=``, ``host=``, ``address=``) is resolved
  as xe resolves it, in the pool database of the master the target talks to, as last probed;
  one that does not name exactly one host there is refused.

Every text here shows a command with its secrets masked (:attr:`Command.shown`).

A refusal can be overridden only by typing the name of the host it protects and
a reason (:func:`accepts_override`); ``--yes`` answers confirmations, never
refusals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from poolterm.diagnosis.diagnose import wait_for_promotion
from poolterm.model import DbHost, Diagnosis, HostState, Observation, PoolDiagnosis, Reach, Role, Verdict, XapiState
from poolterm.xe import address_key, masked_words, validate_uuid

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
#: The xe client's own options (xapi's ocaml/xe-cli/newcli.ml, ``parse_args``), read by the client
#: before the command reaches xapi, anywhere on the line: ``KEY=value`` for these keys ...
CLIENT_KEYWORDS = frozenset({"server", "port", "username", "password", "passwordfile", "nossl", "debug",
                             "debugonfail", "traceparent"})
#: ... and these words (``-s HOST``, ``-pw PASSWORD``, ``--debug``). Any other word with one
#: leading dash is refused too: no xe parameter is written that way.
CLIENT_OPTIONS = frozenset({"-s", "-h", "-p", "-u", "-pw", "-pwf", "--nossl", "--debug", "--debug-on-fail",
                            "--traceparent"})
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
    #: host name -> the pool database it listed when last probed as a master (:func:`databases`)
    databases: Mapping[str, tuple[DbHost, ...]] = field(default_factory=dict)
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
            return self.name in READ_ONLY_XE and self.flags <= READ_ONLY_FLAGS and self.client_option is None
        if self.name == "systemctl":
            return self.argv[1:2] == ("is-active",)
        return self.name in READ_ONLY_PROGRAMS

    @property
    def text(self) -> str:
        """The words as sent, secrets included: never for display (:attr:`shown` is)."""
        return " ".join(self.argv)

    @property
    def shown(self) -> str:
        """The words with every secret value masked, for every text that shows or journals the command."""
        return " ".join(masked_words(self.argv))

    @property
    def client_option(self) -> str | None:
        """The first of xe's own client options on the line, as shown (``server=``, ``-pw``), if any."""
        if not self.is_xe:
            return None
        return next((shown for word in self.argv[2:] if (shown := xe_client_option(word))), None)


def xe_client_option(word: str) -> str | None:
    """``word``, if the xe client reads it itself (:data:`CLIENT_KEYWORDS`, :data:`CLIENT_OPTIONS`), as it
    may be shown: the key of ``KEY=value`` with ``=``, never the value."""
    key, equals, _ = word.partition("=")
    if key.casefold() in CLIENT_KEYWORDS:
        return f"{key}=" if equals else key
    if key.casefold() in CLIENT_OPTIONS or (word.startswith("-") and not word.startswith("--")):
        return key if len(key) <= 20 else key[:17] + "..."
    return None


def databases(observations: Mapping[str, Observation]) -> dict[str, tuple[DbHost, ...]]:
    """Host name -> the pool database it listed as master, from its latest round or, unreachable, its last."""
    found = {}
    for name, obs in observations.items():
        seen = obs if obs.reach is Reach.CONNECTED else obs.stale
        if seen is not None and seen.db_hosts is not None:
            found[name] = seen.db_hosts
    return found


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
    option = command.client_option
    if option is not None:
        return Refuse("xe-client-option",
                      f"`{option}` is read by the xe client itself and sends the command to another server or as "
                      f"another user (or logs the session), while poolterm judges it as run on {target}.",
                      "Leave out server=, port=, username=, password=, passwordfile=, debug and their -s, -p, -u, "
                      "-pw, -pwf, -h forms; run the command on the host it is meant for.", target, overridable=False)
    if command.read_only:
        return Allow()
    if not command.argv:
        return Refuse("empty", "There is no command to run.", "Type an xe command.", target, overridable=False)
    if read_only:
        return Refuse("read-only", f"`{command.shown}` changes the pool and this session is read-only (--read-only).",
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
    return Confirm(f"On {where}: {command.shown}. {EFFECTS.get(command.name, GENERIC_EFFECT)}{warnings}")


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
    def ha_enabled(self) -> bool | None:
        """The pool's HA: what the master answered, else what the hosts showed the probe."""
        if self.facts.ha_enabled is not None:
            return self.facts.ha_enabled
        ha = self.diagnosis.ha
        return None if ha is None else ha.on

    def armed(self, name: str) -> bool:
        host = self.host(name)
        return host is not None and host.ha == "armed"

    @property
    def promoted(self) -> str | None:
        """The host promoted moments ago that is restarting into the master role, if any."""
        return next((f.hosts[0] for f in self.diagnosis.findings if f.kind == "master-taking-over"), None)

    def by_uuid(self, uuid: str) -> str | None:
        """The host with this uuid: the pool's inventory host when poolterm can tell which one it is (by the
        uuid it reported, or by the address a database lists for the uuid), else a name-label from a database."""
        uuid = uuid.lower()
        names = [name for name, u in self.facts.uuids.items() if u == uuid]
        inventory = next((n for n in names if self.host(n) is not None), None)
        if inventory is None:
            addresses = {r.address for db in self.facts.databases.values() for r in db if r.uuid == uuid}
            inventory = next((n for a in sorted(addresses) if (n := self.by_address(a)) is not None), None)
        return inventory or (names[0] if names else None)

    def by_address(self, address: str) -> str | None:
        key = address_key(address)
        return next((h.name for h in self.diagnosis.hosts if address_key(h.address) == key), None)

    def followers(self, master: str) -> int:
        return sum(1 for h in self.diagnosis.hosts
                   if h.reachable and h.role is Role.SLAVE and h.believed_master == master)

    def database(self, target: str) -> tuple[str, tuple[DbHost, ...] | None]:
        """The master whose database xe on ``target`` reads (``target`` itself when it runs as master), and
        that database as last probed (None if poolterm has not read it)."""
        host = self.host(target)
        if host is not None and host.role is Role.MASTER:
            return target, self.facts.databases.get(target)
        if host is None or host.role is not Role.SLAVE or not host.believed_master:
            return target, None  # a host that is neither master nor slave: no telling whose database
        master = host.believed_master  # a host name when poolterm knows the address, else the address
        if self.host(master) is None:
            master = self.by_address(master) or master
        return master, self.facts.databases.get(master)

    def selected_host(self, command: Command, target: str) -> tuple[str | None, str]:
        """The one host the command's selectors name, or None and why not (a phrase).

        ``uuid=`` is looked up in what the probes said; every other selector is matched the way
        xe matches it, against the pool database of the master ``target`` talks to, and the record
        found is then the host with its uuid (or address). Several selectors must agree."""
        found: set[str] = set()
        for key in HOST_SELECTORS:
            value = command.params.get(key)
            if value is None:
                continue
            name, why = self._select(key, value, target)
            if name is None:
                return None, why
            found.add(name)
        if len(found) != 1:
            return None, "its selectors name different hosts" if found else "it has no host selector"
        return found.pop(), ""

    def _select(self, key: str, value: str, target: str) -> tuple[str | None, str]:
        if key == "uuid" or (key == "host" and _is_uuid(value)):
            name = self.by_uuid(value)
            return name, "" if name else f"uuid {value} is not a host poolterm has seen"
        if key == "hostname":
            return None, ("hostname= is matched against a field poolterm does not read from the pool database, "
                          "so it cannot tell which host that is")
        master, db = self.database(target)
        if db is None:
            return None, (f"{key}= is matched against the pool database of {master}, the master {target} talks "
                          "to, and poolterm has not read that database")
        if key == "address":
            records = [r for r in db if address_key(r.address) == address_key(value)]
        else:  # name-label, or host= with a name
            records = [r for r in db if r.name == value]
        if len(records) != 1:
            count = f"{len(records)} hosts" if records else "no host"
            return None, f"{count} in the pool database of {master} {'have' if records else 'has'} {key} {value}"
        name = self.by_uuid(records[0].uuid)
        if name is None:
            return None, f"{key} {value} is host {records[0].uuid} of {master}'s database, which poolterm cannot place"
        return name, ""


def _is_uuid(value: str) -> bool:
    try:
        validate_uuid(value.lower())
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- the rules
# Each rule returns a Refuse, a warning to add to the confirmation, or None.


def _change_under_way(command: Command, target: str, pool: _Pool) -> Refuse | None:
    verdict = pool.diagnosis.verdict
    if verdict is Verdict.HANDOVER:
        return Refuse(
            "handover-in-progress",
            f"A master change is under way ({_first_sentence(pool.diagnosis.summary)}), and `{command.name}` on "
            f"{target} now would start a second one on top of it.",
            "Wait until the verdict is HEALTHY; act only if it turns into an incident naming what did not happen.",
            target)
    if verdict is Verdict.HA_FAILOVER:
        return Refuse(
            "ha-failover",
            f"HA is electing a new master ({_first_sentence(pool.diagnosis.summary)}); `{command.name}` on "
            f"{target} would fight the election: a second master, or a fenced host.",
            pool.diagnosis.advice, target)
    return None


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head if dot else text.rstrip(".")


def _ha_armed(command: Command, target: str, pool: _Pool) -> Refuse | None:
    """A promotion or a master reset on an armed host: xapi refuses it; disarming to force it fights HA."""
    if not pool.armed(target):
        return None
    if pool.diagnosis.verdict is Verdict.HA_STUCK:
        instead = (f"Disarm HA on {target} first (xe host-emergency-ha-disable --force, which only that host "
                   "needs): playbook ha-stuck does it in order on every surviving host.")
    else:
        instead = "Let HA elect the master; if no master comes in time the verdict turns HA STUCK (playbook ha-stuck)."
    return Refuse(
        "ha-armed",
        f"{target} is armed for HA, so `{command.name}` fails with HA_IS_ENABLED, and HA elects the master "
        "itself: a host disarmed to force it becomes a second master.", instead, target)


def _guarded(*rules):
    """The first refusal of ``rules``, else the last rule's answer."""
    def rule(command: Command, target: str, pool: _Pool) -> Refuse | str | None:
        answer = None
        for each in rules:
            answer = each(command, target, pool)
            if isinstance(answer, Refuse):
                return answer
        return answer
    return rule


def _transition_to_master(command: Command, target: str, pool: _Pool) -> Refuse | str | None:
    promoted = pool.promoted
    if promoted is not None and promoted != target:
        return Refuse(
            "second-master",
            f"{promoted} has been promoted and its xapi is restarting as master, so promoting {target} too "
            "would make two masters.",
            f"{wait_for_promotion(promoted)} Then run pool-recover-slaves on {promoted}.",
            target)
    unseen = next((f.hosts[0] for f in pool.diagnosis.findings if f.kind == "master-unseen"), None)
    if unseen is not None and unseen != target:
        return Refuse(
            "second-master",
            f"{unseen} refuses the jump box's SSH login, but its slaves reach its xapi and their xe calls "
            f"answer: it works as master, so promoting {target} would create a split brain.",
            f"Fix the jump box's access to {unseen} (its host key or authorized key) and look again; the pool "
            "itself needs nothing.",
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
            f"`{command.shown}` does not name exactly one host, and xe applies it to every host it matches.",
            "Name one host: uuid=<its uuid>.",
            target)
    name, why = pool.selected_host(command, target)
    if name is None:
        return Refuse("power-unknown", f"`{command.shown}` names no host poolterm can tell: {why}.",
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
    if pool.ha_enabled:
        return Refuse("designate-ha",
                      "HA is enabled, so the handover fails with HA_IS_ENABLED and HA's own failover could fight it.",
                      "Disable HA first (xe pool-ha-disable) and enable it again afterwards.", target)
    new = pool.by_uuid(command.params.get("host-uuid", ""))
    if new is None:
        return Refuse("designate-unknown", "host-uuid names no host poolterm has seen.",
                      "Take the uuid from xe host-list on the master.", target)
    if new == master:
        return Refuse("designate-self", f"{new} is already the master.", "Nothing to hand over.", target)
    if pool.ha_enabled is None:
        return "HA state unknown: check xe pool-list params=ha-enabled on the master first."
    return None


def _toolstack_restart(command: Command, target: str, pool: _Pool) -> Refuse | None:
    host = pool.host(target)
    # Armed by its own local.db, or, its local.db unread, in a pool whose HA is on.
    if pool.armed(target) or (pool.ha_enabled and host is not None and host.ha != "disarmed"):
        return Refuse("toolstack-ha",
                      f"HA is armed on {target}, and restarting a toolstack under HA fences (reboots) {target} "
                      "at once.",
                      "Disable HA first (xe pool-ha-disable on the master), or, if HA itself is broken, disarm this "
                      f"host with xe host-emergency-ha-disable --force on {target} first.",
                      target)
    return None


def _ha_enable(command: Command, target: str, pool: _Pool) -> Refuse | None:
    verdict = pool.diagnosis.verdict
    if verdict is not Verdict.HEALTHY:
        return Refuse("ha-enable-incident",
                      f"The pool is {verdict.title}: enabling HA now arms fencing on hosts that are not all in "
                      "the pool, and HA's elections would join the recovery.",
                      "Finish the recovery first; enable HA once the verdict is HEALTHY.", target)
    return None


RULES = {
    "pool-emergency-transition-to-master": _guarded(_change_under_way, _ha_armed, _transition_to_master),
    "pool-recover-slaves": _guarded(_change_under_way, _recover_slaves),
    "host-forget": _forget,
    "host-declare-dead": _forget,
    "host-shutdown": _power,
    "host-reboot": _power,
    "pool-emergency-reset-master": _guarded(_change_under_way, _ha_armed, _reset_master),
    "pool-designate-new-master": _guarded(_change_under_way, _designate),
    "xe-toolstack-restart": _guarded(_change_under_way, _toolstack_restart),
    "pool-ha-enable": _guarded(_change_under_way, _ha_enable),
}
