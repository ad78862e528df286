"""The bridge role end to end: a real AMI TCP server replaying the recordings → AmiClient → tracker →
`calls` stream in a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bridge.service import BridgeService
from hotline.ami.client import AmiClient
from hotline.bus import EventBus
from hotline.redis_server import free_port
from hotline.traces import load_ami
from tests.ami.ami_script_server import ScriptServer

EMPTY_CHANNELS = [{"Response": "Success", "ActionID": "", "EventList": "start", "Message": "Channels will follow"},
                  {"Event": "CoreShowChannelsComplete", "ActionID": "", "EventList": "Complete", "ListItems": "0"}]


@pytest.fixture
async def server() -> AsyncIterator[ScriptServer]:
    async with ScriptServer() as srv:
        yield srv


@pytest.fixture
async def bus(redis_async: aioredis.Redis) -> EventBus:
    return EventBus(redis_async, prefix="test-bridge:")


async def until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def started(server: ScriptServer, bus: EventBus) -> tuple[AmiClient, BridgeService]:
    client = AmiClient("127.0.0.1", server.port, "hotline", "s3cret", action_timeout=3.0, ping_interval=5.0)
    service = BridgeService(client, bus)
    await service.start()  # listening before the first login: the first Resync reaches the tracker
    await client.connect()
    await until(lambda: service.resyncs >= 1)
    return client, service


def raw_frames(scenario: str, after: float = -1.0, upto: float = 1e9) -> list[bytes]:
    return [tf.raw.encode() for tf in load_ami(scenario)[1] if tf.frame.event and after < tf.t <= upto]


async def test_recordings_become_call_events_on_the_bus(server: ScriptServer, bus: EventBus) -> None:
    server.set_reply("CoreShowChannels", EMPTY_CHANNELS)
    client, service = await started(server, bus)
    try:
        await server.stream("basic")
        await server.stream("threeway")
        await until(lambda: service.published >= 15)
    finally:
        await service.stop()
        await client.close()
    entries = [event for _id, event in await bus.read_since("calls")]
    by_call: dict[str, list[str]] = {}
    for event in entries:
        by_call.setdefault(event["call_id"], []).append(event["type"].removeprefix("call."))
    assert by_call == {
        "1795263412.0": ["started", "queued", "ringing", "answered", "ended"],  # basic
        "1795264592.15": ["started", "queued", "ringing", "answered", "conference_joined", "conference_joined",
                          "conference_joined", "conference_left", "conference_left", "ended"],  # threeway
    }
    ended = {e["call_id"]: e["call"] for e in entries if e["type"] == "call.ended"}
    assert (ended["1795263412.0"]["talk_seconds"], ended["1795263412.0"]["outcome"]) == (10.0, "answered")
    assert ended["1795264592.15"]["experts"] == ["2001"]
    assert ended["1795263412.0"]["ivr"]["category"] == "complaint"


async def test_reconnect_resynchronises_the_live_call(server: ScriptServer, bus: EventBus) -> None:
    # status recording: the call is talking at t=6.27 when CoreShowChannels was recorded. The link drops
    # there; after the reconnect Asterisk's CoreShowChannels (the recorded reply) still lists the call.
    server.set_reply("CoreShowChannels", EMPTY_CHANNELS)
    client, service = await started(server, bus)
    try:
        await server.send_raw([b"".join(raw_frames("status", upto=6.27))])
        await until(lambda: service.published >= 4)  # started queued ringing answered
        port = server.port
        await server.stop()
        del server.overrides["coreshowchannels"]  # the recorded reply: the citizen and agent 1001 bridged
        server.port = port
        await server.start()
        await until(lambda: service.resyncs >= 2)
        await server.send_raw([b"".join(raw_frames("status", after=6.27))])
        await until(lambda: not service.tracker.active)
        await until(lambda: service.published >= 5)
    finally:
        await service.stop()
        await client.close()
    types = [event["type"] for _id, event in await bus.read_since("calls")]
    assert types == ["call.started", "call.queued", "call.ringing", "call.answered", "call.ended"]
    (call,) = service.tracker.completed
    assert (call.outcome, call.talk_seconds, call.agent) == ("answered", 29.0, "1001")


async def test_call_that_ended_while_disconnected_is_closed_by_the_resync(server: ScriptServer,
                                                                          bus: EventBus) -> None:
    server.set_reply("CoreShowChannels", EMPTY_CHANNELS)
    client, service = await started(server, bus)
    try:
        await server.send_raw([b"".join(raw_frames("noanswer", upto=10.0))])  # queued, 1003 ringing
        await until(lambda: service.published >= 3)
        port = server.port
        await server.stop()
        server.port = port
        await server.start()  # nothing live any more
        await until(lambda: service.resyncs >= 2)
        await until(lambda: service.published >= 4)
    finally:
        await service.stop()
        await client.close()
    last = (await bus.read_since("calls"))[-1][1]
    assert (last["type"], last["resync"], last["call"]["outcome"]) == ("call.ended", True, "abandoned")


async def test_events_wait_for_redis_and_keep_their_order(server: ScriptServer, redis_async: aioredis.Redis) -> None:
    dead = EventBus(aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True,
                                      socket_connect_timeout=0.2), prefix="test-bridge:")
    server.set_reply("CoreShowChannels", EMPTY_CHANNELS)
    client, service = await started(server, dead)
    try:
        await server.stream("abandon")
        await until(lambda: service.frames_in > 50)
        await asyncio.sleep(0.3)  # a few failed attempts
        assert service.published == 0
        service.bus = EventBus(redis_async, prefix="test-bridge:")  # Redis is back
        await until(lambda: service.published >= 3)
    finally:
        await service.stop()
        await client.close()
        await dead.redis.aclose()
    types = [event["type"] for _id, event in await service.bus.read_since("calls")]
    assert types == ["call.started", "call.queued", "call.ended"]


async def test_run_role_serves_until_cancelled(server: ScriptServer, redis_url: str,
                                               redis_async: aioredis.Redis) -> None:
    from bridge.service import run_role
    from hotline.runtime import RoleContext
    from hotline.settings import Settings

    server.set_reply("CoreShowChannels", EMPTY_CHANNELS)
    settings = Settings(ami_host="127.0.0.1", ami_port=server.port, ami_user="hotline", ami_secret="s3cret")
    ctx = RoleContext(settings=settings, redis_url=redis_url)
    bus = EventBus(redis_async)  # the role publishes with the default prefix
    role = asyncio.create_task(run_role(ctx))
    try:
        # the client's resync after login, then the role's own snapshot once it listens
        await until(lambda: sum(f.get("Action") == "CoreShowChannels" for f in server.received) >= 2)
        await server.stream("utf8")
        async with asyncio.timeout(10):
            while len(await bus.read_since("calls")) < 5:
                await asyncio.sleep(0.02)
    finally:
        role.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await role
        await ctx.close()
    events = [event for _id, event in await bus.read_since("calls")]
    assert [e["type"] for e in events] == ["call.started", "call.queued", "call.ringing", "call.answered",
                                           "call.ended"]
    assert events[-1]["call"]["caller_name"] == "张三"
