"""Reads the `calls` stream and persists calls (docs/CONTRACTS.md "Call events").

Every transition updates the row (so an open call is visible in caller history); `call.ended` carries
the final snapshot. The stream position is kept in Redis; since `apply_call_event` is idempotent a
position lost in a crash only replays events, never duplicates rows.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import sessionmaker

from hotline.bus import EventBus
from hotline.calls.services import apply_call_event

log = logging.getLogger(__name__)
STREAM = "calls"


class CallsConsumer:
    def __init__(self, bus: EventBus, session_factory: sessionmaker, name: str = "calls-db") -> None:
        self.bus = bus
        self.session_factory = session_factory
        self.cursor_key = f"{bus.prefix}cursor:{name}"

    async def position(self) -> str:
        return (await self.bus.redis.get(self.cursor_key)) or "0-0"

    def handle(self, event: dict) -> None:
        with self.session_factory() as session, session.begin():
            apply_call_event(session, event)

    async def drain(self) -> int:
        """Apply everything after the stored position; returns how many events were read."""
        last = await self.position()
        total = 0
        while True:
            batch = await self.bus.read_since(STREAM, last)
            if not batch:
                return total
            for entry_id, event in batch:
                try:
                    self.handle(event)
                except Exception:  # one bad event must not block the stream behind it
                    log.exception("calls event %s not stored: %r", entry_id, event)
                last = entry_id
            await self.bus.redis.set(self.cursor_key, last)
            total += len(batch)

    async def run(self, block_ms: int = 1000) -> None:
        await self.drain()
        async for _stream, entry_id, event in self.bus.subscribe({STREAM: await self.position()}, block_ms):
            try:
                self.handle(event)
            except Exception:
                log.exception("calls event %s not stored: %r", entry_id, event)
            await self.bus.redis.set(self.cursor_key, entry_id)
