"""The simulator against the platform's own IVR (ivr/ over hotline/fastagi/), both over real sockets:
the citizen's key reaches the IVR, the IVR's variables reach app_queue, and a hang-up mid-IVR ends it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pbxsim.config import SimConfig
from pbxsim.simulator import Simulator
from tests.pbxsim.amitool import RawAmi

ivr_app = pytest.importorskip("ivr.app")
fastagi = pytest.importorskip("hotline.fastagi")


@pytest.fixture
async def ivr_url(redis_url: str) -> AsyncIterator[str]:
    services = ivr_app.build_services(redis_url, None)
    server = fastagi.FastAgiServer(ivr_app.build_routes(services), "127.0.0.1", 0)
    await server.start()
    yield f"agi://127.0.0.1:{server.port}/ivr"
    await server.close(grace=1.0)


async def _call(url: str, **citizen: object) -> tuple[RawAmi, Simulator, object]:
    sim = Simulator(SimConfig(ami_port=0, agi_url=url), scale=10)
    await sim.start()
    ami = RawAmi()
    await ami.connect(sim.ami_port)
    sim.add_member("PJSIP/1001", "agent-1001")
    call = await sim.place_call(**citizen)
    await call.wait(30)
    await asyncio.sleep(0.05)
    return ami, sim, call


async def test_complaint_key_tags_the_call_and_it_reaches_an_agent(ivr_url: str) -> None:
    ami, sim, call = await _call(ivr_url, digits="2", digit_delay=0.5, talk_time=3)
    variables = {f["Variable"]: f["Value"] for _, f in ami.events if f.event == "VarSet"}
    assert variables["AGISTATUS"] == "SUCCESS"
    assert variables.get("HOTLINE_CATEGORY") == "complaint"
    assert [f["Digit"] for _, f in ami.events if f.event == "DTMFBegin"] == ["2"]
    assert [f["Reason"] for _, f in ami.events if f.event == "AgentComplete"] == ["caller"]
    assert call.outcome == "answered"  # type: ignore[attr-defined]
    await ami.close()
    await sim.stop()


async def test_hang_up_during_the_greeting(ivr_url: str) -> None:
    ami, sim, call = await _call(ivr_url, digits="", hangup_after=1.0, talk_time=3)
    assert [f["Value"] for _, f in ami.events if f.event == "VarSet" and f["Variable"] == "AGISTATUS"] == ["HANGUP"]
    assert not [f for _, f in ami.events if f.event == "QueueCallerJoin"]
    assert call.outcome == "ivr_hangup"  # type: ignore[attr-defined]
    await ami.close()
    await sim.stop()
