"""app_queue behaviour on the virtual clock: strategies, penalties, caller priority, ring timeout and retry,
wrap-up, ringinuse=no across queues, pause, abandonment, queue timeout, joinempty."""

from __future__ import annotations

import pytest

from pbxsim.citizens import Citizen
from pbxsim.config import QueueConfig, SeatBehaviour, SimConfig
from pbxsim.distributions import Constant
from pbxsim.simulator import Simulator
from tests.pbxsim.helpers import Recorder

T0 = 1_795_263_400.0


def make(strategy: str = "leastrecent", queues: list[QueueConfig] | None = None,
         seats: dict[str, SeatBehaviour] | None = None) -> tuple[Simulator, Recorder]:
    config = SimConfig(agi_url=None, queues=queues or [QueueConfig(strategy=strategy)], seats=seats or {})
    sim = Simulator(config, virtual=True, start_time=T0)
    return sim, Recorder(sim)


def call(sim: Simulator, at: float, **kw: object) -> None:
    sim.clock.call_later(at - (sim.clock.now() - T0), sim.call, Citizen(**kw))  # type: ignore[arg-type]


def connected_members(rec: Recorder) -> list[str]:
    return [e["MemberName"] for e in rec.named("AgentConnect")]


def test_no_ivr_means_agistatus_failure_and_the_call_still_queues() -> None:
    sim, rec = make()
    sim.add_member("PJSIP/1001", "agent-1001")
    call(sim, 0, talk_time=5)
    sim.run_until(T0 + 60)
    assert [e["Value"] for e in rec.named("VarSet", Variable="AGISTATUS")] == ["FAILURE"]
    assert [e["Value"] for e in rec.named("VarSet", Variable="QUEUE_PRIO")] == ["0"]
    assert connected_members(rec) == ["agent-1001"]
    (complete,) = rec.named("AgentComplete")
    assert complete["Reason"] == "caller" and complete["TalkTime"] == "5"


def test_leastrecent_rings_the_member_idle_longest() -> None:
    sim, rec = make("leastrecent")
    for n in ("1001", "1002"):
        sim.add_member(f"PJSIP/{n}", f"agent-{n}")
    for i in range(3):
        call(sim, i * 30, talk_time=5)
    sim.run_until(T0 + 200)
    assert connected_members(rec) == ["agent-1001", "agent-1002", "agent-1001"]


def test_rrmemory_goes_round_the_members() -> None:
    sim, rec = make("rrmemory")
    for n in ("1001", "1002", "1003"):
        sim.add_member(f"PJSIP/{n}", f"agent-{n}")
    for i in range(4):
        call(sim, i * 30, talk_time=5)
    sim.run_until(T0 + 300)
    assert connected_members(rec) == ["agent-1001", "agent-1002", "agent-1003", "agent-1001"]


def test_ringall_rings_everyone_and_cancels_the_others() -> None:
    sim, rec = make("ringall", seats={"1001": SeatBehaviour(answer_delay=Constant(3)),
                                      "1002": SeatBehaviour(answer_delay=Constant(1))})
    for n in ("1001", "1002"):
        sim.add_member(f"PJSIP/{n}", f"agent-{n}")
    call(sim, 0, talk_time=5)
    sim.run_until(T0 + 60)
    assert sorted(e["MemberName"] for e in rec.named("AgentCalled")) == ["agent-1001", "agent-1002"]
    assert connected_members(rec) == ["agent-1002"]
    assert [e["DialStatus"] for e in rec.named("DialEnd") if e["DestChannel"].startswith("PJSIP/1001-")] == ["CANCEL"]


def test_lower_penalty_first_higher_only_when_none_lower_is_free() -> None:
    sim, rec = make()
    sim.add_member("PJSIP/1001", "agent-1001", penalty=1)
    sim.add_member("PJSIP/1002", "agent-1002", penalty=0)
    call(sim, 0, talk_time=100)
    call(sim, 10, talk_time=100)
    sim.run_until(T0 + 300)
    assert connected_members(rec) == ["agent-1002", "agent-1001"]


def test_higher_caller_priority_joins_ahead_and_is_served_first() -> None:
    sim, rec = make()
    sim.add_member("PJSIP/1001", "agent-1001")
    call(sim, 0, talk_time=30)                                   # occupies the agent
    call(sim, 5, talk_time=5, caller="13900000002")              # priority 0
    call(sim, 6, talk_time=5, caller="13900000003", ivr_vars={"HOTLINE_PRIORITY": "5"}, ivr_seconds=0.0)
    sim.run_until(T0 + 300)
    joins = rec.named("QueueCallerJoin")
    assert [(e["CallerIDNum"], e["Position"], e["Count"]) for e in joins[1:]] == [
        ("13900000002", "1", "1"), ("13900000003", "1", "2")]
    order = [e["CallerIDNum"] for e in rec.named("AgentConnect")]
    assert order == ["13900001", "13900000003", "13900000002"]


def test_ring_timeout_then_retry_moves_on_to_the_next_member() -> None:
    sim, rec = make(seats={"1001": SeatBehaviour(answer_probability=0.0)})
    sim.add_member("PJSIP/1001", "agent-1001")
    sim.add_member("PJSIP/1002", "agent-1002")
    call(sim, 0, talk_time=5)
    sim.run_until(T0 + 120)
    (noanswer,) = rec.named("AgentRingNoAnswer")
    assert noanswer["MemberName"] == "agent-1001" and noanswer["RingTime"] == "15000"
    t_noanswer = rec.times("AgentRingNoAnswer")[0]
    t_next = rec.times("AgentCalled", MemberName="agent-1002")[0]
    assert t_next - t_noanswer == pytest.approx(1.0)            # retry = 1
    assert connected_members(rec) == ["agent-1002"]
    assert sim.stats.no_answer == 1


