"""Pops that ride with their `calls` entry (bridge.pops.early): published once from the content the pops
role offered, audited by the consumer, never published again, in order per call, the consumer's path when
the read-ahead is not ready, and the call's pop state gone when the call ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select

from bridge.pops.bus_consumer import PopConsumer
from bridge.pops.early import POPPED, STATE_TTL_MS, EarlyPops, state_key
from bridge.pops.notifier import PopNotifier
from bridge.pops.services import PopBuilder, content_json, make_pop
from hotline.audit.models import AuditEntry
from hotline.bus import EventBus, agent_stream, encode
from hotline.tasks import cancel_and_wait

from .harness import NUMBER, rig, seed_history, until

IVR = {"HOTLINE_CATEGORY": "complaint", "HOTLINE_PRIORITY": "5"}


async def entries(redis, bus: EventBus, stream: str) -> list[tuple[str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    return await redis.xrange(bus.key(stream))


def audits(factory, number: str = NUMBER) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with factory() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.subject_id == number)).all()
    return [(a.actor, a.detail["call_id"]) for a in rows]


async def no_pending(redis, bus: EventBus) -> bool:  # type: ignore[no-untyped-def]
    return (await redis.xpending(bus.key("calls"), "pops"))["pending"] == 0


async def test_a_ringing_pop_is_published_with_its_calls_entry_exactly_once(redis_async, db_session_factory) -> None:
    seed_history(db_session_factory)
    async with rig(redis_async, db_session_factory) as r:
        r.sim.add_member("PJSIP/1001", "agent-1001")
        call = await r.sim.place_call(caller=NUMBER, ivr_vars=IVR, talk_time=1)
        await call.wait(10)
        await r.wait_pop("1001", "pop.hangup", call_id=call.uniqueid)
        await until(lambda: no_pending(redis_async, r.bus))  # the ringing entry: acknowledged once audited
        raw = {json_type(fields): (entry_id, fields) for entry_id, fields in await entries(redis_async, r.bus, "calls")}
        ringing_id, ringing_fields = raw["call.ringing"]
        answered_id, answered_fields = raw["call.answered"]
        assert ringing_fields[POPPED] == "pop.ringing" and answered_fields[POPPED] == "pop.answered"
        assert POPPED not in raw["call.ended"][1]  # the hang-up is the consumer's
        pops = await r.pops("1001")
        assert [(p["type"], p["source_id"]) for p in pops] == [
            ("pop.ringing", ringing_id), ("pop.answered", answered_id), ("pop.hangup", raw["call.ended"][0])]
        assert pops[0]["history"]["repeat_caller"] is True and pops[0]["kb_hits"]
        assert r.early is not None and r.early.rode == 2
        assert r.consumer is not None and r.consumer.pops_sent == 1  # only the hang-up
    assert audits(db_session_factory) == [("agent:1001", call.uniqueid)]  # the consumer audited the ringing read


def json_type(fields: dict[str, str]) -> str:
    return json.loads(fields["data"])["type"]


@contextlib.asynccontextmanager
async def running(consumer: PopConsumer) -> AsyncIterator[asyncio.Task[None]]:
    await consumer.ensure_group()
    task = asyncio.create_task(consumer.run())
    try:
        yield task
    finally:
        await cancel_and_wait([task])


async def offer(bus: EventBus, builder: PopBuilder, call: dict[str, Any]) -> tuple[dict | None, list]:
    """What the pops role's read-ahead does: read, then offer the content to the bridge's publisher."""
    history, hits, _audit = builder.read(call, "bridge")
    await PopNotifier(bus).offer_content(call["call_id"], content_json(history, hits))
    return history, hits


def ringing(call_id: str, agent: str, number: str = NUMBER, kind: str = "call.ringing") -> dict[str, Any]:
    return {"type": kind, "call_id": call_id, "agent": agent, "ts": 1.0, "state": "ringing",
            "call": {"call_id": call_id, "caller_number": number, "ivr": {"category": "complaint"}}}


async def test_a_crash_after_the_publish_and_before_the_audit_audits_once_and_publishes_once(
        redis_async, db_session_factory, tmp_path) -> None:
    from hotline.db import make_engine, make_session_factory

    seed_history(db_session_factory)
    bus = EventBus(redis_async, prefix="test-early:")
    builder = PopBuilder(db_session_factory)
    consumer = PopConsumer(bus, builder, consumer="c1", start_id="0", block_ms=100)
    await consumer.ensure_group()
    early = EarlyPops(bus)
    await offer(bus, builder, {"call_id": "c.1", "caller_number": NUMBER})  # the read-ahead, done
    # the bridge publishes the entry and its pop, then dies before any consumer read it
    [entry_id] = await early.publish("calls", [ringing("c.1", "1001")])
    pops = await bus.read_since(agent_stream("1001"))
    assert [(p["type"], p["source_id"]) for _id, p in pops] == [("pop.ringing", entry_id)]
    assert audits(db_session_factory) == []
    # after the restart (an empty cache), the consumer reads it, its audit fails: it stays pending
    broken = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}"))
    first = PopConsumer(bus, PopBuilder(db_session_factory), consumer="c1", block_ms=100, audit_session_factory=broken)
    async with running(first):
        await until(lambda: first.handled >= 1)
    assert not await no_pending(redis_async, bus)
    # and the next start audits it once, without publishing it again
    second = PopConsumer(bus, PopBuilder(db_session_factory), consumer="c1", block_ms=100)
    async with running(second):
        await until(lambda: no_pending(redis_async, bus))
    assert audits(db_session_factory) == [("agent:1001", "c.1")]
    assert [p["type"] for _id, p in await bus.read_since(agent_stream("1001"))] == ["pop.ringing"]
    assert first.pops_sent == second.pops_sent == 0


async def test_a_call_ringing_again_after_a_miss_waits_for_the_consumers_hang_up(redis_async,
                                                                                 db_session_factory) -> None:
    bus = EventBus(redis_async, prefix="test-early:")
    builder = PopBuilder(db_session_factory)
    consumer = PopConsumer(bus, builder, consumer="c1", start_id="0", block_ms=100)
    await consumer.ensure_group()
    early = EarlyPops(bus)
    await offer(bus, builder, {"call_id": "c.2", "caller_number": "13700000002"})
    # rings 1001 (rides), 1001 misses it (the consumer's hang-up), rings 1001 again: must not overtake the hang-up
    await early.publish("calls", [ringing("c.2", "1001", "13700000002")])
    await early.publish("calls", [ringing("c.2", "1001", "13700000002", kind="call.ring_noanswer")])
    await early.publish("calls", [ringing("c.2", "1001", "13700000002")])
    # in one batch too: a miss and the next ring of the same call
    await early.publish("calls", [ringing("c.2", "1001", "13700000002", kind="call.ring_noanswer"),
                                  ringing("c.2", "1001", "13700000002")])
    assert early.rode == 1 and early.left == 2
    assert [p["type"] for _id, p in await bus.read_since(agent_stream("1001"))] == ["pop.ringing"]
    async with running(consumer):
        await until(lambda: consumer.handled == 5)
        await until(lambda: no_pending(redis_async, bus))
        kinds = [(p["type"], p.get("reason")) for _id, p in await bus.read_since(agent_stream("1001"))]
        assert kinds == [("pop.ringing", None), ("pop.hangup", "ring_noanswer"), ("pop.ringing", None),
                         ("pop.hangup", "ring_noanswer"), ("pop.ringing", None)]
        # once the consumer has caught up, the next ring rides again
        await early.publish("calls", [ringing("c.2", "1002", "13700000002")])
        assert early.rode == 2


class SlowReads(PopBuilder):
    """A database that answers the history read only when the test lets it (the read-ahead not ready)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.go = threading.Event()

    def read(self, *args: Any, **kw: Any):  # type: ignore[no-untyped-def]
        self.go.wait(20)
        return super().read(*args, **kw)


