"""What a playbook step must observe: named, pure predicates over one pool's state.

Each condition reads a :class:`PoolView` (the pool's diagnosis plus the raw
observations and the facts queried so far) and answers a :class:`Check` whose
``detail`` says what was seen, in words an operator can act on. Playbook YAML
names them (``expect: {is-master: {host: candidate}}``) and combines them with
``all``, ``any`` and ``not``.

Role changes are judged by what xapi does, not by what pool.conf says: pool.conf
is written at once, but xapi only acts on it after the fuse and a restart. So
"plot3 follows plot2" needs plot3's forwarded ``pool-list`` to be answered by
plot2 (it returns plot2's uuid), and "plot2 is master" needs plot2 to answer as
master itself.

Why one module of this size: the condition language is one table (kind -> parser, checker,
description); splitting the kinds apart would scatter what each word of a playbook means.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

from poolterm.model import HostState, Observation, PoolDiagnosis, Reach, Role, Verdict, XapiState
from poolterm.xe import address_key, xe_command

HostRef = str | tuple[str, ...] | None
Bindings = Mapping[str, HostRef]


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


@dataclass(frozen=True)
class NeedFact:
    """The condition needs a fact that is not known (or not fresh): query ``host`` for it."""

    fact: str
    host: str


@dataclass(frozen=True)
class Fact:
    value: object
    at: float  # caller's clock, when the answer arrived


@dataclass(frozen=True)
class Query:
    """A read-only command whose answer becomes a fact."""

    command: str
    parse: Callable[[str], object]


def _parse_bool(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.strip().lower())


QUERIES: Mapping[str, Query] = {
    "ha-enabled": Query(xe_command("pool-list", "--minimal", params="ha-enabled"), _parse_bool),
}


# --------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class PoolView:
    """One pool as the engine sees it at one moment."""

    pool: PoolDiagnosis
    observations: Mapping[str, Observation] = field(default_factory=dict)
    facts: Mapping[str, Fact] = field(default_factory=dict)
    since: float = float("-inf")  # facts older than this are stale for the question being asked

    def with_facts(self, facts: Mapping[str, Fact], since: float) -> "PoolView":
        return replace(self, facts=facts, since=since)

    @property
    def verdict(self) -> Verdict:
        return self.pool.verdict

    def host(self, name: str) -> HostState | None:
        return next((h for h in self.pool.hosts if h.name == name), None)

    def known(self, name: str) -> Observation | None:
        """The latest observation made while connected: what the host last told us."""
        obs = self.observations.get(name)
        if obs is None:
            return None
        return obs if obs.reach is Reach.CONNECTED else obs.stale

    def uuid(self, name: str) -> str | None:
        return known_uuids(self.observations).get(name)

    def address(self, name: str) -> str | None:
        host = self.host(name)
        return host.address if host else None

    def name_at(self, address: str | None) -> str | None:
        if not address:
            return None
        key = address_key(address)
        return next((h.name for h in self.pool.hosts if address_key(h.address) == key), None)

    def foreign(self) -> set[str]:
        """Hosts of another pool (different secret): never part of "every host"."""
        return {n for f in self.pool.findings if f.kind == "foreign-master" for n in f.hosts}

    def fact(self, name: str) -> Fact | None:
        fact = self.facts.get(name)
        return fact if fact is not None and fact.at >= self.since else None


def known_uuids(observations: Mapping[str, Observation]) -> dict[str, str]:
    """Host name -> uuid, from each host's inventory and from any master's database."""
    uuids: dict[str, str] = {}
    for obs in observations.values():
        seen = obs if obs.reach is Reach.CONNECTED else obs.stale
        for db_host in (seen.db_hosts or ()) if seen else ():
            if db_host.name and db_host.uuid:
                uuids.setdefault(db_host.name, db_host.uuid)
    for name, obs in observations.items():
        seen = obs if obs.reach is Reach.CONNECTED else obs.stale
        if seen is not None and seen.uuid:
            uuids[name] = seen.uuid
    return uuids


# --------------------------------------------------------------------------- single-host tests


def is_master(view: PoolView, host: str) -> Check:
    state = view.host(host)
    if state is None:
        return Check(False, f"{host} is not in this pool")
    if not state.reachable:
        return Check(False, f"{host} is not reachable ({state.reach.value})")
    if state.role is not Role.MASTER:
        return Check(False, f"{host}'s pool.conf says {_conf(view, host)}")
    if state.xapi is not XapiState.ANSWERING:
        return Check(False, f"{host}'s pool.conf says master but its xapi is {state.xapi.value} "
                            "(it restarts after the fuse)")
    obs = view.known(host)
    own = view.uuid(host)
    answered_pool_list = obs is not None and obs.pool_master_uuid is not None
    if answered_pool_list and obs.pool_master_uuid != own:
        master = _name_of_uuid(view, obs.pool_master_uuid)
        return Check(False, f"{host}'s pool.conf says master but its xapi still answers as a slave of {master}")
    if not answered_pool_list and (obs is None or obs.db_hosts is None):
        return Check(False, f"{host}'s pool.conf says master; waiting for it to answer as master")
    return Check(True, f"{host} is master and answers as master")


def follows(view: PoolView, name: str, master: str) -> Check:
    host = view.host(name)
    if host is None:
        return Check(False, f"{name} is not in this pool")
    if not host.reachable:
        return Check(False, f"{name} is not reachable ({host.reach.value})")
    master_address = view.address(master)
    obs = view.known(name)
    believed = obs.believed_master_address if obs else None
    if host.role is not Role.SLAVE or believed is None or master_address is None \
            or address_key(believed) != address_key(master_address):
        return Check(False, f"{name}'s pool.conf says {_conf(view, name)}, not slave of {master}")
    if host.xapi is not XapiState.ANSWERING:
        return Check(False, f"{name} points at {master} but its xapi is {host.xapi.value}")
    answered_by = obs.pool_master_uuid if obs else None
    if answered_by is None or answered_by != view.uuid(master):
        who = _name_of_uuid(view, answered_by) if answered_by else "nobody yet"
        return Check(False, f"{name} points at {master}, but its xapi still answers through {who}")
    return Check(True, f"{name} follows {master}")


def claims_master(view: PoolView, host: str) -> Check:
    """A second master: the host answers as master of its own (stale) pool."""
    check = is_master(view, host)
    if check.ok:
        return Check(True, f"{host} is back and still answers as master")
    return Check(False, check.detail)


def master_hung(view: PoolView, host: str) -> Check:
    state = view.host(host)
    if state is None or not state.reachable:
        return Check(False, f"{host} is not reachable")
    if state.role is Role.MASTER and state.xapi in (XapiState.HUNG, XapiState.DOWN):
        return Check(True, f"{host} still holds the master role but its xapi is {state.xapi.value}")
    return Check(False, f"{host}'s xapi is {state.xapi.value} (pool.conf {_conf(view, host)})")


def reachable(view: PoolView, name: str) -> Check:
    host = view.host(name)
    if host is not None and host.reachable:
        return Check(True, f"{name} answers SSH")
    return Check(False, f"{name} is not reachable ({host.reach.value if host else 'not in this pool'})")


def ha_disarmed(view: PoolView, name: str) -> Check:
    host = view.host(name)
    if host is None or not host.reachable:
        return Check(False, f"{name} is not reachable, so its local.db cannot be read")
    if host.ha in ("armed", "fenced"):
        return Check(False, f"{name}'s local.db still says ha.armed true")
    return Check(True, f"{name} is disarmed (local.db ha.armed false)")


def unreachable(view: PoolView, name: str) -> Check:
    check = reachable(view, name)
    return Check(not check.ok, f"{name} does not answer SSH" if not check.ok else f"{name} still answers SSH")


def forgotten(view: PoolView, name: str) -> Check:
    named = {n for f in view.pool.findings if f.kind == "forgotten-host" for n in f.hosts}
    if name in named:
        return Check(True, f"{name} is not in the master's database and sits in emergency mode")
    return Check(False, f"{name} is not diagnosed as forgotten")


def in_database(view: PoolView, name: str, master: str) -> Check:
    obs = view.known(master)
    uuid = view.uuid(name)
    if obs is None or obs.db_hosts is None:
        return Check(False, f"{master}'s database has not been read yet")
    if uuid is not None and any(h.uuid == uuid for h in obs.db_hosts):
        return Check(True, f"{master}'s database lists {name}")
    return Check(False, f"{master}'s database does not list {name}")


# --------------------------------------------------------------------------- pool-wide tests


def all_follow(view: PoolView, master: str, exclude: tuple[str, ...] = ()) -> Check:
    """Every reachable host of the pool, other than ``master`` (and ``exclude``), follows ``master``."""
    foreign = view.foreign()
    lagging, skipped = [], []
    for host in view.pool.hosts:
        if host.name == master or host.name in foreign or host.name in exclude:
            continue
        if not host.reachable:
            skipped.append(host.name)
            continue
        check = follows(view, host.name, master)
        if not check.ok:
            lagging.append(check.detail)
    if lagging:
        more = f" (and {len(lagging) - 3} more)" if len(lagging) > 3 else ""
        return Check(False, "; ".join(lagging[:3]) + more)
    note = f" ({', '.join(skipped)} not reachable, not checked)" if skipped else ""
    return Check(True, f"every reachable host follows {master}{note}")


def pool_healthy(view: PoolView, master: str | None = None) -> Check:
    pool = view.pool
    if pool.verdict is not Verdict.HEALTHY:
        return Check(False, f"the pool is {pool.verdict.title}: {pool.summary}")
    if master is not None and pool.master != master:
        return Check(False, f"the pool is healthy but its master is {pool.master}, not {master}")
    followed = all_follow(view, pool.master or "")
    if not followed.ok:
        return Check(False, followed.detail)
    return Check(True, f"the pool is healthy: every host follows {pool.master}")


def true_master(view: PoolView, master: str) -> Check:
    """``master`` is the pool's master with more followers than any other claimant."""
    claimants = [h for h in view.pool.hosts if h.reachable and h.role is Role.MASTER]
    counts = {h.name: _followers(view, h.name) for h in claimants}
    if master not in counts:
        return Check(False, f"{master} does not claim master")
    evidence = "; ".join(f"{n}: {c} follower{'s' if c != 1 else ''}" for n, c in
                         sorted(counts.items(), key=lambda item: -item[1]))
    if view.pool.master != master or any(c >= counts[master] for n, c in counts.items() if n != master):
        return Check(False, f"the evidence does not single out {master} ({evidence})")
    return Check(True, f"{master} is the true master ({evidence})")


