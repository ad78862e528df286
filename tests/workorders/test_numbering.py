"""Readable numbers: date plus sequence, unique under concurrency, the hotline's local day."""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor

from hotline.domain import Category
from hotline.workorders import services
from hotline.workorders.numbering import next_number
from hotline.workorders.services import NewOrder

from .conftest import AGENT, MONDAY


def test_numbers_are_date_and_sequence(db_session, engine) -> None:
    first = services.create_order(db_session, engine, AGENT, NewOrder(Category.help, "井盖丢失"), now=MONDAY)
    second = services.create_order(db_session, engine, AGENT, NewOrder(Category.help, "井盖丢失2"), now=MONDAY)
    db_session.commit()
    assert (first.number, second.number) == ("20261116-000001", "20261116-000002")


def test_the_day_is_beijing_time(db_session) -> None:
    late_utc = dt.datetime(2026, 11, 20, 16, 30, tzinfo=dt.UTC)  # 00:30 on the 21st in Beijing
    assert next_number(db_session, late_utc) == "20261121-000001"
    assert next_number(db_session, late_utc - dt.timedelta(hours=1)) == "20261120-000001"


def test_concurrent_creation_never_duplicates_a_number(db_session_factory, engine) -> None:
    def create_many(worker: int) -> list[str]:
        numbers = []
        for i in range(15):
            with db_session_factory() as session:
                order = services.create_order(session, engine, AGENT,
                                              NewOrder(Category.help, f"worker {worker} order {i}"), now=MONDAY)
                session.commit()
                numbers.append(order.number)
        return numbers

    with ThreadPoolExecutor(8) as pool:
        numbers = [n for batch in pool.map(create_many, range(8)) for n in batch]
    assert len(numbers) == 120 and len(set(numbers)) == 120
    assert all(re.fullmatch(r"20261116-\d{6}", n) for n in numbers)
    assert sorted(int(n[-6:]) for n in numbers) == list(range(1, 121))  # no gaps either


def test_batch_creation_takes_consecutive_numbers_and_all_rows(db_session, engine, units) -> None:
    from sqlalchemy import func, select

    from hotline.outbox.models import OutboxMessage
    from hotline.workorders.models import OrderDeadline, OrderTransition

    items = [NewOrder(Category.help, f"来信反映第{i}件", channel="letter", lead_unit_id=units["street"])
             for i in range(5)]
    ids = services.create_orders(db_session, engine, AGENT, items, now=MONDAY)
    db_session.commit()
    orders = [services.get_order(db_session, i) for i in ids]
    assert [o.number for o in orders] == [f"20261116-{n:06d}" for n in range(1, 6)]
    assert all(o.channel == "letter" and o.units[0].role == "lead" for o in orders)
    assert db_session.scalar(select(func.count()).select_from(OrderTransition)) == 5
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 5
    assert db_session.scalar(select(func.count()).select_from(OrderDeadline)) == 5  # each its dispatch clock


def test_a_bad_order_in_a_batch_is_named_and_nothing_is_written(db_session, engine) -> None:
    import pytest

    items = [NewOrder(Category.help, "好的"), NewOrder(Category.help, "   ")]
    with pytest.raises(ValueError, match="order 1: content"):
        services.create_orders(db_session, engine, AGENT, items, now=MONDAY)
    db_session.rollback()
    assert next_number(db_session, MONDAY) == "20261116-000001"
