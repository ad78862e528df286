"""Malformed, oversized and hostile websocket messages: each gets an error frame (or, above the
transport limit, a 1009 close of that socket only); the socket keeps serving pings and pops."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hotline.bus import agent_stream

WAIT = 10
# deep nesting under the 4 KiB limit makes json.loads raise RecursionError, not ValueError
BAD_TEXT = [
    "", "   ", "null", "[]", "42", '"ping"', "{", "{'type': 'ping'}", '{"type": 5}', '{"type": null}',
    '{"type": "resume", "last_id": "DROP TABLE"}', '{"type": "resume", "last_id": "1-2-3"}',
    '{"type": "resume", "last_id": {"$gt": ""}}', '{"type": "resume", "last_id": "' + "9" * 30 + '-0"}',
    '{"type": "unknown-kind"}', '{"type": "ping", "x": "\u0000"}', "\ud800".encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace"), "[" * 2000 + "]" * 2000, '{"a":' * 800 + "1" + "}" * 800, "x" * 5000,
    json.dumps({"type": "ping", "pad": "张" * 2000}),
]


async def _open(live, session):  # type: ignore[no-untyped-def]
    ws = await connect(live.ws_url, origin=live.origin, additional_headers={"Cookie": session.cookie},  # type: ignore[arg-type]
                       open_timeout=WAIT, max_size=None)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert welcome["type"] == "welcome"
    return ws


async def _next(ws, kinds: tuple[str, ...]) -> dict:  # type: ignore[no-untyped-def]
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if frame["type"] in kinds:
            return frame


async def test_bad_messages_get_errors_and_the_socket_keeps_working(live, sessions, bus) -> None:  # type: ignore[no-untyped-def]
    ws = await _open(live, sessions["agent"])
    for text in BAD_TEXT:
        await ws.send(text)
        reply = await _next(ws, ("error", "pong"))
        if reply["type"] == "pong":  # a well-formed ping with odd extra fields is still a ping
            continue
        assert reply["code"] and reply["message"], reply
    for blob in (b"\x00\x01\x02", b"\xff" * 100, "张三".encode("gb18030")):
        await ws.send(blob)
        assert (await _next(ws, ("error",)))["code"] == "binary_refused"
    await ws.send(json.dumps({"type": "ping"}))
    assert (await _next(ws, ("pong",)))["type"] == "pong"
    await ws.send(json.dumps({"type": "resume", "last_id": None}))
    sent = await bus.publish(agent_stream("1001"), {"type": "pop.ringing", "call_id": "c-ws", "caller_number": "1"})
    got = await _next(ws, ("event",))
    assert got["id"] == sent
    await ws.close()


async def test_a_frame_over_the_transport_limit_closes_only_that_socket(live, sessions) -> None:  # type: ignore[no-untyped-def]
    victim = await _open(live, sessions["agent"])
    other = await _open(live, sessions["agent2"])
    await victim.send("x" * (70 * 1024))
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(100):
            await asyncio.wait_for(victim.recv(), WAIT)
    assert closed.value.rcvd is None or closed.value.rcvd.code in (1009, 1011, 1006)
    await other.send(json.dumps({"type": "ping"}))
    assert (await _next(other, ("pong",)))["type"] == "pong"
    await other.close()
