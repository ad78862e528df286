"""The bridge role (hotline.runtime) starts the screen-pop consumer: pbxsim → role → pops on agent streams."""

from __future__ import annotations

import asyncio
import contextlib

from bridge.service import run_role
from hotline.bus import EventBus, agent_stream
from hotline.runtime import RoleContext
from hotline.settings import Settings
from pbxsim.config import SimConfig
from pbxsim.simulator import Simulator

from .harness import NUMBER, seed_history, until


async def test_the_bridge_role_publishes_pops(redis_url, redis_async, db_session_factory) -> None:
    seed_history(db_session_factory)
    sim = Simulator(SimConfig(ami_port=0, agi_url=None), scale=10)
    await sim.start()
    sim.add_member("PJSIP/1001", "agent-1001")
    settings = Settings(ami_host="127.0.0.1", ami_port=sim.ami_port, ami_user="hotline", ami_secret="hotline-secret")
    ctx = RoleContext(settings=settings, redis_url=redis_url, _session_factory=db_session_factory)
    bus = EventBus(redis_async)  # the role's default prefix
    role = asyncio.create_task(run_role(ctx))
    try:
        # the consumer groups start at "$": wait until both exist before the call
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
    finally:
        role.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await role
        await ctx.close()
        await sim.stop()
