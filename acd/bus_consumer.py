"""Feeds the answer-rate guard from bus stream `calls` (docs/CONTRACTS.md "Call events")."""

from __future__ import annotations

from acd.guard import AnswerRateGuard
from hotline.bus import EventBus

CALLS_STREAM = "calls"


class CallsConsumer:
    def __init__(self, bus: EventBus, guard: AnswerRateGuard, last_id: str = "$") -> None:
        self.bus, self.guard, self.last_id = bus, guard, last_id

    async def catch_up(self) -> int:
        """Read what is on the stream now without blocking (window warm-up after a restart)."""
        if self.last_id == "$":
            self.last_id = "0-0"
        seen = 0
        while True:
            rows = await self.bus.read_since(CALLS_STREAM, self.last_id)
            if not rows:
                return seen
            for entry_id, event in rows:
                self.guard.observe(event)
                self.last_id = entry_id
                seen += 1

    async def run(self, block_ms: int = 1000) -> None:
        async for _stream, entry_id, event in self.bus.subscribe({CALLS_STREAM: self.last_id}, block_ms=block_ms):
            self.last_id = entry_id
            self.guard.observe(event)
