"""The probe command's shape and its parser, on literal outputs."""

from __future__ import annotations

import shlex

from hypothesis import given
from hypothesis import strategies as st

from poolterm.model import Observation, Reach, Role
from poolterm.probing.probe import ProbeParser, build_probe_command

MASTER_UUID = "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11"
INVENTORY = """PRODUCT_BRAND='XCP-ng'
PRODUCT_VERSION='8.3.0'
INSTALLATION_UUID='8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22'
CONTROL_DOMAIN_UUID='11111111-2222-4333-8444-555555555555'
MANAGEMENT_INTERFACE='xenbr0'
"""


def feed(text: str) -> ProbeParser:
    parser = ProbeParser("plot2")
    for line in text.split("\n"):
        parser.feed(line)
    return parser


SLAVE_OUTPUT = (
    "@@conf\nslave:10.0.0.11 @@end 0\n"
    "@@inv\n" + INVENTORY + " @@end 0\n"
    "@@secret\n" + "ab" * 32 + "  /etc/xensource/ptoken\n @@end 0\n"
    "@@init\n @@end 0\n"
    "@@svc\nactive\n @@end 0\n"
    "@@emerg\nfalse\n @@end 0\n"
    "@@mport\n000 @@end 28\n"
    "@@xe\n @@end 124"
)


def test_slave_waiting_on_a_lost_master():
    obs = feed(SLAVE_OUTPUT).observation(5.0, complete=True)
    assert obs.role is Role.SLAVE
    assert obs.believed_master_address == "10.0.0.11"
    assert obs.uuid == "8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22"
    assert obs.secret_hash == "ab" * 32
    assert obs.init_complete is True
    assert obs.xapi_service == "active"
    assert obs.emergency_flag is False
    assert obs.master_port == "timeout"
    assert obs.xe.status == "hung"
    assert obs.reach is Reach.CONNECTED and obs.complete


def test_sections_are_usable_before_the_hanging_one_ends():
    text = SLAVE_OUTPUT.rsplit("@@xe", 1)[0] + "@@xe"
    parser = feed(text)
    assert parser.unfinished() == "xe"
    partial = parser.observation(3.0, complete=False)
    assert partial.master_port == "timeout" and partial.xe is None
    cut = parser.observation(9.0, complete=True, hung=True)
    assert cut.xe.status == "hung"


def test_master_lists_its_database():
    db = (
        "uuid ( RO)                 : " + MASTER_UUID + "\n"
        "              enabled ( RO): true\n"
        "              address ( RO): 10.0.0.11\n"
        "    host-metrics-live ( RO): true\n\n\n"
        "uuid ( RO)                 : 8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22\n"
        "              enabled ( RO): false\n"
        "              address ( RO): 10.0.0.12\n"
        "    host-metrics-live ( RO): false\n\n\n"
    )
    obs = feed("@@conf\nmaster @@end 0\n@@db\n" + db + " @@end 0").observation(1.0, complete=True)
    assert obs.role is Role.MASTER
    assert [(h.uuid, h.address, h.enabled, h.live) for h in obs.db_hosts] == [
        (MASTER_UUID, "10.0.0.11", True, True),
        ("8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22", "10.0.0.12", False, False),
    ]
    # the records are kept parsed; the call itself is summed up (a 1000-host listing is 200 KB)
    assert obs.xe.answered and obs.xe.output == "2 records"
    assert any(MASTER_UUID in line for line in obs.raw)  # the listing itself stays in the raw output


def test_emergency_error_is_recognised():
    text = ("@@emerg\ntrue\n @@end 0\n@@xe\nThe coordinator says the server is not known to it. Is the server in the "
            "coordinator's database and pointing to the correct coordinator? Are all servers using the same pool "
            "secret?\nhost: 8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22\n @@end 1")
    obs = feed(text).observation(1.0, complete=True)
    assert obs.emergency_flag is True
    assert obs.xe.status == "failed" and obs.xe.error_code == "HOST_UNKNOWN_TO_MASTER"


def test_xapi_not_running():
    obs = feed("@@svc\ninactive\n @@end 3\n@@xe\nError: Connection refused (calling connect )\n @@end 1"
               ).observation(1.0, complete=True)
    assert obs.xapi_service == "inactive" and obs.xe.status == "refused"


def test_missing_pool_conf_is_unknown_not_master():
    obs = feed("@@conf\n @@end 1").observation(1.0, complete=True)
    assert obs.pool_conf is None and obs.role is Role.UNKNOWN


def test_command_for_a_slave_checks_its_master_port_and_forwards_a_call():
    prev = Observation(host="plot2", at=0, reach=Reach.CONNECTED, pool_conf="slave:10.0.0.11")
    cmd = build_probe_command(prev, 5)
    assert "curl -s -k -m 1 -o /dev/null -w '%{http_code}' https://10.0.0.11/" in cmd
    assert "timeout -k 1 5 xe pool-list params=master,ha-enabled,ha-host-failures-to-tolerate 2>&1" in cmd
    assert "host-list" not in cmd
    assert "ptoken" in cmd and "sha256sum" in cmd and "cat /etc/xensource/ptoken" not in cmd


def test_command_for_a_master_lists_the_database():
    prev = Observation(host="plot1", at=0, reach=Reach.CONNECTED, pool_conf="master")
    cmd = build_probe_command(prev, 2.5)
    assert "timeout -k 1 2.5 xe host-list params=uuid,name-label,address,enabled,host-metrics-live" in cmd
    assert "curl" not in cmd


def test_command_never_carries_an_unvalidated_address():
    prev = Observation(host="plot2", at=0, reach=Reach.CONNECTED, pool_conf="slave:10.0.0.11;reboot")
    assert "reboot" not in build_probe_command(prev, 5)


@given(st.text(max_size=40))
def test_command_shell_structure_survives_any_pool_conf(conf):
    prev = Observation(host="x", at=0, reach=Reach.CONNECTED, pool_conf=conf)
    words = shlex.split(build_probe_command(prev, 5))
    assert words[:2] == ["echo", "@@conf;"]
    assert not any(w in ("rm", "reboot", "shutdown") for w in words)


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30), max_size=30))
def test_parser_never_raises_on_garbage(lines):
    parser = ProbeParser("h")
    for line in lines:
        parser.feed(line)
    parser.observation(1.0, complete=True, hung=True)


def test_inventory_is_read_only_when_asked():
    prev = Observation(host="plot2", at=0, reach=Reach.CONNECTED, pool_conf="slave:10.0.0.11",
                       uuid="8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22")
    assert "xensource-inventory" in build_probe_command(prev, 5)
    assert "xensource-inventory" not in build_probe_command(prev, 5, read_inventory=False)


def test_a_partial_round_tells_news_only_when_a_section_differs():
    last = feed(SLAVE_OUTPUT).observation(5.0, complete=True)
    again = feed(SLAVE_OUTPUT.split("@@mport", 1)[0])
    assert not again.tells_news(last)
    assert again.tells_news(None), "a first round is all news"
    starting = feed(SLAVE_OUTPUT.split("@@mport", 1)[0].replace("active\n", "activating\n"))
    assert starting.tells_news(last)
