"""The event bus on a real Redis: replay from a last id, and a foreign entry never blocks a reader."""

from __future__ import annotations

import asyncio

from hotline.bus import EventBus, agent_stream


async def test_read_since_replays_what_came_after_the_last_id(redis_async) -> None:  # type: ignore[no-untyped-def]
    bus = EventBus(redis_async)
    first = await bus.publish(agent_stream("1001"), {"type": "pop.ringing", "n": 1})
    await bus.publish(agent_stream("1001"), {"type": "pop.answered", "n": 2, "name": "张三"})
    missed = await bus.read_since(agent_stream("1001"), first)
    assert [event["n"] for _id, event in missed] == [2]
    assert missed[0][1]["name"] == "张三"
    assert [e["n"] for _i, e in await bus.read_since(agent_stream("1001"))] == [1, 2]
    assert await bus.read_since(agent_stream("1002")) == []


async def test_a_malformed_entry_is_skipped_and_the_reader_goes_on(redis_async) -> None:  # type: ignore[no-untyped-def]
    bus = EventBus(redis_async)
    await redis_async.xadd(bus.key("calls"), {"data": "not json"})
    await redis_async.xadd(bus.key("calls"), {"other": "field"})
    await bus.publish("calls", {"type": "call.started"})
    assert [e["type"] for _i, e in await bus.read_since("calls")] == ["call.started"]

    async def first_event() -> dict:
        async for _stream, _id, event in bus.subscribe({"calls": "0-0"}, block_ms=100):
            return event
        raise AssertionError("subscription ended")

    assert (await asyncio.wait_for(first_event(), 5))["type"] == "call.started"
