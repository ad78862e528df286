"""The screen-pop consumer: reads the `calls` stream in a Redis consumer group and publishes pops to the
agents' streams.

    call.ringing (agent A)        → pop.ringing to A (history read and audited, KB hits)
    call.answered (agent A)       → pop.answered to A; pop.hangup (answered_elsewhere) to others that rang
    call.ring_noanswer (agent A)  → pop.hangup (ring_noanswer) to A
    call.ended                    → pop.hangup (ended) to every agent/expert that had the call

A pop goes to the agent named by the event only. Restarts: the group remembers what was acknowledged;
entries read but not acknowledged (a crash mid-way) are read again first, and each entry's pops are
published in the same transaction as its XACK (notifier.py), so nothing is lost or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError, ResponseError

from bridge.pops.notifier import PopNotifier
from bridge.pops.services import PopBuilder, make_pop, pop_actor
from hotline.bus import EventBus

if TYPE_CHECKING:
    from hotline.runtime import RoleContext

log = logging.getLogger(__name__)

CALLS_STREAM = "calls"
GROUP = "pops"
CLAIM_IDLE_MS = 30_000  # entries another (dead) consumer read and never acknowledged are taken over after this


class PopConsumer:
    def __init__(self, bus: EventBus, builder: PopBuilder, *, group: str = GROUP, consumer: str | None = None,
                 stream: str = CALLS_STREAM, start_id: str = "$", block_ms: int = 1000) -> None:
        self.bus = bus
        self.builder = builder
        self.notifier = PopNotifier(bus)
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.stream = stream
        self.start_id = start_id  # where a new group starts ("$": calls from now on)
        self.block_ms = block_ms
        self.handled = 0
        self.pops_sent = 0
        self._had: dict[str, set[str]] = {}  # call id → agents that got a pop for it (to tell them it ended)

    @property
    def key(self) -> str:
        return self.bus.key(self.stream)

    async def ensure_group(self) -> None:
        try:
            await self.bus.redis.xgroup_create(self.key, self.group, id=self.start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self) -> None:
        """Forever: take over abandoned entries, read our own pending ones, then new ones."""
        await self.ensure_group()
        with contextlib.suppress(ResponseError):  # XAUTOCLAIM needs Redis ≥ 6.2
            await self.bus.redis.xautoclaim(self.key, self.group, self.consumer, CLAIM_IDLE_MS, "0-0", count=1000)
        cursor = "0"  # our pending entries first
        delay = 0.05
        while True:
            try:
                reply = await self.bus.redis.xreadgroup(self.group, self.consumer, {self.key: cursor},
                                                        count=100, block=None if cursor == "0" else self.block_ms)
            except (RedisError, OSError) as exc:
                log.warning("reading %s failed (%s): retrying in %.2f s", self.stream, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            entries = reply[0][1] if reply else []
            if cursor == "0" and not entries:
                cursor = ">"
                continue
            await self.handle_batch(entries)

    async def handle_batch(self, entries: list[tuple[str, dict[str, str] | None]]) -> None:
        import json

        idle: list[str] = []
        for entry_id, fields in entries:
            if not fields:  # trimmed away while pending: nothing left to do
                idle.append(entry_id)
                continue
            try:
                event = json.loads(fields["data"])
                pops = await self.pops_for(event, entry_id)
            except Exception:  # a bad entry must not stop the pops of everyone else
                log.exception("calls entry %s could not be turned into pops: skipped", entry_id)
                pops = []
            if pops:
                await self.notifier.deliver(pops, (self.stream, self.group, entry_id))
                self.pops_sent += len(pops)
            else:
                idle.append(entry_id)
            self.handled += 1
        if idle:
            await self.bus.redis.xack(self.key, self.group, *idle)

    async def pops_for(self, event: dict[str, Any], entry_id: str) -> list[dict[str, Any]]:
        kind = event.get("type")
        call = event.get("call") or {}
        call_id = event.get("call_id") or call.get("call_id")
        if not call_id:
            return []
        call.setdefault("call_id", call_id)
        ts = event.get("ts") or 0.0
        agent = event.get("agent") or None
        had = self._had.setdefault(call_id, set()) if kind != "call.ended" else self._had.pop(call_id, set())
        if kind == "call.ringing" and agent:
            history, hits = await asyncio.to_thread(self.builder.lookup, call, pop_actor(agent))
            had.add(agent)
            return [make_pop("pop.ringing", call, agent, ts, history, hits, source_id=entry_id)]
        if kind == "call.answered" and agent:
            content = self.builder.cached(call_id)
            if content is None:  # e.g. rung before a restart: read it again
                content = await asyncio.to_thread(self.builder.lookup, call, pop_actor(agent))
            others = sorted(had - {agent})
            had.clear()
            had.add(agent)
            return [make_pop("pop.answered", call, agent, ts, *content, source_id=entry_id)] + [
                make_pop("pop.hangup", call, other, ts, None, [], reason="answered_elsewhere", source_id=entry_id)
                for other in others]
        if kind == "call.ring_noanswer" and agent:
            had.discard(agent)
            return [make_pop("pop.hangup", call, agent, ts, None, [], reason="ring_noanswer", source_id=entry_id)]
        if kind == "call.ended":
            self.builder.forget(call_id)
            targets = set(had)
            if call.get("agent"):
                targets.add(call["agent"])
            targets.update(call.get("experts") or [])
            targets.update(call.get("ringing") or [])
            return [make_pop("pop.hangup", call, who, ts, None, [], reason="ended", source_id=entry_id)
                    for who in sorted(targets)]
        if not had:
            self._had.pop(call_id, None)
        return []


async def run(ctx: RoleContext, *, consumer: str | None = None) -> None:
    """The screen-pop part of the bridge role (started by bridge.service.run_role): runs until cancelled."""
    from hotline.kb.search import KnowledgeBase

    factory = ctx.session_factory
    kb = KnowledgeBase(factory)
    try:
        await asyncio.to_thread(kb.refresh)  # build the index before the first pop needs it
    except Exception:  # no KB table yet (unmigrated) or database down: pops go out without suggestions
        log.exception("knowledge base not loaded: pops carry no KB hits until it is")
    consumer_ = PopConsumer(ctx.bus, PopBuilder(factory, kb), consumer=consumer or "bridge")
    while True:  # Redis down at start, or a bug: start over (the group keeps our place)
        try:
            await consumer_.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("screen-pop consumer failed: restarting in 1 s")
            await asyncio.sleep(1.0)
