"""The field notes' pool states on a four-host lab, as the probe reports them.

Shared by the guard, engine and banner tests: each state is diagnosed by the real
:func:`poolterm.diagnosis.diagnose.diagnose`, so a rule or a step is checked against
the verdicts it will meet in an incident.
"""

from __future__ import annotations

from poolterm.model import Observation, Reach
from tests.helpers.factories import Host, Lab, Pool

NOW = 1000.0
NAMES = [f"plot{i}" for i in range(1, 5)]
ADDRESS = {name: f"10.0.0.{10 + i}" for i, name in enumerate(NAMES, 1)}
UUID = {name: f"00000000-0000-4000-8000-{i:012d}" for i, name in enumerate(NAMES, 1)}
SECRET = "a" * 64

POOL = Pool("lab", tuple(Host(n, ADDRESS[n]) for n in NAMES))
LAB = Lab(POOL, NOW, SECRET, UUID.__getitem__)

# The lab's builders (tests.helpers.factories.Lab), by the names the tests use.
slave_of = LAB.slave_of
up = LAB.up
down = LAB.down
master = LAB.master
follower = LAB.follower
observe = LAB.observe
diagnosed = LAB.diagnosed
healthy = LAB.healthy


def master_lost() -> dict[str, Observation]:
    """plot1 shut down; the slaves' forwarded xe hangs."""
    hung = [up(n, slave_of("plot1"), xe="hung") for n in NAMES[1:]]
    return observe(down("plot1", Reach.REFUSED, was="master"), *hung)


def promoted() -> dict[str, Observation]:
    """plot2 is master now; the others still point at the lost plot1."""
    hung = [up(n, slave_of("plot1"), xe="hung") for n in NAMES[2:]]
    return observe(down("plot1", was="master"), master("plot2"), *hung)


def recovered_old_master_down() -> dict[str, Observation]:
    return observe(down("plot1", was="master"), master("plot2"), *(follower(n, "plot2") for n in NAMES[2:]))


def split_brain() -> dict[str, Observation]:
    """plot1 came back still master (cable in); plot2, plot3 and plot4 follow plot2."""
    return observe(master("plot1"), master("plot2"), follower("plot3", "plot2"), follower("plot4", "plot2"))


def cut_off(name: str = "plot4") -> dict[str, Observation]:
    """One slave's cable is out: it does not answer, it was a slave when last seen."""
    state = healthy()
    state[name] = down(name, Reach.TIMEOUT, was=slave_of("plot1"))
    return state


def forgotten(name: str = "plot3") -> dict[str, Observation]:
    members = tuple(n for n in NAMES if n != name)
    state = observe(master("plot1", members), *(follower(n, "plot1") for n in members[1:]))
    state[name] = up(name, slave_of("plot1"), xe="failed", code="HOST_UNKNOWN_TO_MASTER", emergency=True)
    return state
