"""Recording a hand-off (警单) when a call goes to 110/119/120: the hotline takes no emergency matters
(Ziyang art. 9(3), Foshan art. 17(2), 55) but links with them (Ziyang art. 34 一键呼转、三方通话、工单转派)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.audit.services import actor_name
from hotline.domain import EmergencyService
from hotline.handoffs.models import Handoff
from hotline.security import Principal
from hotline.workorders.models import WorkOrder

AUTO_SUMMARY = "通话已转接{service}，待话务员补充警情摘要"


def _existing(session: Session, call_id: str | None, service: str) -> Handoff | None:
    if not call_id:
        return None
    return session.scalars(select(Handoff).where(Handoff.call_id == call_id, Handoff.service == service)
                           ).one_or_none()


def record_handoff(session: Session, actor: Principal | str, service: EmergencyService | str, summary: str, *,
                   call_id: str | None = None, order_id: int | None = None, caller_number: str | None = None,
                   caller_name: str | None = None, location: str | None = None,
                   now: datetime | None = None) -> Handoff:
    """Record the 警单, or complete the one the bridge recorded for this call and line."""
    service = EmergencyService(service)
    if not summary or not summary.strip():
        raise ValueError("a hand-off needs a summary of the emergency")
    order_number = None
    if order_id is not None:
        order = session.get(WorkOrder, order_id)
        if order is None:
            raise ValueError(f"no work order {order_id}")
        order_number = order.number
        caller_number = caller_number or order.caller_number
        caller_name = caller_name or order.caller_name
        location = location or order.location
    handoff = _existing(session, call_id, service.value)
    if handoff is None:
        handoff = Handoff(service=service.value, call_id=call_id, created_at=now or datetime.now(UTC),
                          created_by=actor_name(actor))
        session.add(handoff)
    handoff.summary = summary.strip()
    handoff.order_id = order_id if order_id is not None else handoff.order_id
    handoff.order_number = order_number or handoff.order_number
    handoff.caller_number = caller_number or handoff.caller_number
    handoff.caller_name = caller_name or handoff.caller_name
    handoff.location = location or handoff.location
    session.flush()
    return handoff


def handoff_from_call(session: Session, call_id: str, target: str, caller_number: str | None,
                      caller_name: str | None, at: datetime) -> Handoff | None:
    """The bridge saw the call transferred to an emergency line: make sure a hand-off exists (idempotent)."""
    try:
        service = EmergencyService(target)
    except ValueError:
        return None  # a transfer to a unit or an expert, not an emergency line
    existing = _existing(session, call_id, service.value)
    if existing is not None:
        return existing
    handoff = Handoff(service=service.value, call_id=call_id, caller_number=caller_number,
                      caller_name=caller_name or None, summary=AUTO_SUMMARY.format(service=service.value),
                      created_at=at, created_by="bridge")
    try:
        with session.begin_nested():  # another consumer may record the same transfer at the same moment
            session.add(handoff)
    except IntegrityError:
        return _existing(session, call_id, service.value)
    return handoff


def list_handoffs(session: Session, *, call_id: str | None = None, order_id: int | None = None,
                  limit: int = 100) -> list[Handoff]:
    stmt = select(Handoff).order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit)
    if call_id:
        stmt = stmt.where(Handoff.call_id == call_id)
    if order_id:
        stmt = stmt.where(Handoff.order_id == order_id)
    return list(session.scalars(stmt))
