"""Persisting call-tracker events: one row per citizen channel, whatever arrives twice or out of order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.calls.models import Call

_TIMES = ("started_at", "queued_at", "answered_at", "ended_at")
_TEXT = ("linkedid", "caller_number", "caller_name", "channel", "queue", "outcome", "transfer_to",
         "hangup_cause")  # the tracker sends hangup_cause as an int (Q.850 code)
_NUMBERS = ("wait_seconds", "talk_seconds", "satisfaction")


def _when(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _fill(call: Call, event: dict[str, Any]) -> None:
    snap = event.get("call") or {}
    for name in _TEXT:
        if snap.get(name) is not None:
            setattr(call, name, str(snap[name]))
    for name in _NUMBERS:
        if snap.get(name) is not None:
            setattr(call, name, snap[name])
    for name in _TIMES:
        if snap.get(name) is not None:
            setattr(call, name, _when(snap[name]))
    if snap.get("agent") is not None:
        call.agent_id = str(snap["agent"])
    ivr = snap.get("ivr") or {}
    if ivr:
        call.ivr_category = ivr.get("category") or call.ivr_category
        call.ivr_priority = (str(ivr["priority"]) if ivr.get("priority") is not None else call.ivr_priority)
        path = ivr.get("path")
        if path:
            call.ivr_path = ">".join(map(str, path)) if isinstance(path, list) else str(path)
    recording = snap.get("recording_file") or snap.get("recording")
    if recording:
        call.recording_file = str(recording)
    if event.get("state"):
        call.state = event["state"]
    call.last_event_ts = float(event.get("ts") or 0)


def apply_call_event(session: Session, event: dict[str, Any]) -> Call | None:
    """Insert or update the call row for one `calls` stream event. Replays and older events are no-ops:
    the same event twice never makes two rows (unique call_id) nor rolls a row back."""
    call_id = event.get("call_id")
    if not call_id or not str(event.get("type", "")).startswith("call."):
        return None
    ts = float(event.get("ts") or 0)
    call = session.scalars(select(Call).where(Call.call_id == call_id)).one_or_none()
    if call is None:
        call = Call(call_id=call_id)
        _fill(call, event)
        try:
            with session.begin_nested():  # another consumer may insert the same call at the same moment
                session.add(call)
        except IntegrityError:
            call = session.scalars(select(Call).where(Call.call_id == call_id)).one()
        else:
            _emergency_handoff(session, call, event)
            return call
    if call.last_event_ts is not None and ts < call.last_event_ts:
        return call  # stale: a later state is already stored
    if event.get("type") != "call.ended" and call.state == "ended":
        return call
    _fill(call, event)
    _emergency_handoff(session, call, event)
    return call


def _emergency_handoff(session: Session, call: Call, event: dict[str, Any]) -> None:
    """A call that ended transferred to 110/119/120 gets its 警单 (Ziyang art. 34), even if the agent
    never fills one in; the agent's own record completes the same row."""
    if event.get("type") == "call.ended" and call.outcome == "transferred" and call.transfer_to:
        from hotline.handoffs.services import handoff_from_call

        handoff_from_call(session, call.call_id, call.transfer_to, call.caller_number, call.caller_name,
                          call.ended_at or datetime.now(UTC))


def record_satisfaction(session: Session, call_id: str, score: int) -> Call:
    """The IVR survey's answer (Ziyang art. 14)."""
    if not 1 <= score <= 5:
        raise ValueError("satisfaction is 1..5")
    call = session.scalars(select(Call).where(Call.call_id == call_id)).one_or_none()
    if call is None:
        call = Call(call_id=call_id)
        session.add(call)
    call.satisfaction = score
    return call
