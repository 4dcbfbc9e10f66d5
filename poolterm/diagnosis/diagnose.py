"""Observations in, one diagnosis out: per-host states, findings, a verdict per pool.

Pure and total: any combination of observations (missing, stale, contradictory)
yields exactly one verdict per pool. The rules follow docs/xapi.md, "Telling the states apart": the role
comes from pool.conf on each host, never from ``host-is-in-emergency-mode``
(a running slave answers ``false`` for as long as its master is gone), and a
forwarded ``xe`` that hangs is evidence, not an error.

Why one module of this size: the rules read one another's conclusions (a split brain decides
who is orphaned, a takeover decides what is lost), so they are ordered and read in one file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol, Sequence

from poolterm.model import (
    Candidate,
    Diagnosis,
    Finding,
    HostState,
    Observation,
    PoolDiagnosis,
    PoolHa,
    Reach,
    Role,
    Severity,
    Verdict,
    XapiState,
)
from poolterm.xe import address_key
from poolterm.xha import DEFAULT_TIMEOUT

# Error codes after which a slave stays in emergency mode until someone acts.
PERMANENT_EMERGENCY = frozenset({"HOST_UNKNOWN_TO_MASTER", "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR", "HOST_BROKEN"})
EMERGENCY_CODES = PERMANENT_EMERGENCY | {
    "HOST_STILL_BOOTING",
    "HOST_ITS_OWN_SLAVE",
    "HOST_MASTER_CANNOT_TALK_BACK",
    "HOST_HAS_NO_MANAGEMENT_IP",
    "HOST_IN_EMERGENCY_MODE",
    "INTERNAL_ERROR",
}
#: Start-up errors of an armed host whose xhad cannot join the liveset: it retries every 10 s, for
#: ever, and cannot take part in an election meanwhile (docs/xapi.md, "Local evidence").
HA_STARTUP_ERRORS = frozenset({"HA_HOST_CANNOT_ACCESS_STATEFILE", "HA_HEARTBEAT_DAEMON_STARTUP_FAILED",
                               "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED"})
EMERGENCY_CODES = EMERGENCY_CODES | HA_STARTUP_ERRORS

#: Seconds a master change takes from the first pool.conf written to every host serving in its new
#: role: the 10 s fuse, xapi's start-up, the slaves' hello retries every 5 s (docs/xapi.md, "The fuse").
HANDOVER_WINDOW = 90.0
#: How long after a change a change that did not finish is still worth naming.
HANDOVER_MEMORY = 600.0
#: Seconds an HA election takes beyond T: the fault handler (~20 s), xapi's liveset poll (20 s), the
#: fuse (10 s) and the new master's start-up (docs/xapi.md, "Failover: the election", step 7).
HA_ELECTION_SLACK = 80.0


class HostLike(Protocol):
    name: str
    address: str


class PoolLike(Protocol):
    name: str
    hosts: Sequence[HostLike]


def diagnose(pools: Iterable[PoolLike], observations: Mapping[str, Observation], now: float) -> Diagnosis:
    return Diagnosis(tuple(diagnose_pool(pool, observations, now) for pool in pools))


@dataclass(slots=True, eq=False)
class _View:
    """One host as the rules see it: the current round plus what was remembered.

    Plain fields, computed once: the rules read them many times per host, at 1000 hosts.
    Not frozen (a frozen dataclass's constructor costs twice as much) but never changed.
    """

    name: str
    address: str
    obs: Observation
    known: Observation | None  # the latest observation made while connected
    reachable: bool
    role: Role
    believed_address: str | None
    xapi: XapiState  # UNKNOWN for a host not reachable now


def diagnose_pool(pool: PoolLike, observations: Mapping[str, Observation], now: float) -> PoolDiagnosis:
    views = [_view(h, observations.get(h.name), now) for h in pool.hosts]
    names_by_address = {v.address: v.name for v in views}
    rules = _Rules(pool.name, views, names_by_address, now)
    return rules.run()


def _view(host: HostLike, obs: Observation | None, now: float) -> _View:
    obs = obs or Observation(host=host.name, at=now)
    known = obs if obs.reach.reachable else obs.stale
    role = known.role if known else Role.UNKNOWN
    believed = known.believed_master_address if known else None
    reachable = obs.reach.reachable
    xapi = xapi_state(obs) if reachable else XapiState.UNKNOWN
    return _View(host.name, host.address, obs, known, reachable, role, believed, xapi)


class _Rules:
    def __init__(self, pool: str, views: list[_View], names_by_address: dict[str, str], now: float):
        self.pool = pool
        self.views = views
        self.by_name = {v.name: v for v in views}
        self.names_by_address = names_by_address
        self.now = now
        self.reachable = [v for v in views if v.reachable]
        self.secret = _majority(v.known.secret_hash for v in self.reachable if v.known and v.known.secret_hash)
        self.ha = self.pool_ha()
        self.ha_on = self.ha is not None and self.ha.on
        self.ha_timeout = (self.ha.timeout if self.ha and self.ha.timeout else None) or DEFAULT_TIMEOUT
        self.uuid_names = {v.known.uuid: v.name for v in self.views if v.known and v.known.uuid}

    # ---- naming -------------------------------------------------------------
    def name_of(self, address: str | None) -> str | None:
        if address is None:
            return None
        return self.names_by_address.get(address, address)

    def in_pool(self, view: _View) -> bool:
        """Shares the pool's secret (or we could not tell)."""
        secret = view.known.secret_hash if view.known else None
        return self.secret is None or secret is None or secret == self.secret

    # ---- the verdict ----------------------------------------------------------
    def run(self) -> PoolDiagnosis:
        return self.in_transition(self.incident())

    def incident(self) -> PoolDiagnosis:
        if not self.reachable and all(v.obs.reach is Reach.PENDING for v in self.views):
            # First contact still under way (a fleet's thousands of handshakes take seconds): not a verdict.
            return self.result(Verdict.UNKNOWN, None, [
                Finding("connecting", Severity.UNKNOWN, (),
                        f"Connecting: none of the {len(self.views)} hosts of pool {self.pool} has answered yet.",
                        None, ())], advice="Wait for the first answers; nothing is concluded before them.")
        if not self.reachable:
            return self.result(Verdict.UNKNOWN, None, [
                Finding("nothing-reachable", Severity.UNKNOWN, tuple(v.name for v in self.views),
                        f"None of the {len(self.views)} hosts of pool {self.pool} answers SSH from this jump box.",
                        None, tuple(self.reach_evidence(v) for v in self.views)),
            ])
        claimants = [v for v in self.reachable if v.role is Role.MASTER]
        ours = [v for v in claimants if self.in_pool(v)]
        foreign = [v for v in claimants if not self.in_pool(v)]
        findings = [self.foreign_master(v) for v in foreign]
        findings += [self.broken(v) for v in self.reachable if v.role is Role.BROKEN]
        working = [v for v in ours if self.up(v)]
        if working and len(working) < len(ours):
            # A master whose xapi is not up yet has not run its no-other-masters check:
            # it is about to find the working master and demote itself, not a second master yet.
            findings.append(self.starting_master([v for v in ours if v not in working], working))
            ours = working
        if len(ours) >= 2:
            return self.split_brain(ours, findings)
        if len(ours) == 1:
            return self.one_master(ours[0], findings)
        return self.master_lost(findings)

    def result(self, verdict: Verdict, master: str | None, findings: list[Finding],
               advice: str | None = None) -> PoolDiagnosis:
        ha = self.ha_findings()
        if ha and verdict is Verdict.HEALTHY:
            # A host about to fence, or hosts that disagree about HA: the pool works, but not as it should.
            verdict, findings = Verdict.DEGRADED, [f for f in findings if f.kind != "healthy"]
        findings = findings + ha
        states = tuple(self.host_state(v, master) for v in self.views)
        lead = next((f for f in findings if f.severity is verdict.severity), findings[0] if findings else None)
        summary = lead.summary if lead else ""
        return PoolDiagnosis(self.pool, verdict, master, states, tuple(findings), summary,
                             advice or _advice(verdict, lead), self.ha)

    @staticmethod
    def up(view: _View) -> bool:
        """Its xapi serves, start-up checks done (a slave's xapi may serve in emergency mode)."""
        return view.xapi not in NOT_UP and not (view.known is not None and view.known.init_complete is False)

    def starting_master(self, starting: list[_View], working: list[_View]) -> Finding:
        others = _names(working)
        summary = (f"{_names(starting)} {_is_are(starting)} starting with pool.conf `master` while {others} "
                   f"works as master: at start-up xapi asks the hosts it knows whether a master answers, finds "
                   f"{others} and becomes a slave. If {_it_they(starting)} still "
                   f"{'claims' if len(starting) == 1 else 'claim'} master once xapi answers, it is a split brain.")
        return Finding("starting-master", Severity.WARNING, tuple(v.name for v in starting), summary, None,
                       tuple(e for v in starting for e in self.host_evidence(v)[:4]))

    # ---- two masters ----------------------------------------------------------
    def split_brain(self, masters: list[_View], findings: list[Finding]) -> PoolDiagnosis:
        followers = {m.name: [v.name for v in self.reachable if v.role is Role.SLAVE and v.believed_address == m.address]
                     for m in masters}
        ranked = sorted(masters, key=lambda m: (-len(followers[m.name]), self.xapi(m) is not XapiState.ANSWERING, m.name))
        true, stale = ranked[0], ranked[1:]
        stale_names = ", ".join(m.name for m in stale)
        counts = "; ".join(f"{m.name}: {len(followers[m.name])}" for m in ranked)
        slaves = sum(len(f) for f in followers.values())
        summary = (
            f"Split brain: {_names(ranked)} {'both' if len(ranked) == 2 else 'all'} believe they are master. "
            f"{true.name} is the true master ({len(followers[true.name])} of {slaves} reachable slaves point at it); "
            f"run pool-recover-slaves on {true.name} only, never on {stale_names}."
        )
        evidence = (f"slaves following each master: {counts}",) + tuple(
            f"{m.name}: pool.conf says master, same pool secret" for m in ranked)
        findings.insert(0, Finding("split-brain", Severity.CRITICAL, tuple(m.name for m in ranked), summary,
                                   "split-brain", evidence))
        return self.result(Verdict.SPLIT_BRAIN, true.name, findings)

    # ---- one master ------------------------------------------------------------
    def one_master(self, master: _View, findings: list[Finding]) -> PoolDiagnosis:
        state = self.xapi(master)
        if state is not XapiState.ANSWERING and self.taking_over(master):
            if self.ha_on:  # HA's winner restarting into the role (the others not rewritten yet)
                return self.master_lost(findings, master_hung=master)
            return self.promotion_pending(master, findings)
        if state in (XapiState.HUNG, XapiState.DOWN, XapiState.EMERGENCY, XapiState.STARTING):
            return self.master_lost(findings, master_hung=master)
        slaves = [v for v in self.reachable if v is not master and v.role is not Role.MASTER and self.in_pool(v)]
        orphans = [v for v in slaves if v.role is Role.SLAVE and v.believed_address != master.address]
        db_uuids = {h.uuid for h in master.known.db_hosts} if master.known and master.known.db_hosts else None
        settled = [v for v in slaves if v.role is not Role.SLAVE or v.believed_address == master.address]
        forgotten = [v for v in settled if self.forgotten(v, db_uuids)]
        forgotten_names = {v.name for v in forgotten}
        stuck = [v for v in settled if v.name not in forgotten_names and self.xapi(v) is XapiState.EMERGENCY]
        lagging = [v for v in settled if v.role is Role.SLAVE and self.role_change_pending(v, master)]
        if orphans:
            findings.insert(0, self.orphans(master, orphans))
        if forgotten:
            findings.append(self.forgotten_finding(master, forgotten))
        if stuck:
            findings.append(Finding(
                "emergency", Severity.CRITICAL, tuple(v.name for v in stuck),
                f"{_names(stuck)} {_is_are(stuck)} in emergency mode although master {master.name} answers; "
                "xapi retries on its own, so if this lasts more than a minute read the stored error in the evidence.",
                None, tuple(e for v in stuck for e in self.host_evidence(v)[:3])))
        findings += self.member_trouble(master)
        if lagging:  # last: a stale master still away matters more than a restart under way
            findings.append(self.lagging_finding(master, lagging))
        if orphans:
            verdict = Verdict.ORPHANED_SLAVES
        elif forgotten or stuck:
            verdict = Verdict.EMERGENCY
        elif any(f.severity in (Severity.WARNING, Severity.CRITICAL) for f in findings):
            # a slave's broken pool.conf is critical for that host, yet its xapi still serves as slave
            verdict = Verdict.DEGRADED
        else:
            verdict = Verdict.HEALTHY
            findings.insert(0, Finding("healthy", Severity.OK, (master.name,),
                                       f"All {len(self.views)} hosts answer and agree that {master.name} is master.",
                                       None))
        return self.result(verdict, master.name, findings)

    def role_change_pending(self, view: _View, master: _View) -> bool:
        """pool.conf already names ``master``, but xapi runs in its old role until its fuse restarts it:
        the last round found it listing a database of its own, or answering through another master."""
        known = view.known
        if known is None or not view.reachable:
            return False
        if known.db_hosts is not None:  # only a host that was master last round is asked for its database
            return True
        master_uuid = master.known.uuid if master.known else None
        return known.pool_master_uuid is not None and master_uuid is not None and \
            known.pool_master_uuid != master_uuid

    def lagging_finding(self, master: _View, hosts: list[_View]) -> Finding:
        return Finding(
            "role-change-pending", Severity.WARNING, tuple(v.name for v in hosts),
            f"{_names(hosts)}: pool.conf already names {master.name} as master, but xapi still runs in its old "
            f"role until its fuse restarts it (10 s after the change). Wait; look again if it lasts a minute.",
            None, tuple(e for v in hosts for e in self.host_evidence(v)[:4]))

    def forgotten(self, view: _View, db_uuids: set[str] | None) -> bool:
        code = view.obs.xe.error_code if view.obs.xe else None
        if code == "HOST_UNKNOWN_TO_MASTER":
            return True
        uuid = view.known.uuid if view.known else None
        return db_uuids is not None and uuid is not None and uuid not in db_uuids

    def orphans(self, master: _View, orphans: list[_View]) -> Finding:
        targets = Counter(self.name_of(v.believed_address) or "nothing" for v in orphans)
        where = ", ".join(f"{t} ({n})" for t, n in targets.most_common())
        summary = (f"{len(orphans)} slave{'s' if len(orphans) != 1 else ''} ({_names(orphans)}) "
                   f"still point at {where} instead of master {master.name}; "
                   f"run pool-recover-slaves on {master.name} to bring them back.")
        return Finding("orphaned-slaves", Severity.CRITICAL, tuple(v.name for v in orphans), summary,
                       "orphaned-slaves", tuple(f"{v.name}: pool.conf {v.known.pool_conf if v.known else '?'}"
                                                for v in orphans))

    def forgotten_finding(self, master: _View, hosts: list[_View]) -> Finding:
        summary = (f"{_names(hosts)} {_is_are(hosts)} not in master {master.name}'s database (forgotten while down?) "
                   "and sit in emergency mode with HOST_UNKNOWN_TO_MASTER; do not forget any more hosts.")
        return Finding("forgotten-host", Severity.CRITICAL, tuple(v.name for v in hosts), summary, "forgotten-host",
                       tuple(e for v in hosts for e in self.host_evidence(v)[:4]))

    def member_trouble(self, master: _View) -> list[Finding]:
        findings = []
        down = [v for v in self.views if not v.reachable]
        stale_masters = [v for v in down if v.role is Role.MASTER]
        if stale_masters:
            findings.append(Finding(
                "stale-master", Severity.WARNING, tuple(v.name for v in stale_masters),
                f"{_names(stale_masters)} believed {_itself(stale_masters)} master when last seen; if only cut off, "
                f"{_it_they(stale_masters)} still {'does' if len(stale_masters) == 1 else 'do'}: "
                f"once back, run pool-recover-slaves on {master.name}.",
                "split-brain", tuple(self.reach_evidence(v) for v in stale_masters)))
        others = [v for v in down if v not in stale_masters]
        # Never heard from, and not failed either: first contact still under way, not a host down.
        connecting = [v for v in others if v.obs.reach is Reach.PENDING and v.known is None]
        others = [v for v in others if v not in connecting]
        if others:
            findings.append(Finding("hosts-down", Severity.WARNING, tuple(v.name for v in others),
                                    f"{_names(others)} {_is_are(others)} not reachable from the jump box; "
                                    f"master {master.name} is fine.", None,
                                    tuple(self.reach_evidence(v) for v in others)))
        if connecting:
            findings.append(Finding("hosts-connecting", Severity.WARNING, tuple(v.name for v in connecting),
                                    f"{len(connecting)} of the pool's {len(self.views)} hosts {'has' if len(connecting) == 1 else 'have'} "
                                    "not answered yet "
                                    f"(first contact under way); master {master.name} is fine.", None, ()))
        hung = [v for v in self.reachable if v is not master and self.xapi(v) in (XapiState.HUNG, XapiState.DOWN)
                and v.role is Role.SLAVE and v.believed_address == master.address]
        if hung:
            findings.append(Finding("members-hung", Severity.WARNING, tuple(v.name for v in hung),
                                    f"xapi on {_names(hung)} does not answer although master {master.name} does.",
                                    None, tuple(e for v in hung for e in self.host_evidence(v)[:3])))
        # Only once the jump box has heard the master since the slave's failed try: a master that died
        # is first seen by its slaves' pings, a moment before its own round fails.
        heard = master.obs.last_seen if master.reachable else None
        cut = [v for v in self.reachable if v is not master and v not in hung and v.role is Role.SLAVE
               and v.believed_address == master.address and heard is not None and heard >= v.obs.at
               and (v.obs.master_ping is False or v.obs.master_port in ("timeout", "refused"))]
        if cut:
            findings.append(Finding(
                "cut-from-master", Severity.WARNING, tuple(v.name for v in cut),
                f"{_names(cut)} cannot reach master {master.name}, although the jump box reaches both: the "
                f"network between them is broken, and {_it_they(cut)} will lose the master. Fix that path; "
                "promote nothing.", None, tuple(e for v in cut for e in self.host_evidence(v)[:4])))
        return findings

    # ---- a promotion under way ---------------------------------------------------
    def taking_over(self, master: _View) -> bool:
        """Promoted moments ago: pool.conf says master, its xapi is not master yet, nobody follows it,
        and the host the others follow (or the master remembered before it) is gone. A master whose
        xapi hangs after years in the role has followers; one whose slaves follow a live master or an
        address outside the inventory is not a promotion in progress."""
        state = self.xapi(master)
        # UNKNOWN happens mid-restart (xe fails oddly), but also when a round has not reached xe yet.
        if state not in _TAKEOVER_PHASE and not (state is XapiState.UNKNOWN and master.obs.complete):
            return False
        mine = address_key(master.address)
        slaves = [v for v in self.views if v is not master and v.role is Role.SLAVE and v.believed_address]
        if any(address_key(v.believed_address) == mine for v in slaves):
            return False
        followed = {address_key(v.believed_address) for v in slaves}
        by_key = {address_key(v.address): v for v in self.views}
        if any(key not in by_key or self.works_as_master(by_key[key]) for key in followed):
            return False
        # With no slave to ask (a two-host pool), the old master remembered while it is away will do.
        return bool(followed) or any(v is not master and not v.reachable and v.role is Role.MASTER
                                     for v in self.views)

    def works_as_master(self, view: _View) -> bool:
        return view.reachable and view.role is Role.MASTER and view.xapi is XapiState.ANSWERING

    def promotion_pending(self, master: _View, findings: list[Finding]) -> PoolDiagnosis:
        """No working master yet, and the worst advice now is another promotion."""
        phase = _TAKEOVER_PHASE.get(self.xapi(master), "has not answered yet")
        old = self.lost_master()
        old_name = old.name if old is not None and old is not master else None
        followed = f"The others still follow {old_name}" if old_name else "The others follow another host"
        summary = (f"{master.name} has been promoted: pool.conf says master and its xapi {phase} (a 10-second "
                   f"fuse, then start-up). Do not promote another host. {followed}: once {master.name} answers "
                   f"as master, run pool-recover-slaves on it.")
        findings.insert(0, Finding("master-taking-over", Severity.CRITICAL,
                                   (master.name,) + ((old_name,) if old_name else ()), summary, None,
                                   self.host_evidence(master)[:5]))
        return self.result(Verdict.MASTER_LOST, None, findings)

    # ---- no working master -------------------------------------------------------
    def master_lost(self, findings: list[Finding], master_hung: _View | None = None) -> PoolDiagnosis:
        lost = master_hung or self.lost_master()
        if master_hung is None and self.serves_its_slaves(lost):
            return self.master_unseen(lost, findings)
        if self.ha_on:
            return self.ha_election(lost, findings, master_hung)
        candidates = self.candidates(exclude=lost)
        evidence = self.loss_evidence(lost)
        best = candidates[0].name if candidates else None
        if master_hung is not None:
            state = self.xapi(master_hung).value
            summary = (f"Master {lost.name} is reachable but its xapi is {state}; slaves waiting on it are stuck. "
                       f"Restart its toolstack first (xe-toolstack-restart on {lost.name}); "
                       f"promote {best or 'a slave'} only if that fails.")
        else:
            who = lost.name if lost else "the master"
            how = self.loss_reason(lost)
            summary = (f"Master {who} is lost: {how}. "
                       + (f"Promote {best} (best candidate), then recover the slaves." if best
                          else "No reachable host can be promoted yet."))
        kind = "master-hung" if master_hung is not None else "master-lost"
        hosts = ((lost.name,) if lost else ()) + tuple(c.name for c in candidates[:1])
        findings.insert(0, Finding(kind, Severity.CRITICAL, hosts, summary, "master-lost", evidence,
                                   tuple(candidates)))
        return self.result(Verdict.MASTER_LOST, None, findings)

    def serves_its_slaves(self, master: _View | None) -> bool:
        """The master's sshd answered the jump box and refused it (a key, a channel), while the slaves
        that follow it have their forwarded xe calls answered (through its xapi) and reach its xapi
        port: it works, unseen. A master the jump box cannot reach at all stays lost: the slaves'
        last word may predate its death."""
        if master is None or master.obs.reach not in _REFUSES_JUMP_BOX:
            return False
        followers = [v for v in self.reachable if v.role is Role.SLAVE and v.believed_address == master.address
                     and self.in_pool(v)]
        ports = {v.obs.master_port for v in followers if v.obs.master_port is not None}
        calls = {v.obs.xe.status for v in followers if v.obs.xe is not None}
        return calls == {"answered"} and ports <= {"ok"}

    def master_unseen(self, master: _View, findings: list[Finding]) -> PoolDiagnosis:
        followers = sum(1 for v in self.reachable if v.role is Role.SLAVE and v.believed_address == master.address)
        summary = (f"The jump box cannot use master {master.name} ({master.obs.reach.value}), but its {followers} "
                   f"slave{'s' if followers != 1 else ''} reach its xapi and their forwarded xe calls answer: it "
                   f"works. Do not promote another host; fix the jump box's SSH access to {master.name}.")
        findings.insert(0, Finding("master-unseen", Severity.WARNING, (master.name,), summary, None,
                                   self.loss_evidence(master)))
        others = [v for v in self.views if not v.reachable and v is not master]
        if others:
            findings.append(Finding("hosts-down", Severity.WARNING, tuple(v.name for v in others),
                                    f"{_names(others)} {_is_are(others)} not reachable from the jump box either.",
                                    None, tuple(self.reach_evidence(v) for v in others)))
        return self.result(Verdict.DEGRADED, master.name, findings)

    def lost_master(self) -> _View | None:
        """The host the pool last believed was master: who the slaves point at, else who claimed it."""
        pointed = Counter(v.believed_address for v in self.views if v.known and v.believed_address)
        for address, _ in pointed.most_common():
            name = self.names_by_address.get(address)
            if name:
                return self.by_name[name]
        return next((v for v in self.views if v.role is Role.MASTER), None)

    def loss_reason(self, lost: _View | None) -> str:
        if lost is None:
            return "no host claims to be master"
        reach = lost.obs.reach
        if reach is Reach.REFUSED:
            return "it refuses SSH (shut down or rebooting)"
        if reach in (Reach.TIMEOUT, Reach.STALLED):
            return "it does not answer at all (power loss or network cut: it may still believe it is master)"
        if reach.reachable and lost.role is not Role.MASTER:
            return f"it answers but its pool.conf no longer says master ({lost.known.pool_conf if lost.known else '?'})"
        if reach is Reach.PENDING:
            return "it has not been reached yet"
        return f"the jump box cannot use it ({reach.value})"

    def loss_evidence(self, lost: _View | None) -> tuple[str, ...]:
        evidence = []
        if lost is not None:
            evidence.append(self.reach_evidence(lost))
        slaves = [v for v in self.reachable if lost is None or v.believed_address == lost.address]
        port = Counter(v.obs.master_port for v in slaves if v.obs.master_port)
        if port:
            evidence.append("slaves reaching the master's xapi port: "
                            + ", ".join(f"{k} {n}" for k, n in sorted(port.items())))
        calls = Counter(v.obs.xe.status for v in slaves if v.obs.xe)
        if calls:
            evidence.append("forwarded xe calls on slaves: " + ", ".join(f"{k} {n}" for k, n in sorted(calls.items())))
        flags = Counter(v.obs.emergency_flag for v in slaves if v.obs.emergency_flag is not None)
        if flags.get(False):
            evidence.append(f"host-is-in-emergency-mode says false on {flags[False]} slave(s): "
                            "not trusted, a running slave says false while its master is gone")
        return tuple(evidence)

    def candidates(self, exclude: _View | None) -> list[Candidate]:
        last_db = self.last_db()
        ranked = []
        for v in self.reachable:
            if v is exclude or not self.in_pool(v) or v.role is Role.BROKEN:
                continue
            score, reasons = 0, []
            service = v.obs.xapi_service
            if service == "active":
                score, reasons = score + 4, reasons + ["xapi running"]
            else:
                reasons.append(f"xapi {service or 'state unknown'}")
            if v.obs.emergency_flag is not None:
                score, reasons = score + 2, reasons + ["answers local xe calls"]
            else:
                reasons.append("local xe calls do not answer")
            record = last_db.get(v.known.uuid) if v.known and v.known.uuid else None
            if record is not None and record.enabled is False:
                score, reasons = score - 3, reasons + ["disabled in the pool database"]
            elif record is not None:
                score, reasons = score + 2, reasons + ["enabled"]
            if v.obs.emergency_flag:
                reasons.append("in emergency mode (fine: promotion does not need the master)")
            ranked.append(Candidate(v.name, score, tuple(reasons)))
        order = {v.name: i for i, v in enumerate(self.views)}
        return sorted(ranked, key=lambda c: (-c.score, order[c.name]))

    def last_db(self) -> dict:
        """The freshest pool database any host reported (the lost master's, remembered)."""
        dbs = [v.known for v in self.views if v.known and v.known.db_hosts]
        if not dbs:
            return {}
        freshest = max(dbs, key=lambda o: o.at)
        return {h.uuid: h for h in freshest.db_hosts}

    # ---- odd hosts ---------------------------------------------------------------
    def foreign_master(self, view: _View) -> Finding:
        return Finding("foreign-master", Severity.WARNING, (view.name,),
                       f"{view.name} is master of a different pool (its pool secret differs); "
                       "it is in this inventory by mistake or was ejected.", None, self.host_evidence(view)[:3])

    def broken(self, view: _View) -> Finding:
        return Finding("broken", Severity.CRITICAL, (view.name,),
                       f"{view.name}'s pool.conf is broken (a master change failed half-way); "
                       "it runs in emergency mode until its role is set again.", None, self.host_evidence(view)[:3])

    # ---- HA ---------------------------------------------------------------------------
    def pool_ha(self) -> PoolHa | None:
        """The pool's HA as its hosts tell it: local.db on each host, the pool record through a slave."""
        known = [v for v in self.views if v.known is not None and self.in_pool(v)]
        armed = tuple(v.name for v in known if v.known.ha_armed)
        disarmed = tuple(v.name for v in known if v.known.ha_armed is False)
        answers = [v.obs for v in self.reachable if v.obs.pool_ha_enabled is not None]
        freshest = max(answers, key=lambda o: o.at) if answers else None
        if not armed and not disarmed and freshest is None:
            return None
        timeouts = [v.known.ha_timeout for v in known if v.known.ha_timeout]
        return PoolHa(enabled=freshest.pool_ha_enabled if freshest else None, armed=armed, disarmed=disarmed,
                      failures_to_tolerate=freshest.pool_ha_tolerate if freshest else None,
                      timeout=max(timeouts) if timeouts else None)

    def armed(self, view: _View) -> bool:
        return bool(view.known and view.known.ha_armed)

    def ha_mark(self, view: _View) -> str | None:
        if not view.reachable and self.ha_on and (view.known is None or self.armed(view)) and self.dropped(view):
            return "fenced"  # known armed, or never seen: either way its peers' liveset dropped it
        if view.known is None or view.known.ha_armed is None or not (self.ha_on or self.armed(view)):
            return None
        return "armed" if self.armed(view) else "disarmed"

    def dropped(self, view: _View) -> bool:
        """The liveset of a reachable armed host says this host is not live (fenced, or down)."""
        uuid = view.known.uuid if view.known and view.known.uuid else self.uuid_by_address().get(
            address_key(view.address))
        views = [v.obs.ha_live for v in self.reachable if v.obs.ha_live is not None and v.obs.ha_live.online]
        return uuid is not None and any(uuid not in live.live for live in views
                                        if any(p.uuid == uuid for p in live.peers))

    def uuid_by_address(self) -> dict[str, str]:
        """Each address's uuid as the pool database or local.db's ha_peers say (for hosts never seen)."""
        if not hasattr(self, "_uuids"):
            peers = next((v.known.ha_peers for v in self.reachable if v.known and v.known.ha_peers), ())
            self._uuids = {address_key(address): uuid for uuid, address in peers}
            self._uuids.update({address_key(h.address): h.uuid for h in self.last_db().values() if h.address})
        return self._uuids

    def ha_findings(self) -> list[Finding]:
        """Warnings that hold whatever the verdict: hosts that disagree about HA, hosts about to fence."""
        if self.ha is None:
            return []
        findings = []
        reachable = [v for v in self.reachable if v.known and v.known.ha_armed is not None and self.in_pool(v)]
        armed = [v for v in reachable if v.known.ha_armed]
        disarmed = [v for v in reachable if not v.known.ha_armed]
        if armed and disarmed:
            findings.append(Finding(
                "ha-mismatch", Severity.WARNING, tuple(v.name for v in disarmed),
                f"HA is armed on {_names(armed)} but not on {_names(disarmed)}: an armed host fences itself and "
                f"elects masters, a disarmed one does neither. Finish what was started: disarm all (recovering "
                f"from HA stuck) or, once the pool is healthy, enable HA again (xe pool-ha-enable).",
                None, tuple(f"{v.name}: local.db ha.armed {str(bool(v.known.ha_armed)).lower()}"
                            for v in reachable)))
        findings += self.fencing_risks(armed)
        return findings

    def fencing_risks(self, armed: list[_View]) -> list[Finding]:
        lives = {v.name: v.obs.ha_live for v in armed if v.obs.ha_live is not None and v.obs.ha_live.online}
        if not lives:
            return []
        widest = max(len(live.live) for live in lives.values())
        anyone_sees_statefile = any(not live.statefile_lost for live in lives.values())
        findings = []
        for v in armed:
            live = lives.get(v.name)
            if live is None:
                continue
            why = []
            if live.statefile_lost and anyone_sees_statefile:
                why.append("it has lost the heartbeat statefile while other hosts still reach it")
            if len(live.live) < widest:
                why.append(f"it sees {len(live.live)} live hosts where others see {widest}: it is cut off")
            if why:
                findings.append(Finding(
                    "fencing-risk", Severity.WARNING, (v.name,),
                    f"{v.name} is armed for HA and {' and '.join(why)}: xhad fences (reboots) it within "
                    f"{self.ha_timeout:g} s unless that heals. Do not restart its toolstack; fix its storage "
                    f"or network path.", None, self.host_evidence(v)[:6]))
        return findings

    def ha_election(self, lost: _View | None, findings: list[Finding], master_hung: _View | None) -> PoolDiagnosis:
        """The master is gone and HA is armed: HA elects the next one; a human promotion would be a second."""
        window = self.ha_timeout + HA_ELECTION_SLACK
        last = lost.obs.last_seen if lost is not None and not lost.reachable else None
        elapsed = None if last is None else max(0.0, self.now - last)
        blocked = self.election_blocked(lost)
        overdue = elapsed is not None and elapsed > window
        who = lost.name if lost else "the master"
        if overdue or (blocked and (elapsed is None or elapsed >= self.ha_timeout)):
            reason = blocked or (f"master {who} was last seen {elapsed:.0f} s ago, past the {window:.0f} s an "
                                 f"election takes with an HA timeout of {self.ha_timeout:g} s")
            summary = (f"HA is armed but no new master came: {reason}. Run playbook ha-stuck: confirm {who} is "
                       "really gone, disarm HA on the surviving hosts, promote the best one, recover the others.")
            findings.insert(0, Finding("ha-stuck", Severity.CRITICAL, (who,) if lost else (), summary, "ha-stuck",
                                       self.loss_evidence(lost) + self.election_evidence(lost),
                                       tuple(self.candidates(exclude=lost))))
            return self.result(Verdict.HA_STUCK, None, findings)
        remaining = window - (elapsed or 0.0)
        if master_hung is not None and master_hung.known and master_hung.known.conf_changed_at is not None \
                and self.now - master_hung.known.conf_changed_at < window:
            what = f"HA elected {who}: its xapi {_TAKEOVER_PHASE.get(master_hung.xapi, 'is restarting')} as master"
        elif master_hung is not None:
            what = (f"master {who}'s xapi is {master_hung.xapi.value}; xhad restarts a failed xapi by itself, or "
                    "fences the host and HA elects another master")
        else:
            seen = f"last seen {elapsed:.0f} s ago" if elapsed is not None else "not seen since poolterm started"
            what = f"master {who} is lost ({self.loss_reason(lost)}; {seen}) and HA is electing a new one"
        summary = (f"HA failover: {what}. With an HA timeout of {self.ha_timeout:g} s a new master answers within "
                   f"{window:.0f} s of the loss ({remaining:.0f} s left). Do not promote a host by hand and do not "
                   "restart a toolstack: an armed host refuses the promotion, a host disarmed to force it becomes "
                   "a second master, and a toolstack restart under HA fences the host.")
        findings.insert(0, Finding("ha-failover", Severity.CRITICAL, (who,) if lost else (), summary, None,
                                   self.loss_evidence(lost) + self.election_evidence(lost)))
        advice = f"Wait: HA elects a new master within {remaining:.0f} s; do not promote by hand."
        return self.result(Verdict.HA_FAILOVER, None, findings, advice)

    def election_blocked(self, lost: _View | None) -> str | None:
        """Why no surviving host can win the master lock, if the evidence says so."""
        survivors = [v for v in self.reachable if v is not lost and self.in_pool(v) and self.armed(v)]
        if not survivors:
            return None
        codes = [v.obs.xe.error_code if v.obs.xe else None for v in survivors]
        if all(code in HA_STARTUP_ERRORS for code in codes):
            common = Counter(codes).most_common(1)[0][0]
            return (f"every surviving host ({_names(survivors)}) is stuck at start-up with {common}: none can "
                    "join the liveset, so none can take the master lock")
        lives = [v.obs.ha_live for v in survivors if v.obs.ha_live is not None]
        if len(lives) == len(survivors) and all(live.statefile_lost for live in lives):
            return ("no surviving host reaches the heartbeat statefile, and only a host that does can take the "
                    "master lock")
        return None

    def election_evidence(self, lost: _View | None) -> tuple[str, ...]:
        lines = [f"HA armed on {len(self.ha.armed)} host(s), timeout {self.ha_timeout:g} s"] if self.ha else []
        for v in self.reachable:
            live = v.obs.ha_live
            if v is lost or live is None or not self.armed(v):
                continue
            holder = self.uuid_names.get(live.lock_holder or "", live.lock_holder or "nobody")
            lines.append(f"{v.name}'s liveset: {len(live.live)} live, master lock: {holder}"
                         + (", statefile lost" if live.statefile_lost else ""))
        return tuple(lines[:8])

    # ---- master changes under way -------------------------------------------------------
    def in_transition(self, pool: PoolDiagnosis) -> PoolDiagnosis:
        """A master change under way is not an incident: while its files changed moments ago (or the
        evidence shows a role change or a master's xapi starting), the verdict says what it waits for."""
        if pool.verdict not in _TRANSITION_VERDICTS or self.taking_over_lead(pool):
            return pool
        started = self.change_started()
        stateless = self.change_evidence(pool)
        if started is None and not stateless:
            return pool
        age = None if started is None else self.now - started
        target = self.change_target()
        committing = self.committing()
        if committing is not None and age is not None and age <= HANDOVER_WINDOW:
            return self.handover(pool, committing.name, age, (
                f"the two-phase commit on {committing.name} to finish (its pool.conf says `broken` between "
                "the phases, then `master`)", [committing.name]))
        if not self.files_agree(target):
            # Somebody's pool.conf still names another master: that does not finish by itself (a
            # promotion's orphans wait for pool-recover-slaves), so it is the incident it looks like.
            return pool
        waits = self.waits_for(target, pool)
        if waits is None:
            return pool  # nothing left to happen: whatever the verdict says is not a change under way
        if age is not None and age > HANDOVER_WINDOW:
            if age > HANDOVER_MEMORY:
                return pool
            overdue = Finding("handover-overdue", Severity.WARNING, tuple(waits[1]),
                              f"The master change begun {age:.0f} s ago has not finished: {waits[0]} has not "
                              f"happened within {HANDOVER_WINDOW:.0f} s.", None, ())
            return replace_findings(pool, pool.findings + (overdue,))
        return self.handover(pool, target, age, waits)

    def handover(self, pool: PoolDiagnosis, target: str | None, age: float | None,
                 waits: tuple[str, list[str]]) -> PoolDiagnosis:
        since = f" (pool.conf changed {age:.0f} s ago)" if age is not None else ""
        wait_text = waits[0]
        verdict = Verdict.HA_FAILOVER if self.ha_on else Verdict.HANDOVER
        kind = "ha-failover" if verdict is Verdict.HA_FAILOVER else "handover"
        what = f"HA elected {target}" if kind == "ha-failover" and target else \
            f"Master change to {target or 'a new master'} under way"
        summary = (f"{what}{since}: waiting for {wait_text}. This normally takes under {HANDOVER_WINDOW:.0f} s "
                   "(a 10 s fuse, then xapi's start-up, then the slaves' hello). Do not promote, recover or "
                   "restart anything meanwhile.")
        lead = Finding(kind, verdict.severity, ((target,) if target else ()) + tuple(waits[1]),
                       summary, None, tuple(e for f in pool.findings[:3] for e in f.evidence[:2]))
        rest = tuple(f for f in pool.findings if f.severity is not Severity.OK)
        advice = "Wait: the master change finishes by itself; touch nothing until it does."
        return PoolDiagnosis(pool.name, verdict, pool.master, pool.hosts, (lead,) + rest, summary, advice, pool.ha)

    def taking_over_lead(self, pool: PoolDiagnosis) -> bool:
        return bool(pool.findings) and pool.findings[0].kind in ("master-taking-over", "ha-stuck", "split-brain")

    def change_started(self) -> float | None:
        """When the pool's latest burst of pool.conf changes began, if one is within memory."""
        times = sorted(v.known.conf_changed_at for v in self.reachable
                       if v.known and v.known.conf_changed_at is not None and self.in_pool(v)
                       and self.now - v.known.conf_changed_at <= HANDOVER_MEMORY)
        if not times:
            return None
        start = times[-1]
        for t in reversed(times[:-1]):  # changes a fuse apart belong to one handover
            if start - t > HANDOVER_WINDOW:
                break
            start = t
        return start

    def change_evidence(self, pool: PoolDiagnosis) -> bool:
        """Without history: a role change waiting for its fuse, or the master's xapi starting under its followers."""
        if any(f.kind == "role-change-pending" for f in pool.findings):
            return True
        masters = [v for v in self.reachable if v.role is Role.MASTER and self.in_pool(v)]
        if len(masters) != 1 or masters[0].xapi is not XapiState.STARTING:
            return False
        since = masters[0].obs.service_changed_at  # None: first look, it may have just begun
        return (since is None or self.now - since <= HANDOVER_WINDOW) and any(
            v.role is Role.SLAVE and v.believed_address == masters[0].address for v in self.reachable)

    def committing(self) -> _View | None:
        """A host whose pool.conf turned `broken` moments ago: pool-designate-new-master writes it on
        the new master between its two phases (docs/xapi.md); an HA failover never does."""
        return next((v for v in self.reachable if v.role is Role.BROKEN and v.known and v.known.conf_changed_at
                     is not None and (v.known.conf_before or "").startswith("slave:")), None)

    def files_agree(self, target: str | None) -> bool:
        """Every reachable member's pool.conf already says what the change leads to: the target is
        master and everyone else its slave. What is left are xapi restarts, which need nobody."""
        view = self.by_name.get(target) if target else None
        if view is None or not view.reachable or view.role is not Role.MASTER:
            return False
        mine = address_key(view.address)
        return all(v.role is Role.SLAVE and v.believed_address is not None and address_key(v.believed_address) == mine
                   for v in self.reachable if v is not view and self.in_pool(v))

    def change_target(self) -> str | None:
        masters = [v for v in self.reachable if v.role is Role.MASTER and self.in_pool(v)]
        if len(masters) == 1:
            return masters[0].name
        pointed = Counter(v.believed_address for v in self.reachable if v.believed_address)
        return self.name_of(pointed.most_common(1)[0][0]) if pointed else None

    def waits_for(self, target: str | None, pool: PoolDiagnosis) -> tuple[str, list[str]] | None:
        """What has not happened yet, and the hosts it concerns."""
        lagging = {h for f in pool.findings if f.kind == "role-change-pending" for h in f.hosts}
        view = self.by_name.get(target) if target else None
        if view is not None and not (view.reachable and view.xapi is XapiState.ANSWERING and view.role is Role.MASTER):
            return f"{target}'s xapi to restart as master", [target]
        if view is None:
            return None
        # A host the jump box cannot reach takes no part: a change that waits for it never ends.
        behind = [v for v in self.reachable if v is not view and self.in_pool(v) and (
            v.role is not Role.SLAVE or v.believed_address != view.address
            or v.xapi is not XapiState.ANSWERING or v.name in lagging)]
        if not behind:
            return None
        return f"{_names(behind)} to restart as {target}'s slave{'s' if len(behind) > 1 else ''}", \
            [v.name for v in behind]

    # ---- per-host state and evidence ---------------------------------------------
    def xapi(self, view: _View) -> XapiState:
        return view.xapi

    def host_state(self, view: _View, master: str | None) -> HostState:
        role = view.role
        if role is Role.MASTER:
            believed = view.name
        else:
            believed = self.name_of(view.believed_address)
        master_address = self.by_name[master].address if master else None
        agrees = (master is None or not view.known or (role is Role.MASTER and view.name == master)
                  or (role is Role.SLAVE and view.believed_address == master_address))
        return HostState(
            name=view.name,
            address=view.address,
            reachable=view.reachable,
            reach=view.obs.reach,
            role=role,
            believed_master=believed,
            xapi=self.xapi(view),
            emergency_flag=view.obs.emergency_flag if view.reachable else None,
            last_seen=view.obs.last_seen,
            evidence=self.host_evidence(view),
            agrees=agrees,
            stale=not view.reachable and view.known is not None,
            ha=self.ha_mark(view),
        )

    def reach_evidence(self, view: _View) -> str:
        obs = view.obs
        detail = f" ({obs.reach_detail})" if obs.reach_detail else ""
        seen = f", last seen {self.now - obs.last_seen:.0f} s ago" if obs.last_seen is not None and not view.reachable else ""
        return f"{view.name}: SSH {obs.reach.value}{detail}{seen}"

    def host_evidence(self, view: _View) -> tuple[str, ...]:
        lines = [self.reach_evidence(view)]
        k = view.known
        if k is None:
            return tuple(lines)
        prefix = "remembered " if not view.reachable else ""
        if k.pool_conf is not None:
            target = self.name_of(k.believed_master_address)
            lines.append(f"{prefix}pool.conf: {k.pool_conf}" + (f" ({target})" if target and target != k.believed_master_address else ""))
        if not view.reachable:
            return tuple(lines)
        if k.xapi_service:
            lines.append(f"xapi service: {k.xapi_service}" + ("" if k.init_complete else ", not fully initialised"))
        if k.xe is not None:
            # A master answers its own xe host-list; a slave's xe is forwarded to its master.
            label = "xe host-list on itself" if view.role is Role.MASTER else "forwarded xe"
            lines.append(f"{label}: {k.xe.status}" + (f": {k.xe.output}" if k.xe.output else ""))
        if k.master_port:
            lines.append(f"master's xapi port from here: {k.master_port}")
        if k.master_ping is not None:
            lines.append(f"ping to the master from here: {'answered' if k.master_ping else 'no answer'}")
        if k.emergency_flag is not None:
            lines.append(f"host-is-in-emergency-mode: {str(k.emergency_flag).lower()}"
                         + ("" if k.emergency_flag else " (not trusted on its own)"))
        if k.secret_hash:
            lines.append(f"pool secret sha256: {k.secret_hash[:12]}" + ("" if self.in_pool(view) else " (differs from the pool's)"))
        if k.db_hosts is not None:
            lines.append(f"pool database lists {len(k.db_hosts)} hosts")
        if k.ha_armed is not None and (k.ha_armed or self.ha_on):
            lines.append(f"local.db ha.armed: {str(k.ha_armed).lower()}")
        if k.ha_live is not None:
            live = k.ha_live
            holder = self.uuid_names.get(live.lock_holder or "", live.lock_holder or "nobody")
            lines.append(f"xhad liveset: {len(live.live)} of {len(live.peers)} live, master lock {holder}"
                         + (", statefile lost" if live.statefile_lost else ""))
        return tuple(lines)


#: What a just-promoted host's xapi is doing, in the words of the promotion-pending summary.
_TAKEOVER_PHASE = {
    XapiState.HUNG: "has not restarted as master yet",
    XapiState.EMERGENCY: "has not restarted as master yet (emergency mode)",
    XapiState.DOWN: "is restarting",
    XapiState.STARTING: "is starting",
}

#: Verdicts a master change under way passes through and must not be shown as.
_TRANSITION_VERDICTS = frozenset({Verdict.MASTER_LOST, Verdict.EMERGENCY, Verdict.ORPHANED_SLAVES,
                                  Verdict.DEGRADED, Verdict.HA_FAILOVER})


def replace_findings(pool: PoolDiagnosis, findings: tuple[Finding, ...]) -> PoolDiagnosis:
    return PoolDiagnosis(pool.name, pool.verdict, pool.master, pool.hosts, findings, pool.summary, pool.advice,
                         pool.ha)


#: xapi states of a host whose xapi has not started serving: as a master it has not run its
#: start-up checks yet.
NOT_UP = (XapiState.DOWN, XapiState.STARTING)
#: How a host's sshd answers the jump box and refuses it: the host is up, whatever else is wrong.
_REFUSES_JUMP_BOX = frozenset({Reach.AUTH_FAILED, Reach.HOST_KEY_CHANGED, Reach.HOST_KEY_UNKNOWN, Reach.ERROR})


def xapi_state(obs: Observation) -> XapiState:
    """How a reachable host's xapi behaves, from the probe's sections."""
    code = obs.xe.error_code if obs.xe else None
    if obs.emergency_flag or code in EMERGENCY_CODES:
        return XapiState.EMERGENCY
    if obs.xapi_service in ("inactive", "failed"):
        return XapiState.DOWN
    if obs.xapi_service == "activating":
        return XapiState.STARTING  # refusing calls until it serves: a start, not a death
    if obs.xe and obs.xe.status == "refused":
        # systemd said active a moment before the call was refused: the round straddled a restart.
        return XapiState.STARTING if obs.xapi_service == "active" else XapiState.DOWN
    if obs.xe is None:
        return XapiState.UNKNOWN
    if obs.xe.status == "hung":
        return XapiState.HUNG
    if obs.xe.answered:
        return XapiState.ANSWERING
    if obs.init_complete is False:
        return XapiState.STARTING
    return XapiState.UNKNOWN


def _majority(values: Iterable[str]) -> str | None:
    counts = Counter(values).most_common(1)
    return counts[0][0] if counts else None


def _names(views: Sequence[_View]) -> str:
    names = [v.name for v in views]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _is_are(views: Sequence[_View]) -> str:
    return "is" if len(views) == 1 else "are"


def _itself(views: Sequence[_View]) -> str:
    return "itself" if len(views) == 1 else "themselves"


def _it_they(views: Sequence[_View]) -> str:
    return "it" if len(views) == 1 else "they"


def wait_for_promotion(promoted: str) -> str:
    """What to do while a promoted host restarts into the master role (diagnosis and guards say it alike)."""
    return (f"Wait until {promoted} answers as master; if it has not within two minutes, restart its "
            f"toolstack (xe-toolstack-restart on {promoted}).")


def _advice(verdict: Verdict, lead: Finding | None) -> str:
    playbook = lead.playbook if lead else None
    if verdict is Verdict.HEALTHY:
        return "Nothing to do."
    if verdict is Verdict.UNKNOWN:
        return "Check the jump box's network and the inventory; nothing can be diagnosed blind."
    if lead is not None and lead.kind == "master-unseen":
        return f"Do not promote another host: fix the jump box's SSH access to {lead.hosts[0]}."
    if verdict is Verdict.DEGRADED:
        return "The pool works; bring the listed hosts back when you can."
    if lead is not None and lead.kind == "master-taking-over":
        return wait_for_promotion(lead.hosts[0])
    if playbook:
        return f"Run playbook {playbook}."
    return "Read the evidence of the listed hosts."
