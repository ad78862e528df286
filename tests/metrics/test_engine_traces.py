"""The engine on the real Asterisk 22 recordings, against figures computed by hand from the recordings,
and across a restart (half the events, state saved and loaded, the rest)."""

from __future__ import annotations

import json
import math

import pytest
from prometheus_client import generate_latest

from bridge.calls.tracker import CallTracker
from hotline.traces import SCENARIOS, load_ami
from metrics.engine import MetricsEngine, classify, day_of
from metrics.exporter import exposed_names, make_registry

T0 = 1795263400.0   # 2026-11-21 20:16:40 CST: every recording falls in the same hotline day
SKILLS = {"hotline-general": "general", "hotline-expert": "expert"}


def call_events(gap: float = 100.0) -> list[dict]:
    """Every recording through the real call tracker, one after the other (`gap` s apart)."""
    events: list[dict] = []
    for n, scenario in enumerate(SCENARIOS):
        tracker = CallTracker()
        for traced in load_ami(scenario)[1]:
            events += tracker.feed(traced.frame, T0 + n * gap + traced.t)
    return events


def fold(events: list[dict], engine: MetricsEngine | None = None) -> MetricsEngine:
    engine = engine or MetricsEngine(5, 15, SKILLS)
    for event in events:
        engine.apply("calls", event)
    return engine


def test_figures_of_the_recordings_match_the_hand_computation() -> None:
    engine = fold(call_events())
    fig = engine.today["hotline-general"]
    # Hand computation from the recordings (HoldTime / TalkTime of AgentConnect / AgentComplete):
    #   basic        answered, wait 1 s,  talk 10 s
    #   abandon      QueueCallerAbandon HoldTime 7 s  -> abandoned (7 >= 5, so not a short abandon)
    #   noanswer     answered, wait 17 s (1003 rang out 15 s), talk 13 s  -> NOT within 15 s
    #   redirect110  answered, wait 1 s,  talk 2.006 s (answer -> agent leg hang-up), transferred
    #   blindxfer119 answered, wait 1 s,  talk 2 s, transferred
    #   status       answered, wait 1 s,  talk 29 s
    #   threeway     answered, wait 1 s,  talk 12 s
    #   utf8         answered, wait 1 s,  talk 7 s
    #   pausecycle   no call
    # offered 8 = 7 answered + 1 abandoned; answer rate 7/8 = 0.875; within 15 s: 6/8 = 0.75;
    # ASA = (1+17+1+1+1+1+1)/7 = 23/7 s; talk = (10+13+2.006+2+29+12+7)/7 = 75.006/7 s
    assert (fig.offered, fig.answered, fig.abandoned, fig.short_abandoned, fig.unanswered) == (8, 7, 1, 0, 0)
    assert fig.answered_in_sl == 6
    assert fig.answer_rate == pytest.approx(7 / 8)
    assert fig.service_level == pytest.approx(6 / 8)
    assert fig.average_speed_of_answer == pytest.approx(23 / 7)
    assert fig.talk_sum == pytest.approx(75.006)
    assert fig.average_talk == pytest.approx(75.006 / 7)
    assert fig.transferred == 2
    assert fig.abandon_wait_sum == pytest.approx(7.0)
    assert engine.waiting == {} and engine.answered_ids == {}
    # the quarter-hour curve: every call of the run counts in its slot, 8 offered and 7 answered in the end
    assert engine.answer_rate_curve()[-1][1:] == (8, 7)


def test_short_abandon_is_not_offered() -> None:
    # the abandon recording's caller waited 7 s: with a threshold of 10 s it is a short abandon
    engine = MetricsEngine(short_abandon_seconds=10, service_level_seconds=15, skills=SKILLS)
    tracker = CallTracker()
    for traced in load_ami("abandon")[1]:
        for event in tracker.feed(traced.frame, T0 + traced.t):
            engine.apply("calls", event)
    fig = engine.today["hotline-general"]
    assert (fig.offered, fig.abandoned, fig.short_abandoned, fig.answer_rate) == (0, 0, 1, None)


def test_live_figures_while_calls_wait() -> None:
    # noanswer: QueueCallerJoin at t=3.70; at t=10 the caller has waited 6.3 s and is the only one waiting
    events = []
    tracker = CallTracker()
    for traced in load_ami("noanswer")[1]:
        if traced.t > 10:
            break
        events += tracker.feed(traced.frame, T0 + traced.t)
    engine = fold(events)
    ((count, longest),) = engine.waiting_by_queue(T0 + 10).values()
    assert count == 1
    assert longest == pytest.approx(10 - 3.70, abs=0.02)
    assert engine.today == {}   # nothing counted before the call is answered or ends


