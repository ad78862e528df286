"""The call tracker replays every recording of the real Asterisk 22.10.1 and builds the right calls.

Every expected value below was read by hand from /work/shared/asterisk-traces/<scenario>.ami.jsonl; the
comment beside it gives the event and its `t` (seconds since the recorder logged in).
"""

from __future__ import annotations

import pytest

from bridge.calls.schemas import CallEvent
from bridge.calls.tracker import CallTracker
from hotline.ami.frames import FrameDecoder
from hotline.traces import SCENARIOS, load_ami, load_ami_bytes

# Shared by every call in the recordings: the citizen SIPp sends CallerIDNum 13900001 (Newchannel), the
# FastAGI IVR sets HOTLINE_PRIORITY "5" then HOTLINE_CATEGORY "complaint" (VarSet right after the
# caller pressed 2), and Queue(hotline-general,...) follows (QueueCallerJoin Queue: hotline-general).
IVR = {"category": "complaint", "priority": 5}

EXPECTED: dict[str, list[dict]] = {
    "basic": [{
        "call_id": "1795263412.0",         # Newchannel PJSIP/carrier-00000000 Uniqueid, t=2.919
        "caller_number": "13900001",
        "caller_name": "Citizen",          # Newchannel CallerIDName, t=2.919
        "queue": "hotline-general",        # QueueCallerJoin, t=6.068
        "agent": "1001",                   # AgentConnect Interface PJSIP/1001, t=7.078
        "missed_by": [],
        "wait_seconds": 1.0,               # AgentConnect HoldTime: 1, t=7.078
        "talk_seconds": 10.0,              # AgentComplete TalkTime: 10 Reason: caller, t=17.930
        "release_reason": "caller",
        "outcome": "answered",
        "transfer_to": None,
        "experts": [],
        "hangup_cause": 16,                # Hangup PJSIP/carrier-00000000 Cause: 16 Normal Clearing, t=17.932
        "hangup_text": "Normal Clearing",
        "ended_at": 17.9317,               # t of that Hangup
        "transitions": ["started", "queued", "ringing", "answered", "ended"],
    }],
    "abandon": [{
        "call_id": "1795264432.3",         # Newchannel PJSIP/carrier-00000003, t=0.567
        "caller_number": "13900001",
        "caller_name": "Citizen",
        "queue": "hotline-general",        # QueueCallerJoin, t=3.718 (the only member is paused)
        "agent": None,
        "missed_by": [],
        "wait_seconds": 7.0,               # QueueCallerAbandon HoldTime: 7, t=11.579
        "talk_seconds": None,
        "release_reason": None,
        "outcome": "abandoned",
        "transfer_to": None,
        "experts": [],
        "hangup_cause": 0,                 # Hangup Cause: 0 Cause-txt: Unknown, t=11.579
        "hangup_text": "Unknown",
        "ended_at": 11.5788,
        "transitions": ["started", "queued", "ended"],
    }],
    "noanswer": [{
        "call_id": "1795264447.4",         # Newchannel PJSIP/carrier-00000004, t=0.548
        "caller_number": "13900001",
        "caller_name": "Citizen",
        "queue": "hotline-general",
        "agent": "1001",                   # AgentConnect Interface PJSIP/1001 HoldTime: 17, t=20.709
        "missed_by": ["1003"],             # AgentCalled PJSIP/1003 t=3.699, AgentRingNoAnswer PJSIP/1003 t=18.700
        "wait_seconds": 17.0,
        "talk_seconds": 13.0,              # AgentComplete TalkTime: 13, t=33.562
        "release_reason": "caller",
        "outcome": "answered",
        "transfer_to": None,
        "experts": [],
        "hangup_cause": 16,                # Hangup PJSIP/carrier-00000004, t=33.562
        "hangup_text": "Normal Clearing",
        "ended_at": 33.5621,
        "transitions": ["started", "queued", "ringing", "ring_noanswer", "ringing", "answered", "ended"],
    }],
    "pausecycle": [],                      # queue member actions only: no Newchannel at all
    "redirect110": [{
        "call_id": "1795264518.9",         # Newchannel PJSIP/carrier-00000009, t=0.523
        "caller_number": "13900001",
        "caller_name": "Citizen",
        "queue": "hotline-general",
        "agent": "1001",                   # AgentConnect HoldTime: 1, t=4.681
        "missed_by": [],
        "wait_seconds": 1.0,
        # The agent's leg hangs up at t=6.687 (Hangup PJSIP/1001-0000000a): 6.687 - 4.681 = 2.006 s with
        # the agent. AgentComplete (t=33.536) says TalkTime 28, but that counts the 110 leg too.
        "talk_seconds": 2.006,
        "release_reason": "caller",
        "outcome": "transferred",
        "transfer_to": "110",              # DialBegin DialString: 110@emergency, t=6.6875
        "transfer": {"target": "110", "kind": "redirect", "state": "completed"},  # DialEnd ANSWER t=7.693
        "experts": [],
        "hangup_cause": 16,                # Hangup PJSIP/carrier-00000009, t=33.538
        "hangup_text": "Normal Clearing",
        "ended_at": 33.5384,
        "transitions": ["started", "queued", "ringing", "answered", "transferred", "ended"],
    }],
    "blindxfer119": [{
        "call_id": "1795264556.12",        # Newchannel PJSIP/carrier-0000000c, t=0.547
        "caller_number": "13900001",
        "caller_name": "Citizen",
        "queue": "hotline-general",
        "agent": "1001",                   # AgentConnect HoldTime: 1, t=4.703
        "missed_by": [],
        "wait_seconds": 1.0,
        "talk_seconds": 2.0,               # AgentComplete TalkTime: 2 Reason: transfer, t=6.709
        "release_reason": "transfer",
        "outcome": "transferred",
        "transfer_to": "119",              # BlindTransfer Extension: 119 TransfereeChannel carrier-0000000c, t=6.708
        "transfer": {"target": "119", "kind": "blind", "state": "completed"},  # DialEnd ANSWER t=7.717
        "experts": [],
        "hangup_cause": 16,                # Hangup PJSIP/carrier-0000000c, t=33.561
        "hangup_text": "Normal Clearing",
        "ended_at": 33.5613,
        "transitions": ["started", "queued", "ringing", "answered", "transferred", "ended"],
    }],
    "status": [{
        "call_id": "1795264483.7",         # Newchannel PJSIP/carrier-00000007, t=0.540
        "caller_number": "13900001",
        "caller_name": "Citizen",
        "queue": "hotline-general",
        "agent": "1001",                   # AgentConnect HoldTime: 1, t=4.696
        "missed_by": [],
        "wait_seconds": 1.0,
        "talk_seconds": 29.0,              # AgentComplete TalkTime: 29, t=33.554
        "release_reason": "caller",
        "outcome": "answered",
        "transfer_to": None,
        "experts": [],
        "hangup_cause": 16,
        "hangup_text": "Normal Clearing",
        "ended_at": 33.5537,               # Hangup PJSIP/carrier-00000007
        "transitions": ["started", "queued", "ringing", "answered", "ended"],
    }],
    "threeway": [{
        "call_id": "1795264592.15",        # Newchannel PJSIP/carrier-0000000f, t=0.531
        "caller_number": "13900001",
        "caller_name": "Citizen",
        "queue": "hotline-general",
        "agent": "1001",                   # AgentConnect HoldTime: 1, t=4.689
        "missed_by": [],
        "wait_seconds": 1.0,
        "talk_seconds": 12.0,              # AgentComplete TalkTime: 12 Reason: agent, t=16.867 (agent left the room)
        "release_reason": "agent",
        "outcome": "answered",
        "transfer_to": None,
        "experts": ["2001"],               # ConfbridgeJoin PJSIP/2001-00000011 Conference 3w-1795264592.15, t=10.861
        "conference": "3w-1795264592.15",  # ConfbridgeStart, t=7.700
        "threeway_state": "closed",
        "hangup_cause": 16,                # Hangup PJSIP/carrier-0000000f, t=63.545
        "hangup_text": "Normal Clearing",
        "ended_at": 63.5446,
        # ConfbridgeJoin expert t=10.861, agent t=10.863, citizen t=10.863; ConfbridgeLeave agent t=16.865,
        # citizen t=63.543
        "transitions": ["started", "queued", "ringing", "answered", "conference_joined", "conference_joined",
                        "conference_joined", "conference_left", "conference_left", "ended"],
    }],
    "utf8": [{
        "call_id": "1795264821.24",        # Newchannel PJSIP/carrier-00000016, t=0.532
        "caller_number": "13900001",
        "caller_name": "张三",              # Newchannel CallerIDName: 张三 (UTF-8 on the wire)
        "queue": "hotline-general",
        "agent": "1001",                   # AgentConnect HoldTime: 1, t=4.688
        "missed_by": [],
        "wait_seconds": 1.0,
        "talk_seconds": 7.0,               # AgentComplete TalkTime: 7, t=11.543
        "release_reason": "caller",
        "outcome": "answered",
        "transfer_to": None,
        "experts": [],
        "hangup_cause": 16,
        "hangup_text": "Normal Clearing",
        "ended_at": 11.5436,               # Hangup PJSIP/carrier-00000016
        "transitions": ["started", "queued", "ringing", "answered", "ended"],
    }],
}



