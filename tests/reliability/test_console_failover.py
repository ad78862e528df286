"""Fault (d): a console process is killed (-9) while agents are connected.

Two real console processes (`python -m agent_console`) on two ports against the same Redis and database,
as behind a load balancer. The agent's socket on the killed one drops; the page reconnects to the other
with the last stream id it saw and gets every pop published in between, once, in order."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from agent_console.users import NewUser, create_user
from hotline.bus import EventBus, agent_stream
from hotline.redis_server import free_port
from hotline.security import Role
from tests.console.server import CHEAP_HASHER, PASSWORD

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10


class ConsoleProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "agent_console"], cwd=ROOT,
                                        env={**env, "HOTLINE_CONSOLE_PORT": str(self.port)},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/login", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("console did not come up")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def consoles(redis_url: str, db_url: str, db_session_factory, redis_sync) -> Iterator[list[ConsoleProcess]]:  # type: ignore[no-untyped-def]
    with db_session_factory() as session:
        create_user(session, NewUser("agent1", Role.agent, PASSWORD, "1001"), CHEAP_HASHER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"REDIS_URL": redis_url, "DATABASE_URL": db_url, "HOTLINE_SESSION_KEY": "failover-test-key-0123456789",
                "HOTLINE_AMI_SECRET": "not-used", "HOTLINE_AMI_PORT": str(free_port()),
                "HOTLINE_CONSOLE_HOST": "127.0.0.1"})
    procs = [ConsoleProcess(env), ConsoleProcess(env)]
    try:
        for proc in procs:
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.stop()


async def _login(base: str) -> str:
    async with httpx.AsyncClient(base_url=base) as client:
        resp = await client.post("/login", data={"username": "agent1", "password": PASSWORD},
                                 headers={"Origin": base})
        assert resp.status_code == 303, resp.text
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


async def _events(ws, n: int) -> list[dict]:  # type: ignore[no-untyped-def]
    out: list[dict] = []
    while len(out) < n:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if message["type"] == "event":
            out.append(message)
    return out


async def test_killed_console_agent_reconnects_to_the_other_and_misses_nothing(consoles, redis_url) -> None:  # type: ignore[no-untyped-def]
    first, second = consoles
    bus = EventBus.from_url(redis_url)
    try:
        cookie = await _login(first.url)
        ws_url = "ws" + first.url[4:] + "/ws"
        ws = await connect(ws_url, origin=first.url, additional_headers={"Cookie": cookie}, open_timeout=WAIT)  # type: ignore[arg-type]
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "welcome"
        await ws.send(json.dumps({"type": "resume", "last_id": await bus.last_id(agent_stream("1001"))}))
        await asyncio.sleep(0.3)
        await bus.publish(agent_stream("1001"), {"type": "pop.ringing", "call_id": "c-1", "caller_number": "139001"})
        [seen] = await _events(ws, 1)
        assert seen["event"]["call_id"] == "c-1"
        first.kill()
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), WAIT)
        # while the agent has no console: the call is answered and a second one rings
        missed = [await bus.publish(agent_stream("1001"), {"type": kind, "call_id": cid, "caller_number": "139001"})
                  for kind, cid in (("pop.answered", "c-1"), ("pop.hangup", "c-1"), ("pop.ringing", "c-2"))]
        # the page reconnects to the surviving console with the same cookie: sessions live in Redis
        ws2 = await connect("ws" + second.url[4:] + "/ws", origin=second.url,  # type: ignore[arg-type]
                            additional_headers={"Cookie": cookie}, open_timeout=WAIT)
        assert json.loads(await asyncio.wait_for(ws2.recv(), WAIT))["type"] == "welcome"
        await ws2.send(json.dumps({"type": "resume", "last_id": seen["id"]}))
        got = await _events(ws2, 3)
        assert [m["id"] for m in got] == missed
        assert [(m["event"]["type"], m["event"]["call_id"]) for m in got] == [
            ("pop.answered", "c-1"), ("pop.hangup", "c-1"), ("pop.ringing", "c-2")]
        live = await bus.publish(agent_stream("1001"), {"type": "pop.answered", "call_id": "c-2"})
        assert [m["id"] for m in await _events(ws2, 1)] == [live]
        await ws2.close()
    finally:
        await bus.redis.aclose()
