"""Recording a hand-off (警单) when a call goes to 110/119/120: the hotline takes no emergency matters
(Ziyang art. 9(3), Foshan art. 17(2), 55) but links with them (Ziyang art. 34 一键呼转、三方通话、工单转派)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.audit.services import actor_name
from hotline.domain import EmergencyService
from hotline.handoffs.models import Handoff
from hotline.security import Principal
from hotline.workorders.models import WorkOrder


def record_handoff(session: Session, actor: Principal | str, service: EmergencyService | str, summary: str, *,
                   call_id: str | None = None, order_id: int | None = None, caller_number: str | None = None,
                   caller_name: str | None = None, location: str | None = None,
                   now: datetime | None = None) -> Handoff:
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
    handoff = Handoff(service=service.value, call_id=call_id, order_id=order_id, order_number=order_number,
                      caller_number=caller_number, caller_name=caller_name, location=location,
                      summary=summary.strip(), created_at=now or datetime.now(UTC), created_by=actor_name(actor))
    session.add(handoff)
    session.flush()
    return handoff


def list_handoffs(session: Session, *, call_id: str | None = None, order_id: int | None = None,
                  limit: int = 100) -> list[Handoff]:
    stmt = select(Handoff).order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit)
    if call_id:
        stmt = stmt.where(Handoff.call_id == call_id)
    if order_id:
        stmt = stmt.where(Handoff.order_id == order_id)
    return list(session.scalars(stmt))
