"""Callbacks that keep the caller's turn.

The IVR records a request (ivr/keys.py: HASH `callback:<id>` + ZSET `callbacks` scored by the time the caller
first joined the queue). The dispatcher dials (AMI Originate, Async) a request only when it is at the head:
no caller still waiting in its queue joined earlier, no earlier request for that queue is open, and an agent
of the queue is ready. One open request per number (the later ones are closed as `duplicate`). A request
counts as answered only on OriginateResponse Reason 4 (the citizen picked up); otherwise it is retried after
`callback_retry_seconds`, keeping its place, up to `callback_attempts` times.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.orm import sessionmaker

from acd import keys
from acd.config import AcdConfig
from acd.models import CallbackRecord
from acd.notifier import AcdNotifier
from acd.services import AgentStore
from acd.state import AgentState
from hotline.ami.events import AmiEvent, OriginateResponse

log = logging.getLogger(__name__)
OPEN = ("pending", "dialing")
ACTION_PREFIX = "acd-cb-"
ANSWERED = 4   # AST_CONTROL_ANSWER

# pending → dialing, atomically, so two dispatchers never dial the same request
_CLAIM = """
if redis.call('HGET', KEYS[1], 'status') == 'pending' then
  redis.call('HSET', KEYS[1], 'status', 'dialing', 'attempts', ARGV[1], 'dialed_at', ARGV[2])
  return 1
