"""Simulated traffic: pbxsim (virtual time) → AMI frames → the real call tracker → the engine. The
simulator's own run figures are the hand-kept ledger the engine must agree with, with a restart of the
engine in the middle of the run."""

from __future__ import annotations

import json

from bridge.calls.tracker import CallTracker
from hotline.ami.frames import Frame
from metrics.engine import MetricsEngine
from pbxsim import SimConfig, Simulator, TrafficModel
from pbxsim.distributions import Exponential, LogNormal

START = 1_795_222_800.0   # 2026-11-21 09:00 CST: the run stays inside one hotline day


def simulated_events() -> tuple[list[dict], Simulator]:
    sim = Simulator(SimConfig(agi_url=None), virtual=True, start_time=START)
    tracker = CallTracker()
    events: list[dict] = []
    sim.pbx.hub.subscribe(lambda pairs: events.extend(tracker.feed(Frame(list(pairs)), sim.clock.now())))
    for seat in ("1001", "1002", "1003"):
        sim.add_member(f"PJSIP/{seat}", f"agent-{seat}")
    # 3 agents, ~100 s talk, a call every ~30 s and short patience: answers, abandons (short and long)
    # and queue timeouts all occur
    model = TrafficModel(rate=1 / 30, talk_time=LogNormal(100, 40), patience=Exponential(25), seed=7)
    sim.run_day(model, start=START, hours=2, drain=600)
    return events, sim


def test_engine_agrees_with_the_simulators_ledger_across_a_restart() -> None:
    events, sim = simulated_events()
    stats = sim.stats
    assert stats.offered > 100 and stats.abandoned > 5 and stats.answered > 50

    half = len(events) // 2
    first = MetricsEngine(short_abandon_seconds=5, service_level_seconds=15)
    for event in events[:half]:
        first.apply("calls", event)
    engine = MetricsEngine(short_abandon_seconds=5, service_level_seconds=15)
    engine.load_state(json.loads(json.dumps(first.to_state())))
    for event in events[half:]:
        engine.apply("calls", event)
    uninterrupted = MetricsEngine(short_abandon_seconds=5, service_level_seconds=15)
    for event in events:
        uninterrupted.apply("calls", event)
    assert engine.to_state() == uninterrupted.to_state()

    fig = engine.today["hotline-general"]
    # The ledger (pbxsim.stats.RunStats) counts every queue join, connect, abandon and timeout with the
    # exact float wait. app_queue reports HoldTime as int(wait), so:
    #   short abandons (HoldTime < 5 s)     = abandons whose wait < 5 s
    #   offered                             = joins - short abandons
    #   answered within 15 s (HoldTime<=15) = answered waits with int(wait) <= 15
    #   unanswered                          = queue timeouts
    timeouts = stats.timed_out
    abandon_waits = sorted(stats.abandoned_waits)
    # abandoned_waits holds abandons and timeouts; the timeouts are the longest (the queue's 120 s)
    pure_abandons = abandon_waits[:len(abandon_waits) - timeouts]
    short = sum(1 for w in pure_abandons if w < 5)
    assert short > 0 and fig.short_abandoned == short
    assert fig.offered == stats.offered - short
    assert fig.answered == stats.answered
    assert fig.abandoned == stats.abandoned - short
    assert fig.unanswered == timeouts
    assert fig.answered_in_sl == sum(1 for w in stats.answered_waits if int(w) <= 15)
    assert fig.wait_answered_sum == sum(int(w) for w in stats.answered_waits)
    assert fig.talk_count == len(stats.talk_times)
    assert engine.waiting == {}   # the drain let every call finish
    assert fig.answer_rate == stats.answered / (stats.offered - short)
