"""The event bus on a real Redis: replay from a last id, a foreign entry never blocks a reader, and the
publisher's direct script connection recovers from a flush, a kill and a cancellation; pooled commands survive
a Redis restart."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError, RedisError, ResponseError

from hotline.bus import DirectScript, EventBus, agent_stream


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


async def test_a_direct_script_survives_a_script_flush_and_a_killed_connection(redis_async) -> None:  # type: ignore[no-untyped-def]
    script = DirectScript(EventBus(redis_async), "return redis.call('INCRBY', KEYS[1], ARGV[1])", name="test-direct")
    try:
        assert await script(["n"], [2]) == 2  # first call: NOSCRIPT, loaded, repeated
        await redis_async.script_flush()  # as after a Redis restart
        assert await script(["n"], [3]) == 5
        clients = [c for c in await redis_async.client_list() if c.get("name") == "test-direct"]
        assert len(clients) == 1  # one connection, named, kept between calls
        await redis_async.client_kill_filter(_id=clients[0]["id"])
        with pytest.raises((ConnectionError, OSError, RedisError)):
            await script(["n"], [1])  # the caller is told; whether INCRBY ran is unknown (as with any lost reply)
        assert await script(["n"], [10]) in (15, 16)  # a new connection
        assert int(await redis_async.get("n")) in (15, 16)
        with pytest.raises(ResponseError, match="WRONGTYPE"):  # a script error is the caller's, the link stays
            await redis_async.lpush("list", "x")
            await script(["list"], [1])
        assert await script(["n"], [0]) in (15, 16)
    finally:
        await script.aclose()


async def test_a_direct_script_cancelled_mid_call_does_not_leave_a_reply_for_the_next(redis_async) -> None:  # type: ignore[no-untyped-def]
    slow = "local t = redis.call('TIME'); local stop = t[1] * 1e6 + t[2] + ARGV[1]; " \
           "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] >= stop; return ARGV[2]"
    script = DirectScript(EventBus(redis_async), slow)
    try:
        await script(["k"], [0, "warm"])
        call = asyncio.create_task(script(["k"], [200_000, "late"]))
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await script(["k"], [0, "mine"]) == "mine"  # not the cancelled call's "late"
    finally:
        await script.aclose()


async def test_the_first_commands_after_a_redis_restart_go_through() -> None:
    """Every pooled connection dies with Redis: the next command on each is tried again on a new one, so the
    requests served right after a restart do not fail."""
    from hotline.redis_server import EmbeddedRedis

    server = EmbeddedRedis().start()
    bus = EventBus.from_url(server.url, prefix="restart:")
    try:
        await asyncio.gather(*(bus.publish("s", {"n": n}) for n in range(5)))  # several pooled connections
        assert len(bus.redis.connection_pool._available_connections) > 1  # type: ignore[attr-defined]
        server.stop()
        server = EmbeddedRedis(port=server.port).start()  # empty, at the same address
        results = await asyncio.gather(*(bus.publish("s", {"n": n}) for n in range(5)))
        assert len(results) == 5 and len(await bus.read_since("s")) == 5
    finally:
        await bus.redis.aclose()
        server.stop()



def test_the_embedded_redis_is_out_of_reach_of_a_terminals_ctrl_c() -> None:
    """Ctrl-C sends SIGINT to the terminal's whole process group: the embedded Redis must outlive it, so that
    the demo can read its last figures and then stop the server itself, rather than both dying at once."""
    import subprocess
    import sys

    script = (
        "import os, signal, time\n"
        "from hotline.redis_server import EmbeddedRedis\n"
        "server = EmbeddedRedis().start()\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)  # this process plays the demo, which handles it\n"
        "os.killpg(0, signal.SIGINT)  # the terminal's Ctrl-C, to our whole group\n"
        "time.sleep(0.3)\n"
        "print('alive' if server.process.poll() is None else 'killed')\n"
        "server.stop()\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                            start_new_session=True)  # a group of its own, like a terminal's foreground job
    assert result.stdout.strip() == "alive", result.stderr
