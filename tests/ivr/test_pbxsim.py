"""The IVR against the PBX simulator (pbxsim/), which plays Asterisk's side of FastAGI and reports what
happened as AMI events: the variables the dialplan sees and every command's result."""

from __future__ import annotations

import asyncio

import pytest

from hotline.fastagi import FastAgiServer
from ivr.app import build_routes

simulator = pytest.importorskip("pbxsim.simulator")
config = pytest.importorskip("pbxsim.config")
amitool = pytest.importorskip("tests.pbxsim.amitool")


async def test_calls_through_the_simulator(services) -> None:  # type: ignore[no-untyped-def]
    async with FastAgiServer(build_routes(services), port=0) as server:
        sim = simulator.Simulator(config.SimConfig(ami_port=0, agi_url=f"agi://127.0.0.1:{server.port}/ivr"),
                                  scale=50.0)
        await sim.start()
        ami = amitool.RawAmi()
        await ami.connect(sim.ami_port)
        sim.add_member("PJSIP/1001", "agent-1001")
        try:
            for digits in ("2", "", "911"):
                call = await sim.place_call(talk_time=1, digits=digits, name="张三")
                await call.wait(20)
            await asyncio.sleep(0.1)
        finally:
            await ami.close()
            await sim.stop()
    varsets: dict[str, dict[str, str]] = {}
    for _, frame in ami.events:
        if frame.event == "VarSet" and frame["Variable"].startswith("HOTLINE_"):
            varsets.setdefault(frame["Channel"], {})[frame["Variable"]] = frame["Value"]
        if frame.event == "AGIExecEnd":
            assert frame["ResultCode"] == "200", (frame["Command"], frame["Result"])
    first, second, third = (varsets[channel] for channel in sorted(varsets))
    assert first["HOTLINE_CATEGORY"] == "complaint" and first["HOTLINE_IVR_PATH"] == "welcome>complaint>queue"
    assert second["HOTLINE_IVR_PATH"] == "welcome>queue" and "HOTLINE_CATEGORY" not in second
    assert third["HOTLINE_EMERGENCY"] == "110"
    assert server.stats.completed == 3 and server.stats.errors == 0
