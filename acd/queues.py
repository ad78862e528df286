"""Queue figures for the IVR: who waits in each queue (ZSET by join time) and the expected wait (HASH), kept
from QueueCallerJoin/Leave/Abandon, AgentComplete and the agents' states (keys in ivr/keys.py)."""

from __future__ import annotations

import time
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


class QueueMonitor:
    def __init__(self, config: AcdConfig, redis: aioredis.Redis, clock: Any = time.time) -> None:
        self.config, self.redis, self.clock = config, redis, clock
        self.store = AgentStore(redis)
        self.aht: dict[str, float] = {}

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
        await self.update_stats(event.queue)

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
        for queue in self.config.queues:
            await self.update_stats(queue.name)

    async def update_stats(self, queue: str) -> dict[str, float]:
        """Expected wait of a new caller: the callers ahead beyond the free agents, each worth aht/staffed."""
        agents = [a for a in await self.store.all() if queue in a.queues]
        staffed = sum(1 for a in agents if a.state not in (AgentState.logged_out, AgentState.not_ready))
        free = sum(1 for a in agents if a.state == AgentState.ready)
        waiting = await self.redis.zcard(keys.queue_waiting(queue))
        aht = self.aht.get(queue, DEFAULT_AHT)
        per_position = aht / max(1, staffed)
        ewt = max(0, waiting + 1 - free) * per_position
        stats = {"ewt": round(ewt, 1), "per_position": round(per_position, 1), "waiting": waiting,
                 "staffed": staffed, "free": free, "aht": round(aht, 1), "updated_at": self.clock()}
        await self.redis.hset(keys.queue_stats(queue), mapping=stats)
        return stats
