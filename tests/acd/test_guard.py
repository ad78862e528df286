"""The answer-rate guard on a synthetic `calls` stream: it alerts, adds the overflow group, turns callback
offers on, records each action, and undoes them when the rate recovers."""

from __future__ import annotations

import time

from sqlalchemy import select

from acd import keys
from acd.guard import AnswerRateGuard
from acd.models import GuardAction
from acd.notifier import AcdNotifier
from acd.state import AgentState
from tests.acd.conftest import until

QUEUE = "hotline-consumer"


def call_event(kind: str, n: int, ts: float, *, wait: float, answered: bool, queue: str = QUEUE) -> dict:
    snapshot = {"call_id": f"c{n}", "queue": queue, "wait_seconds": wait,
                "answered_at": ts if answered else None, "outcome": "answered" if answered else "abandoned"}
    return {"type": kind, "call_id": f"c{n}", "ts": ts, "state": kind.split(".")[1], "call": snapshot}


async def publish_calls(bus, start: int, answered: int, abandoned: int, short: int, ts: float) -> int:  # type: ignore[no-untyped-def]
    n = start
    for _ in range(answered):
        n += 1
        await bus.publish("calls", call_event("call.answered", n, ts, wait=20, answered=True))
        await bus.publish("calls", call_event("call.ended", n, ts, wait=20, answered=True))
    for _ in range(abandoned):
        n += 1
        await bus.publish("calls", call_event("call.ended", n, ts, wait=40, answered=False))
    for _ in range(short):   # shorter than short_abandon_seconds: not offered
        n += 1
        await bus.publish("calls", call_event("call.ended", n, ts, wait=2, answered=False))
    return n


async def test_guard_acts_and_recovers(sim, bus, make_acd, db_session_factory):
    acd = await make_acd(tick=3600)
    for seat in ("1003", "1005"):
        await acd.agents.login(seat)

    async def both_in() -> bool:
        agents = [await acd.tracker.store.get(s) for s in ("1003", "1005")]
        return all(a.state == AgentState.ready and len(a.queues) >= 3 for a in agents)

    await until(both_in)
    await acd.queues.settle()     # the queue figures of the logins (the ACD's loop does this before evaluating)
    now = time.time()
    n = await publish_calls(bus, 0, answered=17, abandoned=3, short=5, ts=now)
    await acd.calls.catch_up()
    figures = await acd.guard.figures(QUEUE, now)
    assert (figures.offered, figures.answered) == (20, 17)       # the 5 short abandons are not offered
    assert figures.answer_rate == 0.85 and figures.service_level == 0.0

    actions = await acd.guard.evaluate(now)
    fired = {(a["rule"], a["type"]) for a in actions if a["queue"] == QUEUE}
    assert ("answer-rate-low", "guard.alert") in fired and ("answer-rate-low", "guard.overflow") in fired
    assert ("answer-rate-critical", "guard.callback_offer") in fired
    assert "PJSIP/1005" in sim.pbx.queues.queues[QUEUE].members       # overflow seat added, 1003 already there
    assert sim.pbx.queues.queues[QUEUE].members["PJSIP/1005"].penalty == 1
    assert await bus.redis.hget(keys.CALLBACK_OFFER, QUEUE) == "1"
    assert await acd.guard.evaluate(now) == [] or all(a["queue"] != QUEUE for a in await acd.guard.evaluate(now))

    # the rate recovers: overflow and callback offers are undone, each step recorded
    await publish_calls(bus, n, answered=400, abandoned=0, short=0, ts=now + 1)
    await acd.calls.catch_up()
    undone = {(a["rule"], a["type"]) for a in await acd.guard.evaluate(now + 2) if a["queue"] == QUEUE}
    assert ("answer-rate-low", "guard.overflow_off") in undone
    assert ("answer-rate-critical", "guard.callback_offer_off") in undone

    async def removed() -> bool:
        return "PJSIP/1005" not in sim.pbx.queues.queues[QUEUE].members

    await until(removed)
    assert await bus.redis.hget(keys.CALLBACK_OFFER, QUEUE) is None
    with db_session_factory() as session:
        rows = [(r.queue, r.rule, r.action) for r in session.scalars(select(GuardAction).order_by(GuardAction.id))]
    assert (QUEUE, "answer-rate-low", "overflow") in rows and (QUEUE, "answer-rate-low", "overflow_off") in rows
    supervisors = [e["type"] for _, e in await bus.read_since("supervisors")]
    assert "guard.alert" in supervisors and "guard.overflow_off" in supervisors


async def test_window_and_min_offered(bus):
    from acd.config import default_acd_config

    guard = AnswerRateGuard(default_acd_config(), bus.redis, AcdNotifier(bus), short_abandon_seconds=5)
    now = time.time()
    for i in range(5):   # below min_offered: no decision on 5 calls
        guard.observe(call_event("call.ended", i, now, wait=60, answered=False))
    assert all(a["metric"] == "expected_wait" for a in await guard.evaluate(now))
    old = now - 3 * 3600
    for i in range(5, 30):
        guard.observe(call_event("call.ended", i, old, wait=60, answered=False))
    figures = await guard.figures(QUEUE, now)
    assert figures.offered == 5                     # the old abandons are outside the 30-minute window
    guard.observe({"type": "call.answered", "call_id": "x", "ts": now, "call": {"queue": None}})
    assert (await guard.figures(QUEUE, now)).offered == 5
