"""Asterisk's side of FastAGI against a scripted IVR over real sockets."""

from __future__ import annotations

import asyncio
import socket

from pbxsim.config import SimConfig
from pbxsim.simulator import Simulator
from tests.pbxsim.amitool import RawAmi
from tests.pbxsim.ivr_responder import ScriptedIvr

SCALE = 50.0


async def _run(commands: list[str], **citizen: object) -> tuple[ScriptedIvr, RawAmi, Simulator, object]:
    ivr = ScriptedIvr(commands)
    await ivr.start()
    sim = Simulator(SimConfig(ami_port=0, agi_url=ivr.url), scale=SCALE)
    await sim.start()
    ami = RawAmi()
    await ami.connect(sim.ami_port)
    sim.add_member("PJSIP/1001", "agent-1001")
    call = await sim.place_call(talk_time=2, **citizen)
    await call.wait(10)
    await asyncio.sleep(0.05)
    return ivr, ami, sim, call


async def _close(ivr: ScriptedIvr, ami: RawAmi, sim: Simulator) -> None:
    await ami.close()
    await sim.stop()
    await ivr.stop()


async def test_commands_get_asterisk_replies_and_digits_come_from_the_citizen() -> None:
    commands = ["ANSWER", "STREAM FILE welcome 0123456789", "WAIT FOR DIGIT 3000", "GET DATA menu 3000 2",
                "GET VARIABLE NOT_SET", "GET VARIABLE CALLERID(name)", "SET VARIABLE HOTLINE_PRIORITY 3",
                "FROBNICATE", "GET DATA beep 2000 1"]
    ivr, ami, sim, _ = await _run(commands, digits="1234", name="张三")
    replies = dict(ivr.sessions[0].exchange)
    assert replies["ANSWER"] == "200 result=0"
    assert replies["STREAM FILE welcome 0123456789"].startswith(f"200 result={ord('1')} endpos=")
    assert replies["WAIT FOR DIGIT 3000"] == f"200 result={ord('2')}"
    assert replies["GET DATA menu 3000 2"] == "200 result=34"
    assert replies["GET VARIABLE NOT_SET"] == "200 result=0"
    assert replies["GET VARIABLE CALLERID(name)"] == "200 result=1 (张三)"
    assert replies["FROBNICATE"] == "510 Invalid or unknown command"
    assert replies["GET DATA beep 2000 1"] == "200 result= (timeout)"
    assert ivr.sessions[0].env["agi_calleridname"] == "张三"
    digits = [f["Digit"] for _, f in ami.events if f.event == "DTMFBegin"]
    assert digits == ["1", "2", "3", "4"]
    assert [f["Value"] for _, f in ami.events if f.event == "VarSet" and f["Variable"] == "QUEUE_PRIO"] == ["3"]
    starts = [f["Command"] for _, f in ami.events if f.event == "AGIExecStart"]
    assert starts == commands
    await _close(ivr, ami, sim)


async def test_citizen_hangs_up_mid_ivr_the_ivr_gets_hangup_then_511() -> None:
    commands = ["ANSWER", "STREAM FILE hello-world \"\"", "GET DATA beep 4000 1", "VERBOSE bye 1"]
    ivr, ami, sim, call = await _run(commands, digits="2", hangup_at_step=3)
    log = ivr.sessions[0]
    assert log.got_hangup
    assert log.exchange[2][1].startswith("511") and log.exchange[3][1].startswith("511")
    assert [f["Value"] for _, f in ami.events if f.event == "VarSet" and f["Variable"] == "AGISTATUS"] == ["HANGUP"]
    assert not [f for _, f in ami.events if f.event == "QueueCallerJoin"]
    assert call.outcome == "ivr_hangup"  # type: ignore[attr-defined]
    await _close(ivr, ami, sim)


async def test_unreachable_ivr_gives_failure_and_the_call_goes_on_to_the_queue() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]        # nothing listens there once closed
    sim = Simulator(SimConfig(ami_port=0, agi_url=f"agi://127.0.0.1:{port}/ivr"), scale=SCALE)
    await sim.start()
    ami = RawAmi()
    await ami.connect(sim.ami_port)
    sim.add_member("PJSIP/1001", "agent-1001")
    call = await sim.place_call(talk_time=1)
    await call.wait(10)
    await asyncio.sleep(0.05)
    assert [f["Value"] for _, f in ami.events if f.event == "VarSet" and f["Variable"] == "AGISTATUS"] == ["FAILURE"]
    assert [f["Reason"] for _, f in ami.events if f.event == "AgentComplete"] == ["caller"]
    await ami.close()
    await sim.stop()


async def test_ivr_variables_route_the_call_to_a_skill_queue() -> None:
    from pbxsim.config import QueueConfig

    ivr = ScriptedIvr(["SET VARIABLE HOTLINE_QUEUE \"skill-tax\"", "SET VARIABLE HOTLINE_PRIORITY \"7\""])
    await ivr.start()
    sim = Simulator(SimConfig(ami_port=0, agi_url=ivr.url, queues=[QueueConfig(), QueueConfig(name="skill-tax")]),
                    scale=SCALE)
    await sim.start()
    ami = RawAmi()
    await ami.connect(sim.ami_port)
    sim.add_member("PJSIP/1002", "agent-1002", queue="skill-tax")
    call = await sim.place_call(talk_time=1)
    await call.wait(10)
    await asyncio.sleep(0.05)
    (join,) = [f for _, f in ami.events if f.event == "QueueCallerJoin"]
    assert join["Queue"] == "skill-tax"
    (newexten,) = [f for _, f in ami.events if f.event == "Newexten" and f["Application"] == "Set"]
    assert newexten["AppData"] == "QUEUE_PRIO=7"
    assert [f["MemberName"] for _, f in ami.events if f.event == "AgentConnect"] == ["agent-1002"]
    await ami.close()
    await sim.stop()
    await ivr.stop()


async def test_redirect_during_the_ivr_ends_agi_and_the_citizen_reaches_110() -> None:
    ivr = ScriptedIvr(["ANSWER", "WAIT FOR DIGIT -1", "VERBOSE never 1"])
    await ivr.start()
    sim = Simulator(SimConfig(ami_port=0, agi_url=ivr.url), scale=SCALE)
    await sim.start()
    ami = RawAmi()
    await ami.connect(sim.ami_port)
    call = await sim.place_call(talk_time=None, hangup_after=20)
    start = await ami.wait_for(lambda f: f.event == "AGIExecStart" and f["Command"] == "WAIT FOR DIGIT -1")
    (reply,) = await ami.send({"Action": "Redirect", "Channel": start["Channel"], "Context": "transfer-emergency",
                               "Exten": "110", "Priority": "1"})
    assert reply["Message"] == "Redirect successful"
    await ami.wait_for(lambda f: f.event == "BridgeEnter" and f.get("Channel") == start["Channel"])
    await call.wait(10)
    await asyncio.sleep(0.05)
    assert ivr.sessions[0].got_hangup
    assert ivr.sessions[0].exchange[1] == ("WAIT FOR DIGIT -1", "200 result=-1")
    assert not [f for _, f in ami.events if f.event == "QueueCallerJoin"]
    await ami.close()
    await sim.stop()
    await ivr.stop()
