"""Callbacks keep their turn, never jump ahead of callers already waiting, never duplicate, and count as
answered only when the citizen picks up — over pbxsim's AMI (Originate, OriginateResponse)."""

from __future__ import annotations

import time

from sqlalchemy import select

from acd import keys
from acd.config import default_acd_config
from acd.models import CallbackRecord
from acd.state import AgentState
from ivr.schemas import QueueWait
from ivr.services import HotlineIvrServices
from pbxsim.citizens import Citizen
from pbxsim.config import SeatBehaviour
from tests.acd.conftest import until

QUEUE = "hotline-consumer"


async def request(redis, call_id: str, number: str, queued_at: float) -> None:  # type: ignore[no-untyped-def]
    """What the IVR does when the caller accepts the callback offer (ivr/services.py, the real code)."""
    await HotlineIvrServices(redis).request_callback(call_id=call_id, number=number, queue=QUEUE,
                                                     wait=QueueWait(3, 300, queued_at))


async def status(redis, callback_id: str) -> str:  # type: ignore[no-untyped-def]
    return await redis.hget(keys.callback(callback_id), "status")


async def ready(acd, agent_id: str) -> None:  # type: ignore[no-untyped-def]
    async def check() -> bool:
        agent = await acd.tracker.store.get(agent_id)
        return agent.state == AgentState.ready and QUEUE in agent.queues

    await until(check)


async def test_turn_kept_no_jumping_ahead_no_duplicates(sim, bus, make_acd, db_session_factory):
    redis = bus.redis
    acd = await make_acd(tick=3600)          # dispatch is driven by the test, step by step
    sim.expect_callback("13900000011", Citizen(caller="13900000011", talk_time=2.0))
    now = time.time()
    await request(redis, "cb-early", "13900000011", now - 100)
    await request(redis, "cb-early-again", "13900000011", now - 50)   # same number, still pending: duplicate
    await request(redis, "cb-late", "13900000012", now + 1000)         # joined after the caller below

    assert await acd.callbacks.dispatch() == []                          # nobody ready: nothing dialled
    assert await status(redis, "cb-early-again") == "duplicate"
    assert await redis.zrange(keys.CALLBACKS, 0, -1) == ["cb-early", "cb-late"]

    await acd.agents.login("1003")
    await ready(acd, "1003")
    assert await acd.callbacks.dispatch() == ["cb-early"]              # at the head, an agent free
    assert await acd.callbacks.dispatch() == []                        # dialling: the next one waits its turn

    async def answered() -> bool:
        return await status(redis, "cb-early") == "answered"

    await until(answered)
    assert await redis.hget(keys.CALLBACK_NUMBERS, "13900000011") is None

    # the answered callback joins the queue ([hotline-callback]) and reaches the agent who was free
    async def wrapped_up() -> bool:
        return (await acd.tracker.store.get("1003")).state == AgentState.wrap_up

    await until(wrapped_up)
    assert await redis.get(keys.last_agent("13900000011")) == "1003"

    # a caller who joined before cb-late is waiting: the callback must not jump ahead of them
    await acd.agents.not_ready("1003", "会议")

    async def not_ready() -> bool:
        return (await acd.tracker.store.get("1003")).state == AgentState.not_ready

    await until(not_ready)
    await sim.place_call(Citizen(caller="13900000099", ivr_vars={"HOTLINE_QUEUE": QUEUE}, ivr_seconds=0.1,
                                 patience=None, talk_time=1.0))

    async def waiting() -> bool:
        return await redis.zcard(keys.queue_waiting(QUEUE)) == 1

    await until(waiting)
    # the caller joined "now", cb-late's turn is later; even with an agent free the caller goes first
    await redis.zadd(keys.queue_waiting(QUEUE), {"someone-earlier": now - 10})
    await acd.agents.ready("1003")
    await ready(acd, "1003")
    assert await acd.callbacks.dispatch() == []
    assert await status(redis, "cb-late") == "pending"

    with db_session_factory() as session:
        rows = {r.callback_id: r for r in session.scalars(select(CallbackRecord))}
    assert rows["cb-early"].status == "answered" and rows["cb-early"].attempts == 1
    assert rows["cb-early-again"].status == "duplicate"
    events = [e["type"] for _, e in await bus.read_since("supervisors")]
    assert "callback.dialing" in events and "callback.answered" in events


async def test_unanswered_callback_is_retried_then_failed(sim, bus, make_acd):
    redis = bus.redis
    config = default_acd_config().model_copy(deep=True)
    config.acd.callback_attempts = 2
    config.acd.callback_retry_seconds = 0
    acd = await make_acd(tick=3600, config=config)
    sim.pbx.config.callback_behaviour = SeatBehaviour(reachable=False)   # rings out: Originate fails (Reason 3)
    await request(redis, "cb-nobody", "13900000021", time.time() - 30)
    await acd.agents.login("1003")
    await ready(acd, "1003")
    assert await acd.callbacks.dispatch() == ["cb-nobody"]

    async def back_to_pending() -> bool:
        return await status(redis, "cb-nobody") == "pending"

    await until(back_to_pending, timeout=10)
    assert await redis.zscore(keys.CALLBACKS, "cb-nobody") is not None      # still in line, same place
    assert await acd.callbacks.dispatch() == ["cb-nobody"]

    async def failed() -> bool:
        return await status(redis, "cb-nobody") == "failed"

    await until(failed, timeout=10)
    assert await redis.zscore(keys.CALLBACKS, "cb-nobody") is None
    assert await redis.hget(keys.callback("cb-nobody"), "attempts") == "2"
