"""The `calls` stream persisted idempotently: replays and duplicates never make a second row."""

from __future__ import annotations

from sqlalchemy import func, select

from hotline.bus import EventBus
from hotline.calls.bus_consumer import STREAM, CallsConsumer
from hotline.calls.models import Call

T0 = 1_763_280_000.0


def event(kind: str, ts: float, state: str, **call) -> dict:  # type: ignore[no-untyped-def]
    snapshot = {"call_id": "1763280000.17", "linkedid": "1763280000.17", "caller_number": "13912345678",
                "caller_name": "", "channel": "PJSIP/trunk-00000011", "started_at": T0,
                "ivr": {"category": "complaint", "priority": 2, "path": ["welcome", "menu:3"]}, **call}
    return {"type": f"call.{kind}", "call_id": "1763280000.17", "ts": ts, "state": state, "call": snapshot}


async def test_same_events_twice_make_one_row(db_session_factory, redis_async) -> None:
    bus = EventBus(redis_async)
    flow = [event("started", T0, "ivr"), event("queued", T0 + 5, "queued", queue="q-complaint", queued_at=T0 + 5),
            event("answered", T0 + 12, "talking", queue="q-complaint", queued_at=T0 + 5, agent="1001",
                  answered_at=T0 + 12, wait_seconds=7.0),
            event("ended", T0 + 80, "ended", queue="q-complaint", agent="1001", answered_at=T0 + 12,
                  ended_at=T0 + 80, outcome="answered", talk_seconds=68.0, wait_seconds=7.0,
                  hangup_cause=16, recording_file="/var/spool/asterisk/monitor/1763280000.17.wav")]
    for e in flow + flow[-1:]:  # call.ended delivered twice
        await bus.publish(STREAM, e)
    consumer = CallsConsumer(bus, db_session_factory)
    assert await consumer.drain() == 5
    # a restarted consumer that lost its position replays everything: still one row, same values
    await redis_async.delete(consumer.cursor_key)
    assert await CallsConsumer(bus, db_session_factory).drain() == 5
    with db_session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 1
        call = s.scalars(select(Call)).one()
    assert (call.state, call.outcome, call.agent_id, call.queue) == ("ended", "answered", "1001", "q-complaint")
    assert call.ended_at.timestamp() == T0 + 80 and call.talk_seconds == 68.0
    assert call.hangup_cause == "16" and call.ivr_category == "complaint" and call.ivr_path == "welcome>menu:3"
    assert call.recording_file.endswith("1763280000.17.wav")


async def test_a_late_older_event_does_not_roll_back(db_session_factory, redis_async) -> None:
    bus = EventBus(redis_async)
    await bus.publish(STREAM, event("ended", T0 + 80, "ended", outcome="abandoned", ended_at=T0 + 80))
    await bus.publish(STREAM, event("queued", T0 + 5, "queued", queue="q-help"))
    await CallsConsumer(bus, db_session_factory).drain()
    with db_session_factory() as s:
        call = s.scalars(select(Call)).one()
    assert (call.state, call.outcome) == ("ended", "abandoned")


async def test_position_is_kept_between_runs(db_session_factory, redis_async) -> None:
    bus = EventBus(redis_async)
    await bus.publish(STREAM, event("started", T0, "ivr"))
    consumer = CallsConsumer(bus, db_session_factory)
    assert await consumer.drain() == 1
    await bus.publish(STREAM, event("ended", T0 + 9, "ended", outcome="ivr_only", ended_at=T0 + 9))
    assert await CallsConsumer(bus, db_session_factory).drain() == 1  # only the new one


def test_recorded_asterisk_calls_through_the_tracker_persist_once(db_session_factory) -> None:
    """The real Asterisk 22 recordings, through the bridge's tracker, into `calls` — every event twice."""
    from bridge.calls.tracker import CallTracker
    from hotline.calls.services import apply_call_event
    from hotline.traces import SCENARIOS, load_ami

    events = []
    for name in SCENARIOS:
        tracker = CallTracker()
        for traced in load_ami(name)[1]:
            events += tracker.feed(traced.frame, T0 + traced.t)
    ended = {e["call_id"]: e for e in events if e["type"] == "call.ended"}
    assert ended, "the recordings hold finished calls"
    for e in events + events:
        with db_session_factory() as s, s.begin():
            apply_call_event(s, e)
    with db_session_factory() as s:
        rows = {c.call_id: c for c in s.scalars(select(Call))}
    assert len(rows) == len({e["call_id"] for e in events})
    for call_id, e in ended.items():
        assert rows[call_id].outcome == e["call"]["outcome"] and rows[call_id].state == "ended"
    assert {"answered", "abandoned", "transferred"} <= {c.outcome for c in rows.values()}
    # the transfers to 110 and 119 left one 警单 each, replays notwithstanding (Ziyang art. 34)
    from hotline.handoffs.models import Handoff

    with db_session_factory() as s:
        handoffs = s.scalars(select(Handoff)).all()
    assert sorted(h.service for h in handoffs) == ["110", "119"]
    assert all(h.created_by == "bridge" and h.caller_number == rows[h.call_id].caller_number for h in handoffs)
