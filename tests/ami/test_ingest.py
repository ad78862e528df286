"""The fast ingest path: header parsing, the first-line event filter, listener options over real TCP."""

from __future__ import annotations

import asyncio

import pytest

from hotline.ami import events as ev
from hotline.ami import frames as frames_module
from hotline.ami.client import Resync
from hotline.ami.frames import EventFilter, Frame, FrameDecoder, parse_block
from hotline.traces import SCENARIOS, load_ami
from tests.ami.ami_script_server import ScriptServer
from tests.ami.both import on_both_decoders  # noqa: F401  (every test here runs on both decoders)

RECORDED = [tf for name in SCENARIOS for tf in load_ami(name)[1]]
STREAM = b"Asterisk Call Manager/11.0.0\r\n" + "".join(tf.raw for tf in RECORDED).encode()
# What the bridge role asks for (bridge/service.py): a few events, VarSet of two variables only.
BRIDGE = EventFilter.of(("Newchannel", "VarSet", "Newexten", "AgentConnect", "Hangup"),
                        ("HOTLINE_CATEGORY", "HOTLINE_PRIORITY"))
ACD = EventFilter.of(("QueueMemberStatus", "QueueMemberAdded", "QueueMemberPause", "AgentCalled", "AgentConnect"))
FILTERS = [BRIDGE, ACD, EventFilter.of(varsets=("HOTLINE_",)), EventFilter.of(events=()),
           EventFilter.of(("VarSet",))]


def careful_parse(block: str) -> Frame:
    """The line-by-line parser the fast path replaced, kept here as the reference."""
    frame = Frame()
    for line in block.split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key.strip():
            frame.errors.append(f"line without a header: {line[:80]!r}")
            continue
        frame.pairs.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return frame


ODD_BLOCKS = [
    "Event: X\r\nBad Key: 1\r\nGood: 2",           # space inside a key: reported, the rest kept
    "Event: X\r\nno colon at all",
    "Event: X\r\nKey:no-space\r\nA: b: c",          # colon without a space; a value with ": " in it
    "Event: X\r\n: empty key",
    "Event: X\r\n Padded : v\r\nTab\tKey: v",       # spaces around a key are stripped, a tab is kept
    "Event: X\r\nKey:\r\nOther: ",                  # empty values
    "Event: X\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nUniqueid: 1.2",
    "Event: X\r\nName: 张三\r\nCause-txt: Normal Clearing\r\nx_y: 1",
    "Event: X\r\nLone: a\rb\r\nLf: c\nd",
    "Event: X\r\n\xa0Nbsp: v\r\nIdeo\u3000Space: v\r\nParen(1): v\r\nCJK键: 值",  # odd whitespace, odd keys
    "Event: X\r\n Channel: padded\r\nChannel: plain",  # the padded line is the first Channel
    "Event: X\r\nChannel :spaced\r\nChannel: plain",
    "Event: X\r\nChannel:tight\r\nChannel: plain",
    "Event: X\r\nValue: has Channel: inside\r\nChannel: plain\r\nChannelState: 6",
    "Event: X\r\nBridgeNumChannels: 2\r\nDestChannel: d\r\nChannel: c",  # the key inside longer keys
    "Event: QueueCallerJoin\r\nQueue: q",            # the key inside the first line's value
    "Event: X\r\nCommandId: 7\r\nCommand: ANSWER",
    "Event: X\r\nText: a \n Channel: in a value after a lone LF\r\nChannel: plain",
    "Channel: first line\r\nEvent: Late",            # the event name not on the first line
    "Response: Success\r\nActionID: 1\r\nMessage: Pong",
]
# keys asked of every block: the ones it has, spelt plainly, and some it lacks or hides in other text
ASKED = ("Event", "Channel", "Uniqueid", "Queue", "Command", "Value", "Key", "Good", "Other", "Lone", "Lf",
         "Name", "Cause-txt", "ChanVariable", "DestChannel", "Response", "ActionID", "Missing", "Padded", "Tab")


