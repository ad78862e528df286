"""The console's fan-out hub (agent_console.hub) behind /ws, on a real console and a real Redis: one reader for
many sockets, each socket only its own stream, replay and live entries without gap or duplicate while
entries are being published, a stream joining while the reader is blocked, Redis killed and restarted."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from agent_console.users import NewUser, create_user
from hotline.bus import EventBus, agent_stream
from hotline.security import Role
from tests.reliability.servers import KillableRedis

from .conftest import Session, login
from .server import CHEAP_HASHER, PASSWORD, ConsoleServer, running_console

WAIT = 10  # seconds: a generous bound so that a missing frame fails instead of hanging


def seat_users(console: ConsoleServer, seats: list[str]) -> list[str]:
    with console.session_factory() as session:
        for seat in seats:
            create_user(session, NewUser(f"seat{seat}", Role.agent, PASSWORD, seat), CHEAP_HASHER)
    return [f"seat{seat}" for seat in seats]


async def open_ws(console: ConsoleServer, session: Session) -> ClientConnection:
    ws = await connect(console.ws_url, origin=console.origin, additional_headers={"Cookie": session.cookie},  # type: ignore[arg-type]
                       open_timeout=WAIT)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert welcome["type"] == "welcome"
    return ws


async def follow(console: ConsoleServer, session: Session, last_id: str | None) -> ClientConnection:
    ws = await open_ws(console, session)
    await ws.send(json.dumps({"type": "resume", "last_id": last_id}))
    return ws


async def reconnect(console: ConsoleServer, session: Session, last_id: str | None) -> ClientConnection:
    """As the page does after a close: try again with a backoff. Right after a Redis restart the console's
    first request on each pooled connection from before the restart fails (500): the next one gets through."""
    for _ in range(20):
        try:
            return await follow(console, session, last_id)
        except InvalidStatus as exc:
            assert exc.response.status_code >= 500, exc
            await asyncio.sleep(0.1)
    raise AssertionError("the console never took the socket back")


async def events(ws: ClientConnection, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < n:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if message["type"] == "event":
            out.append(message)
        else:
            assert message["type"] in ("heartbeat", "pong"), message
    return out


async def nothing_more(ws: ClientConnection) -> None:
    """A ping answered with nothing queued before the pong: no extra (duplicate or foreign) event was sent."""
    await ws.send(json.dumps({"type": "ping"}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if message["type"] == "pong":
            return
        assert message["type"] == "heartbeat", message


async def hub_connections(client: aioredis.Redis, name: str) -> list[dict[str, Any]]:
    return [c for c in await client.client_list() if c.get("name") == name]


async def until_blocked(client: aioredis.Redis, name: str) -> None:
    """Until the hub's reader waits in Redis (flag b: blocked in XREAD)."""
    for _ in range(int(WAIT / 0.02)):
        if any("b" in c["flags"] for c in await hub_connections(client, name)):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the hub's reader never blocked")


async def many_seats(console: ConsoleServer, bus: EventBus, seats: list[str]) -> None:
    """Every seat's socket gets its own entries, in order, and nothing else, while all seats are written at once."""
    sessions = [await login(console, f"seat{seat}") for seat in seats]
    try:
        # resumed from what each page last showed (a first page gets nothing older: the streams are new)
        sockets = [await follow(console, session, await bus.last_id(agent_stream(seat)))
                   for seat, session in zip(seats, sessions, strict=True)]
        published: dict[str, list[str]] = {seat: [] for seat in seats}

        async def publisher(seat: str) -> None:
            for n in range(8):
                published[seat].append(await bus.publish(agent_stream(seat), {"type": "pop.ringing",
                                                                              "call_id": f"{seat}-{n}"}))
                await asyncio.sleep(random.random() / 100)

        await asyncio.gather(*(publisher(seat) for seat in seats))
        for seat, ws in zip(seats, sockets, strict=True):
            got = await events(ws, 8)
            assert [m["id"] for m in got] == published[seat]
            assert {m["stream"] for m in got} == {agent_stream(seat)}
            assert [m["event"]["call_id"] for m in got] == [f"{seat}-{n}" for n in range(8)]
            await nothing_more(ws)
        hub = console.app.state.hub
        assert sorted(hub.streams) == sorted(agent_stream(seat) for seat in seats)
        for ws in sockets:
            await ws.close()
    finally:
        for session in sessions:
            await session.client.aclose()


async def test_many_sockets_share_one_reader_and_each_gets_only_its_own_entries(
        live: ConsoleServer, bus: EventBus) -> None:
    seats = [str(1100 + n) for n in range(24)]
    seat_users(live, seats)
    hub = live.app.state.hub
    assert hub.streams_per_reader >= 24
    await many_seats(live, bus, seats)
    # one Redis connection read for all 24 sockets (the socket-per-XREAD design had 24)
    assert len(await hub_connections(bus.redis, hub.client_name)) == 1


async def test_streams_spread_over_readers_of_bounded_size(live: ConsoleServer, bus: EventBus, redis_url: str,
                                                          db_engine) -> None:  # type: ignore[no-untyped-def]
    seats = [str(1200 + n) for n in range(11)]
    seat_users(live, seats)
    with running_console(redis_url, db_engine, prefix=live.prefix, session_key=live.extra["session_key"],
                         ws_streams_per_reader=4) as small:
        hub = small.app.state.hub
        await many_seats(small, bus, seats[:9])
        # those sockets left: a new round fills the readers again, each with at most 4 streams
        await many_seats(small, bus, seats)
        assert len(await hub_connections(bus.redis, hub.client_name)) == 3  # ceil(11 / 4) readers, no more


