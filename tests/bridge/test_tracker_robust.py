"""The tracker under conditions the recordings do not show on their own: several calls at once, events
out of order or missing, malformed frames, and rebuilding after a reconnect."""

from __future__ import annotations

import heapq
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.calls.schemas import CallEvent
from bridge.calls.state import CallMachine
from bridge.calls.tracker import CallTracker
from bridge.replay import renumber
from bridge.threeway.state import ThreeWayMachine
from bridge.transfers.state import TransferMachine, dial_target
from hotline.ami.frames import Frame, FrameDecoder
from hotline.traces import load_actions, load_ami


def frames_of(scenario: str, copy: int = 0, offset: float = 0.0) -> list[tuple[float, Frame]]:
    out = []
    for traced in load_ami(scenario)[1]:
        (frame,) = FrameDecoder(expect_banner=False).feed(renumber(traced.raw, copy).encode())
        out.append((traced.t + offset, frame))
    return out


def run(frames: list[tuple[float, Frame]], tracker: CallTracker | None = None) -> tuple[CallTracker, list[dict]]:
    tracker = tracker or CallTracker()
    events: list[dict] = []
    for ts, frame in frames:
        events += tracker.feed(frame, ts)
    return tracker, events


def test_interleaved_calls_stay_apart() -> None:
    # basic, abandon, noanswer and blindxfer119 at the same time, as copies 1..4 (distinct uniqueids)
    streams = [frames_of(s, copy=i + 1) for i, s in enumerate(("basic", "abandon", "noanswer", "blindxfer119"))]
    merged = list(heapq.merge(*streams, key=lambda item: item[0]))
    tracker, events = run(merged)
    assert tracker.active == {}
    outcomes = [(c.outcome, c.agent, c.wait_seconds, c.talk_seconds, c.transfer.target if c.transfer else None)
                for c in tracker.completed]
    assert sorted(outcomes, key=str) == sorted([
        ("answered", "1001", 1.0, 10.0, None),      # basic
        ("abandoned", None, 7.0, None, None),       # abandon
        ("answered", "1001", 17.0, 13.0, None),     # noanswer
        ("transferred", "1001", 1.0, 2.0, "119"),   # blindxfer119
    ], key=str)
    assert len({c.call_id for c in tracker.completed}) == 4
    assert tracker.ignored_transitions == 0
    assert {e["call_id"] for e in events} == {c.call_id for c in tracker.completed}


def test_unknown_calls_and_stray_events_are_ignored() -> None:
    tracker = CallTracker()
    stray = [
        {"Event": "AgentConnect", "Uniqueid": "42.1", "Interface": "PJSIP/1001", "HoldTime": "3"},
        {"Event": "Hangup", "Channel": "PJSIP/carrier-000000ff", "Uniqueid": "42.1", "Cause": "16"},
        {"Event": "BlindTransfer", "TransfereeChannel": "PJSIP/nobody", "Extension": "110"},
        {"Event": "ConfbridgeJoin", "Conference": "3w-42.1", "Channel": "PJSIP/2001-1"},
        {"Event": "ConfbridgeJoin", "Conference": "not-ours", "Channel": "PJSIP/2001-1"},
        {"Response": "Success", "ActionID": "x"},
        {},
    ]
    for headers in stray:
        assert tracker.feed(Frame.of(headers), 1.0) == []
    assert tracker.active == {} and not tracker.completed


def test_out_of_order_transitions_are_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    frames = frames_of("noanswer")
    # Deliver AgentConnect before anything queued it: the machine refuses answered from ivr.
    start = [f for f in frames if f[1].event in ("Newchannel",) and "carrier" in f[1]["Channel"]]
    connect = [f for f in frames if f[1].event == "AgentConnect"]
    with caplog.at_level(logging.INFO, logger="bridge.machine"):
        tracker, events = run(start + connect + connect)
    assert [e["type"] for e in events] == ["call.started"]
    assert tracker.ignored_transitions == 2
    assert "not allowed" in caplog.text
    (call,) = tracker.active.values()
    assert call.state == "ivr"
    # The rest of the recording still plays: the call ends (answered, since AgentConnect did record it).
    _, rest = run(frames, tracker)
    assert rest[-1]["type"] == "call.ended"


def test_duplicated_stream_gives_one_call() -> None:
    frames = frames_of("basic")
    tracker, events = run([f for pair in zip(frames, frames, strict=True) for f in pair])
    assert len(tracker.completed) == 1
    assert [e["type"] for e in events] == ["call.started", "call.queued", "call.ringing", "call.ringing",
                                           "call.answered", "call.ended"]
    assert tracker.completed[0].talk_seconds == 10.0


