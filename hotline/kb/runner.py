"""The periodic job of the KB: auto-accept collected information past its 22-hour review deadline."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.orm import Session, sessionmaker

from hotline.kb.services import auto_accept_due

log = logging.getLogger(__name__)


def run_auto_accept_once(session_factory: sessionmaker[Session]) -> list[int]:
    with session_factory() as session:
        published = auto_accept_due(session)
    if published:
        log.info("auto-accepted collected KB articles %s (Foshan art. 51(3))", published)
    return published


async def auto_accept_forever(session_factory: sessionmaker[Session], interval_s: float = 60.0) -> None:
    """Run inside any long-lived service (the console does). Safe in several processes at once: due rows are
    taken with FOR UPDATE SKIP LOCKED on PostgreSQL, and the state machine refuses a second publish."""
    while True:
        try:
            await asyncio.to_thread(run_auto_accept_once, session_factory)
        except Exception:  # a failed run is retried at the next tick, never kills the host service
            log.exception("KB auto-accept failed")
        await asyncio.sleep(interval_s)
