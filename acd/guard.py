"""The answer-rate guard (Ziyang art. 10 and 25: at least 95% of calls answered, expert seats included).

Figures over a rolling window (`guard_window_seconds`), per queue, from the `calls` bus stream:
- offered  = answered + abandoned, where an abandon shorter than `settings.short_abandon_seconds` is not
             counted at all (a caller who hangs up within a few seconds of joining never really asked);
- answer rate = answered / offered;
- 15-second answer rate (GB/T 33358) = answered within `guard_service_level_seconds` / offered;
- expected wait = the queue's `ewt` kept by acd/queues.py.

Rules (skills.yaml `acd.guard_rules`) fire once when crossed and are cleared when the figure recovers. Each
action and each clearing is a row of `acd_guard_actions` and an event on bus stream `supervisors`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.orm import sessionmaker

from acd import keys
from acd.config import AcdConfig, GuardRule
from acd.models import GuardAction
from acd.notifier import AcdNotifier
from acd.services import AgentStore
from acd.state import AgentState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    ts: float
    queue: str
    answered: bool
    wait: float


@dataclass(frozen=True, slots=True)
class Figures:
    queue: str
    offered: int
    answered: int
    answered_in_sl: int
    expected_wait: float

    @property
    def answer_rate(self) -> float:
        return self.answered / self.offered if self.offered else 1.0

    @property
    def service_level(self) -> float:
        return self.answered_in_sl / self.offered if self.offered else 1.0

    def metric(self, name: str) -> float:
        return {"answer_rate": self.answer_rate, "service_level": self.service_level,
                "expected_wait": self.expected_wait}[name]


class AnswerRateGuard:
    def __init__(self, config: AcdConfig, redis: aioredis.Redis, notifier: AcdNotifier, *,
                 short_abandon_seconds: float = 5, ami: Any = None, session_factory: sessionmaker | None = None,
                 clock: Any = time.time) -> None:
        self.config, self.redis, self.notifier, self.ami = config, redis, notifier, ami
        self.short_abandon = short_abandon_seconds
        self.session_factory, self.clock = session_factory, clock
        self.outcomes: deque[Outcome] = deque()
        self._answered: set[str] = set()

    # --- input: call events --------------------------------------------------------------------------------
    def observe(self, event: dict[str, Any]) -> None:
        kind, call = event.get("type", ""), event.get("call") or {}
        queue = call.get("queue")
        if not queue:
            return
        ts = float(event.get("ts") or self.clock())
        call_id = event.get("call_id", "")
        if kind == "call.answered" and call_id not in self._answered:
            self._answered.add(call_id)
            self.outcomes.append(Outcome(ts, queue, True, float(call.get("wait_seconds") or 0)))
        elif kind == "call.ended":
            if call_id in self._answered:
                self._answered.discard(call_id)
                return
            if call.get("answered_at") or call.get("outcome") != "abandoned":
                return
            wait = float(call.get("wait_seconds") or 0)
            if wait >= self.short_abandon:
                self.outcomes.append(Outcome(ts, queue, False, wait))

    # --- figures -------------------------------------------------------------------------------------------
    async def figures(self, queue: str, now: float | None = None) -> Figures:
        now = self.clock() if now is None else now
        start = now - self.config.acd.guard_window_seconds
        while self.outcomes and self.outcomes[0].ts < start - 3600:
            self.outcomes.popleft()   # older than any window we are asked about
        sl = self.config.acd.guard_service_level_seconds
        rows = [o for o in self.outcomes if o.queue == queue and start <= o.ts <= now]
        answered = [o for o in rows if o.answered]
        ewt = float(await self.redis.hget(keys.queue_stats(queue), "ewt") or 0)
        return Figures(queue, len(rows), len(answered), sum(1 for o in answered if o.wait <= sl), ewt)

    @staticmethod
    def crossed(rule: GuardRule, figures: Figures) -> bool:
        if figures.offered < rule.min_offered:
            return False
        value = figures.metric(rule.metric)
        return value < rule.below if rule.below is not None else value > rule.above  # type: ignore[operator]

    # --- decisions -----------------------------------------------------------------------------------------
    async def evaluate(self, now: float | None = None) -> list[dict[str, Any]]:
        """Check every rule on every queue; act on new crossings, undo on recoveries. Returns the actions."""
        now = self.clock() if now is None else now
        done: list[dict[str, Any]] = []
        for queue in self.config.queues:
            figures = await self.figures(queue.name, now)
            for rule in self.config.acd.guard_rules:
                key = f"{queue.name}|{rule.name}"
                active = await self.redis.hexists(keys.GUARD_ACTIVE, key)
                crossed = self.crossed(rule, figures)
                if crossed and not active:
                    await self.redis.hset(keys.GUARD_ACTIVE, key, now)
                    for action in rule.actions:
                        detail = await self._do(action, queue.name)
                        done.append(await self._record(now, queue.name, rule, figures, action, detail))
                elif active and not crossed and figures.offered >= rule.min_offered:
                    await self.redis.hdel(keys.GUARD_ACTIVE, key)
                    for action in rule.actions:
                        if action == "alert":
                            continue
                        if await self._still_needed(action, queue.name, exclude=rule.name):
                            continue
                        detail = await self._undo(action, queue.name)
                        done.append(await self._record(now, queue.name, rule, figures, f"{action}_off", detail))
        return done

    async def _still_needed(self, action: str, queue: str, exclude: str) -> bool:
        for rule in self.config.acd.guard_rules:
            if rule.name != exclude and action in rule.actions and \
                    await self.redis.hexists(keys.GUARD_ACTIVE, f"{queue}|{rule.name}"):
                return True
        return False

    async def _do(self, action: str, queue: str) -> str:
        if action == "callback_offer":
            await self.redis.hset(keys.CALLBACK_OFFER, queue, "1")
            return "callback offers on"
        if action == "overflow":
            return await self._add_overflow(queue)
        return "supervisors alerted"

    async def _undo(self, action: str, queue: str) -> str:
        if action == "callback_offer":
            await self.redis.hdel(keys.CALLBACK_OFFER, queue)
            return "callback offers off"
        if action == "overflow":
            added = [a for a in (await self.redis.hget(keys.OVERFLOW, queue) or "").split(",") if a]
            for agent_id in added:
                await self._ami({"Action": "QueueRemove", "Queue": queue, "Interface": f"PJSIP/{agent_id}"})
            await self.redis.hdel(keys.OVERFLOW, queue)
            return f"overflow removed: {','.join(added)}"
        return ""

    async def _add_overflow(self, queue_name: str) -> str:
        queue = self.config.queue(queue_name)
        if not queue.overflow_skill:
            return "no overflow group configured"
        added = []
        for agent in await AgentStore(self.redis).all():
            if agent.state == AgentState.logged_out or queue_name in agent.queues:
                continue
            try:
                seat = self.config.seat(agent.agent_id)
            except KeyError:
                continue
            if queue.overflow_skill not in seat.skills:
                continue
            penalty = seat.skills[queue.overflow_skill] + self.config.acd.overflow_penalty
            if await self._ami({"Action": "QueueAdd", "Queue": queue_name, "Interface": seat.interface,
                                "MemberName": seat.member_name, "StateInterface": seat.interface,
                                "Penalty": penalty}):
                added.append(seat.id)
        if added:
            previous = [a for a in (await self.redis.hget(keys.OVERFLOW, queue_name) or "").split(",") if a]
            await self.redis.hset(keys.OVERFLOW, queue_name, ",".join(sorted(set(previous + added))))
        return f"overflow {queue.overflow_skill} added: {','.join(added) or 'nobody logged in'}"

    async def _ami(self, action: dict[str, Any]) -> bool:
        if self.ami is None:
            return False
        try:
            await self.ami.send_action(action)
            return True
        except Exception as exc:
            log.warning("guard: %s failed: %s", action["Action"], exc)
            return False

    async def _record(self, now: float, queue: str, rule: GuardRule, figures: Figures, action: str,
                      detail: str) -> dict[str, Any]:
        value = figures.metric(rule.metric)
        threshold = rule.below if rule.below is not None else rule.above
        event = {"type": f"guard.{action}", "queue": queue, "rule": rule.name, "metric": rule.metric,
                 "value": round(value, 4), "threshold": threshold, "offered": figures.offered,
                 "answered": figures.answered, "detail": detail, "ts": now}
        await self.notifier.supervisors(event)
        if self.session_factory is not None:
            row = GuardAction(at=datetime.fromtimestamp(now, UTC), queue=queue, rule=rule.name, metric=rule.metric,
                              value=value, threshold=float(threshold or 0), action=action, detail=detail[:500])

            def write() -> None:
                with self.session_factory() as session:  # type: ignore[misc]
                    session.add(row)
                    session.commit()

            await asyncio.to_thread(write)
        return event