def test_malformed_values_lose_only_themselves() -> None:
    tracker, _ = run(frames_of("basic")[:40])
    (call_id,) = tracker.active
    bad = [
        {"Event": "VarSet", "Uniqueid": call_id, "Variable": "HOTLINE_PRIORITY", "Value": "high"},
        {"Event": "AgentComplete", "Uniqueid": call_id, "TalkTime": "ten", "Reason": "caller"},
        {"Event": "Hangup", "Channel": "PJSIP/carrier-00000000", "Uniqueid": call_id, "Cause": "x"},
    ]
    events = [e for headers in bad for e in tracker.feed(Frame.of(headers), 50.0)]
    (ended,) = events
    assert ended["call"]["ivr"]["priority"] is None
    assert ended["call"]["hangup_cause"] is None
    assert ended["call"]["outcome"] == "ivr_only"


def test_hangup_in_ivr_is_ivr_only() -> None:
    frames = [f for f in frames_of("basic") if f[0] < 5.0]  # before QueueCallerJoin (t=6.068)
    tracker, _ = run(frames)
    (call,) = tracker.active.values()
    hangup = Frame.of({"Event": "Hangup", "Channel": call.channel, "Uniqueid": call.call_id, "Cause": "16",
                       "Cause-txt": "Normal Clearing"})
    (ended,) = tracker.feed(hangup, 5.5)
    assert ended["call"]["outcome"] == "ivr_only" and ended["call"]["queue"] is None


def test_completed_is_bounded() -> None:
    tracker = CallTracker(completed_max=3)
    for copy in range(5):
        run(frames_of("abandon", copy=copy, offset=copy * 100.0), tracker)
    assert len(tracker.completed) == 3
    assert tracker.completed[-1].call_id == "1795664432.3"  # copy 4: 1795264432 + 4 * 100000


def resync_frames(scenario: str) -> list[Frame]:
    frames = []
    for entry in load_actions(scenario):
        if entry["action"]["Action"] in ("CoreShowChannels", "QueueStatus"):
            frames += [Frame.of({k: v for k, v in r.items() if k != "content"}) for r in entry["response"]]
    return frames


def test_resync_rebuilds_a_connected_call_then_events_finish_it() -> None:
    # status.actions.jsonl, t=6.270: CoreShowChannels shows PJSIP/carrier-00000007 in Queue with BridgeId
    # fc90f2e1-..., shared with PJSIP/1001-00000008 (Linkedid 1795264483.7), Duration 00:00:06.
    tracker = CallTracker()
    events = tracker.resync(resync_frames("status"), 6.27)
    assert [(e["type"], e["state"]) for e in events] == [
        ("call.started", "ivr"), ("call.queued", "queued"), ("call.answered", "talking")]
    assert all(e["resync"] for e in events)
    call = tracker.active["1795264483.7"]
    assert (call.agent, call.queue, call.started_at) == ("1001", "hotline-general", pytest.approx(0.27))
    # The rest of the recording after the reconnect ends it: AgentComplete TalkTime 29, Hangup t=33.554.
    _, rest = run([f for f in frames_of("status") if f[0] > 6.27], tracker)
    assert [e["type"] for e in rest] == ["call.ended"]
    assert (rest[0]["call"]["outcome"], rest[0]["call"]["talk_seconds"]) == ("answered", 29.0)


def test_resync_keeps_known_calls_and_ends_vanished_ones() -> None:
    tracker, _ = run([f for f in frames_of("status") if f[0] <= 6.27])
    assert tracker.resync(resync_frames("status"), 6.27) == []  # already known, already talking
    (ended,) = tracker.resync([], 40.0)  # the channel is gone: it hung up while we were away
    assert ended["type"] == "call.ended" and ended["resync"] is True
    assert ended["call"]["outcome"] == "answered" and ended["call"]["hangup_cause"] is None


def test_resync_from_queue_entry_and_transfer() -> None:
    tracker = CallTracker()
    waiting = [
        Frame.of({"Event": "QueueEntry", "Queue": "q1", "Position": "1", "Channel": "PJSIP/carrier-00000001",
                  "Uniqueid": "100.1", "CallerIDNum": "13900002", "CallerIDName": "李四", "Wait": "12"}),
        Frame.of({"Event": "CoreShowChannel", "Channel": "PJSIP/carrier-00000001", "Uniqueid": "100.1",
                  "Linkedid": "100.1", "CallerIDNum": "13900002", "CallerIDName": "李四", "Application": "Queue",
                  "ApplicationData": "q1,t,,,120", "Duration": "00:00:20", "BridgeId": ""}),
    ]
    events = tracker.resync(waiting, 1000.0)
    assert [e["state"] for e in events] == ["ivr", "queued"]
    call = tracker.active["100.1"]
    assert (call.queue, call.queued_at, call.started_at, call.caller_name) == ("q1", 988.0, 980.0, "李四")


