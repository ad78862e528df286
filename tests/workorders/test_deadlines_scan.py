"""Yellow/red cards from the periodic scan (Foshan art. 47) and provisional deadlines recomputed
when an official calendar year is loaded."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from hotline.bus import EventBus
from hotline.domain import Category
from hotline.sla import DeadlineEngine, WorkCalendar, load_policy
from hotline.sla.timeutil import TZ
from hotline.workorders import services
from hotline.workorders.models import OrderDeadline
from hotline.workorders.notifier import SUPERVISORS, publish_deadline_alerts
from hotline.workorders.services import NewOrder, recompute_provisional

from .conftest import AGENT, MONDAY

H = dt.timedelta(hours=1)


async def test_near_due_then_overdue_each_published_once(db_session_factory, engine, units, redis_async) -> None:
    bus = EventBus(redis_async)
    with db_session_factory() as s:
        order = services.create_order(s, engine, AGENT, NewOrder(Category.complaint, "噪音扰民"), now=MONDAY)
        s.commit()
        number = order.number
    # dispatch is due 2 h after acceptance (Ziyang art. 13(1)); near due once 80% has elapsed
    assert await publish_deadline_alerts(bus, db_session_factory, engine, now=MONDAY + dt.timedelta(minutes=60)) == 0
    assert await publish_deadline_alerts(bus, db_session_factory, engine, now=MONDAY + dt.timedelta(minutes=100)) == 1
    assert await publish_deadline_alerts(bus, db_session_factory, engine, now=MONDAY + dt.timedelta(minutes=110)) == 0
    assert await publish_deadline_alerts(bus, db_session_factory, engine, now=MONDAY + 3 * H) == 1
    assert await publish_deadline_alerts(bus, db_session_factory, engine, now=MONDAY + 4 * H) == 0
    events = [e for _, e in await bus.read_since(SUPERVISORS)]
    assert [(e["type"], e["card"], e["number"], e["kind"]) for e in events] == [
        ("order.near_due", "yellow", number, "dispatch"), ("order.overdue", "red", number, "dispatch")]
    assert "第十三条" in events[1]["rule"]


async def test_met_deadlines_raise_nothing(db_session_factory, engine, units, redis_async) -> None:
    bus = EventBus(redis_async)
    with db_session_factory() as s:
        order = services.create_order(s, engine, AGENT, NewOrder(Category.complaint, "噪音扰民"), now=MONDAY)
        services.transition(s, engine, AGENT, order.id, "dispatch", unit_id=units["housing"], now=MONDAY + H)
        s.commit()
    # the dispatch deadline was met; the unit's sign clock (5 office hours) has not reached 80%
    assert await publish_deadline_alerts(bus, db_session_factory, engine, now=MONDAY + 3 * H) == 0


def test_recompute_provisional_after_official_year_loaded(db_session) -> None:
    engine = DeadlineEngine(load_policy("ziyang"), WorkCalendar("09:00-12:00,13:30-17:30"))
    accepted = dt.datetime(2027, 3, 1, 10, 0, tzinfo=TZ)  # 2027: only rule-based holidays known → provisional
    order = services.create_order(db_session, engine, AGENT, NewOrder(Category.complaint, "噪音"), now=accepted)
    db_session.flush()
    services.transition(db_session, engine, AGENT, order.id, "dispatch", unit_id=_unit(db_session), now=accepted)
    db_session.commit()
    complete = next(d for d in order.deadlines if d.kind == "complete")
    assert complete.provisional
    before = complete.due_at
    # an official schedule declares 2-3 March 2027 holidays: the 7 working days end two days later
    engine.calendar.install_year(2027, {dt.date(2027, 3, 2): "示例", dt.date(2027, 3, 3): "示例"}, {})
    assert recompute_provisional(db_session, engine) == 1
    db_session.commit()
    row = db_session.scalars(select(OrderDeadline).where(OrderDeadline.order_id == order.id,
                                                         OrderDeadline.kind == "complete")).one()
    assert not row.provisional and row.due_at == before + dt.timedelta(days=2)
    assert recompute_provisional(db_session, engine) == 0  # nothing provisional left to change


def _unit(session) -> int:  # type: ignore[no-untyped-def]
    from hotline.units.services import create_unit

    return create_unit(session, "u2027", "测试单位").id