def test_wrapup_keeps_the_member_free_for_two_seconds() -> None:
    sim, rec = make()
    sim.add_member("PJSIP/1001", "agent-1001")
    call(sim, 0, talk_time=20)
    call(sim, 1, talk_time=5, caller="13900000002")
    sim.run_until(T0 + 200)
    t_complete = rec.times("AgentComplete")[0]
    t_second = rec.times("AgentCalled", CallerIDNum="13900000002")[0]
    assert t_second - t_complete == pytest.approx(2.0)


def test_member_busy_in_one_queue_is_not_rung_by_another() -> None:
    sim, rec = make(queues=[QueueConfig(name="q-a"), QueueConfig(name="q-b")])
    sim.config.default_queue = "q-a"
    sim.add_member("PJSIP/1001", "agent-1001", queue="q-a")
    sim.add_member("PJSIP/1001", "agent-1001", queue="q-b")
    call(sim, 0, talk_time=30)
    call(sim, 2, talk_time=5, caller="13900000002", ivr_vars={"HOTLINE_QUEUE": "q-b"}, ivr_seconds=0.0)
    sim.run_until(T0 + 200)
    second = rec.named("AgentCalled", CallerIDNum="13900000002")
    assert second and second[0]["Queue"] == "q-b"
    t_done = rec.times("AgentComplete", Queue="q-a")[0]
    assert rec.times("AgentCalled", CallerIDNum="13900000002")[0] >= t_done


def test_paused_member_is_never_rung_and_the_caller_abandons() -> None:
    sim, rec = make()
    sim.add_member("PJSIP/1001", "agent-1001", paused=True, reason="meeting")
    call(sim, 0, patience=7)
    call(sim, 1, patience=30, caller="13900000002")
    sim.run_until(T0 + 200)
    assert rec.named("AgentCalled") == []
    first, second = rec.named("QueueCallerAbandon")
    assert (first["Position"], first["OriginalPosition"], first["HoldTime"]) == ("1", "1", "7")
    assert (second["Position"], second["OriginalPosition"], second["HoldTime"]) == ("1", "2", "30")
    assert sim.stats.abandoned == 2
    pause = rec.named("QueueMemberAdded")[0]
    assert (pause["Paused"], pause["PausedReason"]) == ("1", "meeting")


def test_queue_timeout_after_120_seconds_and_joinempty() -> None:
    sim, rec = make()
    call(sim, 0)                                                 # no members at all: joinempty=yes
    sim.run_until(T0 + 300)
    (join,) = rec.named("QueueCallerJoin")
    (leave,) = rec.named("QueueCallerLeave")
    assert rec.times("QueueCallerLeave")[0] - rec.times("QueueCallerJoin")[0] == pytest.approx(120.0)
    assert rec.named("QueueCallerAbandon") == []
    assert rec.named("VarSet", Variable="QUEUESTATUS")[0]["Value"] == "TIMEOUT"
    assert rec.named("Hangup", Channel=join["Channel"])
    assert sim.stats.timed_out == 1 and leave["Count"] == "0"


def test_pause_and_unpause_through_the_engine() -> None:
    sim, rec = make()
    sim.add_member("PJSIP/1001", "agent-1001")
    sim.pbx.queues.pause("PJSIP/1001", True, reason="lunch")
    call(sim, 0, talk_time=5)
    sim.run_until(T0 + 20)
    assert rec.named("AgentCalled") == []
    sim.pbx.queues.pause("PJSIP/1001", False)
    sim.run_until(T0 + 60)
    assert connected_members(rec) == ["agent-1001"]
    pauses = rec.named("QueueMemberPause")
    assert [(p["Paused"], p["PausedReason"]) for p in pauses] == [("1", "lunch"), ("0", "")]


def test_agent_hangs_up_first_reason_agent_and_the_citizen_leaves_the_dialplan() -> None:
    sim, rec = make(seats={"1001": SeatBehaviour(talk_time=Constant(8))})
    sim.add_member("PJSIP/1001", "agent-1001")
    call(sim, 0, talk_time=None)
    sim.run_until(T0 + 60)
    (complete,) = rec.named("AgentComplete")
    assert (complete["Reason"], complete["TalkTime"]) == ("agent", "8")
    citizen = complete["Channel"]
    tail = [e["Event"] for _, e in rec.events if e.get("Channel") == citizen][-3:]
    assert tail == ["Newexten", "SoftHangupRequest", "Hangup"]
    assert rec.named("Newexten", Channel=citizen)[-1]["Application"] == "Hangup"
    assert sim.pbx.calls[0].outcome == "answered"


def test_blind_transfer_to_a_seat_that_does_not_answer_ends_after_the_dial_timeout() -> None:
    from pbxsim.transfers import blind_transfer

    sim, rec = make(seats={"1002": SeatBehaviour(answer_probability=0.0)})
    sim.add_member("PJSIP/1001", "agent-1001")
    call(sim, 0, talk_time=None)
    sim.run_until(T0 + 10)
    leg = rec.named("AgentConnect")[0]["DestChannel"]
    assert blind_transfer(sim.pbx, leg, "from-agents", "1002") == "Transfer succeeded"
    sim.run_until(T0 + 60)
    ends = [(t, e["DialStatus"]) for t, e in rec.events if e["Event"] == "DialEnd"
            and e["DestChannel"].startswith("PJSIP/1002-")]
    assert [s for _, s in ends] == ["NOANSWER"]
    assert ends[0][0] - rec.times("BlindTransfer")[0] == 20.0
    assert sim.pbx.calls[0].ended_at is not None