def test_fast_parse_equals_the_careful_parse_on_every_recording() -> None:
    assert len(RECORDED) > 1000
    for tf in RECORDED:
        block = tf.raw.removesuffix("\r\n\r\n")
        fast, careful = parse_block(block), careful_parse(block)
        assert (fast.pairs, fast.errors) == (careful.pairs, careful.errors), block[:200]
        assert fast.headers == careful.headers


@pytest.mark.parametrize("block", ODD_BLOCKS)
def test_fast_parse_equals_the_careful_parse_on_odd_lines(block: str) -> None:
    fast, careful = parse_block(block), careful_parse(block)
    assert (fast.pairs, fast.errors, fast.headers) == (careful.pairs, careful.errors, careful.headers)


def test_single_headers_read_from_the_text_equal_the_careful_parse_on_every_recording(
        monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real_parse = frames_module._parse_text
    monkeypatch.setattr(frames_module, "_parse_text", lambda text: parsed.append(text) or real_parse(text))
    for tf in RECORDED:
        block = tf.raw.removesuffix("\r\n\r\n")
        careful = careful_parse(block)
        reference = {}
        for key, value in careful.pairs:
            reference.setdefault(key, value)
        lazy = Frame.from_text(block)
        for key in (*reference, *ASKED):
            assert lazy.get(key) == reference.get(key), (key, block[:200])
        assert lazy.event == reference.get("Event") and lazy.action_id == reference.get("ActionID")
    assert parsed == []  # Asterisk's frames never needed a parse to answer a single header
    assert parse_block(RECORDED[0].raw.removesuffix("\r\n\r\n")).pairs and len(parsed) == 1


@pytest.mark.parametrize("block", ODD_BLOCKS)
def test_single_headers_equal_the_careful_parse_on_odd_lines(block: str) -> None:
    careful = careful_parse(block)
    keys = {key for key, _ in careful.pairs} | set(ASKED) | {"Bad Key", " Padded", "", "Key:", "Tab\tKey"}
    for key in keys:
        reference = next((value for k, value in careful.pairs if k == key), None)
        lazy = Frame.from_text(block)
        assert lazy.get(key) == reference, (key, block)
        assert (key in lazy) == (reference is not None)
    lazy = Frame.from_text(block)
    assert lazy.event == careful.headers.get("Event")
    assert (lazy.pairs, lazy.errors) == (careful.pairs, careful.errors)


def test_a_bad_line_is_reported_once_when_its_frame_is_parsed() -> None:
    bad: list[Frame] = []
    decoder = FrameDecoder(expect_banner=False, max_frame_bytes=200, on_bad=bad.append)
    frames = decoder.feed(b"Event: Newstate\r\nbroken line\r\nChannel: PJSIP/a-1\r\n\r\n")
    (frame,) = frames
    assert frame.get("Channel") == "PJSIP/a-1" and frame.event == "Newstate" and bad == []  # read, not parsed
    assert frame.errors == ["line without a header: 'broken line'"] and bad == [frame]
    assert frame.headers == {"Event": "Newstate", "Channel": "PJSIP/a-1"} and bad == [frame]  # once
    (cut,) = decoder.feed(b"Event: Huge\r\nX: " + b"y" * 300)
    assert bad == [frame, cut] and cut.errors == ["frame larger than 200 bytes dropped"]  # at once


def test_repeated_headers_keep_the_first_value_and_every_value() -> None:
    frame = parse_block("Event: Newchannel\r\nChanVariable: A=1\r\nChanVariable: B=2")
    assert frame.get("ChanVariable") == "A=1" and frame.getall("ChanVariable") == ["A=1", "B=2"]


@pytest.mark.parametrize("wanted", FILTERS)
def test_filter_on_raw_text_agrees_with_the_filter_on_frames(wanted: EventFilter) -> None:
    for tf in RECORDED:
        assert wanted.keeps(tf.raw.removesuffix("\r\n\r\n")) == wanted.keeps_frame(tf.frame), tf.raw[:200]


@pytest.mark.parametrize("wanted", FILTERS)
def test_filtered_decoder_keeps_exactly_the_wanted_frames_and_every_reply(wanted: EventFilter) -> None:
    everything = FrameDecoder().feed(STREAM)
    decoder = FrameDecoder(event_filter=wanted)
    kept = [f for i in range(0, len(STREAM), 1000) for f in decoder.feed(STREAM[i:i + 1000])]
    assert [f.pairs for f in kept] == [f.pairs for f in everything if wanted.keeps_frame(f)]
    assert decoder.skipped == len(everything) - len(kept)
    replies = [f.pairs for f in everything if f.response is not None or f.action_id is not None]
    assert replies and all(pairs in [f.pairs for f in kept] for pairs in replies)
    for f in everything:  # every event the filter names (and every VarSet it names) is kept
        name = f.event
        if name is not None and wanted.events is not None and name in wanted.events and name != "VarSet":
            assert f.pairs in [k.pairs for k in kept], name


def test_filter_never_drops_a_response_or_an_event_with_an_action_id() -> None:
    nothing = EventFilter.of(events=())
    assert nothing.keeps("Response: Success\r\nActionID: 1\r\nMessage: Pong")
    assert nothing.keeps("Event: OriginateResponse\r\nActionID: 7\r\nResponse: Success")
    assert nothing.keeps("Event: QueueMember\r\nQueue: q\r\nActionID: 9")
    assert nothing.keeps("ActionID: 1\r\nEvent: X")  # not a first-line Event: parsed and judged later
    assert not nothing.keeps("Event: RTCPSent\r\nChannel: PJSIP/1001-00000001")
    assert not nothing.keeps("Event: RTCPSent")  # a one-line frame
    prefix = EventFilter.of(("VarSet",), ("HOTLINE_",))
    assert prefix.keeps("Event: VarSet\r\nChannel: c\r\nVariable: HOTLINE_CATEGORY\r\nValue: 1")
    assert not prefix.keeps("Event: VarSet\r\nChannel: c\r\nVariable: RTPAUDIOQOS\r\nValue: x")
    assert prefix.keeps("Event: VarSet\r\nVariable: HOTLINE_X")  # the variable on the last line
    assert not prefix.keeps("Event: VarSetX\r\nVariable: HOTLINE_X")


def test_varset_filter_reads_the_first_variable_line_only() -> None:
    prefix = EventFilter.of(("VarSet",), ("HOTLINE_",))
    assert prefix.keeps("Event: VarSet\r\nChannel: c")  # no Variable line: parsed, the reader decides
    assert prefix.keeps("Event: VarSet\r\nX: Variable: RTP\r\nVariable: HOTLINE_A")  # not at a line start
    assert not prefix.keeps("Event: VarSet\r\nVariable: RTP\r\nVariable: HOTLINE_A")
    many = "Event: VarSet\r\n" + "ChanVariable: x=\n\r\n" * 20_000  # linear, not a backtracking blow-up
    assert prefix.keeps(many) and not prefix.keeps(many + "Variable: RTPAUDIOQOS")
    names = EventFilter.of(("QueueCaller", "QueueCallerJoin"))  # a name that is a prefix of another
    assert names.keeps("Event: QueueCallerJoin\r\nQueue: q") and names.keeps("Event: QueueCaller")
    assert not names.keeps("Event: QueueCallerJoinX\r\nQueue: q") and not names.keeps("Event: Queue")


def test_union_of_listener_filters() -> None:
    assert EventFilter.union([BRIDGE, None]) is None  # one listener wants everything
    assert EventFilter.union([BRIDGE, EventFilter()]) is None
    assert EventFilter.union([]) is None
    both = EventFilter.union([BRIDGE, ACD])
    assert both is not None and both.events == BRIDGE.events | ACD.events  # type: ignore[operator]
    assert both.varsets == ("HOTLINE_CATEGORY", "HOTLINE_PRIORITY")  # ACD wants no VarSet
    assert EventFilter.union([BRIDGE, EventFilter.of(("VarSet",))]).varsets is None  # type: ignore[union-attr]
    every_name = EventFilter.union([BRIDGE, EventFilter.of(varsets=("X_",))])
    assert every_name == EventFilter(None, ("HOTLINE_CATEGORY", "HOTLINE_PRIORITY", "X_"))


def test_utf8_split_anywhere_arrives_whole_through_the_filter() -> None:
    frame = "Event: Newchannel\r\nCallerIDName: 张三\r\nUniqueid: 1.1\r\n\r\n".encode()
    noise = b"Event: RTCPSent\r\nTo: 10.0.0.1\r\n\r\n"
    data = noise + frame + noise
    for cut in range(1, len(data)):
        decoder = FrameDecoder(expect_banner=False, event_filter=BRIDGE)
        (got,) = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert got.get("CallerIDName") == "张三" and not got.errors
        assert decoder.skipped == 2


def test_oversized_frame_still_reported_with_a_filter() -> None:
    decoder = FrameDecoder(expect_banner=False, max_frame_bytes=100, event_filter=BRIDGE)
    frames = decoder.feed(b"Event: Hangup\r\nX: " + b"y" * 300)
    frames += decoder.feed(b"\r\n\r\nEvent: Hangup\r\nUniqueid: 1\r\n\r\n")
    assert frames[0].errors == ["frame larger than 100 bytes dropped"]
    assert frames[1].get("Uniqueid") == "1" and len(frames) == 2


# --- listener options over real TCP -------------------------------------------------------------------


async def test_listener_options_over_tcp(server: ScriptServer, make_client) -> None:
    client, everything = await make_client(connect=False)
    frames: list[object] = []
    typed: list[object] = []
    client.add_listener(frames.append, events=("Newchannel", "VarSet"), varsets=("HOTLINE_",), typed=False)
    client.add_listener(typed.append, events=("Hangup",))
    await client.connect()
    assert client.event_filter() is None  # the fixture's recorder wants everything: nothing is skipped
    count = await server.stream("basic")
    await everything.wait_for(lambda: len(everything.events()) >= count + 1)
    await asyncio.sleep(0.05)
    recorded = [tf.frame for tf in load_ami("basic")[1] if tf.frame.event]
    want = EventFilter.of(("Newchannel", "VarSet"), ("HOTLINE_",))
    assert isinstance(typed[0], Resync) and isinstance(frames[0], Resync)
    assert all(isinstance(f, Frame) for f in frames[1:])
    assert [f.pairs for f in frames[1:]] == [f.pairs for f in recorded if want.keeps_frame(f)]  # type: ignore[attr-defined]
    assert any(f.event == "VarSet" for f in frames[1:])  # type: ignore[attr-defined]
    assert [type(e) for e in typed[1:]] == [ev.Hangup] * sum(f.event == "Hangup" for f in recorded)


async def test_decoder_skips_what_no_listener_wants(server: ScriptServer, make_client) -> None:
    client, recorder = await make_client()
    client.remove_listener(recorder)
    got: list[object] = []
    client.add_listener(got.append, events=("Hangup", "OriginateResponse"))
    protocol = client._protocol
    assert protocol is not None and protocol.decoder.event_filter == EventFilter.of(("Hangup", "OriginateResponse"))
    count = await server.stream("basic")
    hangups = sum(tf.frame.event == "Hangup" for tf in load_ami("basic")[1])
    async with asyncio.timeout(5):
        while len(got) < hangups:
            await asyncio.sleep(0.01)
    assert [e.name for e in got] == ["Hangup"] * hangups  # type: ignore[attr-defined]
    assert protocol.decoder.skipped >= count - hangups - 1
    reply = await client.send_action({"Action": "Ping"})  # replies are never filtered
    assert isinstance(reply, Frame) and reply.get("Ping") == "Pong"
    client.add_listener(recorder)  # a listener that wants everything widens the filter at once
    assert protocol.decoder.event_filter is None
