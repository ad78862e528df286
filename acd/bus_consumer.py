"""The ACD's bus consumers: stream `calls` feeds the answer-rate guard (docs/CONTRACTS.md "Call events");
stream `acd:requests` carries the consoles' state requests (agent_console POST /api/console/state), which the
ACD honours through the PBX."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from redis.exceptions import RedisError

from acd.guard import AnswerRateGuard
from acd.services import AcdError, AgentService
from acd.state import AgentState
from hotline.bus import EventBus, agent_stream, encode
from hotline.tasks import run_forever

log = logging.getLogger(__name__)
CALLS_STREAM = "calls"
REQUESTS_STREAM = "acd:requests"  # written by agent_console.resources.request_state
REQUESTS_GROUP = "acd"


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


class StateRequestsConsumer:
    """Honours `agent.state_requested` entries once each (consumer group `acd`, acknowledged when acted on):
    wrapup → 话后整理 (a pause with the wrap-up reason), idle → 示闲 (or 结束整理), paused → 示忙 with its reason.
    Asterisk's events then confirm the state as for any button; a request the ACD cannot honour (seat not
    signed in, unknown seat, PBX refusing) is answered on the agent's stream with `agent.request_refused`."""

    def __init__(self, bus: EventBus, agents: AgentService, consumer: str = "acd", block_ms: int = 1000) -> None:
        self.bus, self.agents, self.consumer, self.block_ms = bus, agents, consumer, block_ms
        self.handled = 0

    async def run(self) -> None:
        # Redis gone mid-request, or a bug: start over (the group keeps the unacknowledged requests)
        await run_forever(self._run, "state requests consumer")

    async def _run(self) -> None:
        key = self.bus.key(REQUESTS_STREAM)
        async for entries in self.bus.group_batches(REQUESTS_STREAM, REQUESTS_GROUP, self.consumer, count=50,
                                                    block_ms=self.block_ms):
            for entry_id, fields in entries:
                await self.honour(entry_id, fields)
                await self.bus.redis.xack(key, REQUESTS_GROUP, entry_id)
                self.handled += 1

    async def honour(self, entry_id: str, fields: dict[str, str] | None) -> None:
        try:
            request: dict[str, Any] = json.loads((fields or {}).get("data", ""))
            agent_id, state = str(request["agent_id"]), request["state"]
        except (ValueError, KeyError, TypeError):
            log.warning("state request %s unreadable: skipped", entry_id)
            return
        try:
            if state == "wrapup":
                await self.agents.start_wrap_up(agent_id)
            elif state == "idle":
                wrapping_up = (await self.agents.store.get(agent_id)).state == AgentState.wrap_up
                await (self.agents.wrap_up if wrapping_up else self.agents.ready)(agent_id)
            elif state == "paused":
                await self.agents.not_ready(agent_id, request.get("reason") or "")
            else:
                raise AcdError(f"unknown state {state!r}")
        except AcdError as exc:
            log.info("state request %s of seat %s refused: %s", state, agent_id, exc)
            refusal = {"type": "agent.request_refused", "agent_id": agent_id, "state": state, "message": str(exc),
                       "ts": time.time()}
            with contextlib.suppress(RedisError, OSError):
                await self.bus.redis.xadd(self.bus.key(agent_stream(agent_id)), {"data": encode(refusal)})
