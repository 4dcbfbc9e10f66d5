"""Ways around the guards: xe's own client options, host selectors the master resolves, echoed secrets.

The guards judge a command as run on its target host. Two things broke that: xe's global
options (``server=``, ``-s``, ``username=``, ...) send the command elsewhere, and a
``name-label=`` selector is matched by the master against its database, not against
poolterm's inventory names. And a typed password must not come back in any text the guards
or the prompt write.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from poolterm.actions.commands import PromptError, parse_prompt, read_only_refusal
from poolterm.diagnosis import guards
from poolterm.diagnosis.guards import Allow, Confirm, Facts, Refuse, decide
from poolterm.model import DbHost
from poolterm.playbooks.conditions import known_uuids
from tests.helpers.pool_states import ADDRESS, NAMES, UUID, diagnosed, healthy

OTHER = ADDRESS["plot2"]
PASSWORD = "hunter2"


# ---- xe's global options ----------------------------------------------------------------------------

CLIENT_OPTIONS = [
    [f"server={OTHER}"], ["port=443"], ["username=root"], [f"password={PASSWORD}"], ["passwordfile=/tmp/pw"],
    ["debug=true"], ["debugonfail=true"], ["nossl=true"], ["traceparent=00-1-2-01"],
    ["--debug"], ["--debug-on-fail"], ["--nossl"], ["--traceparent", "00-1-2-01"],
    ["-s", OTHER], ["-h", OTHER], ["-p", "443"], ["-u", "root"], ["-pw", PASSWORD], ["-pwf", "/tmp/pw"],
    ["debug"], ["debugonfail"],
]


def test_the_issue_repro_recover_slaves_sent_elsewhere_is_refused_on_the_true_master():
    argv = ["xe", "pool-recover-slaves", f"server={OTHER}", "username=root", f"password={PASSWORD}"]
    decision = decide(argv, "plot1", diagnosed(healthy()), read_only=False, facts=Facts(uuids=dict(UUID)))
    assert isinstance(decision, Refuse) and decision.rule == "xe-client-option"
    assert not decision.overridable
    assert "\n" not in decision.text and PASSWORD not in decision.text
    assert "server=" in decision.reason


@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("words", CLIENT_OPTIONS, ids=" ".join)
def test_every_client_option_is_refused_even_on_a_query(words, read_only):
    for argv in (["xe", "host-list", *words], ["xe", "host-list", *words, "params=uuid"]):
        decision = decide(argv, "plot1", diagnosed(healthy()), read_only=read_only)
        assert isinstance(decision, Refuse) and decision.rule == "xe-client-option", (argv, decision)
        assert not decision.overridable and PASSWORD not in decision.text
        assert not guards.parse_command(argv).read_only


def test_words_that_only_look_like_client_options_still_run():
    for argv in (["xe", "host-list", "params=server,port"], ["xe", "vm-list", "name-label=server=x"],
                 ["xe", "host-list", "--minimal"]):
        assert isinstance(decide(argv, "plot1", diagnosed(healthy()), read_only=True), Allow), argv


@pytest.mark.parametrize("line", [
    f"xe host-list server={OTHER}",
    "xe pool-recover-slaves username=root",
    f"xe pool-recover-slaves password={PASSWORD}",
    "xe host-list --debug",
    "xe host-list --nossl",
    "xe host-list debug=true",
    f"xe host-list -s {OTHER}",
    f"xe host-list -pw {PASSWORD}",
])
def test_the_prompt_refuses_client_options_in_one_line_without_the_value(line):
    with pytest.raises(PromptError) as info:
        parse_prompt(line)
    message = str(info.value)
    assert message.startswith("refused:") and "xe client" in message
    assert "\n" not in message and PASSWORD not in message and OTHER not in message


# ---- host selectors go through the master's database ---------------------------------------------


def relabelled(labels: dict[str, str], addresses: dict[str, str] | None = None):
    """The healthy lab whose master lists the hosts under other name-labels (and addresses)."""
    state = healthy()
    db = tuple(DbHost(UUID[n], labels.get(n, n), (addresses or {}).get(n, ADDRESS[n]), True, True) for n in NAMES)
    state["plot1"] = replace(state["plot1"], db_hosts=db)
    facts = Facts(uuids=known_uuids(state), databases=guards.databases(state))
    return diagnosed(state), facts


@pytest.mark.parametrize("command", ["host-shutdown", "host-reboot"])
def test_a_name_label_is_the_masters_not_the_inventorys(command):
    # The master's database calls plot1 (the master) "plot3": xe on plot2 reboots plot1.
    diagnosis, facts = relabelled({"plot1": "plot3", "plot3": "plot1"})
    decision = decide(["xe", command, "name-label=plot3"], "plot2", diagnosis, read_only=False, facts=facts)
    assert isinstance(decision, Refuse) and decision.rule == "master-power" and decision.host == "plot1"
    slave = decide(["xe", command, "name-label=plot1"], "plot2", diagnosis, read_only=False, facts=facts)
    assert isinstance(slave, Confirm)


def test_a_uuid_names_the_inventory_host_even_when_the_database_calls_it_otherwise():
    diagnosis, facts = relabelled({n: f"xcp-{n}" for n in NAMES})
    decision = decide(["xe", "host-shutdown", f"uuid={UUID['plot1']}"], "plot2", diagnosis, read_only=False,
                      facts=facts)
    assert isinstance(decision, Refuse) and decision.rule == "master-power" and decision.host == "plot1"


def test_host_and_address_selectors_are_resolved_in_the_database_too():
    diagnosis, facts = relabelled({n: f"xcp-{n}" for n in NAMES}, {"plot1": "192.168.7.1"})
    for selector in ("host=xcp-plot1", "address=192.168.7.1", f"host={UUID['plot1']}"):
        decision = decide(["xe", "host-reboot", selector], "plot3", diagnosis, read_only=False, facts=facts)
        assert isinstance(decision, Refuse) and decision.rule == "master-power", selector
    slave = decide(["xe", "host-reboot", "host=xcp-plot4"], "plot3", diagnosis, read_only=False, facts=facts)
    assert isinstance(slave, Confirm)


@pytest.mark.parametrize("selector, labels, with_db, why", [
    ("name-label=plot1", {}, False, "database"),  # no database read: nothing to resolve against
    ("name-label=plot9", {}, True, "no host"),
    ("name-label=twin", {"plot3": "twin", "plot4": "twin"}, True, "2 hosts"),
    ("address=10.9.9.9", {}, True, "no host"),
    ("hostname=plot1", {}, True, "hostname"),  # poolterm does not read the hostname field
])
def test_a_selector_that_cannot_be_resolved_unambiguously_is_refused(selector, labels, with_db, why):
    diagnosis, facts = relabelled(labels)
    if not with_db:
        facts = Facts(uuids=dict(UUID))
    decision = decide(["xe", "host-shutdown", selector], "plot2", diagnosis, read_only=False, facts=facts)
    assert isinstance(decision, Refuse) and decision.rule == "power-unknown"
    assert why in decision.reason and "\n" not in decision.text


def test_selectors_naming_two_different_hosts_are_refused():
    diagnosis, facts = relabelled({})
    argv = ["xe", "host-shutdown", f"uuid={UUID['plot3']}", "name-label=plot4"]
    decision = decide(argv, "plot1", diagnosis, read_only=False, facts=facts)
    assert isinstance(decision, Refuse) and decision.rule == "power-unknown"


# ---- no echoed secrets -------------------------------------------------------------------------------

JOIN = ["xe", "pool-join", f"master-address={ADDRESS['plot1']}", "master-username=root",
        f"master-password={PASSWORD}"]


def test_a_refusal_and_a_confirmation_show_the_command_with_its_password_masked():
    refusal = decide(JOIN, "plot3", diagnosed(healthy()), read_only=True)
    assert isinstance(refusal, Refuse) and refusal.rule == "read-only"
    assert PASSWORD not in refusal.text and "master-password=<redacted>" in refusal.reason
    confirm = decide(JOIN, "plot3", diagnosed(healthy()), read_only=False)
    assert isinstance(confirm, Confirm)
    assert PASSWORD not in confirm.text and "master-password=<redacted>" in confirm.text
    assert guards.parse_command(JOIN).shown.endswith("master-password=<redacted>")


def test_the_prompt_keeps_the_password_for_the_host_and_masks_it_everywhere_else():
    request = parse_prompt(f"xe pool-join master-address=10.0.0.11 master-password='{PASSWORD} x'")
    assert request.shown == "xe pool-join master-address=10.0.0.11 master-password=<redacted>"
    assert f"master-password='{PASSWORD} x'" in request.remote()
    refusal = read_only_refusal(request)
    assert PASSWORD not in refusal and "master-password=<redacted>" in refusal
    # A blank after `=` makes the password a word of its own: the refusal must not echo it.
    with pytest.raises(PromptError) as info:
        parse_prompt(f"xe pool-join master-password= {PASSWORD}")
    assert PASSWORD not in str(info.value)


def test_a_host_whose_own_uuid_is_unknown_is_found_by_the_address_the_database_lists():
    # plot1 did not report its uuid this round; the master's database lists it as "xcp-a" at its address.
    diagnosis, facts = relabelled({"plot1": "xcp-a"})
    uuids = {name: uuid for name, uuid in facts.uuids.items() if name != "plot1"}
    facts = replace(facts, uuids=uuids)
    for selector in (f"uuid={UUID['plot1']}", "name-label=xcp-a"):
        decision = decide(["xe", "host-reboot", selector], "plot2", diagnosis, read_only=False, facts=facts)
        assert isinstance(decision, Refuse) and decision.rule == "master-power", selector


def test_a_database_record_poolterm_cannot_place_is_refused():
    diagnosis, facts = relabelled({})
    ghost = DbHost("11111111-2222-4333-8444-555555555555", "ghost", "10.9.9.9", True, True)
    facts = replace(facts, databases={"plot1": (*facts.databases["plot1"], ghost)})
    decision = decide(["xe", "host-shutdown", "name-label=ghost"], "plot2", diagnosis, read_only=False, facts=facts)
    assert isinstance(decision, Refuse) and decision.rule == "power-unknown" and "cannot place" in decision.reason
