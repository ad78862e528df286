"""The AMI server over real TCP: banner, login, several clients, and the actions' replies and effects."""

from __future__ import annotations

import asyncio

from pbxsim.config import SeatBehaviour
from pbxsim.simulator import Simulator
from tests.pbxsim.amitool import RawAmi


async def test_banner_and_login_checks_the_secret(sim: Simulator) -> None:
    client = RawAmi()
    reply = await client.connect(sim.ami_port, secret="wrong")
    assert client.banner == "Asterisk Call Manager/11.0.0"
    assert (reply["Response"], reply["Message"]) == ("Error", "Authentication failed")
    (denied,) = await client.send({"Action": "QueueStatus"})
    assert (denied["Response"], denied["Message"]) == ("Error", "Permission denied")
    await client.close()


async def test_every_client_gets_every_event(sim: Simulator) -> None:
    clients = [RawAmi() for _ in range(3)]
    for c in clients:
        await c.connect(sim.ami_port)
    (reply,) = await clients[0].send({"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/1001",
                                      "MemberName": "agent-1001"})
    assert (reply["Response"], reply["Message"]) == ("Success", "Added interface to queue")
    for c in clients:
        added = await c.wait_for(lambda f: f.event == "QueueMemberAdded")
        assert added["MemberName"] == "agent-1001"
    (dup,) = await clients[1].send({"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/1001"})
    assert (dup["Response"], dup["Message"]) == ("Error", "Unable to add interface: Already there")
    for c in clients:
        await c.close()


async def test_events_off_silences_a_client(sim: Simulator, ami: RawAmi) -> None:
    quiet = RawAmi()
    await quiet.connect(sim.ami_port)
    (reply,) = await quiet.send({"Action": "Events", "EventMask": "off"})
    assert reply["Events"] == "Off"
    before = len(quiet.events)
    await ami.send({"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/1002"})
    await ami.wait_for(lambda f: f.event == "QueueMemberAdded")
    (pong,) = await quiet.send({"Action": "Ping"})
    assert pong["Ping"] == "Pong"
    assert len(quiet.events) == before
    await quiet.close()


async def test_bad_input_and_unknown_actions_get_errors_and_the_server_goes_on(sim: Simulator, ami: RawAmi) -> None:
    ami.writer.write(b"this is not a header\r\n\r\n")
    (unknown,) = await ami.send({"Action": "NoSuchThing"})
    assert (unknown["Response"], unknown["Message"]) == ("Error", "Invalid/unknown command")
    (missing,) = await ami.send({"Action": "Hangup", "Channel": "PJSIP/9999-00000000"})
    assert (missing["Response"], missing["Message"]) == ("Error", "No such channel")
    (remove,) = await ami.send({"Action": "QueueRemove", "Queue": "hotline-general", "Interface": "PJSIP/1003"})
    assert (remove["Response"], remove["Message"]) == ("Error", "Unable to remove interface: Not there")
    (rooms,) = await ami.send({"Action": "ConfbridgeListRooms"})
    assert (rooms["Response"], rooms["Message"]) == ("Error", "No active conferences.")
    (ping,) = await ami.send({"Action": "Ping"})
    assert ping["Response"] == "Success"


async def _answered_call(sim: Simulator, ami: RawAmi) -> tuple[str, str]:
    """A citizen connected to agent 1001; returns (citizen channel, agent channel)."""
    await ami.send({"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/1001",
                    "MemberName": "agent-1001"})
    await sim.place_call(caller="13900001", name="张三", talk_time=None)
    connect = await ami.wait_for(lambda f: f.event == "AgentConnect")
    return connect["Channel"], connect["DestChannel"]


async def test_getvar_setvar_status_and_playdtmf(sim: Simulator, ami: RawAmi) -> None:
    citizen, _agent = await _answered_call(sim, ami)
    (setvar,) = await ami.send({"Action": "Setvar", "Channel": citizen, "Variable": "HOTLINE_CATEGORY",
                                "Value": "complaint"})
    assert setvar["Message"] == "Variable Set"
    (getvar,) = await ami.send({"Action": "Getvar", "Channel": citizen, "Variable": "HOTLINE_CATEGORY"})
    assert (getvar["Variable"], getvar["Value"]) == ("HOTLINE_CATEGORY", "complaint")
    status = await ami.send({"Action": "Status", "Channel": citizen})
    assert [f.get("Event") for f in status] == [None, "Status", "StatusComplete"]
    assert status[1]["CallerIDName"] == "张三" and status[1]["Application"] == "Queue"
    (dtmf,) = await ami.send({"Action": "PlayDTMF", "Channel": citizen, "Digit": "5"})
    assert dtmf["Message"] == "DTMF successfully queued"
    sent = await ami.wait_for(lambda f: f.event == "DTMFEnd" and f.get("Direction") == "Sent")
    assert sent["Digit"] == "5"
    listing = await ami.send({"Action": "CoreShowChannels"})
    assert listing[-1]["ListItems"] == "2"


