"""One host, explained: its state, every piece of evidence, its candidate ranking, its raw probe output.

Rich renderables shared by the side panel (wide terminals) and the detail
screen. Remote text goes through :func:`sanitize` before it reaches the screen.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from poolterm.model import Candidate, Finding, HostState, Observation, PoolDiagnosis, Reach
from poolterm.ui.sanitize import sanitize

#: Characters of one evidence line the side panel shows (it holds about 2,800 cells in all);
#: the detail screen shows every line whole.
PANEL_EVIDENCE = 4096


def find_host(pool: PoolDiagnosis, name: str) -> HostState | None:
    return next((h for h in pool.hosts if h.name == name), None)


def ranking_for(pool: PoolDiagnosis, name: str) -> tuple[Finding, tuple[Candidate, ...]] | None:
    """The finding whose candidate list names ``name``, and that list."""
    for finding in pool.findings:
        if any(c.name == name for c in finding.candidates):
            return finding, finding.candidates
    return None


def findings_naming(pool: PoolDiagnosis, name: str) -> list[Finding]:
    return [f for f in pool.findings if name in f.hosts]


#: What the console offers a host whose key known_hosts does not vouch for.
KEY_HINT = "  (K: compare the key it offers with known_hosts, and trust it)"


def facts(host: HostState, pool: PoolDiagnosis, now: float) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    role = host.role.value + (" (remembered)" if host.stale else "")
    if pool.master == host.name:
        role += ", the pool's master"
    seen = "now" if host.reachable else (
        f"{now - host.last_seen:.0f} s ago" if host.last_seen is not None else "never")
    rows = [
        ("host", f"{host.name}  {host.address}  (pool {pool.name})"),
        ("ssh", host.reach.value + (KEY_HINT if host.reach in (Reach.HOST_KEY_UNKNOWN, Reach.HOST_KEY_CHANGED) else "")),
        ("role", role),
        ("believes master", host.believed_master or "-"),
        ("agrees with pool", "yes" if host.agrees else "NO"),
        ("xapi", host.xapi.value),
        ("emergency flag", "-" if host.emergency_flag is None else str(host.emergency_flag).lower()),
        ("last seen", seen),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


def evidence(host: HostState, limit: int | None = None) -> Text:
    """The host's evidence, one line each; ``limit`` cuts lines longer than a panel can show."""
    if not host.evidence:
        return Text("  (none yet)", style="italic")
    return Text("\n".join(f"  - {sanitize(_cut(line, limit))}" for line in host.evidence))


def _cut(line: str, limit: int | None) -> str:
    return line if limit is None or len(line) <= limit else line[:limit] + f" ... ({len(line) - limit} more)"


def findings_text(findings: list[Finding]) -> Text:
    text = Text()
    for i, finding in enumerate(findings):
        if i:
            text.append("\n")
        text.append(f"  [{finding.severity.value.upper()}] ", style="bold")
        text.append(finding.summary)
    return text


def ranking(name: str, candidates: tuple[Candidate, ...], limit: int | None = None) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("host")
    table.add_column("score", justify="right")
    table.add_column("why")
    shown = list(enumerate(candidates, start=1))
    if limit is not None and len(shown) > limit:
        own = [row for row in shown if row[1].name == name and row[0] > limit]
        shown = shown[:limit] + own
    for rank, c in shown:
        style = "reverse" if c.name == name else ""
        marker = "> " if c.name == name else "  "
        table.add_row(str(rank), marker + c.name, str(c.score), ", ".join(c.reasons), style=style)
    if len(shown) < len(candidates):
        table.add_row("", f"... {len(candidates) - len(shown)} more", "", "")
    return table


def raw_output(observation: Observation | None, now: float) -> tuple[str, Text]:
    """A heading and the lines of the host's last probe (the last connected one if it is down)."""
    if observation is None:
        return "raw output of the last probe", Text("  (not probed yet)", style="italic")
    shown, heading = observation, "raw output of the last probe"
    if not observation.raw and observation.stale is not None:
        shown = observation.stale
        heading = f"raw output of the last probe that connected ({now - shown.at:.0f} s ago)"
    if not shown.raw:
        detail = f": {observation.reach.value} {observation.reach_detail}".rstrip()
        return heading, Text(f"  (no output{detail})", style="italic")
    return heading, Text("\n".join(sanitize(line) for line in shown.raw))


def detail(host: HostState, pool: PoolDiagnosis, observation: Observation | None, now: float,
           *, with_raw: bool = True, max_candidates: int | None = None) -> RenderableType:
    parts: list[RenderableType] = [facts(host, pool, now), Text("")]
    named = findings_naming(pool, host.name)
    if named:
        parts += [Text("findings naming this host", style="bold underline"), findings_text(named), Text("")]
    parts += [Text("evidence", style="bold underline"), evidence(host, None if with_raw else PANEL_EVIDENCE),
              Text("")]
    ranked = ranking_for(pool, host.name)
    if ranked is not None:
        finding, candidates = ranked
        parts += [Text(f"candidate ranking ({finding.kind})", style="bold underline"),
                  ranking(host.name, candidates, max_candidates), Text("")]
    if with_raw:
        heading, lines = raw_output(observation, now)
        parts += [Text(heading, style="bold underline"), lines]
    return Group(*parts)
