"""Publishing deadline cards to shift managers (stream `supervisors`, Foshan art. 47(1)3 黄牌警示/红牌督办)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy.orm import sessionmaker

from hotline.bus import EventBus
from hotline.sla import DeadlineEngine
from hotline.workorders.services import mark_alerted, scan_deadlines

SUPERVISORS = "supervisors"
log = logging.getLogger(__name__)


async def publish_deadline_alerts(bus: EventBus, session_factory: sessionmaker, engine: DeadlineEngine,
                                  now: datetime | None = None) -> int:
    """One scanner pass: find, publish, then remember (a crash before the last step re-sends, never loses)."""
    now = now or datetime.now(UTC)
    with session_factory() as session:
        alerts = scan_deadlines(session, engine, now)
        session.rollback()  # no write lock held while publishing (SQLite would stall every other writer)
    for alert in alerts:
        await bus.publish(SUPERVISORS, {**alert.event(), "ts": now.timestamp()})
    with session_factory() as session, session.begin():
        mark_alerted(session, alerts)
    return len(alerts)


async def run_scanner(bus: EventBus, session_factory: sessionmaker, engine: DeadlineEngine,
                      interval: float = 60.0) -> None:
    """The periodic scanner (run as a task by the service that hosts it)."""
    while True:
        try:
            await publish_deadline_alerts(bus, session_factory, engine)
        except Exception:  # a database or Redis hiccup: try again next round
            log.exception("deadline scan failed")
        await asyncio.sleep(interval)
