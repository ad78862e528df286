"""Reads the `calls` stream and persists calls (docs/CONTRACTS.md "Call events").

Every transition updates the row (so an open call is visible in caller history); `call.ended` carries
the final snapshot. The stream position is kept in Redis; since `apply_call_event` is idempotent a
position lost in a crash only replays events, never duplicates rows.

Outages lose nothing: while the database is unreachable the consumer keeps retrying the same event and
does not move its position; while Redis is unreachable it retries reading. Only an event that fails for
another reason (bad data) is logged and skipped, so that it cannot block the stream behind it.
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import sessionmaker

from hotline.bus import EventBus
from hotline.calls.services import apply_call_event

log = logging.getLogger(__name__)
STREAM = "calls"
RETRY_INITIAL, RETRY_MAX = 0.05, 2.0


def database_unavailable(exc: BaseException) -> bool:
    """A failure that says nothing about the event: the database is down, locked or the link broke."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


class CallsConsumer:
    def __init__(self, bus: EventBus, session_factory: sessionmaker, name: str = "calls-db") -> None:
        self.bus = bus
        self.session_factory = session_factory
        self.cursor_key = f"{bus.prefix}cursor:{name}"
        self.retries = 0

    async def position(self) -> str:
        return (await self.bus.redis.get(self.cursor_key)) or "0-0"

    def handle(self, event: dict) -> None:
        with self.session_factory() as session, session.begin():
            apply_call_event(session, event)

    async def store(self, entry_id: str, event: dict) -> None:
        """Write one event, waiting out a database outage; returns once written (or skipped as bad data)."""
        delay = RETRY_INITIAL
        while True:
            try:
                await asyncio.to_thread(self.handle, event)
                return
            except Exception as exc:
                if not database_unavailable(exc):  # one bad event must not block the stream behind it
                    log.exception("calls event %s not stored: %r", entry_id, event)
                    return
                self.retries += 1
                log.warning("database unavailable storing %s (%s): retrying in %.2f s", entry_id, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    async def drain(self) -> int:
        """Apply everything after the stored position; returns how many events were read."""
        last = await self.position()
        total = 0
        while True:
            batch = await self.bus.read_since(STREAM, last)
            if not batch:
                return total
            for entry_id, event in batch:
                await self.store(entry_id, event)
                last = entry_id
                await self.bus.redis.set(self.cursor_key, last)  # only after the row is written
            total += len(batch)

    async def run(self, block_ms: int = 1000) -> None:
        """Forever; a Redis outage is waited out and reading resumes from the stored position."""
        delay = RETRY_INITIAL
        while True:
            try:
                await self.drain()
                async for _stream, entry_id, event in self.bus.subscribe({STREAM: await self.position()},
                                                                         block_ms):
                    await self.store(entry_id, event)
                    await self.bus.redis.set(self.cursor_key, entry_id)
                    delay = RETRY_INITIAL
            except (RedisError, OSError) as exc:
                log.warning("calls stream unavailable (%s): retrying in %.2f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)


async def run_role(ctx) -> None:  # type: ignore[no-untyped-def]  # ctx: hotline.runtime.RoleContext
    """The `calls` role of hotline.runtime: persists every call the bridge publishes."""
    await CallsConsumer(ctx.bus, ctx.session_factory).run()