async def test_redirect_without_extrachannel_hangs_up_the_agent(sim: Simulator, ami: RawAmi) -> None:
    citizen, agent = await _answered_call(sim, ami)
    (reply,) = await ami.send({"Action": "Redirect", "Channel": citizen, "Context": "transfer-emergency",
                               "Exten": "110", "Priority": "1"})
    assert reply["Message"] == "Redirect successful"
    await ami.wait_for(lambda f: f.event == "Hangup" and f.get("Channel") == agent)
    enter = await ami.wait_for(lambda f: f.event == "BridgeEnter" and f.get("Channel", "").startswith(
        "PJSIP/emergency-"))
    assert enter["BridgeType"] == "basic"
    await ami.send({"Action": "Hangup", "Channel": citizen})
    complete = await ami.wait_for(lambda f: f.event == "AgentComplete")
    assert complete["Reason"] == "caller" and "DestChannel" not in complete


async def test_blind_transfer_and_atxfer_without_feature_code(sim: Simulator, ami: RawAmi) -> None:
    sim.config.atxfer_code = None
    citizen, agent = await _answered_call(sim, ami)
    (atx,) = await ami.send({"Action": "Atxfer", "Channel": agent, "Exten": "119", "Context": "transfer-emergency"})
    assert (atx["Response"], atx["Message"]) == ("Error", "No attended transfer feature code found")
    (bt,) = await ami.send({"Action": "BlindTransfer", "Channel": agent, "Context": "transfer-emergency",
                            "Exten": "119"})
    assert bt["Message"] == "Transfer succeeded"
    complete = await ami.wait_for(lambda f: f.event == "AgentComplete")
    assert complete["Reason"] == "transfer"
    event = await ami.wait_for(lambda f: f.event == "BlindTransfer")
    assert (event["TransfererChannel"], event["TransfereeChannel"], event["Extension"]) == (agent, citizen, "119")
    await ami.wait_for(lambda f: f.event == "DialEnd" and f.get("DialStatus") == "ANSWER"
                       and f.get("DestChannel", "").startswith("PJSIP/emergency-"))


async def test_threeway_and_confbridge_kick(sim: Simulator, ami: RawAmi) -> None:
    citizen, agent = await _answered_call(sim, ami)
    newchannel = await ami.wait_for(lambda f: f.event == "Newchannel" and f.get("Channel") == citizen)
    room = f"3w-{newchannel['Uniqueid']}"
    (orig,) = await ami.send({"Action": "Originate", "Channel": "PJSIP/2001", "Application": "ConfBridge",
                              "Data": room, "CallerID": "Hotline <12345>", "Async": "true"})
    assert orig["Message"] == "Originate successfully queued"
    response = await ami.wait_for(lambda f: f.event == "OriginateResponse")
    assert (response["Response"], response["Reason"]) == ("Success", "4")
    (redirect,) = await ami.send({"Action": "Redirect", "Channel": citizen, "ExtraChannel": agent,
                                  "Context": "conference", "Exten": room, "Priority": "1",
                                  "ExtraContext": "conference", "ExtraExten": room, "ExtraPriority": "1"})
    assert redirect["Message"] == "Dual Redirect successful"
    await ami.wait_for(lambda f: f.event == "ConfbridgeJoin" and f.get("Channel") == citizen)
    users = await ami.send({"Action": "ConfbridgeList", "Conference": room})
    assert users[-1]["ListItems"] == "3"
    (kick,) = await ami.send({"Action": "ConfbridgeKick", "Conference": room, "Channel": agent})
    assert kick["Message"] == "User kicked"
    complete = await ami.wait_for(lambda f: f.event == "AgentComplete")
    assert complete["Reason"] == "agent"
    rooms = await ami.send({"Action": "ConfbridgeListRooms"})
    assert rooms[1]["Parties"] == "2"
    await ami.send({"Action": "Hangup", "Channel": citizen})
    await asyncio.sleep(0.05)
    rooms = await ami.send({"Action": "ConfbridgeListRooms"})
    assert rooms[1]["Parties"] == "1", "default profiles: the expert stays in the room"


async def test_originate_to_an_unreachable_seat_fails(sim: Simulator, ami: RawAmi) -> None:
    sim.set_seat("2001", SeatBehaviour(reachable=False))
    await ami.send({"Action": "Originate", "Channel": "PJSIP/2001", "Application": "ConfBridge", "Data": "room-x",
                    "Async": "true", "ActionID": "o-1"})
    response = await ami.wait_for(lambda f: f.event == "OriginateResponse", timeout=5)
    assert (response["Response"], response["Reason"], response["ActionID"]) == ("Failure", "3", "o-1")


