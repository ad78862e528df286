from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbxsim.config import SimConfig
from pbxsim.simulator import Simulator
from tests.pbxsim.amitool import RawAmi

SCALE = 50.0


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(SimConfig(ami_port=0, agi_url=None), scale=SCALE)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def ami(sim: Simulator) -> AsyncIterator[RawAmi]:
    client = RawAmi()
    reply = await client.connect(sim.ami_port)
    assert reply["Response"] == "Success"
    yield client
    await client.close()
