"""The platform's own AMI client (hotline.ami.client, panoramisk underneath) against the simulator: login,
resync, single and list replies, typed events, and a reconnection after the simulator restarts."""

from __future__ import annotations

import asyncio

import pytest

from pbxsim.config import SimConfig
from pbxsim.simulator import Simulator

client_mod = pytest.importorskip("hotline.ami.client")


async def test_platform_client_logs_in_resyncs_and_drives_a_call() -> None:
    sim = Simulator(SimConfig(ami_port=0, agi_url=None), scale=20)
    await sim.start()
    sim.add_member("PJSIP/1001", "agent-1001")
    client = client_mod.AmiClient("127.0.0.1", sim.ami_port, "hotline", "hotline-secret", ping_interval=0.5)
    seen: list[object] = []
    client.add_listener(seen.append)
    await client.connect(timeout=5)
    try:
        for _ in range(100):
            if any(getattr(x, "name", "") == "Resync" for x in seen):
                break
            await asyncio.sleep(0.02)
        resync = next(x for x in seen if getattr(x, "name", "") == "Resync")
        assert [(m.name_, m.location) for m in resync.members] == [("agent-1001", "PJSIP/1001")]  # type: ignore[attr-defined]
        added = await client.send_action({"Action": "QueueAdd", "Queue": "hotline-general",
                                          "Interface": "PJSIP/1002", "MemberName": "agent-1002"})
        assert added["Message"] == "Added interface to queue"
        status = await client.send_action({"Action": "QueueStatus"})
        assert status[-1]["Event"] == "QueueStatusComplete" and status[-1]["ListItems"] == "3"
        call = await sim.place_call(caller="13900001", name="张三", talk_time=2)
        await call.wait(10)
        await asyncio.sleep(0.1)
        names = [getattr(x, "name", "") for x in seen]
        assert {"QueueCallerJoin", "AgentConnect", "AgentComplete"} <= set(names)
    finally:
        await client.close()
        await sim.stop()


async def test_platform_client_reconnects_and_resyncs_after_a_drop() -> None:
    sim = Simulator(SimConfig(ami_port=0, agi_url=None), scale=20)
    await sim.start()
    sim.add_member("PJSIP/1001", "agent-1001", paused=True, reason="meeting")
    client = client_mod.AmiClient("127.0.0.1", sim.ami_port, "hotline", "hotline-secret", ping_interval=0.5)
    resyncs: list[object] = []
    client.add_listener(lambda e: resyncs.append(e) if getattr(e, "name", "") == "Resync" else None)
    await client.connect(timeout=5)
    try:
        call = await sim.place_call(caller="13900009")
        for _ in range(200):
            if sim.pbx.queues.queues["hotline-general"].callers:
                break
            await asyncio.sleep(0.01)
        assert sim.drop_ami_clients() == 1
        for _ in range(300):
            if len(resyncs) >= 2:
                break
            await asyncio.sleep(0.02)
        assert len(resyncs) >= 2 and resyncs[-1].reconnect  # type: ignore[attr-defined]
        (waiting,) = resyncs[-1].callers  # type: ignore[attr-defined]
        assert waiting.frame.headers["CallerIDNum"] == "13900009"
        sim.pbx.hangup(call.channel)
    finally:
        await client.close()
        await sim.stop()


async def test_a_link_that_wants_no_event_is_sent_none_until_a_listener_wants_some() -> None:
    """The console's link (actions only) logs in with `Events: off`: the PBX does not send it every event of
    every call. When a listener that wants events joins (roles sharing one process), it logs in again with
    events on, resyncs, and that listener gets the events of the next call."""
    sim = Simulator(SimConfig(ami_port=0, agi_url=None), scale=20)
    await sim.start()
    sim.add_member("PJSIP/1001", "agent-1001")
    client = client_mod.AmiClient("127.0.0.1", sim.ami_port, "hotline", "hotline-secret", ping_interval=0.5)
    quiet: list[object] = []
    await client.connect(timeout=5)  # as the console does: connected first (ctx.ami), its listener after
    client.add_listener(quiet.append, events=())
    try:
        assert sim.ami is not None
        (session,) = sim.ami.sessions
        for _ in range(100):  # an `Events: off` action
            if not session.events_on:
                break
            await asyncio.sleep(0.01)
        assert not session.events_on and client.wants_no_event()
        status = await client.send_action({"Action": "QueueStatus"})  # list replies still come
        assert status[-1]["Event"] == "QueueStatusComplete"
        watcher = await _raw_watcher(sim.ami_port)  # a link with events on, beside it
        call = await sim.place_call(caller="13900001", talk_time=0.5)
        await call.wait(10)
        await client.send_action({"Action": "Ping"})
        watching = next(s for s in sim.ami.sessions if s.events_on)
        assert watching.events_sent > 10 and session.events_sent == 0  # a whole call's events, and none
        assert quiet == []  # listeners get what they asked for: nothing (this link's Resync came before it)
        watcher.close()

        seen: list[object] = []
        client.add_listener(seen.append, events=("AgentConnect",))
        for _ in range(300):
            if any(getattr(x, "name", "") == "Resync" for x in seen) and client.connected:
                break
            await asyncio.sleep(0.02)
        assert any(getattr(x, "name", "") == "Resync" for x in seen)  # logged in again and resynced
        assert any(s.events_on for s in sim.ami.sessions) and not client.wants_no_event()
        call = await sim.place_call(caller="13900002", talk_time=0.5)
        await call.wait(10)
        await asyncio.sleep(0.1)
        assert [getattr(x, "name", "") for x in seen].count("AgentConnect") == 1
    finally:
        await client.close()
        await sim.stop()


async def _raw_watcher(port: int) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"Action: Login\r\nUsername: hotline\r\nSecret: hotline-secret\r\n\r\n")
    await writer.drain()
    await reader.readuntil(b"Authentication accepted")
    return writer


async def test_a_link_whose_listeners_want_no_event_logs_in_with_events_off() -> None:
    sim = Simulator(SimConfig(ami_port=0, agi_url=None), scale=20)
    await sim.start()
    client = client_mod.AmiClient("127.0.0.1", sim.ami_port, "hotline", "hotline-secret", ping_interval=0.5)
    resyncs: list[object] = []
    client.add_listener(resyncs.append, events=())
    await client.connect(timeout=5)
    try:
        assert sim.ami is not None
        assert [s.events_on for s in sim.ami.sessions] == [False]
        for _ in range(100):
            if resyncs:
                break
            await asyncio.sleep(0.01)
        assert [getattr(x, "name", "") for x in resyncs] == ["Resync"]  # the resync works without events
        assert sim.drop_ami_clients() == 1  # and a new login decides again: still off
        for _ in range(300):
            if len(resyncs) == 2 and sim.ami.sessions:
                break
            await asyncio.sleep(0.02)
        assert [s.events_on for s in sim.ami.sessions] == [False]
    finally:
        await client.close()
        await sim.stop()