async def test_a_read_ahead_not_ready_leaves_the_pop_to_the_consumer(redis_async, db_session_factory) -> None:
    seed_history(db_session_factory)
    slow = SlowReads(db_session_factory)
    async with rig(redis_async, db_session_factory, builder=slow) as r:
        r.sim.add_member("PJSIP/1001", "agent-1001")
        call = await r.sim.place_call(caller=NUMBER, ivr_vars=IVR, talk_time=1)
        await r.wait_call_event(call.uniqueid, "call.ringing")
        assert await r.pops("1001") == []  # the publisher did not wait for the read
        slow.go.set()
        await call.wait(10)
        await r.wait_pop("1001", "pop.hangup", call_id=call.uniqueid)
        await until(lambda: no_pending(redis_async, r.bus))
        raw = {json_type(fields): (entry_id, fields) for entry_id, fields in await entries(redis_async, r.bus, "calls")}
        assert POPPED not in raw["call.ringing"][1]
        pops = await r.pops("1001")
        assert [(p["type"], p["source_id"]) for p in pops] == [
            ("pop.ringing", raw["call.ringing"][0]), ("pop.answered", raw["call.answered"][0]),
            ("pop.hangup", raw["call.ended"][0])]
        assert pops[0]["history"]["repeat_caller"] is True
        assert r.early is not None and r.early.left >= 1
    assert audits(db_session_factory) == [("agent:1001", call.uniqueid)]


