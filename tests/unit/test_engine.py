"""The playbook engine as a pure state machine: plans, steps, branches, waits, stops, resumes.

Every state is a diagnosis of plain observations (the shared builders of tests/helpers/pool_states.py),
so the engine is driven exactly as the runner drives it: decide, act, report,
decide again with what the probes see next. Time is a number passed in.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from poolterm.model import Verdict
from poolterm.playbooks import BINDING_SOURCES, IDS, PlaybookError, load_all, load_file, load_playbook
from poolterm.playbooks.conditions import CONDITIONS, Check, PoolView, describe, evaluate, parse_spec
from poolterm.playbooks.engine import (
    BINDING_SOURCES as IMPLEMENTED,
)
from poolterm.playbooks.engine import (
    AskOperator,
    CommandResult,
    Engine,
    Finished,
    Plan,
    RunCommand,
    Timing,
    Wait,
    plan,
    render,
    resume_at,
)
from tests.helpers.pool_states import (
    ADDRESS,
    NAMES,
    UUID,
    diagnosed,
    down,
    follower,
    forgotten,
    healthy,
    master,
    master_lost,
    observe,
    promoted,
    recovered_old_master_down,
    slave_of,
    split_brain,
    up,
)

TIMING = Timing(fuse=1, xapi_start=2, boot=5, probe=3)  # role-change 6 s, boot 10 s, probe 3 s
OK = CommandResult(0, ("fine",))


def view(observations) -> PoolView:
    return PoolView(diagnosed(observations).pools[0], observations)


def start(playbook_id: str, observations, target: str | None = None) -> tuple[Engine, Plan]:
    playbook = load_playbook(playbook_id)
    planned = plan(playbook, view(observations), target)
    assert isinstance(planned, Plan), planned
    return Engine(playbook, planned.bindings, TIMING), planned


def run_ok(engine: Engine, action: RunCommand, now: float, result: CommandResult = OK) -> None:
    engine.command_finished(result, now)


# ---- the shipped playbooks ---------------------------------------------------------------------------


def test_every_design_playbook_ships_and_loads():
    assert [p.id for p in load_all()] == list(IDS) == [
        "master-lost", "split-brain", "orphaned-slaves", "planned-handover", "forgotten-host", "ha-stuck"]
    assert set(IMPLEMENTED) == BINDING_SOURCES


def test_every_step_is_written_for_a_junior_operator():
    for playbook in load_all():
        for step in playbook.steps:
            assert len(step.why.split()) >= 12, (playbook.id, step.id)
            if step.run is not None or step.manual is not None:
                assert step.expect is not None, (playbook.id, step.id)
            assert step.on_failure, (playbook.id, step.id)


def test_commands_that_change_the_pool_are_marked_so():
    marks = {(p.id, s.id): s.changes_pool for p in load_all() for s in p.steps if s.run}
    assert marks[("master-lost", "promote")] and marks[("split-brain", "recover-on-true-master")]
    assert all(marks.values())


@pytest.mark.parametrize("mutation, message", [
    ({"extra": 1}, "unknown key 'extra'"),
    ({"steps": [{"id": "x", "title": "t", "why": "w", "run": {"host": "m", "xe": "pool-recover-slaves"},
                 "changes_pool": False, "expect": {"all-follow": {"master": "m"}}}]},
     "changes_pool: says False but `xe pool-recover-slaves` changes the pool"),
    ({"steps": [{"id": "x", "title": "t {nobody}", "why": "w", "expect": {"all-follow": {"master": "m"}}}]},
     "uses 'nobody', which is not a binding"),
    ({"steps": [{"id": "x", "title": "t", "why": "w", "expect": {"is-boss": {"host": "m"}}}]},
     "unknown condition 'is-boss'"),
    ({"steps": [{"id": "x", "title": "t", "why": "w", "run": {"host": "m", "shell": "rm -rf /"},
                 "changes_pool": True, "expect": {"all-follow": {"master": "m"}}}]},
     "only xe-toolstack-restart may run"),
    ({"steps": [{"id": "x", "title": "t", "why": "w", "run": {"host": "m", "xe": "host-forget",
                                                               "params": {"uuid": "m.secret"}},
                 "changes_pool": True, "expect": {"all-follow": {"master": "m"}}}]},
     "expected binding.field"),
])
def test_a_wrong_playbook_file_is_refused_with_the_place(tmp_path: Path, mutation, message):
    import yaml

    doc = {"id": "custom", "title": "t", "summary": "s", "for_verdicts": ["master-lost"],
           "bindings": {"m": "master"}, "steps": [{"id": "a", "title": "t", "why": "w",
                                                    "expect": {"all-follow": {"master": "m"}}}]}
    doc.update(mutation)
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(PlaybookError) as caught:
        load_file(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_yaml_on_is_not_a_key_trap():
    """YAML 1.1 reads a bare `on:` as true; the playbook format has no such key."""
    text = (Path(__file__).parents[2] / "poolterm/playbooks/master-lost.yaml").read_text()
    assert "{on:" not in text and "\n      on:" not in text


# ---- planning: choosing the hosts, or saying why not ---------------------------------------------


def test_a_healthy_pool_needs_no_recovery():
    result = plan(load_playbook("master-lost"), view(healthy()))
    assert isinstance(result, Finished) and result.outcome == "healthy" and result.ok
    assert "already healthy" in result.reason


def test_the_wrong_playbook_for_the_verdict_points_at_the_right_one():
    result = plan(load_playbook("master-lost"), view(split_brain()))
    assert isinstance(result, Finished) and result.outcome == "not-applicable"
    assert "SPLIT BRAIN" in result.reason and result.advice == "Run playbook split-brain instead."


def test_master_lost_binds_the_lost_master_and_the_best_candidate():
    _, planned = start("master-lost", master_lost())
    assert planned.bindings == {"old_master": "plot1", "candidate": "plot2"}
    _, chosen = start("master-lost", master_lost(), target="plot3")
    assert chosen.bindings["candidate"] == "plot3"


def test_target_must_be_a_candidate():
    result = plan(load_playbook("master-lost"), view(master_lost()), "plot1")
    assert isinstance(result, Finished) and result.outcome == "stopped"
    assert "plot1 is not a promotion candidate (candidates, best first: plot2, plot3, plot4)" in result.reason


def test_master_lost_will_not_promote_while_a_promoted_host_restarts():
    hung = [up(n, slave_of("plot1"), xe="hung") for n in NAMES[2:]]
    taking_over = observe(down("plot1", was="master"), up("plot2", "master", xe="hung"), *hung)
    for target in (None, "plot3"):
        result = plan(load_playbook("master-lost"), view(taking_over), target)
        assert isinstance(result, Finished) and result.outcome == "stopped"
        assert result.reason.startswith("plot2 has been promoted already. Wait until plot2 answers as master")


def test_split_brain_binds_the_true_and_the_stale_master():
    _, planned = start("split-brain", split_brain())
    assert planned.bindings == {"master": "plot2", "stale_masters": ("plot1",)}


def test_planned_handover_picks_a_follower_or_the_target():
    _, planned = start("planned-handover", healthy())
    assert planned.bindings == {"master": "plot1", "candidate": "plot2"}
    refused = plan(load_playbook("planned-handover"), view(healthy()), "plot1")
    assert isinstance(refused, Finished) and "already the master" in refused.reason


# ---- master-lost, step by step ----------------------------------------------------------------------


def test_master_lost_promotes_recovers_and_guides_the_old_master_back():
    engine, _ = start("master-lost", master_lost())
    action = engine.decide(view(master_lost()), 0)
    skipped = engine.drain()
    assert skipped[0].kind == "step-skipped" and skipped[0].step_id == "restart-hung-master"
    assert isinstance(action, RunCommand) and action.step.id == "promote"
    assert (action.host, action.command) == ("plot2", "xe pool-emergency-transition-to-master")
    assert action.remote == "timeout -k 2 30 xe pool-emergency-transition-to-master"
    assert action.changes_pool and action.address == ADDRESS["plot2"]
    run_ok(engine, action, 1)

    # pool.conf says master at once, but xapi answers as master only after the fuse and a restart
    half = master_lost()
    half["plot2"] = up("plot2", "master", xe="hung")
    waiting = engine.decide(view(half), 2)
    assert isinstance(waiting, Wait) and waiting.deadline == 1 + 6
    assert "xapi is hung" in waiting.detail

    action = engine.decide(view(promoted()), 3)
    assert isinstance(action, RunCommand) and action.step.id == "recover-slaves" and action.host == "plot2"
    run_ok(engine, action, 3)
    assert isinstance(engine.decide(view(promoted()), 4), Wait)

    ask = engine.decide(view(recovered_old_master_down()), 5)
    assert isinstance(ask, AskOperator) and ask.step.id == "bring-back-old-master"
    assert "Power plot1 on through its BMC" in ask.text and ask.expect == "SSH reaches plot1"
    engine.operator_done(6)

    # the old master boots, finds plot2 and demotes itself: no second recover-slaves is needed
    whole = observe(follower("plot1", "plot2"), master("plot2"), *(follower(n, "plot2") for n in NAMES[2:]))
    finished = engine.decide(view(whole), 7)
    assert isinstance(finished, Finished) and finished.outcome == "done", finished
    assert "Goal reached" in finished.reason and f"at {ADDRESS['plot2']}" in finished.reason
    # it demoted itself, so the goal holds and the remaining checks are not needed
    assert engine.statuses == ["skipped", "done", "done", "done", "skipped", "skipped", "skipped"]


def test_master_lost_recovers_an_old_master_that_was_only_cut_off():
    engine, _ = start("master-lost", master_lost())
    run_ok(engine, engine.decide(view(master_lost()), 0), 0)
    run_ok(engine, engine.decide(view(promoted()), 1), 1)
    ask = engine.decide(view(recovered_old_master_down()), 2)
    assert isinstance(ask, AskOperator)
    engine.operator_done(3)
    back = observe(master("plot1"), master("plot2"), *(follower(n, "plot2") for n in NAMES[2:]))
    action = engine.decide(view(back), 4)
    notices = [n.step_id for n in engine.drain() if n.kind == "step-done"]
    assert "old-master-settles" in notices
    assert isinstance(action, RunCommand) and action.step.id == "recover-old-master"
    assert action.host == "plot2" and action.command == "xe pool-recover-slaves"


def test_a_master_whose_xapi_hangs_gets_a_toolstack_restart_first():
    state = observe(up("plot1", "master", xe="hung"), *(up(n, slave_of("plot1"), xe="hung") for n in NAMES[1:]))
    engine, planned = start("master-lost", state)
    assert planned.bindings["old_master"] == "plot1"
    action = engine.decide(view(state), 0)
    assert isinstance(action, RunCommand) and action.command == "xe-toolstack-restart" and action.host == "plot1"
    run_ok(engine, action, 1)
    finished = engine.decide(view(healthy()), 2)
    assert isinstance(finished, Finished) and finished.outcome == "done"
    assert "the pool is healthy" in finished.reason  # the goal holds: nobody was promoted


def test_a_step_already_done_is_skipped_with_what_was_seen():
    engine, _ = start("master-lost", master_lost())
    action = engine.decide(view(promoted()), 0)
    notices = {n.step_id: n for n in engine.drain()}
    assert notices["promote"].kind == "step-skipped"
    assert notices["promote"].detail == "already so: plot2 is master and answers as master"
    assert isinstance(action, RunCommand) and action.step.id == "recover-slaves"


def test_an_expectation_not_seen_in_time_stops_and_explains():
    engine, _ = start("master-lost", master_lost())
    run_ok(engine, engine.decide(view(master_lost()), 0), 10)
    assert isinstance(engine.decide(view(master_lost()), 15.9), Wait)
    finished = engine.decide(view(master_lost()), 16)
    assert isinstance(finished, Finished) and finished.outcome == "stopped" and finished.index == 1
    assert finished.reason.startswith("Step 2 (Promote plot2 to master): expected plot2 is master and answers "
                                      "as master within 6 s, but plot2's pool.conf says slave:")
    assert "HA_IS_ENABLED" in finished.advice
    assert engine.decide(view(promoted()), 17) is finished  # stopped stays stopped


def test_a_failed_command_stops_with_its_exit_status_and_output():
    engine, _ = start("master-lost", master_lost())
    action = engine.decide(view(master_lost()), 0)
    engine.command_finished(CommandResult(1, ("The operation could not be performed because HA is enabled on the "
                                              "Pool",)), 1)
    finished = engine.decide(view(master_lost()), 1)
    assert isinstance(finished, Finished) and finished.outcome == "stopped"
    assert f"`{action.command}` exited with status 1: The operation could not be performed" in finished.reason
    timed_out = Engine(engine.playbook, engine.bindings, TIMING)
    timed_out.decide(view(master_lost()), 0)
    timed_out.command_finished(CommandResult(124), 1)
    assert "did not finish within 30 s" in timed_out.decide(view(master_lost()), 1).reason
    unreachable = Engine(engine.playbook, engine.bindings, TIMING)
    unreachable.decide(view(master_lost()), 0)
    unreachable.command_finished(CommandResult(None, error="refused: connection refused"), 1)
    assert "could not run on plot2: refused" in unreachable.decide(view(master_lost()), 1).reason


def test_an_operator_who_stops_at_a_manual_step_can_resume_there():
    engine, _ = start("master-lost", master_lost())
    ask = engine.decide(view(recovered_old_master_down()), 0)
    assert isinstance(ask, AskOperator)
    finished = engine.operator_stopped()
    assert finished.outcome == "stopped" and "playbook run master-lost" in finished.advice
    assert finished.index == engine.playbook.step_index("bring-back-old-master")


# ---- the other playbooks ------------------------------------------------------------------------------


def test_split_brain_recovers_on_the_true_master_only():
    engine, _ = start("split-brain", split_brain())
    action = engine.decide(view(split_brain()), 0)
    done = [n for n in engine.drain() if n.kind == "step-done"]
    assert done[0].detail == "plot2 is the true master (plot2: 2 followers; plot1: 0 followers)"
    assert isinstance(action, RunCommand) and (action.host, action.command) == ("plot2", "xe pool-recover-slaves")
    run_ok(engine, action, 1)
    # plot1's pool.conf is rewritten at once, but until its fuse its xapi still answers as master
    rewritten = split_brain()
    rewritten["plot1"] = up("plot1", slave_of("plot2"), answered_by="plot1")
    waiting = engine.decide(view(rewritten), 2)
    assert isinstance(waiting, Wait) and "still answers through plot1" in waiting.detail
    whole = observe(master("plot2"), *(follower(n, "plot2") for n in ("plot1", "plot3", "plot4")))
    finished = engine.decide(view(whole), 3)
    assert isinstance(finished, Finished) and finished.outcome == "done"


def test_split_brain_asks_to_reconnect_a_stale_master_first():
    state = recovered_old_master_down()
    pool = diagnosed(state).pools[0]
    assert pool.playbook == "split-brain"  # a stale master, seen last as master, is out there
    engine, planned = start("split-brain", state)
    assert planned.bindings["stale_masters"] == ("plot1",)
    ask = engine.decide(view(state), 0)
    assert isinstance(ask, AskOperator) and ask.step.id == "reconnect-stale-master"


def test_planned_handover_queries_ha_disables_it_and_designates():
    engine, _ = start("planned-handover", healthy())
    query = engine.decide(view(healthy()), 0)
    assert isinstance(query, RunCommand) and query.query == "ha-enabled" and not query.changes_pool
    assert query.command == "xe pool-list params=ha-enabled --minimal" and query.host == "plot1"
    engine.command_finished(CommandResult(0, ("true",)), 1)
    disable = engine.decide(view(healthy()), 1)
    assert isinstance(disable, RunCommand) and disable.command == "xe pool-ha-disable"
    run_ok(engine, disable, 2)
    again = engine.decide(view(healthy()), 2)
    assert isinstance(again, RunCommand) and again.query == "ha-enabled"  # verified by asking again
    engine.command_finished(CommandResult(0, ("false",)), 3)
    designate = engine.decide(view(healthy()), 3)
    assert isinstance(designate, RunCommand)
    assert designate.command == f"xe pool-designate-new-master host-uuid={UUID['plot2']}"
    assert designate.host == "plot1"


def test_planned_handover_stops_at_once_when_ha_stays_on():
    engine, _ = start("planned-handover", healthy())
    engine.decide(view(healthy()), 0)
    engine.command_finished(CommandResult(0, ("true",)), 1)
    run_ok(engine, engine.decide(view(healthy()), 1), 2)
    engine.decide(view(healthy()), 2)
    engine.command_finished(CommandResult(0, ("true",)), 3)
    finished = engine.decide(view(healthy()), 3)
    assert isinstance(finished, Finished) and finished.outcome == "stopped"
    assert "HA is enabled on the pool" in finished.reason


def test_forgotten_host_contains_then_waits_for_the_reinstall():
    state = forgotten()
    engine, planned = start("forgotten-host", state)
    assert planned.bindings == {"master": "plot1", "forgotten": "plot3"}
    ask = engine.decide(view(state), 0)
    assert isinstance(ask, AskOperator) and ask.step.id == "power-off"
    assert "Do NOT run pool-emergency-transition-to-master" in ask.text
    engine.operator_done(1)
    assert engine.powered_off == {"plot3"}
    off = forgotten()
    off["plot3"] = down("plot3", was=slave_of("plot1"))
    reinstall = engine.decide(view(off), 2)
    assert isinstance(reinstall, AskOperator) and reinstall.step.id == "reinstall"
    assert f"management address ({ADDRESS['plot3']})" in reinstall.text and "Do not join it by hand" in reinstall.text
    engine.operator_done(3)
    fresh = forgotten()
    fresh["plot3"] = master("plot3", ("plot3",))  # a pool of its own
    join = engine.decide(view(fresh), 4)
    assert isinstance(join, RunCommand) and (join.step.id, join.host) == ("join", "plot3")
    assert join.command == (f"xe pool-join master-address={ADDRESS['plot1']} master-username=root "
                            "master-password=<redacted>")
    assert join.secrets == (("master-password", "plot1"),) and join.changes_pool
    assert join.sent({"master-password": "s3cret pw"}).endswith("master-password='s3cret pw'")


def test_orphaned_slaves_recover_on_the_master():
    engine, planned = start("orphaned-slaves", promoted())
    assert planned.bindings == {"master": "plot2", "orphans": ("plot3", "plot4")}
    action = engine.decide(view(promoted()), 0)
    assert isinstance(action, RunCommand) and (action.host, action.command) == ("plot2", "xe pool-recover-slaves")
    run_ok(engine, action, 1)
    finished = engine.decide(view(recovered_old_master_down()), 2)
    assert isinstance(finished, Finished) and finished.outcome == "incomplete"
    assert "plot1 is not reachable" in finished.reason or "DEGRADED" in finished.reason


# ---- resuming -----------------------------------------------------------------------------------------


def test_resume_after_a_command_checks_its_effect_before_sending_it_again():
    playbook = load_playbook("master-lost")
    at = resume_at(playbook, ["restart-hung-master"], "promote")
    assert (at.index, at.acted) == (1, True)
    engine = Engine(playbook, {"old_master": "plot1", "candidate": "plot2"}, TIMING, start=at.index, acted=True)
    action = engine.decide(view(promoted()), 0)
    notices = [(n.step_id, n.kind) for n in engine.drain()]
    assert ("promote", "step-resumed") in notices and ("promote", "step-done") in notices
    assert isinstance(action, RunCommand) and action.step.id == "recover-slaves"


def test_a_resumed_action_whose_effect_never_shows_is_done_once_more():
    playbook = load_playbook("master-lost")
    engine = Engine(playbook, {"old_master": "plot1", "candidate": "plot2"}, TIMING, start=1, acted=True)
    assert isinstance(engine.decide(view(master_lost()), 0), Wait)
    again = engine.decide(view(master_lost()), 6)
    assert isinstance(again, RunCommand) and again.step.id == "promote"
    run_ok(engine, again, 7)
    assert isinstance(engine.decide(view(master_lost()), 12), Wait)
    assert isinstance(engine.decide(view(master_lost()), 13), Finished)


def test_resume_without_an_action_starts_the_step_afresh():
    playbook = load_playbook("master-lost")
    at = resume_at(playbook, ["restart-hung-master", "promote"], None)
    assert (at.index, at.acted) == (2, False)
    at = resume_at(playbook, [s.id for s in playbook.steps], None)
    assert at.index == len(playbook.steps)


# ---- conditions and texts -------------------------------------------------------------------------------


def test_follows_needs_the_master_to_answer_not_just_pool_conf():
    state = promoted()
    state["plot3"] = up("plot3", slave_of("plot2"), xe="hung")
    check = evaluate(parse_spec({"follows": {"hosts": "h", "master": "m"}}, ["h", "m"], "t"), view(state),
                     {"h": "plot3", "m": "plot2"})
    assert check == Check(False, "plot3 points at plot2 but its xapi is hung")


def test_descriptions_read_as_sentences():
    spec = parse_spec({"any": [{"follows": {"hosts": "o", "master": "c"}}, {"claims-master": {"host": "o"}}]},
                      ["o", "c"], "t")
    assert describe(spec, {"o": "plot1", "c": "plot2"}) == "plot2 is followed by plot1 or plot1 answers as master"
    healthy_spec = parse_spec({"pool-healthy": {"master": "c"}}, ["c"], "t")
    assert describe(healthy_spec, {"c": "plot2"}) == "the pool is healthy with plot2 as master"
    assert render("{m} at {m.address}", {"m": "plot1"}, view(healthy())) == f"plot1 at {ADDRESS['plot1']}"


def test_every_condition_is_used_or_documented():
    used = set()
    for playbook in load_all():
        for step in playbook.steps:
            for spec in (step.when, step.expect):
                if spec is not None:
                    used |= _names(spec)
    assert used <= set(CONDITIONS)
    assert {"is-master", "follows", "all-follow", "pool-healthy", "claims-master", "true-master"} <= used


def _names(spec) -> set[str]:
    if hasattr(spec, "name"):
        return {spec.name}
    items = (spec.item,) if hasattr(spec, "item") else spec.items
    return set().union(*(_names(i) for i in items))


def test_budgets_follow_the_fuse_and_start_up():
    timing = Timing()
    assert timing.budget("role-change") == 10 + 60 + 15
    assert timing.budget("boot") == 300 + 60 + 15
    assert timing.budget(7) == 7.0
    assert replace(timing, fuse=0.5, xapi_start=0.3, probe=4).budget("role-change") == pytest.approx(4.8)


def test_verdict_condition_reads_literals():
    spec = parse_spec({"verdict": {"is": ["healthy", "degraded"]}}, [], "t")
    assert evaluate(spec, view(healthy()), {}).ok
    assert not evaluate(spec, view(master_lost()), {}).ok
    assert Verdict.MASTER_LOST.title in evaluate(spec, view(master_lost()), {}).detail
