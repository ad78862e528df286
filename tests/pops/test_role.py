"""The bridge and pops roles (hotline.runtime): pbxsim → bridge role → `calls` → pops role → agent streams.
The bridge holds no database: its context's database cannot even be opened."""

from __future__ import annotations

import asyncio
import contextlib

from bridge.pops.bus_consumer import run_role as run_pops
from bridge.service import run_role as run_bridge
from hotline.bus import EventBus, agent_stream
from hotline.runtime import ROLES, RoleContext
from hotline.settings import Settings
from pbxsim.config import SimConfig
from pbxsim.simulator import Simulator

from .harness import NUMBER, seed_history, until


async def test_the_bridge_and_pops_roles_publish_pops(redis_url, redis_async, db_session_factory, tmp_path) -> None:
    seed_history(db_session_factory)
    sim = Simulator(SimConfig(ami_port=0, agi_url=None), scale=10)
    await sim.start()
    sim.add_member("PJSIP/1001", "agent-1001")
    settings = Settings(ami_host="127.0.0.1", ami_port=sim.ami_port, ami_user="hotline", ami_secret="hotline-secret",
                        database_url=f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    bridge_ctx = RoleContext(settings=settings, redis_url=redis_url)  # its database is unreachable
    pops_ctx = RoleContext(settings=settings, redis_url=redis_url, _session_factory=db_session_factory)
    bus = EventBus(redis_async)  # the roles' default prefix
    roles = [asyncio.create_task(run_bridge(bridge_ctx)), asyncio.create_task(run_pops(pops_ctx))]
    try:
        # the consumer groups (pops, controls) start at "$": wait until both exist before the call
        async def groups() -> bool:
            with contextlib.suppress(Exception):
                return len(await redis_async.xinfo_groups(bus.key("calls"))) == 2
            return False

        await until(groups, timeout=30)
        call = await sim.place_call(caller=NUMBER, ivr_vars={"HOTLINE_CATEGORY": "complaint"}, talk_time=1)
        await call.wait(10)

        async def pops() -> list[str]:
            types = [e["type"] for _id, e in await bus.read_since(agent_stream("1001"))]
            return types if "pop.hangup" in types else []

        assert await until(pops, timeout=10) == ["pop.ringing", "pop.answered", "pop.hangup"]
        ringing = (await bus.read_since(agent_stream("1001")))[0][1]
        assert ringing["history"]["repeat_caller"] is True and ringing["kb_hits"]
        popped = [fields.get("popped") for _id, fields in await redis_async.xrange(bus.key("calls"))]
        assert "pop.ringing" in popped  # published by the bridge, from the pops role's read-ahead
    finally:
        for role in roles:
            role.cancel()
        for role in roles:
            with contextlib.suppress(asyncio.CancelledError):
                await role
        await bridge_ctx.close()
        await pops_ctx.close()
        await sim.stop()
    assert "pops" in ROLES and bridge_ctx._session_factory is None  # the bridge never opened a database
