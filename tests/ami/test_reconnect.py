"""Dead peers, Asterisk restarts, back-off and the resynchronisation after every login (real TCP)."""

from __future__ import annotations

import asyncio

import pytest

from hotline.ami.client import Resync
from hotline.ami.frames import Frame
from tests.ami.ami_script_server import ScriptServer, recorded_actions

AID = ""  # the server puts the request's ActionID in


def _recorded_reply(action: str, **params: str) -> list[dict[str, str]]:
    for record in recorded_actions():
        sent = record["action"]
        if sent["Action"] == action and all(sent.get(k) == v for k, v in params.items()):
            return record["response"]
    raise LookupError(action)


QUEUE_STATUS_AFTER_RESTART = [
    {"Response": "Success", "ActionID": AID, "EventList": "start", "Message": "Queue status will follow"},
    *[f for f in _recorded_reply("QueueStatus", Queue="hotline-general") if f.get("Event") == "QueueParams"],
    {"Event": "QueueMember", "Queue": "hotline-general", "Name": "agent-1002", "Location": "PJSIP/1002",
     "StateInterface": "PJSIP/1002", "Membership": "dynamic", "Penalty": "0", "CallsTaken": "0", "LastCall": "0",
     "LastPause": "0", "LoginTime": "1795264999", "InCall": "0", "Status": "1", "Paused": "1",
     "PausedReason": "lunch", "Wrapuptime": "0", "ActionID": AID},
    # Field order as app_queue's manager_queues_status writes a waiting caller.
    {"Event": "QueueEntry", "Queue": "hotline-general", "Position": "1", "Channel": "PJSIP/carrier-00000020",
     "Uniqueid": "1795265000.32", "CallerIDNum": "13900002", "CallerIDName": "张三", "ConnectedLineNum": "<unknown>",
     "ConnectedLineName": "<unknown>", "Wait": "7", "Priority": "0", "ActionID": AID},
    {"Event": "QueueStatusComplete", "ActionID": AID, "EventList": "Complete", "ListItems": "3"},
]
NO_CHANNELS = [
    {"Response": "Success", "ActionID": AID, "EventList": "start", "Message": "Channels will follow"},
    {"Event": "CoreShowChannelsComplete", "ActionID": AID, "EventList": "Complete", "ListItems": "0"},
]


async def test_dead_peer_detected_by_ping_then_reconnect(server: ScriptServer, make_client) -> None:
    client, recorder = await make_client(ping_interval=0.1, ping_timeout=0.3)
    assert recorder.states == [True]
    server.freeze()  # the socket stays open, nothing is answered any more
    await recorder.wait_for(lambda: recorder.states == [True, False, True])
    assert client.logins == 2 and server.logins == 2
    first, second = recorder.resyncs
    assert not first.reconnect and second.reconnect
    reply = await client.send_action({"Action": "QueueSummary"})
    assert isinstance(reply, list) and reply[-1].event == "QueueSummaryComplete"
    # Pings went unanswered on the frozen connection: that is what took it down.
    assert any(f.get("Action") == "Ping" for f in server.received)


async def test_restart_reconnects_and_resyncs_with_the_new_state(server: ScriptServer, make_client) -> None:
    client, recorder = await make_client(ping_interval=5.0)
    (before,) = recorder.resyncs
    assert [m.interface for m in before.members] == ["PJSIP/1001"] and len(before.channels) == 2

    await server.stop()
    await recorder.wait_for(lambda: recorder.states == [True, False])
    assert not client.connected
    await asyncio.sleep(0.3)  # a few refused connection attempts while "Asterisk" is down
    server.set_reply("QueueStatus", QUEUE_STATUS_AFTER_RESTART)
    server.set_reply("CoreShowChannels", NO_CHANNELS)
    await server.start()

    await recorder.wait_for(lambda: len(recorder.resyncs) == 2)
    after = recorder.resyncs[1]
    assert isinstance(after, Resync) and after.reconnect
    assert [(m.interface, m.member_name, m.paused, m.paused_reason, m.in_call) for m in after.members] == [
        ("PJSIP/1002", "agent-1002", True, "lunch", False)]
    assert [(c.channel, c.caller_id_name, c.position, c.wait) for c in after.callers] == [
        ("PJSIP/carrier-00000020", "张三", 1, 7)]
    assert after.channels == []
    assert [q.queue for q in after.queues] == ["hotline-general"]
    await recorder.wait_for(lambda: recorder.states == [True, False, True])
    assert isinstance(await client.send_action({"Action": "Ping"}), Frame)


async def test_client_started_before_asterisk_connects_when_it_comes_up(make_client) -> None:
    async with ScriptServer() as srv:
        port = srv.port  # a port nothing listens on once this block ends
    late = ScriptServer(port=port)
    from hotline.ami.client import AmiClient

    client = AmiClient("127.0.0.1", port, late.username, late.secret, action_timeout=2.0, backoff_max=0.2)
    try:
        await client.connect(wait=False)
        await asyncio.sleep(0.3)
        assert not client.connected and isinstance(client.last_error, OSError)
        await late.start()
        await client.connect(timeout=3.0)  # returns once logged in and resynchronised
        assert client.connected and client.logins == 1
    finally:
        await client.close()
        await late.stop()


@pytest.mark.parametrize("failure", ["no reply", "error"])
async def test_resync_failure_drops_the_link_and_retries(server: ScriptServer, make_client, failure: str) -> None:
    if failure == "no reply":
        server.silent.add("coreshowchannels")
    else:  # Asterisk still booting: app_queue not loaded
        server.set_reply("QueueStatus", [{"Response": "Error", "ActionID": "", "Message": "Invalid/unknown command"}])
    client, recorder = await make_client(connect=False, action_timeout=0.3)
    await client.connect(wait=False)
    await server.wait_logins(2)  # logged in, resync failed, reconnected and logged in again
    assert not client.connected and recorder.resyncs == []
    server.silent.clear()
    server.overrides.clear()
    await recorder.wait_for(lambda: len(recorder.resyncs) == 1)
    assert client.connected and recorder.states == [True]