def _followers(view: PoolView, master: str) -> int:
    return sum(1 for h in view.pool.hosts if h.reachable and h.role is Role.SLAVE and h.believed_master == master)


def verdict_is(view: PoolView, verdicts: tuple[str, ...]) -> Check:
    ok = view.verdict.value in verdicts
    return Check(ok, f"the pool is {view.verdict.title}")


def ha_enabled(view: PoolView, host: str) -> Check | NeedFact:
    fact = view.fact("ha-enabled")
    if fact is None:
        return NeedFact("ha-enabled", host)
    if fact.value is None:
        return Check(False, f"could not read the HA state on {host}")
    return Check(bool(fact.value), f"HA is {'enabled' if fact.value else 'disabled'} on the pool")


def ha_disabled(view: PoolView, host: str) -> Check | NeedFact:
    check = ha_enabled(view, host)
    if isinstance(check, NeedFact) or check.detail.startswith("could not"):
        return check
    return Check(not check.ok, check.detail)


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "host" (one binding), "hosts" (binding of one or many), "verdicts" (literal list)
    optional: bool = False
    phrase: str = ""  # added to the condition's text when an optional parameter is given

    @property
    def arg(self) -> str:
        """The test function's keyword for this parameter (``is`` is a Python keyword)."""
        return {"is": "verdicts", "except": "exclude"}.get(self.name, self.name.replace("-", "_"))


