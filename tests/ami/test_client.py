"""AmiClient over real TCP against the scripted server: reply shapes, Async, UTF-8, timeouts, errors."""

from __future__ import annotations

import asyncio

import pytest

from hotline.ami import events as ev
from hotline.ami.actions import LIST_ACTIONS
from hotline.ami.client import (
    AmiActionError,
    AmiActionTimeout,
    AmiClient,
    AmiConnectionLost,
    AmiLoginError,
    AmiNotConnected,
    Resync,
)
from hotline.ami.frames import Frame, encode_frame
from hotline.traces import load_ami
from tests.ami.ami_script_server import ScriptServer, recorded_actions

RECORDED = recorded_actions()


def _without_id(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "ActionID"}


async def test_every_recorded_action_gets_its_recorded_reply_shape(server: ScriptServer, make_client) -> None:
    client, _ = await make_client()
    for record in RECORDED:
        action = {k: v for k, v in record["action"].items() if k not in ("ActionID", "Async")}
        server.set_reply(action["Action"], record["response"])  # the same action got Error and Success replies
        reply = await client.send_action(action, check=False)
        expected = [_without_id(f) for f in record["response"]]
        if record["action"]["Action"].lower() in LIST_ACTIONS:
            assert isinstance(reply, list), action
            assert [_without_id(f.headers) for f in reply] == expected
            assert reply[-1].event is not None and reply[-1].event.endswith("Complete")
        else:
            assert isinstance(reply, Frame), action
            assert [_without_id(reply.headers)] == expected
        (reply_id,) = reply_ids(reply)
        (sent,) = [f for f in server.received if f.action_id == reply_id]
        assert sent.get("Action") == action["Action"]
    assert client.connected and client.logins == 1  # nothing above cost the connection


def reply_ids(reply: Frame | list[Frame]) -> set[str | None]:
    return {f.action_id for f in (reply if isinstance(reply, list) else [reply])}


async def test_queue_add_is_a_single_reply(make_client) -> None:
    """panoramisk 1.4 waits forever here: "Added interface to queue" looks like a list start to it."""
    client, _ = await make_client()
    reply = await client.send_action({"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/1001",
                                      "MemberName": "agent-1001"})
    assert isinstance(reply, Frame) and reply.get("Message") == "Added interface to queue"


@pytest.mark.parametrize("action", [
    {"Action": "Originate", "Channel": "PJSIP/2001", "Application": "ConfBridge", "Data": "3w-1"},
    {"Action": "Originate", "Channel": "PJSIP/2001", "Application": "ConfBridge", "Data": "3w-1", "Async": "false"},
    {"Action": "PlayDTMF", "Channel": "PJSIP/carrier-00000001", "Digit": "1"},
])
async def test_async_is_always_sent(server: ScriptServer, make_client, action: dict[str, str]) -> None:
    message = "Originate successfully queued" if action["Action"] == "Originate" else "DTMF successfully queued"
    server.set_reply(action["Action"], [{"Response": "Success", "ActionID": "", "Message": message}])
    client, _ = await make_client()
    reply = await client.send_action(action)
    assert isinstance(reply, Frame) and reply.get("Message", "").endswith("successfully queued")
    sent = server.received[-1]
    assert sent.getall("Async") == ["true"]
    assert sent.get("Action") == action["Action"] and sent.get("Channel") == action["Channel"]
    assert isinstance(await client.send_action({"Action": "Ping"}), Frame)  # the connection survived