def replay(scenario: str) -> tuple[CallTracker, list[dict]]:
    tracker = CallTracker()
    events: list[dict] = []
    for traced in load_ami(scenario)[1]:
        events += tracker.feed(traced.frame, traced.t)
    return tracker, events


def replay_bytes(scenario: str, chunk: int) -> tuple[CallTracker, list[dict]]:
    """The recording as one byte stream cut every `chunk` bytes, through FrameDecoder."""
    times = [traced.t for traced in load_ami(scenario)[1]]
    data = load_ami_bytes(scenario)
    decoder = FrameDecoder()
    tracker = CallTracker()
    events: list[dict] = []
    index = 0
    for start in range(0, len(data), chunk):
        for frame in decoder.feed(data[start:start + chunk]):
            events += tracker.feed(frame, times[index])
            index += 1
    assert index == len(times)
    return tracker, events


def test_every_recording_has_a_table() -> None:
    assert set(EXPECTED) == set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replay_builds_the_recorded_calls(scenario: str) -> None:
    tracker, events = replay(scenario)
    expected = EXPECTED[scenario]
    assert tracker.active == {}, "every recorded call hung up"
    assert [c.call_id for c in tracker.completed] == [e["call_id"] for e in expected]
    for call, want in zip(tracker.completed, expected, strict=True):
        snap = call.snapshot()
        for key, value in want.items():
            if key == "transitions":
                continue
            if isinstance(value, float):
                assert snap[key] == pytest.approx(value, abs=1e-3), key
            else:
                assert snap[key] == value, key
        assert snap["ivr"]["category"] == IVR["category"]
        assert snap["ivr"]["priority"] == IVR["priority"]
        assert call.state == "ended"
        mine = [e for e in events if e["call_id"] == call.call_id]
        assert [e["type"].removeprefix("call.") for e in mine] == want["transitions"]
    assert tracker.ignored_transitions == 0


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_event_matches_the_contract(scenario: str) -> None:
    _, events = replay(scenario)
    for event in events:
        parsed = CallEvent.model_validate(event)
        assert parsed.call.call_id == parsed.call_id
        if parsed.transition == "ended":
            assert parsed.call.outcome is not None and parsed.call.ended_at == parsed.ts
        else:
            assert parsed.call.outcome is None


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("chunk", [1, 7, 1500])
def test_byte_split_stream_gives_the_same_calls(scenario: str, chunk: int) -> None:
    _, direct = replay(scenario)
    tracker, split = replay_bytes(scenario, chunk)
    assert split == direct
    assert [c.snapshot() for c in tracker.completed] == [e["call"] for e in direct if e["type"] == "call.ended"]