def test_machines_tables() -> None:
    m = CallMachine("c")
    assert not m.fire("answered") and m.state == "new"
    assert m.fire("started") and m.fire("queued") and m.fire("ringing")
    assert not m.fire("ring_noanswer", "talking")  # not a target this transition allows
    assert m.fire("ring_noanswer") and m.state == "queued"
    assert set(CallMachine.states()) == {"new", "ivr", "queued", "ringing", "talking", "transferred",
                                         "in_conference", "ended"}
    t = TransferMachine("c", "110", "redirect")
    assert t.fire("dial_begin") and t.fire("dial_failed") and t.finished and not t.succeeded
    w = ThreeWayMachine("3w-c")
    assert w.join("agent", "PJSIP/1001-1") == "agent_joined" and w.state == "inviting"
    assert w.join("expert", "PJSIP/2001-2", "2001") == "expert_joined" and w.state == "inviting"
    assert w.join("citizen", "PJSIP/carrier-3") == "citizen_joined" and w.state == "three_way"
    assert w.leave("expert", "PJSIP/2001-2") == "expert_left" and w.state == "agent_only"
    assert dial_target("PJSIP/110@emergency") == "110" and dial_target("119@emergency") == "119"


ALL_FRAMES = [frame for scenario in ("basic", "noanswer", "redirect110", "blindxfer119", "threeway")
              for _, frame in frames_of(scenario)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, len(ALL_FRAMES) - 1), max_size=300),
       st.lists(st.tuples(st.sampled_from(["Event", "Uniqueid", "Channel", "HoldTime", "TalkTime", "Conference",
                                           "DestChannel", "Interface", "Cause", "Variable", "Value"]),
                          st.text(max_size=12)), max_size=5))
def test_any_order_and_garbage_never_break_the_tracker(picks: list[int], garbage: list[tuple[str, str]]) -> None:
    tracker = CallTracker()
    for i, index in enumerate(picks):
        frame = ALL_FRAMES[index]
        if garbage and i % 7 == 0:  # some frames with a header overwritten by junk
            key, value = garbage[i % len(garbage)]
            frame = Frame.of([(k, value if k == key else v) for k, v in frame.pairs])
        for event in tracker.feed(frame, float(i)):
            CallEvent.model_validate(event)
    assert tracker.errors == 0
    for call in tracker.active.values():
        assert call.state != "ended"
    for call in tracker.completed:
        assert call.state == "ended" and call.outcome is not None


def edited(scenario: str, *swaps: tuple[str, str]) -> list[tuple[float, Frame]]:
    out = []
    for traced in load_ami(scenario)[1]:
        raw = traced.raw
        for old, new in swaps:
            raw = raw.replace(old, new)
        (frame,) = FrameDecoder(expect_banner=False).feed(raw.encode())
        out.append((traced.t, frame))
    return out


def test_redirect_to_120_is_a_transfer_to_120() -> None:
    frames = edited("redirect110", ("110@emergency", "120@emergency"), ("Exten: 110\r\n", "Exten: 120\r\n"))
    tracker, events = run(frames)
    (call,) = tracker.completed
    assert (call.outcome, call.transfer.target) == ("transferred", "120")
    assert [e.get("transfer_to") for e in events if e["type"] == "call.transferred"] == ["120"]


def test_a_transfer_nobody_answers_fails() -> None:
    # The 110 gateway's DialEnd (t=7.693) made BUSY: the transfer fails, the call stays an answered one.
    frames = edited("redirect110", ("DestUniqueid: 1795264525.11\r\nDestLinkedid: 1795264518.9\r\nDialStatus: ANSWER",
                                    "DestUniqueid: 1795264525.11\r\nDestLinkedid: 1795264518.9\r\nDialStatus: BUSY"))
    busy = [f for _, f in frames if f.event == "DialEnd" and f.get("DialStatus") == "BUSY"]
    assert len(busy) == 1
    tracker, _ = run(frames)
    (call,) = tracker.completed
    assert (call.outcome, call.transfer.state) == ("answered", "failed")