async def test_originate_response_event_reaches_listeners(server: ScriptServer, make_client) -> None:
    client, recorder = await make_client()
    reply = await client.send_action({"Action": "Originate", "Channel": "PJSIP/2001", "Application": "ConfBridge",
                                      "Data": "3w-1795264592.15", "CallerID": "Hotline <12345>",
                                      "ActionID": "orig-expert"})
    assert isinstance(reply, Frame) and reply.action_id == "orig-expert"
    raw = next(tf.raw for tf in load_ami("threeway")[1] if tf.frame.event == "OriginateResponse")
    await server.send_raw([raw.encode()])
    await recorder.wait_for(lambda: bool(recorder.events("OriginateResponse")))
    (event,) = recorder.events("OriginateResponse")
    assert isinstance(event, ev.OriginateResponse) and event.action_id == "orig-expert"
    assert event.response == "Success" and event.reason == 4


async def test_utf8_split_at_every_byte_offset(server: ScriptServer, make_client) -> None:
    raw = next(tf.raw for tf in load_ami("utf8")[1]
               if tf.frame.event == "Newchannel" and tf.frame.get("CallerIDName") == "张三").encode("utf-8")
    client, recorder = await make_client()
    for offset in range(1, len(raw)):
        await server.send_raw([raw[:offset], raw[offset:]], pause=0.002)
    await recorder.wait_for(lambda: len(recorder.events("Newchannel")) == len(raw) - 1)
    names = [e.caller_id_name for e in recorder.events("Newchannel") if isinstance(e, ev.Newchannel)]
    assert names == ["张三"] * (len(raw) - 1)
    assert client.malformed_frames == 0


async def test_action_timeout(server: ScriptServer, make_client) -> None:
    server.silent.add("getvar")
    client, _ = await make_client()
    with pytest.raises(AmiActionTimeout) as caught:
        await client.send_action({"Action": "Getvar", "Channel": "PJSIP/x", "Variable": "A"}, timeout=0.2)
    assert caught.value.timeout == 0.2 and caught.value.action["Action"] == "Getvar"
    assert "Getvar" in str(caught.value)
    # The link is still fine for everything else.
    reply = await client.send_action({"Action": "QueueSummary"})
    assert isinstance(reply, list) and reply[-1].event == "QueueSummaryComplete"


async def test_error_response_raises_or_is_returned(make_client) -> None:
    client, _ = await make_client()
    remove = {"Action": "QueueRemove", "Queue": "hotline-general", "Interface": "PJSIP/1002"}
    with pytest.raises(AmiActionError) as caught:
        await client.send_action(remove)
    assert caught.value.message == "Unable to remove interface: Not there"
    assert caught.value.frame.response == "Error"
    reply = await client.send_action(remove, check=False)
    assert isinstance(reply, Frame) and reply.response == "Error"
    with pytest.raises(AmiActionError, match="Invalid/unknown command"):
        await client.send_action({"Action": "NoSuchThing"})


async def test_list_action_error_is_returned_as_a_list(server: ScriptServer, make_client) -> None:
    server.set_reply("ConfbridgeList", [{"Response": "Error", "ActionID": "", "Message": "No active conferences."}])
    client, _ = await make_client()
    reply = await client.send_action({"Action": "ConfbridgeList", "Conference": "nope"}, check=False)
    assert isinstance(reply, list) and reply[0].get("Message") == "No active conferences."
    with pytest.raises(AmiActionError):
        await client.send_action({"Action": "ConfbridgeList", "Conference": "nope"})


async def test_line_break_in_a_value_is_refused_and_nothing_sent(server: ScriptServer, make_client) -> None:
    client, _ = await make_client()
    before = len(server.received)
    with pytest.raises(ValueError, match="line break"):
        await client.send_action({"Action": "Setvar", "Channel": "PJSIP/x", "Variable": "A",
                                  "Value": "1\r\nAction: Hangup"})
    await client.send_action({"Action": "Ping"})
    assert [f.get("Action") for f in server.received[before:]] == ["Ping"]


async def test_wrong_secret(server: ScriptServer) -> None:
    client = AmiClient("127.0.0.1", server.port, server.username, "wrong", action_timeout=0.5)
    try:
        with pytest.raises(AmiNotConnected, match="Authentication failed"):
            await client.connect()
        assert isinstance(client.last_error, AmiLoginError)
        assert "wrong" not in str(client.last_error.action)  # the secret is never kept on the error
    finally:
        await client.close()


