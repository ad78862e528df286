"""The database side of IvrServices: caller history, order status and satisfaction, on the tables of
hotline/workorders and hotline/calls (revision 0001_core). Synchronous SQLAlchemy, run in a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.calls.models import Call
from hotline.domain import OrderStatus, Urgency
from hotline.workorders.models import OrderCall, WorkOrder
from ivr.schemas import CallerProfile, OrderStatusInfo

CLOSED = {OrderStatus.completed, OrderStatus.revisited, OrderStatus.archived, OrderStatus.terminal}
REPEAT_WINDOW = timedelta(days=30)  # an order from the same number this recently makes the caller a repeat caller
HISTORY_LIMIT = 50


def order_number_candidates(digits: str) -> list[str]:
    """Keyed digits → stored readable numbers: 20261121000123 is 20261121-000123."""
    candidates = [digits]
    if len(digits) > 8 and digits.isdigit():
        candidates.append(f"{digits[:8]}-{digits[8:]}")
    return candidates


class SqlOrderRecords:
    def __init__(self, session_factory: sessionmaker[Session],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.session_factory = session_factory
        self.now = now

    def caller_profile(self, number: str) -> CallerProfile:
        with self.session_factory() as session:
            orders = session.scalars(select(WorkOrder).where(WorkOrder.caller_number == number)
                                     .order_by(WorkOrder.created_at.desc()).limit(HISTORY_LIMIT)).all()
        open_orders = [o for o in orders if o.status not in CLOSED]
        recent = [o for o in orders if o.created_at >= self.now() - REPEAT_WINDOW]
        return CallerProfile(
            number=number,
            repeat=bool(open_orders or recent),
            open_order=open_orders[0].number if open_orders else None,
            terminal=any(o.status == OrderStatus.terminal for o in orders),
            special_urgent=any(o.urgency == Urgency.special_urgent for o in open_orders),
        )

    def order_status(self, order_no: str) -> OrderStatusInfo | None:
        with self.session_factory() as session:
            order = session.scalars(select(WorkOrder)
                                    .where(WorkOrder.number.in_(order_number_candidates(order_no)))).first()
            if order is None:
                return None
            due = [d.due_at for d in order.deadlines if d.kind == "complete"]
            return OrderStatusInfo(order.number, OrderStatus(order.status), min(due) if due else None)

    def record_satisfaction(self, call_id: str, rating: int, order_no: str | None) -> list[str]:
        with self.session_factory() as session, session.begin():
            call = session.scalars(select(Call).where(Call.call_id == call_id)).first()
            if call is not None:
                call.satisfaction = rating
            linked = select(OrderCall.order_id).where(OrderCall.call_id == call_id)
            query = select(WorkOrder).where(WorkOrder.id.in_(linked))
            if order_no:
                query = select(WorkOrder).where(WorkOrder.id.in_(linked)
                                                | WorkOrder.number.in_(order_number_candidates(order_no)))
            orders = session.scalars(query).all()
            for order in orders:
                order.satisfaction = rating
            return [o.number for o in orders]