@dataclass(frozen=True)
class Condition:
    name: str
    params: tuple[Param, ...]
    text: str  # how the expectation reads, with {param} filled in
    test: Callable[..., Check | NeedFact]
    each: str | None = None  # a "hosts" parameter the test is applied to one host at a time


CONDITIONS: Mapping[str, Condition] = {c.name: c for c in (
    Condition("is-master", (Param("host", "host"),), "{host} is master and answers as master", is_master),
    Condition("follows", (Param("hosts", "hosts"), Param("master", "host")),
              "{master} is followed by {hosts}", follows, each="hosts"),
    Condition("all-follow",
              (Param("master", "host"), Param("except", "hosts", optional=True, phrase=" (except {except})")),
              "every reachable host follows {master}", all_follow),
    Condition("pool-healthy", (Param("master", "host", optional=True, phrase=" with {master} as master"),),
              "the pool is healthy", pool_healthy),
    Condition("claims-master", (Param("host", "host"),), "{host} answers as master", claims_master),
    Condition("master-hung", (Param("host", "host"),), "{host} holds the master role with a hung xapi",
              master_hung),
    Condition("reachable", (Param("hosts", "hosts"),), "SSH reaches {hosts}", reachable, each="hosts"),
    Condition("unreachable", (Param("hosts", "hosts"),), "SSH does not reach {hosts}", unreachable, each="hosts"),
    Condition("disarmed", (Param("hosts", "hosts"),), "HA is disarmed on {hosts}", ha_disarmed, each="hosts"),
    Condition("forgotten", (Param("hosts", "hosts"),), "the master has forgotten {hosts}", forgotten,
              each="hosts"),
    Condition("in-database", (Param("hosts", "hosts"), Param("master", "host")),
              "{master}'s database lists {hosts}", in_database, each="hosts"),
    Condition("true-master", (Param("master", "host"),), "{master} is the true master", true_master),
    Condition("verdict", (Param("is", "verdicts"),), "the verdict is {is}", verdict_is),
    Condition("ha-enabled", (Param("host", "host"),), "HA is enabled", ha_enabled),
    Condition("ha-disabled", (Param("host", "host"),), "HA is disabled", ha_disabled),
)}


