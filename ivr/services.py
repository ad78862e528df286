"""What the IVR flows need from the rest of the platform, as one Protocol, and its implementation on
Redis (notice, queue figures kept by acd/, callbacks, surveys, emergencies) plus the database (caller
history and work orders, through `ivr.records`)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

import redis.asyncio as aioredis

from hotline.bus import EventBus
from hotline.domain import EmergencyService
from ivr import keys
from ivr.notice import get_notice
from ivr.schemas import CallerProfile, Notice, OrderStatusInfo, QueueWait, SurveyRating

log = logging.getLogger(__name__)


@runtime_checkable
class IvrServices(Protocol):
    async def caller_profile(self, number: str) -> CallerProfile: ...

    async def order_status(self, order_no: str) -> OrderStatusInfo | None: ...

    async def expected_wait(self, queue: str, call_id: str | None = None) -> QueueWait: ...

    async def current_notice(self) -> Notice | None: ...

    async def record_survey(self, call_id: str, rating: SurveyRating, *, source: str = "keyed",
                            order_no: str | None = None) -> None: ...

    async def request_callback(self, *, call_id: str, number: str, queue: str, wait: QueueWait) -> str: ...

    async def record_emergency(self, *, call_id: str, number: str, service: EmergencyService) -> None: ...

    async def route(self, number: str, category: str | None, profile: CallerProfile | None) -> dict[str, str]:
        """Channel variables for the hand-over to app_queue: HOTLINE_QUEUE, HOTLINE_PRIORITY,
        HOTLINE_LAST_AGENT (the ACD's routing, acd.routing.route_call)."""
        ...


@runtime_checkable
class OrderRecords(Protocol):
    """The database side (synchronous SQLAlchemy; called in a worker thread)."""

    def caller_profile(self, number: str) -> CallerProfile: ...

    def order_status(self, order_no: str) -> OrderStatusInfo | None: ...

    def record_satisfaction(self, call_id: str, score: int, order_no: str | None) -> list[str]:
        """Store the score (1 very dissatisfied .. 5 very satisfied) on the call and its work orders;
        the order numbers updated."""
        ...


class HotlineIvrServices:
    def __init__(self, redis: aioredis.Redis, records: OrderRecords | None = None,
                 bus: EventBus | None = None) -> None:
        self.redis = redis
        self.records = records
        self.bus = bus or EventBus(redis)

    async def caller_profile(self, number: str) -> CallerProfile:
        profile = CallerProfile(number)
        if self.records is not None and number:
            profile = await asyncio.to_thread(self.records.caller_profile, number)
        pending = await self._callback_pending(number)
        if pending and not profile.callback_pending:
            profile = replace(profile, callback_pending=True)
        return profile

    async def _callback_pending(self, number: str) -> bool:
        return bool(number) and bool(await self.redis.hexists(keys.CALLBACK_NUMBERS, number))

    async def order_status(self, order_no: str) -> OrderStatusInfo | None:
        if self.records is None:
            return None
        return await asyncio.to_thread(self.records.order_status, order_no)

    async def expected_wait(self, queue: str, call_id: str | None = None) -> QueueWait:
        stats = await self.redis.hgetall(keys.queue_stats(queue))
        offer = await self.redis.hexists(keys.CALLBACK_OFFER, queue)
        position = queued_at = None
        if call_id:
            rank = await self.redis.zrank(keys.queue_waiting(queue), call_id)
            if rank is not None:
                position = rank + 1
                queued_at = await self.redis.zscore(keys.queue_waiting(queue), call_id)
        expected = _number(stats.get("ewt"))
        per_position = _number(stats.get("per_position"))
        if position is not None and per_position is not None:
            expected = per_position * position
        return QueueWait(position, None if expected is None else round(expected), queued_at, bool(offer))

    async def current_notice(self) -> Notice | None:
        try:
            return await get_notice(self.redis)
        except ValueError:
            log.error("unreadable IVR notice in %s: ignored", keys.NOTICE)
            return None

    async def record_survey(self, call_id: str, rating: SurveyRating, *, source: str = "keyed",
                            order_no: str | None = None) -> None:
        rating = SurveyRating(rating)
        fields = {"key": int(rating), "score": rating.score, "label": rating.label, "source": source,
                  "order_no": order_no or "", "recorded_at": time.time()}
        await self.redis.hset(keys.survey(call_id), mapping=fields)
        updated: list[str] = []
        if self.records is not None:
            updated = await asyncio.to_thread(self.records.record_satisfaction, call_id, rating.score, order_no)
        await self.bus.publish(keys.IVR_STREAM, {"type": "survey.recorded", "call_id": call_id, "ts": time.time(),
                                                 "key": int(rating), "score": rating.score, "label": rating.label,
                                                 "source": source, "orders": updated})

    async def request_callback(self, *, call_id: str, number: str, queue: str, wait: QueueWait) -> str:
        now = time.time()
        queued_at = wait.queued_at if wait.queued_at is not None else now
        record: dict[str, Any] = {"call_id": call_id, "number": number, "queue": queue, "queued_at": queued_at,
                                  "position": wait.position if wait.position is not None else "",
                                  "expected_seconds": wait.expected_seconds or "", "requested_at": now,
                                  "status": "pending"}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.callback(call_id), mapping=record)
            pipe.zadd(keys.CALLBACKS, {call_id: queued_at})  # ordered by the original queue time: turn kept
            if number:
                pipe.hset(keys.CALLBACK_NUMBERS, number, call_id)
            await pipe.execute()
        await self.bus.publish(keys.IVR_STREAM, {"type": "callback.requested", "ts": now, **record})
        return call_id

    async def record_emergency(self, *, call_id: str, number: str, service: EmergencyService) -> None:
        record = {"type": "emergency.transferred", "call_id": call_id, "number": number,
                  "service": service.value, "ts": time.time()}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(keys.EMERGENCIES, json.dumps(record, ensure_ascii=False))
            pipe.ltrim(keys.EMERGENCIES, 0, keys.EMERGENCIES_KEEP - 1)
            await pipe.execute()
        await self.bus.publish(keys.IVR_STREAM, record)
        await self.bus.publish("supervisors", record)


    async def route(self, number: str, category: str | None, profile: CallerProfile | None) -> dict[str, str]:
        from acd.routing import route_call

        variables = await route_call(self.redis, number, category, profile)
        return {name: str(value) for name, value in variables.items()}


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None
