"""Queue figures for the IVR: who waits in each queue (ZSET by join time) and the expected wait (HASH), kept
from QueueCallerJoin/Leave/Abandon, AgentComplete and the agents' states (keys in ivr/keys.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from acd import keys
from acd.config import AcdConfig
from acd.services import AgentStore
from acd.state import AgentState
from hotline.ami.client import Resync
from hotline.ami.events import (
    AgentComplete,
    AgentConnect,
    AmiEvent,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueMemberEvent,
)

DEFAULT_AHT = 240.0   # seconds, until calls have been seen
EWMA = 0.1
# Queue events come in bursts (a member's status is reported once per queue it is in): the figures of every
# queue touched in a burst are computed together, from one read of the seats, this long after its first event.
COALESCE_SECONDS = 0.2
log = logging.getLogger(__name__)


class QueueMonitor:
    def __init__(self, config: AcdConfig, redis: aioredis.Redis, clock: Any = time.time,
                 coalesce_seconds: float = COALESCE_SECONDS) -> None:
        self.config, self.redis, self.clock = config, redis, clock
        self.store = AgentStore(redis)
        self.aht: dict[str, float] = {}
        self.coalesce_seconds = coalesce_seconds
        self._dirty: set[str] = set()
        self._flush: asyncio.Task[None] | None = None

    async def on_event(self, event: AmiEvent | Resync) -> None:
        if isinstance(event, Resync):
            await self.rebuild(event)
            return
        if isinstance(event, QueueCallerJoin):
            await self.redis.zadd(keys.queue_waiting(event.queue), {event.uniqueid: self.clock()}, nx=True)
        elif isinstance(event, QueueCallerLeave | QueueCallerAbandon):
            await self.redis.zrem(keys.queue_waiting(event.queue), event.uniqueid)
        elif isinstance(event, AgentComplete) and event.talk_time is not None:
            queue = self._queue(event.queue)
            handled = event.talk_time + (queue.wrapuptime if queue else 0)
            old = self.aht.get(event.queue, DEFAULT_AHT)
            self.aht[event.queue] = (1 - EWMA) * old + EWMA * handled
        elif not isinstance(event, QueueMemberEvent | AgentConnect):
            return   # member events: the tracker already applied them, so staffed/free are current
        self._dirty.add(event.queue)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._flush_soon(), name="acd-queue-stats")

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self.coalesce_seconds)
        queues, self._dirty = self._dirty, set()
        try:
            await self.update_many(queues)
        except Exception:  # Redis away: the next event (or the resync after reconnecting) recomputes
            log.exception("ACD: queue figures for %s not updated", sorted(queues))

    async def settle(self) -> None:
        """Wait for the figures of the events seen so far (the guard reads them)."""
        if self._flush is not None and not self._flush.done():
            await asyncio.shield(self._flush)

    async def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            await asyncio.gather(self._flush, return_exceptions=True)
            self._flush = None

    def _queue(self, name: str):  # type: ignore[no-untyped-def]
        try:
            return self.config.queue(name)
        except KeyError:
            return None

    async def rebuild(self, resync: Resync) -> None:
        now = self.clock()
        async with self.redis.pipeline(transaction=True) as pipe:
            for queue in self.config.queues:
                pipe.delete(keys.queue_waiting(queue.name))
            for caller in resync.callers:
                pipe.zadd(keys.queue_waiting(caller.queue), {caller.uniqueid: now - (caller.wait or 0)})
            await pipe.execute()
        await self.update_many(queue.name for queue in self.config.queues)

    async def update_many(self, queues: Iterable[str]) -> dict[str, dict[str, float]]:
        """Expected wait of a new caller: the callers ahead beyond the free agents, each worth aht/staffed."""
        queues = sorted(queues)
        if not queues:
            return {}
        agents = await self.store.all()
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.zcard(keys.queue_waiting(queue))
            waiting_counts = await pipe.execute()
        figures: dict[str, dict[str, float]] = {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue, waiting in zip(queues, waiting_counts, strict=True):
                members = [a for a in agents if queue in a.queues]
                staffed = sum(1 for a in members if a.state not in (AgentState.logged_out, AgentState.not_ready))
                free = sum(1 for a in members if a.state == AgentState.ready)
                aht = self.aht.get(queue, DEFAULT_AHT)
                per_position = aht / max(1, staffed)
                ewt = max(0, waiting + 1 - free) * per_position
                stats = {"ewt": round(ewt, 1), "per_position": round(per_position, 1), "waiting": waiting,
                         "staffed": staffed, "free": free, "aht": round(aht, 1), "updated_at": self.clock()}
                pipe.hset(keys.queue_stats(queue), mapping=stats)
                figures[queue] = stats
            await pipe.execute()
        return figures
