"""app_queue's penalties on the virtual clock: the caller's bounds (QUEUE_MAX/MIN/RAISE_PENALTY), queue rules
(queuerules.conf penaltychange, absolute and relative) applied while the caller waits without losing their
place, the lowest available penalty level rung first, whose turn it is, timeoutpriority=conf, and the
configuration read from asterisk_config's rendered files (SimConfig.from_platform)."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import default_acd_config
from pbxsim.citizens import Citizen
from pbxsim.config import QueueConfig, SeatBehaviour, SimConfig
from pbxsim.platform_config import UnsupportedConfig, load_queue_entries, load_rules
from pbxsim.rules import PenaltyBounds, PenaltyChange
from pbxsim.simulator import Simulator
from tests.pbxsim.helpers import Recorder

T0 = 1_795_263_400.0


def make(rules: str = "", seats: dict[str, SeatBehaviour] | None = None, **queue: object) -> tuple[Simulator, Recorder]:
    config = SimConfig(agi_url=None, dial_delay=0.0, queues=[QueueConfig(**queue)],  # type: ignore[arg-type]
                       rules={"r": [PenaltyChange.parse(line) for line in rules.split(";") if line]},
                       seats=seats or {})
    sim = Simulator(config, virtual=True, start_time=T0)
    return sim, Recorder(sim)


def call(sim: Simulator, at: float, caller: str, talk_time: float = 300.0, **variables: str) -> None:
    citizen = Citizen(caller=caller, talk_time=talk_time, ivr_vars=dict(variables), ivr_seconds=0.0)
    sim.clock.call_later(at - (sim.clock.now() - T0), sim.call, citizen)


def called(rec: Recorder, caller: str) -> list[tuple[float, str]]:
    return [(round(t - T0, 1), e["MemberName"]) for t, e in rec.events
            if e["Event"] == "AgentCalled" and e["CallerIDNum"] == caller]


def connected(rec: Recorder) -> list[tuple[str, str]]:
    return [(e["CallerIDNum"], e["MemberName"]) for e in rec.named("AgentConnect")]


def varsets(rec: Recorder, caller: str, variable: str) -> list[tuple[float, str]]:
    return [(round(t - T0, 1), e["Value"]) for t, e in rec.events if e["Event"] == "VarSet"
            and e["CallerIDNum"] == caller and e["Variable"] == variable]


# --- queuerules.conf and update_qe_rule ------------------------------------------------------------------------
def test_penaltychange_lines_are_read_as_app_queue_reads_them() -> None:
    assert PenaltyChange.parse("20,1") == PenaltyChange(20, 1, False)
    assert PenaltyChange.parse("30,+2,-1") == PenaltyChange(30, 2, True, -1, True)
    assert PenaltyChange.parse("40,3,1,r2") == PenaltyChange(40, 3, False, 1, False, 2, False, True)
    assert PenaltyChange.parse("50,") == PenaltyChange(50, 0, True)          # empty max: no change
    with pytest.raises(ValueError):
        PenaltyChange.parse("60")
    with pytest.raises(ValueError):
        PenaltyChange.parse("-5,1")


def test_rule_lists_keep_time_order(tmp_path: Path) -> None:
    path = tmp_path / "queuerules.conf"
    path.write_text("[late-first]\npenaltychange => 45,2\npenaltychange => 20,1 ; comment\n"
                    "penaltychange => 20,+1\n[empty]\n", encoding="utf-8")
    rules = load_rules(path)
    assert [(r.time, r.max_value, r.max_relative) for r in rules["late-first"]] == [
        (20, 1, False), (20, 1, True), (45, 2, False)]
    assert rules["empty"] == []
    path.write_text("[x]\nmaxlen => 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="does not know"):
        load_rules(path)


def test_update_qe_rule_bounds() -> None:
    bounds = PenaltyBounds.from_variables({"QUEUE_MAX_PENALTY": "1", "QUEUE_MIN_PENALTY": "1"})
    assert bounds.apply(PenaltyChange.parse("10,-3,+2")) == [("QUEUE_MAX_PENALTY", "0"), ("QUEUE_MIN_PENALTY", "0")]
    assert (bounds.max_penalty, bounds.min_penalty) == (0, 0)       # relative stops at 0, min ≤ new max
    unset = PenaltyBounds.from_variables({})
    assert unset.apply(PenaltyChange.parse("10,5,1")) == []           # INT_MAX stays INT_MAX
    assert unset.effective(7) == 7
    raised = PenaltyBounds.from_variables({"QUEUE_RAISE_PENALTY": "r2", "QUEUE_MIN_PENALTY": "1"})
    assert (raised.effective(0), raised.effective(1), raised.effective(3)) == (None, 2, 3)
    assert PenaltyBounds.from_variables({"QUEUE_MAX_PENALTY": "abc"}).max_penalty is None   # unreadable: unset


# --- the engine ------------------------------------------------------------------------------------------------
def test_max_penalty_rings_only_the_core_members_until_the_rule_widens_the_pool() -> None:
    sim, rec = make("20,1;45,2", defaultrule="r")
    sim.add_member("PJSIP/1001", "core", penalty=0)
    sim.add_member("PJSIP/1003", "escalation", penalty=1)
    sim.add_member("PJSIP/1005", "last-resort", penalty=2)
    call(sim, 0, "A", talk_time=200)                 # takes the core member
    call(sim, 10, "B", QUEUE_MAX_PENALTY="0")
    sim.run_until(T0 + 200)
    assert called(rec, "B") == [(30.0, "escalation")]                 # joined at 10 (+0 IVR), widened at 30
    assert varsets(rec, "B", "QUEUE_MAX_PENALTY") == [(10.0, "0"), (30.0, "1")]   # then answered: no 45 s step
    assert connected(rec) == [("A", "core"), ("B", "escalation")]


def test_relative_rules_and_the_caller_keeps_their_place() -> None:
    sim, rec = make("15,+1;30,+1", defaultrule="r")
    sim.add_member("PJSIP/1001", "core", penalty=0)
    sim.add_member("PJSIP/1005", "penalty2", penalty=2)
    call(sim, 0, "A", talk_time=500)
    call(sim, 5, "B", QUEUE_MAX_PENALTY="0")
    call(sim, 6, "C", QUEUE_MAX_PENALTY="0")
    sim.run_until(T0 + 100)
    assert varsets(rec, "B", "QUEUE_MAX_PENALTY") == [(5.0, "0"), (20.0, "1"), (35.0, "2")]
    assert called(rec, "B") == [(35.0, "penalty2")] and called(rec, "C") == []
    joins = {e["CallerIDNum"]: e["Position"] for e in rec.named("QueueCallerJoin")}
    (leave,) = [e for e in rec.named("QueueCallerLeave") if e["CallerIDNum"] == "B"]
    assert (joins["B"], joins["C"], leave["Position"]) == ("1", "2", "1")   # B never left its place
    assert len(rec.named("QueueCallerJoin", CallerIDNum="B")) == 1


def test_a_rule_does_nothing_when_the_dialplan_set_no_bound() -> None:
    sim, rec = make("20,0", defaultrule="r")
    sim.add_member("PJSIP/1003", "penalty1", penalty=1)
    call(sim, 0, "A")
    sim.run_until(T0 + 60)
    assert called(rec, "A") == [(0.0, "penalty1")]
    assert varsets(rec, "A", "QUEUE_MAX_PENALTY") == []


def test_min_penalty_and_raise_penalty() -> None:
    sim, rec = make()
    sim.add_member("PJSIP/1001", "p0", penalty=0)
    sim.add_member("PJSIP/1003", "p1", penalty=1)
    call(sim, 0, "A", QUEUE_MIN_PENALTY="1")
    sim.run_until(T0 + 30)
    assert called(rec, "A") == [(0.0, "p1")]
    sim2, rec2 = make(strategy="ringall")
    sim2.add_member("PJSIP/1001", "p0", penalty=0)
    sim2.add_member("PJSIP/1003", "p1", penalty=1)
    sim2.add_member("PJSIP/1005", "p2", penalty=2)
    call(sim2, 0, "A", QUEUE_RAISE_PENALTY="1")     # p0 ranks as 1: rung together with p1, not with p2
    sim2.run_until(T0 + 30)
    assert sorted(m for _, m in called(rec2, "A")) == ["p0", "p1"]


def test_lower_penalty_first_even_after_it_did_not_answer() -> None:
    sim, rec = make(seats={"1001": SeatBehaviour(answer_probability=0.0)})
    sim.add_member("PJSIP/1001", "p0", penalty=0)
    sim.add_member("PJSIP/1003", "p1", penalty=1)
    call(sim, 0, "A")
    sim.run_until(T0 + 40)
    assert called(rec, "A") == [(0.0, "p0"), (16.0, "p0"), (32.0, "p0")]   # ring 15 s, retry 1 s, same level


def test_ringall_rings_the_lowest_level_only() -> None:
    sim, rec = make(strategy="ringall")
    for n, penalty in (("1001", 0), ("1002", 0), ("1003", 1)):
        sim.add_member(f"PJSIP/{n}", f"m{n}", penalty=penalty)
    call(sim, 0, "A")
    sim.run_until(T0 + 10)
    assert sorted(m for _, m in called(rec, "A")) == ["m1001", "m1002"]


def test_penaltymemberslimit_ignores_penalties_in_small_queues() -> None:
    sim, rec = make(penaltymemberslimit=2)
    sim.add_member("PJSIP/1003", "p1", penalty=1)
    call(sim, 0, "A", QUEUE_MAX_PENALTY="0")
    sim.run_until(T0 + 10)
    assert called(rec, "A") == [(0.0, "p1")]


def test_a_caller_whose_bounds_exclude_the_free_member_still_holds_its_turn() -> None:
    """is_our_turn counts available members of any penalty: B (no bound) waits behind A (bound 0) while only
    one member is free, and is served once a second one frees."""
    sim, rec = make()
    sim.add_member("PJSIP/1001", "p0", penalty=0, paused=True)
    sim.add_member("PJSIP/1003", "p1", penalty=1)
    call(sim, 0, "A", QUEUE_MAX_PENALTY="0")
    call(sim, 1, "B")
    sim.run_until(T0 + 20)
    assert called(rec, "A") == [] and called(rec, "B") == []
    sim.add_member("PJSIP/1005", "p2", penalty=2)
    sim.run_until(T0 + 30)
    assert called(rec, "A") == [] and [m for _, m in called(rec, "B")] == ["p1"]


def test_autofill_no_rings_for_the_head_caller_only() -> None:
    sim, rec = make(autofill=False, seats={"1001": SeatBehaviour(answer_probability=0.0)})
    sim.add_member("PJSIP/1001", "m1", penalty=0)
    sim.add_member("PJSIP/1002", "m2", penalty=0)
    call(sim, 0, "A")
    call(sim, 0.5, "B")
    sim.run_until(T0 + 10)
    assert [m for _, m in called(rec, "A")] == ["m1"] and called(rec, "B") == []


def test_timeoutpriority_conf_lets_the_ring_run_out() -> None:
    sim, rec = make(timeoutpriority="conf", max_wait=10, seats={"1001": SeatBehaviour(answer_probability=0.0)})
    sim.add_member("PJSIP/1001", "m1")
    call(sim, 0, "A")
    sim.run_until(T0 + 60)
    assert [e["RingTime"] for e in rec.named("AgentRingNoAnswer")] == ["15000"]
    assert rec.times("QueueCallerLeave")[0] - T0 == pytest.approx(15.0)
    assert rec.named("VarSet", Variable="QUEUESTATUS")[0]["Value"] == "TIMEOUT"


# --- driven by the rendered Asterisk configuration ----------------------------------------------------------------
def test_from_platform_is_what_asterisk_config_renders() -> None:
    acd = default_acd_config()
    config = SimConfig.from_platform(agi_url=None)
    for queue in acd.queues:
        sim_queue = config.queue_config(queue.name)
        assert sim_queue is not None
        assert (sim_queue.strategy, sim_queue.timeout, sim_queue.wrapuptime, sim_queue.max_wait) == (
            queue.strategy, queue.timeout, queue.wrapuptime, queue.max_wait)
        assert [(r.time, r.max_value) for r in config.rules[queue.rule_name]] == [
            (w.after, w.max_penalty) for w in queue.widen]
        entry = config.queue_entries[queue.name]
        assert entry.variables == (("QUEUE_MAX_PENALTY", str(queue.initial_max_penalty)),)
        assert (entry.rule, entry.last_agent_variable, entry.last_agent_timeout) == (
            queue.rule_name, "HOTLINE_LAST_AGENT", queue.timeout)


def test_a_dialplan_step_pbxsim_does_not_run_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "extensions.conf"
    path.write_text("[hotline-queue]\nexten => q,1,Set(QUEUE_MAX_PENALTY=0)\n same => n,Wait(3)\n"
                    " same => n,Queue(q,t,,,60)\n", encoding="utf-8")
    with pytest.raises(UnsupportedConfig, match=r"Wait\(3\)"):
        load_queue_entries(path)
    path.write_text("[hotline-queue]\nexten => q,1,Set(QUEUE_MAX_PENALTY=${X})\n same => n,Queue(q,t)\n",
                    encoding="utf-8")
    with pytest.raises(UnsupportedConfig):
        load_queue_entries(path)


def test_platform_dialplan_rings_the_last_agent_first_then_queues() -> None:
    config = SimConfig.from_platform(agi_url=None, dial_delay=0.0,
                                     seats={"1002": SeatBehaviour(answer_probability=0.0)})
    sim = Simulator(config, virtual=True, start_time=T0)
    rec = Recorder(sim)
    for seat, penalty in (("1001", 0), ("1002", 0)):
        sim.add_member(f"PJSIP/{seat}", f"agent-{seat}", "hotline-general", penalty=penalty)
    call(sim, 0, "A", talk_time=10, HOTLINE_LAST_AGENT="1001")
    call(sim, 60, "B", HOTLINE_LAST_AGENT="1002")           # the last agent does not answer
    sim.run_until(T0 + 120)
    dials = [(round(t - T0, 1), e["CallerIDNum"], e["DialString"]) for t, e in rec.events if e["Event"] == "DialBegin"]
    assert dials[0] == (0.0, "A", "PJSIP/1001") and dials[1] == (60.0, "B", "PJSIP/1002")
    assert rec.named("QueueCallerJoin", CallerIDNum="A") == []          # answered by the Dial
    assert rec.times("QueueCallerJoin", CallerIDNum="B")[0] - T0 == pytest.approx(75.0)   # after the 15 s Dial
    assert [m for _, m in called(rec, "B")] == ["agent-1001"]
    a, b = sim.pbx.calls
    assert (a.outcome, a.member, b.outcome, b.member) == ("answered", "PJSIP/1001", "answered", "PJSIP/1001")


def test_a_rule_due_while_ringing_applies_once_the_caller_waits_again() -> None:
    """A rings p0 (no answer, 10 s → 25 s) across its 5 s step; then B (priority 5, ahead of A) rings p0 and A, not
    its turn, waits: the step still applies while A waits, as wait_our_turn's once-a-second look does."""
    sim, rec = make("5,1", defaultrule="r", seats={"1001": SeatBehaviour(answer_probability=0.0)})
    sim.add_member("PJSIP/1001", "p0", penalty=0)
    sim.add_member("PJSIP/1003", "p1", penalty=1, paused=True)
    call(sim, 10, "A", QUEUE_MAX_PENALTY="0")
    call(sim, 12, "B", HOTLINE_PRIORITY="5")
    sim.run_until(T0 + 40)
    assert called(rec, "A") == [(10.0, "p0")] and called(rec, "B")[0] == (25.0, "p0")
    (raised,) = [t for t, value in varsets(rec, "A", "QUEUE_MAX_PENALTY") if value == "1"]
    assert 25.0 <= raised <= 26.0
