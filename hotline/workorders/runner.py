"""The background side of this area in one process: the calls consumer, the provincial outbox worker and
the deadline scanner. `python -m hotline.workorders` runs it; a host service may call `run_background`.

The provincial endpoint comes from HOTLINE_PROVINCE_ENDPOINT (no setting for it in hotline.settings yet);
without it no outbox worker runs and messages wait in the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field

from sqlalchemy.orm import sessionmaker

from hotline.bus import EventBus
from hotline.calls.bus_consumer import CallsConsumer
from hotline.outbox.worker import DeliveryPolicy, OutboxWorker
from hotline.sla import DeadlineEngine
from hotline.workorders.notifier import run_scanner

log = logging.getLogger(__name__)


@dataclass
class Background:
    bus: EventBus
    session_factory: sessionmaker
    engine: DeadlineEngine
    province_endpoint: str | None = None
    scan_interval: float = 60.0
    outbox_poll: float = 1.0
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    outbox: OutboxWorker | None = None

    def tasks(self) -> list[asyncio.Task]:
        out = [asyncio.create_task(CallsConsumer(self.bus, self.session_factory).run(), name="calls-consumer"),
               asyncio.create_task(run_scanner(self.bus, self.session_factory, self.engine, self.scan_interval),
                                   name="deadline-scanner")]
        if self.province_endpoint:
            self.outbox = OutboxWorker(self.session_factory, self.province_endpoint, self.policy)
            out.append(asyncio.create_task(self.outbox.run(self.outbox_poll), name="outbox"))
        else:
            log.warning("HOTLINE_PROVINCE_ENDPOINT not set: outbox messages wait in the database")
        return out


async def run_background(background: Background, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then cancel the loops (each pass is its own transaction: nothing is lost)."""
    tasks = background.tasks()
    await stop.wait()
    if background.outbox is not None:
        background.outbox.stop()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def main() -> None:  # pragma: no cover - the process entry point
    from hotline.db import make_engine, make_session_factory
    from hotline.redis_server import EmbeddedRedis
    from hotline.settings import get_settings
    from hotline.workorders.deadlines import engine_from_settings

    logging.basicConfig(level=logging.INFO)
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    with factory() as session:
        engine = engine_from_settings(session)

    async def go(url: str) -> None:
        background = Background(EventBus.from_url(url), factory, engine, os.environ.get("HOTLINE_PROVINCE_ENDPOINT"))
        await run_background(background, asyncio.Event())

    if settings.redis_url:
        asyncio.run(go(settings.redis_url))
    else:
        with EmbeddedRedis() as redis:
            asyncio.run(go(redis.url))
