"""The background loops together (as the scheduler role and the calls consumer run them), on real Redis,
a real database and a real HTTP endpoint."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from hotline.bus import EventBus
from hotline.calls.bus_consumer import CallsConsumer
from hotline.calls.models import Call
from hotline.domain import Category
from hotline.outbox.models import OutboxMessage
from hotline.outbox.worker import DeliveryPolicy, OutboxWorker
from hotline.tasks import cancel_and_wait
from hotline.workorders import services
from hotline.workorders.notifier import SUPERVISORS, run_scanner
from hotline.workorders.services import NewOrder

from .conftest import AGENT
from .test_outbox import Province


async def test_background_persists_calls_delivers_outbox_and_raises_cards(db_session_factory, engine,
                                                                        redis_async) -> None:
    bus = EventBus(redis_async)
    province = Province(fail=1)
    overdue_since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)  # its 2-hour dispatch clock ran out
    with db_session_factory() as s:
        services.create_order(s, engine, AGENT, NewOrder(Category.help, "井盖丢失"), now=overdue_since)
        s.commit()
    await bus.publish("calls", {"type": "call.ended", "call_id": "1763.77", "ts": 1.0, "state": "ended",
                                "call": {"caller_number": "13912345678", "outcome": "abandoned"}})
    outbox = OutboxWorker(db_session_factory, province.url, DeliveryPolicy(base_delay=0.05, max_delay=0.1))
    loops = [asyncio.create_task(CallsConsumer(bus, db_session_factory).run(block_ms=50)),
             asyncio.create_task(run_scanner(bus, db_session_factory, engine, interval=0.05)),
             asyncio.create_task(outbox.run(poll_interval=0.05))]
    try:
        for _ in range(800):  # up to ~20 s on a loaded machine; normally a few passes
            with db_session_factory() as s:
                call = s.scalars(select(Call)).one_or_none()
                sent = s.scalars(select(OutboxMessage.status)).all()
            cards = [e for _, e in await bus.read_since(SUPERVISORS)]
            if call is not None and sent == ["delivered"] and cards:
                break
            await asyncio.sleep(0.025)
    finally:
        outbox.stop()
        # the calls consumer blocked in a Redis read can swallow one cancellation: cancel until it ends; a
        # loop that never stops fails the test instead of hanging the suite
        stuck = await cancel_and_wait(loops, timeout=15)
        province.close()
    assert not stuck, f"loops that did not stop: {stuck}"
    assert call is not None and call.outcome == "abandoned"
    assert sent == ["delivered"] and len(province.received) == 2  # one failure, one retry
    assert [c["type"] for c in cards] == ["order.overdue"]