async def test_resume_while_publishing_has_no_gap_and_no_duplicate(live: ConsoleServer, bus: EventBus,
                                                                  sessions) -> None:  # type: ignore[no-untyped-def]
    """Sockets join at random moments while two streams are being written: one stream the hub already follows
    (its replay is an XRANGE, then what the hub held back), one it does not (the hub reads from the last id)."""
    total = 240
    streams = {"1001": sessions["agent"], "1002": sessions["agent2"]}
    ids: dict[str, list[str]] = {seat: [] for seat in streams}
    anchor = await follow(live, sessions["agent"], None)  # the hub follows agent:1001 throughout
    joiners: list[tuple[str, int, ClientConnection]] = []

    async def publisher(seat: str) -> None:
        for n in range(total):
            ids[seat].append(await bus.publish(agent_stream(seat), {"type": "pop.ringing", "call_id": f"{seat}-{n}"}))
            if n % 7 == 0:
                await asyncio.sleep(0.001)

    async def joiner(seat: str) -> None:
        for _ in range(4):
            await asyncio.sleep(random.random() * 0.15)
            seen = len(ids[seat])
            last = ids[seat][seen - 1] if seen else "0-0"
            joiners.append((seat, seen, await follow(live, streams[seat], last)))

    await asyncio.gather(publisher("1001"), publisher("1002"), joiner("1001"), joiner("1002"))
    got = await events(anchor, total)
    assert [m["id"] for m in got] == ids["1001"]
    assert len(joiners) == 8
    for seat, seen, ws in joiners:
        expected = ids[seat][seen:]
        got = await events(ws, len(expected))
        assert [m["id"] for m in got] == expected, (seat, seen)
        await nothing_more(ws)
        # resuming again on the same socket from an earlier id restarts from there, once
        await ws.send(json.dumps({"type": "resume", "last_id": ids[seat][total - 4]}))
        assert [m["id"] for m in await events(ws, 3)] == ids[seat][total - 3:]
        await nothing_more(ws)
        await ws.close()
    await anchor.close()


async def test_a_socket_joining_while_the_reader_is_blocked_gets_its_entries(
        live: ConsoleServer, bus: EventBus, sessions, redis_url: str, db_engine) -> None:  # type: ignore[no-untyped-def]
    """BLOCK 0 (for ever): without the hub waking its reader, the second seat's entries would never come."""
    with running_console(redis_url, db_engine, prefix=live.prefix, session_key=live.extra["session_key"],
                         ws_block_ms=0) as other:
        hub = other.app.state.hub
        first = await follow(other, sessions["agent"], None)
        entry = await bus.publish(agent_stream("1001"), {"type": "pop.ringing", "call_id": "c-1"})
        assert [m["id"] for m in await events(first, 1)] == [entry]
        await until_blocked(bus.redis, hub.client_name)
        second = await follow(other, sessions["agent2"], None)
        mine = await bus.publish(agent_stream("1002"), {"type": "pop.ringing", "call_id": "c-2"})
        assert [m["id"] for m in await events(second, 1)] == [mine]
        again = await bus.publish(agent_stream("1001"), {"type": "pop.answered", "call_id": "c-1"})
        assert [m["id"] for m in await events(first, 1)] == [again]
        await until_blocked(bus.redis, hub.client_name)
        await first.close()
        await second.close()
        for _ in range(int(WAIT / 0.02)):  # the last socket gone, the reader is woken and ends
            if not hub.reading:
                break
            await asyncio.sleep(0.02)
        assert not hub.reading and not hub.streams


@pytest.fixture
def own_redis(tmp_path):  # type: ignore[no-untyped-def]
    server = KillableRedis(tmp_path).start()
    yield server
    server.stop()


async def test_redis_killed_and_restarted_sockets_are_told_then_resume(own_redis, live: ConsoleServer,
                                                                       db_engine) -> None:  # type: ignore[no-untyped-def]
    """The sockets get stream_unavailable and 1011, reconnect once Redis is back, and resume from their last id."""
    client = aioredis.Redis.from_url(own_redis.url, decode_responses=True)
    with running_console(own_redis.url, db_engine) as console:
        bus = EventBus(client, prefix=console.prefix)
        agents = {"1001": await login(console, "agent1"), "1002": await login(console, "agent2")}
        try:
            sockets = {seat: await follow(console, session, None) for seat, session in agents.items()}
            seen = {}
            for seat, ws in sockets.items():
                entry = await bus.publish(agent_stream(seat), {"type": "pop.ringing", "call_id": f"{seat}-a"})
                [frame] = await events(ws, 1)
                assert frame["id"] == entry
                seen[seat] = entry
            own_redis.kill()
            for ws in sockets.values():
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                        if message["type"] == "error":
                            assert message["code"] == "stream_unavailable"
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
            own_redis.start()
            missed = {}
            for seat in agents:
                for _ in range(100):  # our own client's pooled link from before the kill
                    try:
                        missed[seat] = await bus.publish(agent_stream(seat), {"type": "pop.hangup",
                                                                              "call_id": f"{seat}-a"})
                        break
                    except aioredis.ConnectionError:
                        await asyncio.sleep(0.05)
            for seat, session in agents.items():  # the page reconnects and resumes from the last id it showed
                ws = await reconnect(console, session, seen[seat])
                assert [m["id"] for m in await events(ws, 1)] == [missed[seat]]
                live_entry = await bus.publish(agent_stream(seat), {"type": "pop.ringing", "call_id": f"{seat}-b"})
                got = await events(ws, 1)
                assert [(m["id"], m["event"]["call_id"]) for m in got] == [(live_entry, f"{seat}-b")]
                await nothing_more(ws)
                await ws.close()
        finally:
            for session in agents.values():
                await session.client.aclose()
            await client.aclose()