def test_restart_in_the_middle_gives_the_same_figures() -> None:
    events = call_events()
    whole = fold(events)
    for cut in (1, len(events) // 3, len(events) // 2, len(events) - 2):
        first = fold(events[:cut])
        saved = json.loads(json.dumps(first.to_state()))   # what Redis holds
        second = MetricsEngine(5, 15, SKILLS)
        second.load_state(saved)
        fold(events[cut:], second)
        assert second.to_state() == whole.to_state(), f"cut at {cut}"
        assert generate_latest(make_registry(second, clock=lambda: T0 + 5000)[0]) == \
            generate_latest(make_registry(whole, clock=lambda: T0 + 5000)[0])


def test_day_rolls_over_at_midnight_china_time() -> None:
    events = call_events()
    engine = fold(events)
    late = json.loads(json.dumps(events[0]))
    late["ts"] = T0 + 86400   # the next day: the day's figures start again, the all-time counters go on
    engine.apply("calls", late)
    assert engine.day == day_of(T0 + 86400) != day_of(T0)
    assert engine.today == {}
    assert engine.totals["hotline-general"].offered == 8


def test_bad_events_are_counted_not_raised() -> None:
    engine = MetricsEngine()
    for bad in ({}, {"type": "call.ended"}, {"type": "call.ended", "call_id": "x", "call": {}, "ts": "nan?"},
                {"agent_id": "1001", "state": "dancing"}):
        engine.apply("calls", bad)
    engine.apply("acd", {"agent_id": "1001", "state": "dancing", "ts": T0})
    engine.apply("elsewhere", {"ts": T0})
    assert engine.events["ignored"] == 6
    assert engine.today == {}


def test_classify_rules() -> None:
    assert classify({"queue": None, "outcome": "ivr_only"}, 5) is None
    assert classify({"queue": "q", "answered_at": 1.0, "outcome": "transferred"}, 5) == "answered"
    assert classify({"queue": "q", "outcome": "abandoned", "wait_seconds": 4.9}, 5) == "short_abandon"
    assert classify({"queue": "q", "outcome": "abandoned", "wait_seconds": 5.0}, 5) == "abandoned"
    assert classify({"queue": "q", "outcome": "failed", "queued_at": 0, "ended_at": 120}, 5) == "unanswered"


def test_agents_by_state_and_after_call_work() -> None:
    engine = MetricsEngine(experts=frozenset({"2001"}))
    seq = [("1001", "ready", None, "", 0), ("1002", "not_ready", None, "开会", 1), ("2001", "ready", None, "", 2),
           ("1001", "on_call", "ready", "", 10), ("1001", "wrap_up", "on_call", "话后整理", 70),
           ("1001", "ready", "wrap_up", "", 95)]
    for agent, state, previous, reason, t in seq:
        engine.apply("acd", {"type": "agent.x", "agent_id": agent, "state": state, "previous": previous,
                             "reason": reason, "ts": T0 + t, "seconds_in_previous": 25.0 if previous == "wrap_up"
                             else 0})
    assert engine.agents_by_state() == {("agent", "ready"): 1, ("agent", "not_ready"): 1, ("expert", "ready"): 1}
    assert engine.paused_by_reason() == {"开会": 1}
    assert engine.acw_today == {"agent": [1, 25.0]}
    registry, _ = make_registry(engine, clock=lambda: T0 + 100)
    text = generate_latest(registry).decode()
    assert 'hotline_agents{group="expert",state="ready"} 1.0' in text
    assert 'hotline_after_call_work_seconds_bucket{group="agent",le="30.0"} 1.0' in text
    assert "hotline_ami_link_up NaN" in text
    assert {"hotline_calls_waiting", "hotline_longest_wait_seconds", "hotline_agents"} <= exposed_names(registry)
    assert math.isnan(float(text.split("\nhotline_kb_one_time_answer_rate_today ")[1].split()[0]))


def test_a_caller_whose_end_was_lost_does_not_wait_forever() -> None:
    events = [e for e in call_events() if e["type"] != "call.ended"]   # every end event lost
    engine = fold(events)
    assert len(engine.waiting) == 1          # abandon's caller: queued, never answered, end lost
    assert len(engine.answered_ids) == 7     # the answered ones
    (count, _), = engine.waiting_by_queue(T0 + 1000).values()
    assert count == 1
    assert engine.waiting_by_queue(T0 + 100 + 3.72 + 3601) == {}   # stale: not shown
    later = json.loads(json.dumps(events[1]))                       # a new caller joins an hour later
    later.update(call_id="late", ts=T0 + 5000)
    later["call"]["queued_at"] = T0 + 5000
    engine.apply("calls", later)
    assert list(engine.waiting) == ["late"]  # the lost one was forgotten
    tomorrow = json.loads(json.dumps(later))
    tomorrow.update(call_id="next-day", ts=T0 + 2 * 86400)
    engine.apply("calls", tomorrow)
    assert engine.answered_ids == {}         # answered two days ago and never ended: forgotten
