"""The probe process's wire form: every observation survives the trip to the console unchanged."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from poolterm.model import DbHost, Observation, Reach, XeCall
from poolterm.probing.service import decode_observation, dumps, encode_observation

text = st.text(max_size=40)
maybe_text = st.none() | text
maybe_bool = st.none() | st.booleans()
times = st.floats(min_value=0, max_value=1e9, allow_nan=False)

xe_calls = st.builds(XeCall, status=st.sampled_from(["answered", "hung", "failed", "refused"]), output=text,
                     error_code=maybe_text)
db_hosts = st.builds(DbHost, uuid=text, name=text, address=text, enabled=maybe_bool, live=maybe_bool)


def observations(stale=st.none()):
    return st.builds(
        Observation, host=text, at=times, reach=st.sampled_from(list(Reach)), reach_detail=text,
        pool_conf=maybe_text, uuid=maybe_text, init_complete=maybe_bool, xapi_service=maybe_text,
        emergency_flag=maybe_bool, secret_hash=maybe_text, master_port=maybe_text,
        xe=st.none() | xe_calls, pool_master_uuid=maybe_text,
        db_hosts=st.none() | st.lists(db_hosts, max_size=4).map(tuple),
        last_seen=st.none() | times, complete=st.booleans(), raw=st.lists(text, max_size=6).map(tuple),
        stale=stale)


@given(observations(stale=st.none() | observations()))
def test_an_observation_survives_encoding_and_a_json_line(obs):
    line = dumps(["o", encode_observation(obs)])
    assert line.endswith(b"\n") and line.count(b"\n") == 1  # one message, one line, whatever the text
    tag, data = json.loads(line)
    assert tag == "o"
    decoded = decode_observation(data)
    assert decoded == obs
    assert decoded.role is obs.role and decoded.believed_master_address == obs.believed_master_address


def test_an_unreachable_host_keeps_what_it_last_told_us():
    seen = Observation(host="plot1", at=10.0, reach=Reach.CONNECTED, pool_conf="master",
                       xe=XeCall("answered", "uuid"), db_hosts=(DbHost("u1", "plot1", "127.0.0.1", True, True),),
                       complete=True, raw=("@@conf", "master @@end 0"))
    lost = Observation(host="plot1", at=14.0, reach=Reach.TIMEOUT, reach_detail="no answer", last_seen=10.0,
                       complete=True, stale=seen)
    decoded = decode_observation(json.loads(dumps(encode_observation(lost))))
    assert decoded == lost
    assert decoded.stale.db_hosts[0].live is True and decoded.stale.xe.answered