end
return 0
"""


class CallbackDispatcher:
    def __init__(self, config: AcdConfig, redis: aioredis.Redis, ami: Any, notifier: AcdNotifier,
                 session_factory: sessionmaker | None = None, clock: Any = time.time) -> None:
        self.config, self.redis, self.ami, self.notifier = config, redis, ami, notifier
        self.session_factory, self.clock = session_factory, clock
        self.store = AgentStore(redis)
        self._claim = redis.register_script(_CLAIM)

    async def open_requests(self) -> list[dict[str, str]]:
        ids = await self.redis.zrange(keys.CALLBACKS, 0, -1)
        rows = []
        for callback_id in ids:
            data = await self.redis.hgetall(keys.callback(callback_id))
            if data:
                rows.append({"id": callback_id, **data})
            else:
                await self.redis.zrem(keys.CALLBACKS, callback_id)   # a request without its record: unusable
        return rows

    async def admit(self) -> list[str]:
        """One open request per number: the earliest keeps its turn, later ones are closed as duplicates.

        The IVR points `callbacks:by-number` at the newest request; it is pointed back at the one kept."""
        duplicates = []
        kept: dict[str, str] = {}
        for row in await self.open_requests():   # in queue-time order
            number = row.get("number", "")
            if row.get("status") not in OPEN or not number:
                continue
            if number in kept:
                await self._finish(row, "duplicate")
                duplicates.append(row["id"])
                continue
            kept[number] = row["id"]
            if await self.redis.hget(keys.CALLBACK_NUMBERS, number) != row["id"]:
                await self.redis.hset(keys.CALLBACK_NUMBERS, number, row["id"])
        return duplicates

    async def dispatch(self) -> list[str]:
        """Dial every request that reached the head of its queue; returns the ids dialled."""
        await self.admit()
        now = self.clock()
        free: dict[str, int] = {}
        for agent in await self.store.all():
            if agent.state == AgentState.ready:
                for queue in agent.queues:
                    free[queue] = free.get(queue, 0) + 1
        blocked: set[str] = set()
        dialled = []
        for row in await self.open_requests():
            queue = row.get("queue", "")
            if queue in blocked:
                continue
            if row.get("status") == "dialing":
                blocked.add(queue)     # an earlier request of this queue is being dialled: keep order
                continue
            if row.get("status") != "pending" or float(row.get("next_at") or 0) > now:
                blocked.add(queue)
                continue
            queued_at = float(row.get("queued_at") or 0)
            head = await self.redis.zrange(keys.queue_waiting(queue), 0, 0, withscores=True)
            if head and head[0][1] < queued_at:
                blocked.add(queue)     # someone who joined before this caller still waits: they go first
                continue
            if free.get(queue, 0) <= 0:
                blocked.add(queue)
                continue
            if await self._dial(row):
                free[queue] -= 1
                dialled.append(row["id"])
            blocked.add(queue)
        return dialled

    async def _dial(self, row: dict[str, str]) -> bool:
        policy = self.config.acd
        attempt = int(row.get("attempts") or 0) + 1
        if not await self._claim(keys=[keys.callback(row["id"])], args=[attempt, self.clock()]):
            return False
        action = {"Action": "Originate", "Channel": f"PJSIP/{row['number']}@{policy.callback_trunk}",
                  "Context": policy.callback_context, "Exten": row["queue"], "Priority": 1,
                  "CallerID": policy.callback_caller_id, "Timeout": 30000,
                  "ActionID": f"{ACTION_PREFIX}{row['id']}-{attempt}",
                  "Variable": [f"HOTLINE_CALLBACK_ID={row['id']}", f"HOTLINE_PRIORITY={policy.priority_callback}"]}
        try:
            await self.ami.send_action(action)
        except Exception as exc:  # refused or timed out: the request keeps its place
            log.warning("callback %s: Originate failed: %s", row["id"], exc)
            await self._attempt_failed(row["id"], attempt, str(exc))
            return False
        await self.notifier.supervisors({"type": "callback.dialing", "callback_id": row["id"], "queue": row["queue"],
                                         "attempt": attempt, "ts": self.clock()})
        return True

    async def on_event(self, event: Any) -> None:
        if not isinstance(event, OriginateResponse):
            return
        action_id = event.frame.headers.get("ActionID", "") if isinstance(event, AmiEvent) else ""
        if not action_id.startswith(ACTION_PREFIX):
            return
        callback_id, _, attempt = action_id[len(ACTION_PREFIX):].rpartition("-")
        data = await self.redis.hgetall(keys.callback(callback_id))
        if not data or data.get("status") != "dialing":
            return
        if event.response == "Success" and event.reason == ANSWERED:
            await self._finish({"id": callback_id, **data}, "answered")
        else:
            await self._attempt_failed(callback_id, int(attempt or 1), f"reason {event.reason}")

    async def _attempt_failed(self, callback_id: str, attempt: int, why: str) -> None:
        policy = self.config.acd
        data = await self.redis.hgetall(keys.callback(callback_id))
        if attempt >= policy.callback_attempts:
            await self._finish({"id": callback_id, **data}, "failed")
            return
        await self.redis.hset(keys.callback(callback_id), mapping={
            "status": "pending", "attempts": attempt, "next_at": self.clock() + policy.callback_retry_seconds,
            "last_error": why})

    async def _finish(self, row: dict[str, str], status: str) -> None:
        callback_id, number = row["id"], row.get("number", "")
        holds_number = status != "duplicate" and await self.redis.hget(keys.CALLBACK_NUMBERS, number) == callback_id
        # one transaction: nobody sees the callback finished while its number still counts as pending
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.callback(callback_id), mapping={"status": status, "finished_at": self.clock()})
            pipe.zrem(keys.CALLBACKS, callback_id)
            if holds_number:
                pipe.hdel(keys.CALLBACK_NUMBERS, number)
            await pipe.execute()
        await self.notifier.supervisors({"type": f"callback.{status}", "callback_id": callback_id,
                                         "queue": row.get("queue", ""), "ts": self.clock()})
        if self.session_factory is not None:
            await asyncio.to_thread(self._record, row, status)

    def _record(self, row: dict[str, str], status: str) -> None:
        def ts(value: Any) -> datetime:
            return datetime.fromtimestamp(float(value or 0), UTC)

        with self.session_factory() as session:  # type: ignore[misc]
            session.add(CallbackRecord(callback_id=row["id"], number=row.get("number", ""),
                                       queue=row.get("queue", ""), queued_at=ts(row.get("queued_at")), status=status,
                                       attempts=int(row.get("attempts") or 0), finished_at=ts(self.clock())))
            session.commit()