async def test_ami_hangup_of_a_waiting_caller_is_an_abandon(sim: Simulator, ami: RawAmi) -> None:
    await ami.send({"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/1001", "Paused": "true",
                    "Reason": "training"})
    await sim.place_call(caller="13900002")
    join = await ami.wait_for(lambda f: f.event == "QueueCallerJoin")
    entries = await ami.send({"Action": "QueueStatus"})
    (entry,) = [f for f in entries if f.get("Event") == "QueueEntry"]
    assert (entry["Channel"], entry["Position"], entry["CallerIDNum"]) == (join["Channel"], "1", "13900002")
    summary = await ami.send({"Action": "QueueSummary"})
    assert (summary[1]["LoggedIn"], summary[1]["Available"], summary[1]["Callers"]) == ("1", "0", "1")
    (reply,) = await ami.send({"Action": "Hangup", "Channel": join["Channel"]})
    assert reply["Message"] == "Channel Hungup"
    abandon = await ami.wait_for(lambda f: f.event == "QueueCallerAbandon")
    assert (abandon["Position"], abandon["OriginalPosition"]) == ("1", "1")
    await ami.wait_for(lambda f: f.event == "Hangup" and f.get("Channel") == join["Channel"])
    softs = [f for _, f in ami.events if f.event == "SoftHangupRequest" and f.get("Channel") == join["Channel"]]
    assert len(softs) == 1


async def test_callback_originate_through_the_carrier_joins_the_queue_ahead(sim: Simulator, ami: RawAmi) -> None:
    from hotline.ami.frames import encode_frame
    from pbxsim.citizens import Citizen

    await ami.send({"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/1001", "Paused": "true"})
    await sim.place_call(caller="13900001", talk_time=1)                  # already waiting, priority 0
    await ami.wait_for(lambda f: f.event == "QueueCallerJoin")
    sim.expect_callback("13900077", Citizen(caller="13900077", name="李四", talk_time=1))
    ami.writer.write(encode_frame([
        ("Action", "Originate"), ("Channel", "PJSIP/13900077@carrier"), ("Context", "hotline-callback"),
        ("Exten", "hotline-general"), ("Priority", "1"), ("CallerID", "12345"), ("Timeout", "30000"),
        ("ActionID", "cb-1"), ("Variable", "HOTLINE_CALLBACK_ID=cb-1"), ("Variable", "HOTLINE_PRIORITY=8")]))
    response = await ami.wait_for(lambda f: f.event == "OriginateResponse")
    assert (response["Response"], response["Reason"], response["ActionID"]) == ("Success", "4", "cb-1")
    join = await ami.wait_for(lambda f: f.event == "QueueCallerJoin" and f.get("CallerIDNum") == "13900077")
    assert (join["Position"], join["Count"], join["CallerIDName"]) == ("1", "2", "李四")
    assert join["Channel"].startswith("PJSIP/carrier-")
    await ami.send({"Action": "QueuePause", "Interface": "PJSIP/1001", "Paused": "false"})
    first = await ami.wait_for(lambda f: f.event == "AgentConnect")
    assert first["CallerIDNum"] == "13900077"


async def test_callback_nobody_answers_reason_3(sim: Simulator, ami: RawAmi) -> None:
    from pbxsim.config import SeatBehaviour

    sim.config.callback_behaviour = SeatBehaviour(answer_probability=0.0)
    await ami.send({"Action": "Originate", "Channel": "PJSIP/13900078@carrier", "Context": "hotline-callback",
                    "Exten": "hotline-general", "Priority": "1", "Timeout": "5000", "ActionID": "cb-2"})
    response = await ami.wait_for(lambda f: f.event == "OriginateResponse", timeout=5)
    assert (response["Response"], response["Reason"]) == ("Failure", "3")
    assert not [f for _, f in ami.events if f.event == "QueueCallerJoin"]


async def test_atxfer_with_the_feature_code_consults(sim: Simulator, ami: RawAmi) -> None:
    citizen, agent = await _answered_call(sim, ami)
    (reply,) = await ami.send({"Action": "Atxfer", "Channel": agent, "Context": "from-agents", "Exten": "2001"})
    assert reply["Message"] == "Atxfer successfully queued"
    hold = await ami.wait_for(lambda f: f.event == "MusicOnHoldStart" and f.get("Channel") == citizen)
    assert hold["Class"] == "default"
    await ami.wait_for(lambda f: f.event == "DialEnd" and f.get("Channel") == agent and f["DialStatus"] == "ANSWER")
    await ami.send({"Action": "Hangup", "Channel": agent})
    xfer = await ami.wait_for(lambda f: f.event == "AttendedTransfer")
    assert xfer["TransfereeChannel"] == citizen
    (bad,) = await ami.send({"Action": "Atxfer", "Channel": citizen, "Context": "nowhere", "Exten": "9"})
    assert bad["Response"] == "Error"
