"""Fault (b): Redis is killed (-9) and restarted under calls.

A Redis of our own, with an fsync-always AOF (what a hotline deployment must configure): the bridge's
publisher retries until Redis is back, the screen-pop consumer group and the calls consumer resume where
they were; every call is on the bus once, every seat got its pops, every call is stored."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from hotline.calls.bus_consumer import CallsConsumer
from hotline.calls.models import Call
from hotline.tasks import cancel_and_wait
from tests.pops.harness import Rig, until

from .servers import KillableRedis

IVR = {"HOTLINE_CATEGORY": "consult", "HOTLINE_PRIORITY": "0"}
SEATS = ("1001", "1002", "1003", "1004")


@pytest.fixture
def own_redis(tmp_path):  # type: ignore[no-untyped-def]
    server = KillableRedis(tmp_path).start()
    yield server
    server.stop()


async def test_redis_killed_and_restarted_under_calls_loses_nothing(own_redis, db_session_factory) -> None:
    client = aioredis.Redis.from_url(own_redis.url, decode_responses=True)
    calls_consumer = CallsConsumer.__new__(CallsConsumer)
    try:
        async with Rig(client, db_session_factory) as r:
            calls_consumer = CallsConsumer(r.bus, db_session_factory, name="rel-redis")
            stored = asyncio.create_task(calls_consumer.run(block_ms=100))
            for seat in SEATS:
                r.sim.add_member(f"PJSIP/{seat}", f"agent-{seat}")
            placed = [await r.sim.place_call(caller=f"1390000{n:04d}", ivr_vars=IVR, talk_time=2) for n in range(4)]
            await asyncio.sleep(0.15)  # calls ringing/answering while Redis goes away
            own_redis.kill()
            placed += [await r.sim.place_call(caller=f"1380000{n:04d}", ivr_vars=IVR, talk_time=1) for n in range(3)]
            await asyncio.sleep(1.0)  # events pile up in the bridge's outbox meanwhile
            own_redis.start()
            placed += [await r.sim.place_call(caller=f"1370000{n:04d}", ivr_vars=IVR, talk_time=1) for n in range(3)]
            for call in placed:
                await call.wait(60)
            ids = {c.uniqueid for c in placed}

            async def all_ended() -> bool:
                try:
                    return ids <= {e["call_id"] for e in await r.calls() if e["type"] == "call.ended"}
                except aioredis.ConnectionError:  # our own pooled link from before the kill
                    return False

            await until(all_ended, timeout=20)
            ended = Counter(e["call_id"] for e in await r.calls() if e["type"] == "call.ended")
            assert all(ended[i] == 1 for i in ids), ended
            for call in placed:
                if call.member:
                    await r.wait_pop(call.member.removeprefix("PJSIP/"), "pop.hangup", call_id=call.uniqueid,
                                     timeout=20)

            def stored_all() -> bool:
                with db_session_factory() as s:
                    return {c.call_id for c in s.scalars(select(Call)) if c.state == "ended"} >= ids

            await until(stored_all, timeout=20)
            assert not stored.done(), "the calls consumer survived the outage"
            assert await cancel_and_wait([stored]) == set(), "the calls consumer stops when told"
            assert r.bridge.published == len(await r.calls())
    finally:
        await client.aclose()
