"""The /ws websocket against a real console: pops reach only their seat, replay after reconnect,
malformed frames, session end, several console processes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hotline.bus import EventBus, agent_stream

from .conftest import Session, login
from .server import ConsoleServer, running_console

WAIT = 10  # seconds: a generous bound so that a missing frame fails instead of hanging


def pop(call_id: str, number: str = "13912345678", kind: str = "pop.ringing") -> dict[str, Any]:
    return {"type": kind, "call_id": call_id, "caller_number": number,
            "ivr": {"category": "complaint", "priority": 0, "path": ["welcome", "menu:3"]}, "wait_seconds": 12,
            "history": {"orders": [{"order_no": "ZY20260001", "category": "consult", "status": "completed",
                                    "caller_number": number}]},
            "kb_hits": [{"id": 7, "title": "社保卡补办流程"}]}


async def open_ws(console: ConsoleServer, session: Session | None, origin: str | None = None) -> ClientConnection:
    headers = {"Cookie": session.cookie} if session else {}
    return await connect(console.ws_url, origin=origin or console.origin, additional_headers=headers,  # type: ignore[arg-type]
                         open_timeout=WAIT)


async def frame(ws: ClientConnection, skip: tuple[str, ...] = ("heartbeat",)) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if message["type"] not in skip:
            return message


async def resume(ws: ClientConnection, last_id: str | None) -> dict[str, Any]:
    welcome = await frame(ws)
    assert welcome["type"] == "welcome"
    await ws.send(json.dumps({"type": "resume", "last_id": last_id}))
    return welcome


async def test_pop_reaches_only_its_agent(live: ConsoleServer, bus: EventBus, sessions) -> None:  # type: ignore[no-untyped-def]
    ws1 = await open_ws(live, sessions["agent"])
    ws2 = await open_ws(live, sessions["agent2"])
    assert (await resume(ws1, None))["stream"] == "agent:1001"
    assert (await resume(ws2, None))["stream"] == "agent:1002"
    first = await bus.publish(agent_stream("1001"), pop("c-1"))
    second = await bus.publish(agent_stream("1002"), pop("c-2", "13800000002"))
    got1, got2 = await frame(ws1), await frame(ws2)
    assert (got1["id"], got1["event"]["call_id"]) == (first, "c-1")
    # agent 1002's first event is its own pop: agent 1001's, published before, never reached it
    assert (got2["id"], got2["event"]["call_id"]) == (second, "c-2")
    await ws1.send(json.dumps({"type": "ping"}))
    assert (await frame(ws1))["type"] == "pong"  # and nothing else was queued for 1001 before it
    await ws1.close()
    await ws2.close()


async def test_reconnect_with_last_id_replays_what_was_missed(live: ConsoleServer, bus: EventBus,
                                                              sessions) -> None:  # type: ignore[no-untyped-def]
    stream = agent_stream("1001")
    ws = await open_ws(live, sessions["agent"])
    await resume(ws, None)
    seen = (await frame(ws)) if await bus.publish(stream, pop("c-1")) else None
    assert seen and seen["event"]["call_id"] == "c-1"
    await ws.close()
    missed = [await bus.publish(stream, pop(f"c-{n}")) for n in (2, 3)]  # while the console was away
    ws = await open_ws(live, sessions["agent"])
    await resume(ws, seen["id"])
    replayed = [await frame(ws), await frame(ws)]
    assert [f["id"] for f in replayed] == missed
    assert [f["event"]["call_id"] for f in replayed] == ["c-2", "c-3"]
    live_id = await bus.publish(stream, pop("c-4"))
    assert (await frame(ws))["id"] == live_id
    await ws.close()


async def test_resume_without_last_id_replays_the_recent_window(live: ConsoleServer, bus: EventBus,
                                                                sessions) -> None:  # type: ignore[no-untyped-def]
    early = await bus.publish(agent_stream("1001"), pop("c-early"))  # arrived while the page was loading
    ws = await open_ws(live, sessions["agent"])
    await resume(ws, None)
    assert (await frame(ws))["id"] == early
    await ws.close()


async def test_malformed_client_messages_get_error_frames_and_the_socket_lives(
        live: ConsoleServer, bus: EventBus, sessions) -> None:  # type: ignore[no-untyped-def]
    ws = await open_ws(live, sessions["agent"])
    await frame(ws)  # welcome
    cases = [("not json{", "bad_json"), ("[1, 2]", "bad_frame"), ('{"type": 5}', "bad_frame"),
             ('{"type": "subscribe", "stream": "agent:1002"}', "unknown_type"),
             ('{"type": "resume", "last_id": "agent:1002"}', "bad_last_id"),
             ('{"type": "resume", "last_id": 17}', "bad_last_id"),
             (json.dumps({"type": "ping", "pad": "x" * 5000}), "too_large"), (b"\x00\x01binary", "binary_refused")]
    for message, code in cases:
        await ws.send(message)
        reply = await frame(ws)
        assert (reply["type"], reply["code"]) == ("error", code), message
        assert reply["message"]
    await ws.send(json.dumps({"type": "resume", "last_id": None}))
    entry = await bus.publish(agent_stream("1001"), pop("c-after"))
    assert (await frame(ws))["id"] == entry
    await ws.close()


async def test_oversized_frame_closes_only_that_socket(live: ConsoleServer, sessions) -> None:  # type: ignore[no-untyped-def]
    ws = await open_ws(live, sessions["agent"])
    await frame(ws)
    await ws.send("x" * (70 * 1024))  # above ws_max_size: the protocol layer closes with 1009
    with pytest.raises(ConnectionClosed) as closed:
        await frame(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    again = await open_ws(live, sessions["agent"])  # the server serves on
    assert (await frame(again))["type"] == "welcome"
    await again.close()


async def test_websocket_needs_a_session_and_the_console_origin(live: ConsoleServer, sessions) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidStatus) as refused:
        await open_ws(live, None)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as hijack:
        await open_ws(live, sessions["agent"], origin="https://evil.example")
    assert hijack.value.response.status_code == 403


async def test_heartbeats_and_logout_ends_the_socket(live: ConsoleServer, sessions) -> None:  # type: ignore[no-untyped-def]
    session = sessions["agent"]
    ws = await open_ws(live, session)
    await resume(ws, None)
    beat = await frame(ws, skip=())
    assert beat["type"] == "heartbeat" and beat["agent_state"]["agent_id"] == "1001"  # the ACD's view
    assert (await session.client.post("/logout", headers=session.headers())).status_code == 204
    ended = await frame(ws)
    assert (ended["type"], ended["code"]) == ("error", "session_ended")
    with pytest.raises(ConnectionClosed) as closed:
        await frame(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    await ws.close()


async def test_supervisor_gets_alerts_and_admin_gets_them_masked(live: ConsoleServer, bus: EventBus,
                                                                 sessions) -> None:  # type: ignore[no-untyped-def]
    sup = await open_ws(live, sessions["supervisor"])
    adm = await open_ws(live, sessions["admin"])
    assert (await resume(sup, None))["stream"] == "supervisors"
    assert (await resume(adm, None))["stream"] == "supervisors"
    alert = {"type": "guard.callback_offered", "caller_number": "13912345678",
             "calls": [{"caller_number": "66001234"}]}
    await bus.publish("supervisors", alert)
    seen_by_sup, seen_by_admin = (await frame(sup))["event"], (await frame(adm))["event"]
    assert seen_by_sup == alert
    assert seen_by_admin["caller_number"] == "139****5678"
    assert seen_by_admin["calls"][0]["caller_number"] == "******34"
    await sup.close()
    await adm.close()


async def test_agent_sees_full_numbers_in_its_pops(live: ConsoleServer, bus: EventBus, sessions) -> None:  # type: ignore[no-untyped-def]
    ws = await open_ws(live, sessions["expert"])
    await resume(ws, None)
    await bus.publish(agent_stream("2001"), {**pop("c-9"), "type": "invite.threeway", "from_agent": "1001"})
    event = (await frame(ws))["event"]
    assert event["caller_number"] == "13912345678" and event["type"] == "invite.threeway"
    await ws.close()


async def test_two_console_processes_share_sessions_and_streams(live: ConsoleServer, bus: EventBus, redis_url,
                                                                db_engine) -> None:  # type: ignore[no-untyped-def]
    session = await login(live, "agent1")  # logged in through the first console
    with running_console(redis_url, db_engine, prefix=live.prefix, session_key=live.extra["session_key"]) as other:
        ws = await connect(other.ws_url, origin=other.origin, additional_headers={"Cookie": session.cookie},  # type: ignore[arg-type]
                           open_timeout=WAIT)
        welcome = await resume(ws, None)
        assert welcome["agent_id"] == "1001"
        entry = await bus.publish(agent_stream("1001"), pop("c-x"))
        assert (await frame(ws))["id"] == entry
        await ws.close()
        me = await session.client.get(other.url + "/api/console/me")
        assert me.status_code == 200 and me.json()["username"] == "agent1"
    await session.client.aclose()


async def test_an_unreadable_stream_entry_is_skipped_and_the_socket_goes_on(
        live: ConsoleServer, bus: EventBus, sessions) -> None:  # type: ignore[no-untyped-def]
    ws = await open_ws(live, sessions["agent"])
    await resume(ws, None)
    good = await bus.publish(agent_stream("1001"), pop("c-1"))
    assert (await frame(ws))["id"] == good
    await bus.redis.xadd(bus.key(agent_stream("1001")), {"data": "{not json"})  # not written by EventBus
    after = await bus.publish(agent_stream("1001"), pop("c-2"))
    delivered = await frame(ws)  # the foreign entry is skipped (logged by hotline.bus), the pop after it arrives
    assert delivered["id"] == after and delivered["event"]["call_id"] == "c-2"
    await ws.close()


async def test_an_open_console_keeps_its_session_alive_until_max_age(live: ConsoleServer, sessions) -> None:  # type: ignore[no-untyped-def]
    session = sessions["agent"]
    ws = await open_ws(live, session)
    await resume(ws, None)
    for step in (500, 1000, 1500, 2000):  # beyond idle_timeout (600) with no HTTP request at all
        live.clock.offset = step
        assert (await frame(ws, skip=()))["type"] == "heartbeat"  # this heartbeat renewed the session
        assert (await frame(ws, skip=()))["type"] == "heartbeat"
    live.clock.offset = 3600 + 1  # max_age reached: the socket is told and closed
    ended = await frame(ws)
    assert (ended["type"], ended["code"]) == ("error", "session_ended")
    await ws.close()
