"""Where the engine's state lives between restarts: one Redis key holding the state and the bus cursors.

State and cursors are written together in one SET, so after a restart the engine folds on from exactly
the entry after the last one the saved state contains: no event is counted twice or missed (as long as
the bus streams still hold the entries, see DEFAULT_MAXLEN in hotline/bus.py).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis.asyncio as aioredis

from metrics.engine import MetricsEngine

log = logging.getLogger(__name__)

STREAMS = ("calls", "acd", "supervisors")


class MetricsStateStore:
    def __init__(self, redis: aioredis.Redis, prefix: str = "hotline:") -> None:
        self.redis = redis
        self.key = prefix + "metrics:state"
        self.wallboard_key = prefix + "metrics:wallboard"

    async def save(self, engine: MetricsEngine, cursors: dict[str, str]) -> None:
        payload = {"engine": engine.to_state(), "cursors": dict(cursors)}
        await self.redis.set(self.key, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))

    async def load(self, engine: MetricsEngine) -> dict[str, str]:
        """Fill `engine` from the saved state; returns the cursors to read on from (`0-0`: from the start)."""
        raw = await self.redis.get(self.key)
        cursors = dict.fromkeys(STREAMS, "0-0")
        if raw is None:
            return cursors
        try:
            payload = json.loads(raw)
            engine.load_state(payload["engine"])
        except (ValueError, KeyError, TypeError) as exc:
            # an unreadable state is kept aside, never overwritten silently; the day is rebuilt from the bus
            await self.redis.set(self.key + ":unreadable", raw)
            engine.load_state(MetricsEngine().to_state())  # undo a half-done load
            log.error("metrics state unreadable (%s): rebuilding from the bus streams", exc)
            return cursors
        cursors.update(payload.get("cursors", {}))
        return cursors

    async def publish_wallboard(self, snapshot: dict[str, Any]) -> None:
        await self.redis.set(self.wallboard_key, json.dumps(snapshot, ensure_ascii=False, separators=(",", ":")))

    async def wallboard(self) -> dict[str, Any] | None:
        raw = await self.redis.get(self.wallboard_key)
        return json.loads(raw) if raw else None
