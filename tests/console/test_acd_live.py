"""The console's state buttons end to end: console HTTP routes (acd.resources) → the console's AMI link →
the PBX simulator (real AMI socket) → AMI events → the ACD's tracker → Redis → the console's heartbeats."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
import uvicorn
from pydantic import SecretStr
from websockets.asyncio.client import connect

from acd.service import Acd
from agent_console.app import create_app
from agent_console.users import NewUser, create_user
from hotline.ami.client import AmiClient
from hotline.bus import EventBus
from hotline.redis_server import free_port
from hotline.security import Role
from hotline.settings import Settings
from pbxsim.simulator import Simulator
from tests.acd.conftest import sim_config, until

from .conftest import login
from .server import CHEAP_HASHER, PASSWORD, ConsoleServer, FakeClock


@pytest.fixture
async def wired(redis_async, db_session_factory) -> AsyncIterator[ConsoleServer]:  # type: ignore[no-untyped-def]
    sim = Simulator(sim_config(), scale=20.0)
    await sim.start()
    ami = AmiClient("127.0.0.1", sim.ami_port, "hotline", "hotline-secret", action_timeout=3.0, ping_interval=5.0)
    await ami.connect()
    bus = EventBus(redis_async)
    acd = Acd(ami, bus, session_factory=db_session_factory, tick=0.05)  # the ACD role, as in tests/acd
    await acd.start()
    await acd.resync()
    with db_session_factory() as session:
        create_user(session, NewUser("agent1", Role.agent, PASSWORD, "1001"), CHEAP_HASHER)
    settings = Settings(session_key=SecretStr(uuid.uuid4().hex))
    app = create_app(settings, db_session_factory, bus, ami=ami, password_hasher=CHEAP_HASHER,
                     secure_cookies=False, heartbeat_seconds=0.3, ws_block_ms=100)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    await until(lambda: asyncio.sleep(0, server.started))  # sleep(0, x) returns x: poll the flag
    try:
        yield ConsoleServer(app, f"http://127.0.0.1:{port}", bus.prefix, db_session_factory, FakeClock())
    finally:
        server.should_exit = True
        await serving
        await acd.stop()
        await ami.close()
        await sim.stop()


async def test_state_buttons_drive_the_pbx_and_the_console_shows_the_confirmed_state(wired: ConsoleServer) -> None:
    agent = await login(wired, "agent1")

    async def state() -> tuple[str, str]:
        me = (await agent.client.get("/api/acd/me")).json()
        return me["state"], me["reason"]

    assert await state() == ("logged_out", "")
    resp = await agent.client.post("/api/acd/me/login", headers=agent.headers())  # 签入: QueueAdd
    assert resp.status_code == 200, resp.text
    await until(lambda: _is(state, ("ready", "")))
    resp = await agent.client.post("/api/acd/me/not-ready", json={"reason": "meal"}, headers=agent.headers())
    assert resp.status_code == 200, resp.text  # 示忙（用餐）: QueuePause with the reason's label
    await until(lambda: _is(state, ("not_ready", "用餐")))

    ws = await connect(wired.ws_url, origin=wired.origin, additional_headers={"Cookie": agent.cookie})  # type: ignore[arg-type]
    while (beat := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "heartbeat":
        pass
    assert (beat["agent_state"]["state"], beat["agent_state"]["label"]) == ("not_ready", "示忙")
    await ws.close()

    resp = await agent.client.post("/api/acd/me/ready", headers=agent.headers())  # 示闲: QueuePause false
    assert resp.status_code == 200, resp.text
    await until(lambda: _is(state, ("ready", "")))
    refused = await agent.client.post("/api/acd/me/not-ready", json={"reason": "nap"}, headers=agent.headers())
    assert refused.status_code == 422  # an unknown reason reaches no PBX
    assert await state() == ("ready", "")
    await agent.client.aclose()


async def _is(read, expected) -> bool:  # type: ignore[no-untyped-def]
    return await read() == expected
