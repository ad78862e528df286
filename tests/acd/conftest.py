"""The ACD over the PBX simulator: a real AMI socket (pbxsim), real Redis, the real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from acd.service import Acd
from hotline.ami.client import AmiClient
from hotline.bus import EventBus
from pbxsim.config import SimConfig
from pbxsim.simulator import Simulator

SCALE = 20.0   # simulated seconds per wall second


def sim_config() -> SimConfig:
    """pbxsim running the queues, queue rules and `[hotline-queue]` dialplan that asterisk_config renders from
    acd/skills.yaml (the same single source of truth)."""
    return SimConfig.from_platform(ami_port=0, agi_url=None)


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 5.0) -> Any:
    """Poll `check` until it returns something truthy (wall seconds)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        await asyncio.sleep(0.02)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(sim_config(), scale=SCALE)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def ami(sim: Simulator) -> AsyncIterator[AmiClient]:
    client = AmiClient("127.0.0.1", sim.ami_port, "hotline", "hotline-secret", action_timeout=3.0, ping_interval=5.0)
    await client.connect()
    yield client
    # a listener that swallowed the dispatcher's cancellation must not hold the test run (reported)
    closing = asyncio.ensure_future(client.close())
    await asyncio.wait([closing], timeout=3.0)


@pytest.fixture
def bus(redis_async) -> EventBus:  # type: ignore[no-untyped-def]
    return EventBus(redis_async)


AcdFactory = Callable[..., Awaitable[Acd]]


@pytest.fixture
async def make_acd(ami: AmiClient, bus: EventBus, db_session_factory) -> AsyncIterator[AcdFactory]:  # type: ignore[no-untyped-def]
    """Start an ACD (as the `acd` role does); call again after `stop()` to restart it on the same Redis."""
    started: list[Acd] = []

    async def factory(**kw: Any) -> Acd:
        kw.setdefault("tick", 0.05)
        service = Acd(ami, bus, session_factory=db_session_factory, **kw)
        await service.start()
        await service.resync()
        started.append(service)
        return service

    yield factory
    for service in started:
        await service.stop()


@pytest.fixture
async def acd(make_acd: AcdFactory) -> Acd:
    return await make_acd()
