"""The database side of IvrServices, through the services that own the tables: caller history
(hotline.history), work orders (hotline.workorders) and calls (hotline.calls). Synchronous SQLAlchemy,
called by HotlineIvrServices in a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.calls.services import record_satisfaction as record_call_satisfaction
from hotline.domain import OrderStatus, Urgency
from hotline.history.services import caller_history
from hotline.workorders.models import OrderCall, OrderDeadline, WorkOrder
from hotline.workorders.services import OrderNotFound, get_order
from ivr.schemas import CallerProfile, OrderStatusInfo


def readable_number(digits: str) -> str | None:
    """Keyed digits → the readable number (20261121-000123, hotline/workorders/numbering.py). Only that form
    is looked up: `get_order` reads an all-digit string as the internal id, which a caller must not reach."""
    digits = digits.replace("-", "")
    if len(digits) <= 8 or not digits.isdigit():
        return None
    try:  # the first eight digits are the day the order was accepted: garbage fails here, not in the database
        datetime.strptime(digits[:8], "%Y%m%d")
    except ValueError:
        return None
    return f"{digits[:8]}-{digits[8:]}"


class SqlOrderRecords:
    def __init__(self, session_factory: sessionmaker[Session],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.session_factory = session_factory
        self.now = now

    def caller_profile(self, number: str) -> CallerProfile:
        with self.session_factory() as session:
            history = caller_history(session, number, self.now())
        return CallerProfile(
            number=number,
            # calling again about one matter (Ziyang art. 15), or about an order still open
            repeat=history.repeat_caller or bool(history.open_orders),
            open_order=history.open_orders[0].number if history.open_orders else None,
            terminal=bool(history.terminal),
            special_urgent=any(o.urgency == Urgency.special_urgent for o in history.open_orders),
        )

    def order_status(self, order_no: str) -> OrderStatusInfo | None:
        number = readable_number(order_no)
        if number is None:
            return None
        with self.session_factory() as session:
            try:
                order = get_order(session, number)
            except OrderNotFound:
                return None
            due = session.scalars(select(OrderDeadline.due_at).where(OrderDeadline.order_id == order.id,
                                                                     OrderDeadline.kind == "complete")).first()
            return OrderStatusInfo(order.number, OrderStatus(order.status), due)

    def record_satisfaction(self, call_id: str, score: int, order_no: str | None) -> list[str]:
        """`score` on the stored scale: 1 very dissatisfied .. 5 very satisfied."""
        with self.session_factory() as session, session.begin():
            record_call_satisfaction(session, call_id, score)
            linked = select(OrderCall.order_id).where(OrderCall.call_id == call_id)
            condition = WorkOrder.id.in_(linked)
            number = readable_number(order_no) if order_no else None
            if number:
                condition = condition | (WorkOrder.number == number)
            orders = session.scalars(select(WorkOrder).where(condition)).all()
            for order in orders:
                order.satisfaction = score
            return [o.number for o in orders]
