"""Typed events against the recordings of a real Asterisk 22.10.1."""

from __future__ import annotations

import dataclasses

import pytest

from hotline.ami import events as ev
from hotline.ami.events import EVENT_TYPES, AmiEvent, header_name, parse_event
from hotline.ami.frames import Frame
from hotline.traces import SCENARIOS, load_ami
from tests.ami.ami_script_server import recorded_actions

RECORDED = [(s, tf.frame) for s in SCENARIOS for tf in load_ami(s)[1] if tf.frame.event is not None]
# List-action items, as they came back from QueueStatus, CoreShowChannels, Status, ConfbridgeList...
REPLY_EVENTS = [Frame.of(f) for r in recorded_actions() for f in r["response"] if "Event" in f]


def _header(f: dataclasses.Field) -> str:  # type: ignore[type-arg]
    return f.metadata.get("header") or header_name(f.name)


@pytest.mark.parametrize("frame", [f for _, f in RECORDED] + REPLY_EVENTS, ids=lambda f: f.event)
def test_every_recorded_event_is_typed_and_every_field_is_read(frame: Frame) -> None:
    event = parse_event(frame)
    assert type(event) is not AmiEvent, f"no class for {frame.event}"
    assert type(event) is EVENT_TYPES[frame.event]
    assert event.frame is frame and event.name == frame.event
    for f in dataclasses.fields(event)[1:]:
        value = getattr(event, f.name)
        raw = frame.get(_header(f))
        if raw is None:
            continue  # a header this event does not carry: the field keeps its default
        if f.type == "str":
            assert value == raw, f.name
        elif f.type == "int | None":
            assert value == int(raw), f.name
        elif f.type == "float | None":
            assert value == float(raw), f.name
        elif f.type == "bool | None":
            assert value is (raw in ("1", "Yes", "yes", "true")), f.name


def test_every_declared_field_exists_in_some_recorded_frame() -> None:
    """Catches a misspelt header: each field of a recorded event type is filled at least once."""
    seen: dict[type, set[str]] = {}
    for frame in [f for _, f in RECORDED] + REPLY_EVENTS:
        seen.setdefault(type(parse_event(frame)), set()).update(frame.headers)
    # Only on some bridges / forwarded dials / Originates into the dialplan (the recorded one ran an application).
    optional = {"swap_uniqueid", "forward", "context", "exten"}
    for cls, headers in seen.items():
        missing = [f.name for f in dataclasses.fields(cls)[1:] if _header(f) not in headers and f.name not in optional]
        assert not missing, f"{cls.__name__}: {missing}"


def test_queue_numbers_are_numbers() -> None:
    by_name = {f.event: parse_event(f) for _, f in RECORDED}
    complete = by_name["AgentComplete"]
    assert isinstance(complete, ev.AgentComplete)
    assert isinstance(complete.hold_time, int) and isinstance(complete.talk_time, int)
    assert complete.reason in ("caller", "agent", "transfer")
    assert complete.channel.startswith("PJSIP/carrier-") and complete.dest_channel.startswith("PJSIP/1001-")
    abandon = by_name["QueueCallerAbandon"]
    assert isinstance(abandon, ev.QueueCallerAbandon)
    assert (abandon.position, abandon.original_position) == (1, 1) and abandon.hold_time is not None
    join = by_name["QueueCallerJoin"]
    assert isinstance(join, ev.QueueCallerJoin) and join.position == 1 and join.count == 1
    hangup = by_name["Hangup"]
    assert isinstance(hangup, ev.Hangup) and isinstance(hangup.cause, int) and hangup.cause_txt


def test_member_flags_are_booleans() -> None:
    paused = [parse_event(f) for _, f in RECORDED if f.event == "QueueMemberAdded"]
    assert any(isinstance(e, ev.QueueMemberAdded) and e.paused and e.paused_reason == "meeting" for e in paused)
    assert all(isinstance(e, ev.QueueMemberEvent) and isinstance(e.paused, bool) for e in paused)


def test_utf8_caller_name() -> None:
    names = {e.caller_id_name for s, f in RECORDED if s == "utf8"
             if isinstance(e := parse_event(f), ev.ChannelEvent)}
    assert "张三" in names


def test_unknown_event_and_bad_numbers() -> None:
    unknown = parse_event(Frame.of({"Event": "SomethingNew", "X": "1"}))
    assert type(unknown) is AmiEvent and unknown.name == "SomethingNew" and unknown.frame.get("X") == "1"
    odd = parse_event(Frame.of({"Event": "QueueCallerAbandon", "Position": "first", "HoldTime": ""}))
    assert isinstance(odd, ev.QueueCallerAbandon)
    assert odd.position is None and odd.hold_time is None and odd.channel == ""  # missing header: default
    assert type(parse_event(Frame.of({"Response": "Success"}))) is AmiEvent
    user = parse_event(Frame.of({"Event": "UserEvent", "UserEvent": "HotlineIvr", "Channel": "PJSIP/c-1",
                                 "Category": "complaint"}))
    assert isinstance(user, ev.UserEvent) and user.user_event == "HotlineIvr" and user.uniqueid == ""
    assert user.frame.get("Category") == "complaint"


def test_repeated_headers_stay_on_the_frame() -> None:
    frame = Frame.of([("Event", "VarSet"), ("Variable", "A"), ("Value", "1"), ("ChanVariable", "X=1"),
                      ("ChanVariable", "Y=2")])
    event = parse_event(frame)
    assert isinstance(event, ev.VarSet) and event.variable == "A"
    assert event.frame.getall("ChanVariable") == ["X=1", "Y=2"]


def test_events_have_slots() -> None:
    for cls in set(EVENT_TYPES.values()):
        assert "__slots__" in cls.__dict__ and not hasattr(cls(Frame()), "__dict__"), cls.__name__
