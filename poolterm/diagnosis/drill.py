"""Training drills: a surprise fault in the simulated pool, and a score for the recovery.

A drill plays the fault steps of one of the simulator's scenarios a few seconds
after the console first shows HEALTHY. The trainee recovers the pool with the
console (playbooks, the xe prompt); the drill ends when the simulator's ground
truth is healthy again and nothing is running, or when the trainee quits.

The score comes from the journal (what was run, refused and skipped after the
fault) and from the times the console passes in: everything here is pure, except
:class:`Drill`'s ``inject``, which the demo wiring supplies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

#: The drills `poolterm demo --drill` offers: each is a simulator scenario of the same name.
DRILLS = ("master-shutdown", "cable-pull", "split-brain", "forgotten-host", "ha-failover", "ha-stuck")
#: Drills whose right answer is to wait: HA elects the master, so a promotion by hand is a mistake.
WAIT_DRILLS = frozenset({"ha-failover"})
#: The command a promotion by hand sends.
PROMOTION = "pool-emergency-transition-to-master"
#: Seconds between the console's first HEALTHY and the fault: long enough to see a well pool first.
FAULT_DELAY = 3.0
#: Journal record kinds a drill writes: when the fault was in place, and the score.
START_RECORD = "drill-start"
SCORE_RECORD = "drill"


class DrillError(Exception):
    """An unknown drill; ``str()`` is one line naming the drills there are."""


def check_name(name: str) -> str:
    if name not in DRILLS:
        raise DrillError(f"no drill named {name!r} (drills: {', '.join(DRILLS)})")
    return name


@dataclass(frozen=True)
class Drill:
    """What the console needs to run a drill: its name, the fault, and when to inject it.

    ``inject`` puts the fault in place and returns "" once it is, or why it could not.
    """

    name: str
    inject: Callable[[], Awaitable[str]]
    delay: float = FAULT_DELAY


# --------------------------------------------------------------------------- ground truth


def truth_problems(status: dict) -> list[str]:
    """What keeps the simulated pool from healthy, by its ground truth (empty: healthy).

    Healthy: one running master, and every powered host a running slave of it, on
    the network and not in emergency mode. A host that is off does not count (a dead
    master's pool recovered without it is a recovered pool) while the master's
    database still lists it; one the master has forgotten does, as it can never come
    back by itself. A host with its cable out counts, as nobody can reach it.
    """
    hosts = [h for h in status["hosts"] if h["power"] != "off"]
    masters = [h for h in hosts if h["role"] == "master"]
    if len(masters) != 1:
        return [f"running masters: {[h['name'] for h in masters]}"]
    master = masters[0]
    problems = []
    database = next((m["db_hosts"] for m in status.get("masters", ()) if m["name"] == master["name"]), None)
    if database is not None:
        listed = {h["name"] for h in database}
        problems += [f"{h['name']}: off and not in {master['name']}'s database" for h in status["hosts"]
                     if h["power"] == "off" and h["name"] not in listed]
    for host in hosts:
        if host["power"] != "on" or host["xapi"] != "running" or host["link"] != "up" or host["emergency"]:
            problems.append(f"{host['name']}: power {host['power']}, xapi {host['xapi']}, link {host['link']}, "
                            f"emergency {host['emergency']}")
        elif host is not master and (host["role"] != "slave" or host["master_address"] != master["address"]):
            problems.append(f"{host['name']}: role {host['role']} of {host['master_address']}")
    return problems


def healthy(status: dict) -> bool:
    return not truth_problems(status)


# --------------------------------------------------------------------------- progress


@dataclass
class DrillState:
    """Where a drill is: waiting for HEALTHY, armed, injecting, live (the fault is in), failed or ended.

    The pool counts as recovered only once its ground truth was seen broken after the
    fault and healthy again since: a fault that takes a moment to show must not end
    the drill at once.
    """

    name: str
    stage: str = "waiting"
    fault_at: float | None = None
    broken: bool = False
    healthy_since: float | None = None

    def fault_in(self, at: float) -> None:
        self.stage, self.fault_at = "live", at

    def truth(self, is_healthy: bool, now: float) -> None:
        if not is_healthy:
            self.broken, self.healthy_since = True, None
        elif self.broken and self.healthy_since is None:
            self.healthy_since = now

    def recovered(self, busy: bool) -> bool:
        """The drill is won: the pool is healthy again and no playbook or command is still at work."""
        return self.stage == "live" and self.healthy_since is not None and not busy


# --------------------------------------------------------------------------- the score


@dataclass(frozen=True)
class Score:
    drill: str
    outcome: str  # recovered | quit
    seconds: float | None  # from the fault to a healthy pool; None when it was not recovered
    elapsed: float  # from the fault to the end of the drill
    refusals: int  # commands the guards refused
    overrides: int  # refusals overridden, accepted
    skipped: int  # playbook steps skipped
    commands: int  # commands sent to hosts
    changes: int  # of them, commands that change the pool
    promotions: int = 0  # promotions tried by hand (sent or refused); in a wait drill, each is a mistake

    def record(self) -> dict:
        """The journal's ``drill`` record fields."""
        return asdict(self)

    @property
    def summary(self) -> str:
        if self.seconds is not None:
            text = f"recovered {_duration(self.seconds)} after the fault"
        else:
            text = f"not recovered: quit {_duration(self.elapsed)} after the fault"
        if self.drill in WAIT_DRILLS and self.promotions:
            text += f", but {self.promotions} promotion{'s' if self.promotions > 1 else ''} tried by hand"
        return text

    def lines(self) -> list[str]:
        lines = [
            f"DRILL {self.drill}: {self.summary}",
            f"guard refusals hit:     {self.refusals}" + (f" ({self.overrides} overridden)" if self.overrides else ""),
            f"playbook steps skipped: {self.skipped}",
            f"commands run:           {self.commands} ({self.changes} changing the pool)",
        ]
        if self.drill in WAIT_DRILLS:
            lines.append(f"promotions by hand:     {self.promotions}"
                         + (" (HA elects the master: the right answer was to wait)" if self.promotions
                            else " (right: HA elected the master)"))
        return lines


def score(records: list[dict], name: str, *, healthy_at: float | None, ended_at: float) -> Score:
    """The score of drill ``name`` from the journal's records since its last ``drill-start``.

    ``healthy_at`` is when the pool was healthy again (None: it was not), ``ended_at``
    when the drill ended; both on the journal's clock (seconds since the epoch).
    """
    starts = [i for i, r in enumerate(records) if r.get("kind") == START_RECORD and r.get("drill") == name]
    if not starts:
        raise DrillError(f"the journal has no start of drill {name!r}")
    fault_at = float(records[starts[-1]]["t"])
    after = records[starts[-1] + 1:]
    kinds = [r.get("kind") for r in after]
    # The console's own refusals (a line xe cannot parse, --read-only) are not the guards'.
    refusals = sum(1 for r in after if r.get("kind") == "refused" and r.get("rule") != "console")
    overrides = sum(1 for r in after if r.get("kind") == "override" and r.get("accepted"))
    skipped = sum(1 for r in after if r.get("kind") == "step" and r.get("status") == "skipped")
    changes = sum(1 for r in after if r.get("kind") == "command-start" and r.get("changes_pool"))
    # A promotion refused by a guard was still tried: the guard caught the mistake, the trainee made it.
    promotions = sum(1 for r in after if r.get("kind") in ("command-start", "refused")
                     and PROMOTION in str(r.get("command", "")).split())
    return Score(
        drill=name,
        outcome="recovered" if healthy_at is not None else "quit",
        seconds=None if healthy_at is None else round(max(0.0, healthy_at - fault_at), 1),
        elapsed=round(max(0.0, ended_at - fault_at), 1),
        refusals=refusals,
        overrides=overrides,
        skipped=skipped,
        commands=kinds.count("command-start"),
        changes=changes,
        promotions=promotions,
    )


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"