async def test_not_connected_when_nothing_listens() -> None:
    async with ScriptServer() as srv:
        port = srv.port
    client = AmiClient("127.0.0.1", port, "hotline", "s3cret", action_timeout=0.3)
    try:
        await client.connect(wait=False)
        with pytest.raises(AmiNotConnected):
            await client.send_action({"Action": "Ping"})
        assert isinstance(client.last_error, OSError)
    finally:
        await client.close()


async def test_pending_action_fails_when_the_connection_drops(server: ScriptServer, make_client) -> None:
    server.silent.add("hangup")
    client, _ = await make_client(action_timeout=5.0)
    waiting = asyncio.create_task(client.send_action({"Action": "Hangup", "Channel": "PJSIP/1001-00000010"}))
    await asyncio.sleep(0.05)
    await server.stop()
    with pytest.raises(AmiConnectionLost):
        await waiting


async def test_listeners_get_typed_events_in_order(server: ScriptServer, make_client) -> None:
    client, recorder = await make_client()
    seen_async: list[str] = []

    async def slow_listener(item: ev.AmiEvent | Resync) -> None:
        await asyncio.sleep(0)
        seen_async.append(item.name)

    def broken_listener(item: ev.AmiEvent | Resync) -> None:
        raise RuntimeError("listener bug")

    client.add_listener(broken_listener)
    client.add_listener(slow_listener)
    count = await server.stream("basic")
    async with asyncio.timeout(5):
        while len(seen_async) < count:
            await asyncio.sleep(0.01)
    expected = ["FullyBooted"] + [tf.frame.event for tf in load_ami("basic")[1] if tf.frame.event]
    assert [e.name for e in recorder.events()] == expected
    assert all(type(e) is ev.EVENT_TYPES.get(e.name, ev.AmiEvent) for e in recorder.events())
    assert seen_async == expected[1:]  # added after the first FullyBooted was delivered
    assert client.connected


async def test_resync_comes_first_and_carries_the_live_view(server: ScriptServer, make_client) -> None:
    # An event Asterisk sends right after the login reply must not reach listeners before the Resync.
    newchannel = next(tf.raw for tf in load_ami("basic")[1] if tf.frame.event == "Newchannel")
    server.after_login.append(newchannel.encode())
    _, recorder = await make_client()
    await recorder.wait_for(lambda: len(recorder.items) >= 3)
    assert [i.name for i in recorder.items[:3]] == ["Resync", "FullyBooted", "Newchannel"]
    resync = recorder.items[0]
    assert isinstance(resync, Resync) and not resync.reconnect
    # The recorded status scenario: agent 1001 in a call, citizen and agent channels bridged.
    assert [(m.queue, m.interface, m.member_name, m.in_call, m.status) for m in resync.members] == [
        ("hotline-general", "PJSIP/1001", "agent-1001", True, 2)]
    assert {c.channel for c in resync.channels} == {"PJSIP/carrier-00000007", "PJSIP/1001-00000008"}
    assert [q.queue for q in resync.queues] == ["hotline-general"]
    assert recorder.states == [True]