# --------------------------------------------------------------------------- specs: parse, check, evaluate


@dataclass(frozen=True)
class Cond:
    name: str
    args: Mapping[str, str | tuple[str, ...]]  # parameter -> binding name (or literal verdicts)


@dataclass(frozen=True)
class AllOf:
    items: tuple["Spec", ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple["Spec", ...]


@dataclass(frozen=True)
class Not:
    item: "Spec"


Spec = Cond | AllOf | AnyOf | Not


class SpecError(ValueError):
    """A condition written wrongly in a playbook; ``str()`` says what and where."""


def parse_spec(data: object, bindings: Sequence[str], where: str) -> Spec:
    """``{is-master: {host: candidate}}``, ``{all: [...]}``, ``{any: [...]}``, ``{not: {...}}``."""
    if not isinstance(data, dict) or len(data) != 1:
        raise SpecError(f"{where}: a condition is a mapping with exactly one key (a condition name, all, any, not)")
    (key, body), = data.items()
    if key in ("all", "any"):
        if not isinstance(body, list) or not body:
            raise SpecError(f"{where}: {key} takes a non-empty list of conditions")
        items = tuple(parse_spec(item, bindings, f"{where}.{key}[{i}]") for i, item in enumerate(body))
        return AllOf(items) if key == "all" else AnyOf(items)
    if key == "not":
        return Not(parse_spec(body, bindings, f"{where}.not"))
    condition = CONDITIONS.get(key)
    if condition is None:
        raise SpecError(f"{where}: unknown condition {key!r} (known: {', '.join(sorted(CONDITIONS))})")
    body = body or {}
    if not isinstance(body, dict):
        raise SpecError(f"{where}.{key}: expected a mapping of parameters")
    names = {p.name for p in condition.params}
    unknown = set(body) - names
    if unknown:
        raise SpecError(f"{where}.{key}: unknown parameter {sorted(unknown)[0]!r} "
                        f"(expected {', '.join(sorted(names))})")
    args: dict[str, str | tuple[str, ...]] = {}
    for param in condition.params:
        value = body.get(param.name)
        if value is None:
            if not param.optional:
                raise SpecError(f"{where}.{key}: missing parameter {param.name!r}")
            continue
        if param.kind == "verdicts":
            values = tuple(value) if isinstance(value, list) else (value,)
            known = {v.value for v in Verdict}
            if not values or any(v not in known for v in values):
                raise SpecError(f"{where}.{key}.{param.name}: verdicts are {', '.join(sorted(known))}")
            args[param.name] = values
            continue
        if not isinstance(value, str) or value not in bindings:
            raise SpecError(f"{where}.{key}.{param.name}: {value!r} is not a binding of this playbook "
                            f"({', '.join(bindings)})")
        args[param.name] = value
    return Cond(key, args)


def referenced(spec: Spec) -> set[str]:
    """The binding names a spec uses."""
    if isinstance(spec, Cond):
        params = {p.name: p for p in CONDITIONS[spec.name].params}
        return {v for k, v in spec.args.items() if params[k].kind != "verdicts" and isinstance(v, str)}
    if isinstance(spec, Not):
        return referenced(spec.item)
    return set().union(*(referenced(item) for item in spec.items))


def evaluate(spec: Spec, view: PoolView, bindings: Bindings) -> Check | NeedFact:
    if isinstance(spec, Not):
        inner = evaluate(spec.item, view, bindings)
        return inner if isinstance(inner, NeedFact) else Check(not inner.ok, inner.detail)
    if isinstance(spec, (AllOf, AnyOf)):
        return _combine(spec, view, bindings)
    return _evaluate_cond(spec, view, bindings)


def _combine(spec: AllOf | AnyOf, view: PoolView, bindings: Bindings) -> Check | NeedFact:
    results = []
    for item in spec.items:
        result = evaluate(item, view, bindings)
        if isinstance(result, NeedFact):
            return result
        if isinstance(spec, AnyOf) and result.ok:
            return result
        if isinstance(spec, AllOf) and not result.ok:
            return result
        results.append(result)
    if isinstance(spec, AllOf):
        return Check(True, "; ".join(r.detail for r in results))
    return Check(False, "; ".join(r.detail for r in results))


def _evaluate_cond(spec: Cond, view: PoolView, bindings: Bindings) -> Check | NeedFact:
    condition = CONDITIONS[spec.name]
    kwargs: dict[str, object] = {}
    for param in condition.params:
        if param.name not in spec.args:
            continue
        value = spec.args[param.name]
        if param.kind == "verdicts":
            kwargs[param.arg] = value
            continue
        bound = bindings.get(value)  # type: ignore[arg-type]
        if param.kind == "host":
            if not isinstance(bound, str):
                return Check(False, f"{value} is not known")
            kwargs[param.arg] = bound
        else:
            kwargs[param.arg] = hosts_of(bound)
    if condition.each:
        hosts = kwargs.pop(condition.each)
        if not hosts:
            return Check(False, f"{spec.args[condition.each]} is not known")
        checks = [condition.test(view, host, **kwargs) for host in hosts]  # type: ignore[arg-type]
        need = next((c for c in checks if isinstance(c, NeedFact)), None)
        if need is not None:
            return need
        failed = [c for c in checks if not c.ok]
        return Check(not failed, "; ".join(c.detail for c in (failed or checks)))
    return condition.test(view, **kwargs)


def describe(spec: Spec, bindings: Bindings) -> str:
    """The expectation in words, with bound host names: "plot2 is master and answers as master"."""
    if isinstance(spec, AllOf):
        return " and ".join(describe(item, bindings) for item in spec.items)
    if isinstance(spec, AnyOf):
        return " or ".join(describe(item, bindings) for item in spec.items)
    if isinstance(spec, Not):
        return f"not ({describe(spec.item, bindings)})"
    condition = CONDITIONS[spec.name]
    text = condition.text + "".join(p.phrase for p in condition.params if p.optional and p.name in spec.args)
    for param in condition.params:
        value = spec.args.get(param.name)
        if value is None:
            continue
        if param.kind == "verdicts":
            shown = " or ".join(value)
        else:
            shown = ", ".join(hosts_of(bindings.get(value))) or f"<{value}>"  # type: ignore[arg-type]
        text = text.replace("{" + param.name + "}", shown)
    return text


def hosts_of(ref: HostRef) -> tuple[str, ...]:
    if ref is None:
        return ()
    return (ref,) if isinstance(ref, str) else tuple(ref)


def _conf(view: PoolView, name: str) -> str:
    obs = view.known(name)
    conf = obs.pool_conf if obs else None
    if conf is None:
        return "nothing readable"
    target = view.name_at(obs.believed_master_address) if obs else None
    return f"{conf} ({target})" if target else conf


def _name_of_uuid(view: PoolView, uuid: str | None) -> str:
    return next((n for n, u in known_uuids(view.observations).items() if u == uuid), uuid or "nobody")