def test_ivr_path_lists_the_agi_commands_in_order() -> None:
    tracker, _ = replay("basic")
    (call,) = tracker.completed
    # Newexten AGI t=3.421, then AGIExecEnd ANSWER, STREAM FILE, GET DATA (the caller pressed 2), the two
    # SET VARIABLEs, GET VARIABLE CALLERID(num), VERBOSE (t=3.422 .. 6.066)
    assert call.ivr["path"] == [
        "AGI agi://127.0.0.1:4573/ivr", "ANSWER", 'STREAM FILE hello-world ""', "GET DATA beep 4000 1",
        'SET VARIABLE HOTLINE_PRIORITY "5"', 'SET VARIABLE HOTLINE_CATEGORY "complaint"',
        "GET VARIABLE CALLERID(num)", 'VERBOSE "ivr done" 1',
    ]


def test_noanswer_rings_1003_then_1001() -> None:
    _, events = replay("noanswer")
    ring = [(e["type"], e.get("agent"), e["state"], e["ts"]) for e in events
            if e["type"] in ("call.ringing", "call.ring_noanswer", "call.answered")]
    assert ring == [
        ("call.ringing", "1003", "ringing", 3.6991),        # AgentCalled PJSIP/1003
        ("call.ring_noanswer", "1003", "queued", 18.7002),  # AgentRingNoAnswer after the 15 s timeout
        ("call.ringing", "1001", "ringing", 19.7023),       # AgentCalled PJSIP/1001 once unpaused
        ("call.answered", "1001", "talking", 20.7085),      # AgentConnect
    ]
    ringing = next(e for e in events if e["type"] == "call.ringing")
    assert ringing["call"]["ringing"] == ["1003"]
    assert ringing["call"]["wait_seconds"] == pytest.approx(0.001, abs=1e-3)  # rang as it joined (t=3.698)


def test_threeway_parties_and_machine() -> None:
    _, events = replay("threeway")
    conf = [(e["type"], e["party"]["role"], e["party"]["seat"], e["call"]["threeway_state"]) for e in events
            if "party" in e]
    assert conf == [
        ("call.conference_joined", "expert", "2001", "inviting"),      # expert first (Originate), t=10.861
        ("call.conference_joined", "agent", "1001", "inviting"),       # Redirect ExtraChannel, t=10.863
        ("call.conference_joined", "citizen", None, "three_way"),      # Redirect Channel, t=10.863
        ("call.conference_left", "agent", "1001", "handed_over"),      # the agent leaves, t=16.865
        ("call.conference_left", "citizen", None, "closed"),           # citizen leaves and hangs up, t=63.543
    ]
    assert all(e["state"] == "in_conference" for e in events if "party" in e)


def test_transfers_are_announced_once_when_they_happen() -> None:
    for scenario, ts, kind in (("redirect110", 6.6875, "redirect"), ("blindxfer119", 6.708, "blind")):
        _, events = replay(scenario)
        (xfer,) = [e for e in events if e["type"] == "call.transferred"]
        assert xfer["ts"] == pytest.approx(ts, abs=1e-3)
        assert xfer["call"]["transfer"]["kind"] == kind
        assert xfer["call"]["transfer"]["state"] in ("requested", "dialing")
        assert xfer["call"]["agent"] == "1001"