async def test_a_pop_from_the_offered_content_is_the_pop_the_consumer_would_make(redis_async,
                                                                                 db_session_factory) -> None:
    seed_history(db_session_factory)
    bus = EventBus(redis_async, prefix="test-early:")
    builder = PopBuilder(db_session_factory)
    call = {"call_id": "c.3", "caller_number": NUMBER, "caller_name": "张三", "ivr": {"category": "complaint"},
            "queue": "q", "wait_seconds": 1.5}
    history, hits = await offer(bus, builder, call)
    early = EarlyPops(bus)
    try:
        event = {"type": "call.ringing", "call_id": "c.3", "agent": "1001", "ts": 2.5, "call": call}
        [entry_id] = await early.publish("calls", [event])
    finally:
        await early.aclose()
    [(_id, pop)] = await bus.read_since(agent_stream("1001"))
    made = make_pop("pop.ringing", call, "1001", 2.5, history, hits, source_id=entry_id)
    assert pop == json.loads(encode(made)) and pop["history"]["repeat_caller"] is True


async def test_a_calls_pop_state_lives_while_the_call_does(redis_async, db_session_factory) -> None:
    bus = EventBus(redis_async, prefix="test-early:")
    builder = PopBuilder(db_session_factory)
    consumer = PopConsumer(bus, builder, consumer="c1", start_id="0", block_ms=100)
    await consumer.ensure_group()
    early = EarlyPops(bus)
    key = bus.key(state_key("c.4"))
    try:
        started = ringing("c.4", "1001", "13700000004", kind="call.started")
        async with running(consumer):
            await early.publish("calls", [started])
            await until(lambda: redis_async.hexists(key, "content"))  # the read-ahead, offered
            assert 0 < await redis_async.pttl(key) <= STATE_TTL_MS  # a lost call.ended cannot keep it
            await early.publish("calls", [ringing("c.4", "1001", "13700000004")])
            await early.publish("calls", [ringing("c.4", "1001", "13700000004", kind="call.ended")])
            await until(lambda: consumer.handled == 3)
            await until(lambda: not_there(redis_async, key))
        assert early.rode == 1
        assert [p["type"] for _id, p in await bus.read_since(agent_stream("1001"))] == ["pop.ringing", "pop.hangup"]
    finally:
        await early.aclose()


async def not_there(redis, key: str) -> bool:  # type: ignore[no-untyped-def]
    return not await redis.exists(key)
