"""The whole live path with the real producers: pbxsim over a real AMI socket → the bridge (call events on
`calls`) and the ACD (agent states on `acd`) → the metrics role. The event shapes the engine reads are the
ones the bridge and the ACD really publish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from acd.service import Acd
from acd.state import AgentState as S
from bridge.service import BridgeService
from hotline.ami.client import AmiClient
from hotline.bus import EventBus
from hotline.settings import Settings
from metrics.service import MetricsService, engine_for
from pbxsim.citizens import Citizen
from pbxsim.simulator import Simulator
from tests.acd.conftest import sim_config, until


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(sim_config(), scale=20.0)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def ami(sim: Simulator) -> AsyncIterator[AmiClient]:
    client = AmiClient("127.0.0.1", sim.ami_port, "hotline", "hotline-secret", action_timeout=3.0, ping_interval=5.0)
    await client.connect()
    yield client
    await client.close()


async def test_agents_and_calls_from_the_real_producers(sim: Simulator, ami: AmiClient, redis_async,  # type: ignore[no-untyped-def]
                                                        db_session_factory) -> None:
    bus = EventBus(redis_async)   # the ACD keeps its agents under fixed keys: the default prefix, flushed Redis
    acd = Acd(ami, bus, session_factory=db_session_factory, tick=0.05)
    bridge = BridgeService(ami, bus, clock=sim.clock.now)
    metrics = MetricsService(bus, engine_for(Settings()), persist_interval=0.05, block_ms=50, clock=sim.clock.now)
    metrics.on_link_state(ami.connected)
    ami.add_state_listener(metrics.on_link_state)
    await acd.start()
    await acd.resync()
    await bridge.start()
    await metrics.start()
    engine = metrics.engine
    try:
        for seat in ("1001", "1002", "2001"):
            await acd.agents.login(seat)

        async def states() -> dict[str, str]:
            return {a: v.state for a, v in engine.agents.items()}

        await until(lambda: _eq(states(), {"1001": "ready", "1002": "ready", "2001": "ready"}), timeout=10)
        await acd.agents.not_ready("1002", "meal")
        await until(lambda: _eq(states(), {"1001": "ready", "1002": "not_ready", "2001": "ready"}), timeout=10)
        assert engine.paused_by_reason() == {"用餐": 1}   # the ACD's Chinese reason, as the ACD stored it
        assert engine.agents_by_state() == {("agent", "ready"): 1, ("agent", "not_ready"): 1,
                                            ("expert", "ready"): 1}

        # one call into the general queue: 1001 (penalty 0, ready) takes it, talks 4 s, then 话后整理
        call = await sim.place_call(Citizen(caller="13900000001", ivr_vars={"HOTLINE_QUEUE": "hotline-general"},
                                            ivr_seconds=0.1, talk_time=4.0))
        await asyncio.wait_for(call.wait(), 15)

        async def counted() -> bool:
            fig = engine.today.get("hotline-general")
            return fig is not None and fig.talk_count == 1 and engine.agents["1001"].state == "wrap_up"

        await until(counted, timeout=10)
        fig = engine.today["hotline-general"]
        assert (fig.offered, fig.answered, fig.abandoned) == (1, 1, 0)
        assert fig.answer_rate == 1.0 and fig.answered_in_sl == 1
        assert engine.skill_of("hotline-general") == "general"
        await acd.agents.ready("1001")                   # 话后整理 done: after-call work is measured
        await until(lambda: _eq(states(), {"1001": "ready", "1002": "not_ready", "2001": "ready"}), timeout=10)
        assert engine.acw_today["agent"][0] == 1 and engine.acw_today["agent"][1] > 0

        # the engine's view equals the ACD's own store, seat by seat
        for agent in await acd.tracker.store.all():
            if agent.state != S.logged_out:
                assert engine.agents[agent.agent_id].state == agent.state.value
                assert engine.agents[agent.agent_id].reason == agent.reason
        assert metrics.external.ami_link_up == 1.0
    finally:
        await metrics.stop()
        await bridge.stop()
        await acd.stop()


async def _eq(got, expected) -> bool:  # type: ignore[no-untyped-def]
    return await got == expected
