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
    Reach,
    Role,
    Severity,
    Verdict,
    XapiState,
)
from poolterm.xe import address_key

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

    def result(self, verdict: Verdict, master: str | None, findings: list[Finding]) -> PoolDiagnosis:
        states = tuple(self.host_state(v, master) for v in self.views)
        lead = next((f for f in findings if f.severity is verdict.severity), findings[0] if findings else None)
        summary = lead.summary if lead else ""
        return PoolDiagnosis(self.pool, verdict, master, states, tuple(findings), summary, _advice(verdict, lead))

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
            return self.promotion_pending(master, findings)
        if state in (XapiState.HUNG, XapiState.DOWN, XapiState.EMERGENCY):
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
        if others:
            findings.append(Finding("hosts-down", Severity.WARNING, tuple(v.name for v in others),
                                    f"{_names(others)} {_is_are(others)} not reachable from the jump box; "
                                    f"master {master.name} is fine.", None,
                                    tuple(self.reach_evidence(v) for v in others)))
        hung = [v for v in self.reachable if v is not master and self.xapi(v) in (XapiState.HUNG, XapiState.DOWN)
                and v.role is Role.SLAVE and v.believed_address == master.address]
        if hung:
            findings.append(Finding("members-hung", Severity.WARNING, tuple(v.name for v in hung),
                                    f"xapi on {_names(hung)} does not answer although master {master.name} does.",
                                    None, tuple(e for v in hung for e in self.host_evidence(v)[:3])))
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
        if k.emergency_flag is not None:
            lines.append(f"host-is-in-emergency-mode: {str(k.emergency_flag).lower()}"
                         + ("" if k.emergency_flag else " (not trusted on its own)"))
        if k.secret_hash:
            lines.append(f"pool secret sha256: {k.secret_hash[:12]}" + ("" if self.in_pool(view) else " (differs from the pool's)"))
        if k.db_hosts is not None:
            lines.append(f"pool database lists {len(k.db_hosts)} hosts")
        return tuple(lines)


#: What a just-promoted host's xapi is doing, in the words of the promotion-pending summary.
_TAKEOVER_PHASE = {
    XapiState.HUNG: "has not restarted as master yet",
    XapiState.EMERGENCY: "has not restarted as master yet (emergency mode)",
    XapiState.DOWN: "is restarting",
    XapiState.STARTING: "is starting",
}

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
    if obs.xapi_service in ("inactive", "failed") or (obs.xe and obs.xe.status == "refused"):
        return XapiState.DOWN
    if obs.xapi_service == "activating":
        return XapiState.STARTING
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
