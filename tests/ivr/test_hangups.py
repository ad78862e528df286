"""Every flow survives the caller hanging up at every command, in each of the ways Asterisk reports it:
the connection closes, a `HANGUP` line arrives, or 511 answers every live-channel command from then on."""

from __future__ import annotations

import asyncio
import time

import pytest

from ivr import keys
from tests.fastagi.peer import FakeAsterisk, env_for

from .conftest import call

SCENARIOS = {
    "welcome-emergency": ("ivr", ["9", "1", "1"]),
    "welcome-notice-complaint": ("ivr", [None, "2"]),
    "welcome-order": ("ivr", ["3", "12", None, "20261121999999"]),
    "order-status": ("order-status", ["ORDER"]),
    "queue-callback": ("queue-announce", ["1"]),
    "survey": ("survey", ["8", "2"]),
    "callback-offer": ("callback", ["1"]),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_hangup_at_every_command(server, redis_async, make_order, name: str) -> None:  # type: ignore[no-untyped-def]
    script, pressed = SCENARIOS[name]
    if "ORDER" in pressed:
        pressed = [make_order().number.replace("-", "")]
    from ivr.notice import set_notice
    from ivr.schemas import NoticeIn
    await set_notice(redis_async, NoticeIn(text="城东片区停水检修"), "zhang")
    now = time.time()
    await redis_async.zadd(keys.queue_waiting("hotline-general"), {f"c{i}": now - 50 + i for i in range(10)})
    await redis_async.zadd(keys.queue_waiting("hotline-general"), {"me": now})
    await redis_async.hset(keys.queue_stats("hotline-general"), mapping={"per_position": 60})

    full = await call(server, script, keys=pressed, env={"uniqueid": "me"})
    total = len(full.commands)
    assert total >= 3 and server.stats.completed == 1
    await redis_async.delete(keys.CALLBACKS, keys.callback("me"), keys.survey("me"))

    for how in ("close", "line", "511"):
        for at in range(total):
            before = (server.stats.hangups, server.stats.completed, server.stats.errors)
            peer = FakeAsterisk(env_for(script, uniqueid="me"), pressed, hangup_at=at, hangup_how=how)
            t = await peer.run(server.port)
            for _ in range(200):
                if not server.active:
                    break
                await asyncio.sleep(0.005)
            hangups, completed, errors = (a - b for a, b in zip(
                (server.stats.hangups, server.stats.completed, server.stats.errors), before, strict=True))
            assert errors == 0, (how, at, t.commands)
            assert not t.rejected
            if how in ("close", "line"):
                assert hangups == 1, (how, at)
                assert len(t.commands) == at + 1, (how, at, t.commands)  # nothing sent once the hang-up is seen
            else:
                # SET VARIABLE / VERBOSE still work on a dead channel; the first live-channel command ends it
                assert hangups + completed == 1, (how, at)
            if script == "survey":
                record = await redis_async.hgetall(keys.survey("me"))
                assert record["score"] in {"3", "4"}, (how, at)  # hung up before rating: 基本满意 (art. 14)
                await redis_async.delete(keys.survey("me"))
            await redis_async.delete(keys.CALLBACKS, keys.callback("me"))


@pytest.mark.parametrize("script", ["ivr", "order-status", "queue-announce", "survey", "callback"])
@pytest.mark.parametrize("lines", [0, 3, 21])
async def test_hangup_before_the_environment_ends(server, script: str, lines: int) -> None:  # type: ignore[no-untyped-def]
    await FakeAsterisk(env_for(script), env_lines=lines).run(server.port)
    for _ in range(200):
        if not server.active:
            break
        await asyncio.sleep(0.005)
    assert not server.active
    assert server.stats.env_incomplete == 1 and server.stats.errors == 0
