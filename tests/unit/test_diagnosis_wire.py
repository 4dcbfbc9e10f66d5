"""The probe process's diagnoses on the wire: the console gets exactly the diagnosis the child made.

Hosts whose state did not change travel as ``null`` and come back as the very
object decoded before; the Outbox sends a diagnosis of what it sent, paced, and
never leaves the last batch of a burst undiagnosed.
"""

from __future__ import annotations

import asyncio
import json
import time

from hypothesis import given
from hypothesis import strategies as st

from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import (
    Candidate,
    Diagnosis,
    Finding,
    HostState,
    PoolDiagnosis,
    Reach,
    Role,
    Severity,
    Verdict,
    XapiState,
)
from poolterm.probing.service import DIAGNOSIS_SECONDS, DiagnosisDecoder, DiagnosisEncoder, Outbox, dumps
from tests.helpers.factories import connected, healthy, numbered_pool, slave_conf, unreachable_after

text = st.text(max_size=30)
maybe_text = st.none() | text
times = st.none() | st.floats(min_value=0, max_value=1e9, allow_nan=False)
NAMES = ["plot1", "plot2", "plot3", "plot4"]


def host_states(name: str):
    return st.builds(
        HostState, name=st.just(name), address=text, reachable=st.booleans(), reach=st.sampled_from(list(Reach)),
        role=st.sampled_from(list(Role)), believed_master=maybe_text, xapi=st.sampled_from(list(XapiState)),
        emergency_flag=st.none() | st.booleans(), last_seen=times, evidence=st.lists(text, max_size=4).map(tuple),
        agrees=st.booleans(), stale=st.booleans())


candidates = st.builds(Candidate, name=text, score=st.integers(-10, 10), reasons=st.lists(text, max_size=3).map(tuple))
findings = st.builds(Finding, kind=text, severity=st.sampled_from(list(Severity)),
                     hosts=st.lists(text, max_size=3).map(tuple), summary=text, playbook=maybe_text,
                     evidence=st.lists(text, max_size=3).map(tuple),
                     candidates=st.lists(candidates, max_size=3).map(tuple))


def pool_diagnoses(name: str):
    return st.builds(PoolDiagnosis, name=st.just(name), verdict=st.sampled_from(list(Verdict)), master=maybe_text,
                     hosts=st.tuples(*(host_states(n) for n in NAMES)),
                     findings=st.lists(findings, max_size=3).map(tuple), summary=text, advice=text)


diagnoses = st.builds(Diagnosis, pools=st.tuples(pool_diagnoses("lab"), pool_diagnoses("prod")))


def through_the_pipe(message: list) -> list:
    """One JSON line there and back, as the console reads it."""
    line = dumps(message)
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    return json.loads(line)


@given(st.lists(diagnoses, min_size=1, max_size=4))
def test_a_sequence_of_diagnoses_arrives_unchanged(sequence):
    encoder, decoder = DiagnosisEncoder(), DiagnosisDecoder()
    for diagnosis in sequence:
        tag, data = through_the_pipe(["d", encoder.encode(diagnosis)])
        assert tag == "d"
        assert decoder.decode(data) == diagnosis


def test_an_unchanged_host_is_sent_as_null_and_keeps_its_object():
    pool = numbered_pool("lab", 3, lambda i: f"127.77.0.{10 + i}")
    observations = healthy([pool], at=100.0)
    encoder, decoder = DiagnosisEncoder(), DiagnosisDecoder()
    first = decoder.decode(through_the_pipe(encoder.encode(diagnose([pool], observations, 100.0))))
    observations["plot3"] = connected("plot3", slave_conf("127.77.0.11"), at=102.0)
    second_sent = diagnose([pool], observations, 102.0)
    wire = through_the_pipe(encoder.encode(second_sent))
    assert wire[0][3][:2] == [None, None] and wire[0][3][2] is not None, "only plot3 changed (its last-seen time)"
    second = decoder.decode(wire)
    assert second == second_sent
    assert second.pools[0].hosts[0] is first.pools[0].hosts[0]
    assert second.pools[0].hosts[2].last_seen == 102.0


def test_a_host_that_went_down_arrives_with_its_remembered_state_and_age():
    pool = numbered_pool("lab", 3, lambda i: f"127.77.0.{10 + i}")
    observations = healthy([pool], at=100.0)
    encoder, decoder = DiagnosisEncoder(), DiagnosisDecoder()
    decoder.decode(through_the_pipe(encoder.encode(diagnose([pool], observations, 100.0))))
    observations["plot1"] = unreachable_after(observations["plot1"], at=110.0)
    sent = diagnose([pool], observations, 112.0)
    received = decoder.decode(through_the_pipe(encoder.encode(sent)))
    assert received == sent and received.verdict is Verdict.MASTER_LOST
    lost = received.pools[0].hosts[0]
    assert lost.stale and lost.reach is Reach.TIMEOUT and "last seen 12 s ago" in lost.evidence[0]


class Pipe:
    """The Outbox's stdout, read back as the console reads it."""

    def __init__(self) -> None:
        self.messages: list[list] = []

    def write(self, data: bytes) -> None:
        self.messages += [json.loads(line) for line in data.split(b"\n") if line]

    def of(self, tag: str) -> list:
        return [data for t, data in self.messages if t == tag]


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_the_outbox_diagnoses_what_it_sent_and_the_last_batch_of_a_burst_too():
    pool = numbered_pool("lab", 4, lambda i: f"127.77.0.{10 + i}")
    observations = healthy([pool], at=100.0)
    pipe = Pipe()
    outbox = Outbox(pipe.write, lambda: 7, period=0.01, pools=[pool])
    decoder = DiagnosisDecoder()
    for obs in observations.values():
        outbox.publish(obs)
    await until(lambda: pipe.of("d"))
    assert len(pipe.of("o")) == 4 and pipe.of("r")[-1] == 7
    assert decoder.decode(pipe.of("d")[0]) == diagnose([pool], observations, 0.0)
    # Within DIAGNOSIS_SECONDS of that diagnosis: the batch goes at once, its diagnosis when due.
    sent_at = time.monotonic()
    outbox.publish(unreachable_after(observations["plot2"], at=101.0))
    await until(lambda: len(pipe.of("o")) == 5)
    assert len(pipe.of("d")) == 1, "a second diagnosis came sooner than DIAGNOSIS_SECONDS"
    await until(lambda: len(pipe.of("d")) == 2)
    assert time.monotonic() - sent_at >= DIAGNOSIS_SECONDS * 0.5
    second = decoder.decode(pipe.of("d")[1])
    assert second.verdict is Verdict.DEGRADED
    assert [h.name for h in second.pools[0].hosts if not h.reachable] == ["plot2"]


async def test_without_pools_the_outbox_sends_no_diagnosis():
    pool = numbered_pool("lab", 2, lambda i: f"127.77.0.{10 + i}")
    pipe = Pipe()
    outbox = Outbox(pipe.write, lambda: 1, period=0.01)
    for obs in healthy([pool], at=100.0).values():
        outbox.publish(obs)
    await until(lambda: pipe.of("r"))
    await asyncio.sleep(DIAGNOSIS_SECONDS)
    assert len(pipe.of("o")) == 2 and not pipe.of("d")