async def test_malformed_frames_do_not_kill_the_connection(server: ScriptServer, make_client) -> None:
    client, recorder = await make_client()
    garbage = [
        b"this line has no colon\r\nneither does this\r\n\r\n",
        b"Event: Newstate\r\nbroken line\r\nChannel: PJSIP/a-1\r\n\r\n",
        b"\xff\xfe\x00junk: \xc3\r\n\r\n",
        b"Event: ",
        *[b"X" * 65536] * 17,  # more than FrameDecoder's 1 MiB limit before the end of the frame
        b"\r\n\r\n",
        encode_frame({"Event": "Hangup", "Channel": "PJSIP/ok-1", "Cause": "16", "Cause-txt": "Normal Clearing"}),
    ]
    await server.send_raw(garbage, pause=0.005)
    await recorder.wait_for(lambda: bool(recorder.events("Hangup")))
    (hangup,) = recorder.events("Hangup")
    assert isinstance(hangup, ev.Hangup) and hangup.channel == "PJSIP/ok-1" and hangup.cause == 16
    (newstate,) = recorder.events("Newstate")  # a bad line does not lose the good ones
    assert newstate.frame.get("Channel") == "PJSIP/a-1" and newstate.frame.errors
    assert client.malformed_frames == 4  # no-colon lines, broken line, junk header, oversized
    assert isinstance(await client.send_action({"Action": "Ping"}), Frame)
    assert client.logins == 1 and recorder.states == [True]


async def test_late_list_reply_after_a_timeout_does_not_leak_to_listeners(server: ScriptServer, make_client) -> None:
    client, recorder = await make_client()
    server.silent.add("queuestatus")  # after the login's resync
    with pytest.raises(AmiActionTimeout) as caught:
        await client.send_action({"Action": "QueueStatus"}, timeout=0.1)
    late_id = caught.value.action["ActionID"]
    reply = [{k: (late_id if k == "ActionID" else v) for k, v in f.items()}
             for f in RECORDED[[r["action"]["Action"] for r in RECORDED].index("QueueStatus")]["response"]]
    await server.send_raw([b"".join(encode_frame(f) for f in reply),
                           encode_frame({"Event": "Newstate", "Channel": "PJSIP/after-1"})])
    await recorder.wait_for(lambda: bool(recorder.events("Newstate")))
    assert not recorder.events("QueueMember") and not recorder.events("QueueParams")
    assert not recorder.events("QueueStatusComplete")


async def test_repeated_headers_and_bad_header_names(server: ScriptServer, make_client) -> None:
    server.set_reply("Originate", [{"Response": "Success", "ActionID": "", "Message": "Originate successfully queued"}])
    client, _ = await make_client()
    await client.send_action({"Action": "Originate", "Channel": "PJSIP/2001", "Application": "ConfBridge",
                              "Data": "3w-1", "Variable": ["HOTLINE_ROLE=expert", "CALLERID(name)=专家"]})
    sent = server.received[-1]
    assert sent.getall("Variable") == ["HOTLINE_ROLE=expert", "CALLERID(name)=专家"]
    with pytest.raises(ValueError, match="header name"):
        await client.send_action({"Action": "Ping", "X\r\nAction": "Hangup"})


async def test_send_before_connect_or_after_close(server: ScriptServer) -> None:
    client = AmiClient("127.0.0.1", server.port, server.username, server.secret)
    with pytest.raises(AmiNotConnected, match="connect"):
        await client.send_action({"Action": "Ping"})
    await client.connect()
    await client.close()
    with pytest.raises(AmiNotConnected):
        await client.send_action({"Action": "Ping"})


async def test_from_settings_and_async_state_listener(server: ScriptServer) -> None:
    from pydantic import SecretStr

    from hotline.settings import Settings

    settings = Settings(ami_host="127.0.0.1", ami_port=server.port, ami_user=server.username,
                        ami_secret=SecretStr(server.secret), ami_action_timeout=1.5, ami_ping_interval=0.5)
    client = AmiClient.from_settings(settings)
    assert (client.action_timeout, client.ping_interval) == (1.5, 0.5)
    link: list[bool] = []

    async def on_state(up: bool) -> None:
        await asyncio.sleep(0)
        link.append(up)

    client.add_state_listener(on_state)
    try:
        await client.connect()
        assert client.banner == "Asterisk Call Manager/11.0.0"
        async with asyncio.timeout(2):
            while link != [True]:
                await asyncio.sleep(0.01)
    finally:
        await client.close()
    assert link == [True, False]  # close() reports the link down
