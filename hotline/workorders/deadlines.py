"""The bridge between work orders and the SLA engine (hotline.sla.DeadlineEngine).

The engine is pure computation; this module turns an order's known moments into its arguments and
turns stored deadline rows back into `hotline.sla.Deadline`s (for extensions and alert evaluation).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from hotline.domain import Category, Urgency
from hotline.sla import Deadline, DeadlineEngine, Thresholds
from hotline.sla.services import build_engine
from hotline.workorders.models import OrderDeadline, WorkOrder


def engine_from_settings(session: Session | None = None) -> DeadlineEngine:
    """The configured city's engine on a calendar holding every official year stored so far."""
    from hotline.settings import get_settings

    settings = get_settings()
    return build_engine(session, settings.city_policy, settings.office_hours)


def thresholds(engine: DeadlineEngine) -> Thresholds:
    return Thresholds.from_policy(engine.policy.alerts)


def order_events(order: WorkOrder) -> dict[str, datetime]:
    """The anchors the policy files name (besides accepted/dispatched) that this order has reached."""
    events: dict[str, datetime] = {}
    if order.signed_at is not None:
        events["unit_accepted"] = order.signed_at
    return events


def compute_for(engine: DeadlineEngine, order: WorkOrder) -> dict[str, Deadline]:
    return engine.compute(Category(order.category), Urgency(order.urgency), accepted_at=order.created_at,
                          dispatched_at=order.dispatched_at, events=order_events(order))


def preview(engine: DeadlineEngine, category: Category | str, urgency: Urgency | str,
            at: datetime | None = None) -> list[Deadline]:
    """What the console form shows before saving: every deadline, as if dispatched at once."""
    at = at or datetime.now(UTC)
    computed = engine.compute(Category(category), Urgency(urgency), accepted_at=at, dispatched_at=at)
    return sorted(computed.values(), key=lambda d: d.due_at)


def as_sla(row: OrderDeadline) -> Deadline:
    from hotline.sla.timeutil import local

    return Deadline(row.kind, local(row.due_at), row.provisional, row.rule, local(row.anchor_at),
                    extensions=row.extensions)
