"""The screen-pop consumer (the `pops` role): reads the `calls` stream in a Redis consumer group and
publishes pops to the agents' streams.

    call.ringing (agent A)        → pop.ringing to A (history read and audited, KB hits)
    call.answered (agent A)       → pop.answered to A; pop.hangup (answered_elsewhere) to others that rang
    call.ring_noanswer (agent A)  → pop.hangup (ring_noanswer) to A
    call.ended                    → pop.hangup (ended) to every agent/expert that had the call

The history and KB hits are read ahead, when the call starts or queues (the IVR and the queue take
seconds), so the ringing pop needs no database round trip; the read is audited when (and for whom) the pop
is shown, with the agent as actor. A call that rings before its read-ahead finished waits for it.

The read-ahead's content also goes to the call's pop state in Redis (PopNotifier.offer_content), where the
bridge's publisher finds it: the ringing and answered pops then ride with their `calls` entry (early.py),
published by the bridge in the same script as the entry. Such an entry carries a `popped` field; this
consumer handles it as any other (audit, per-call state, the other pops it makes) but does not publish those
kinds again. Each batch's pops go out with the `delivered` mark of their calls, which lets the publisher keep
each call's pops in order.

A pop goes to the agent named by the event only. Restarts: the group remembers what was acknowledged;
entries read but not acknowledged (a crash mid-way) are read again first. An entry whose pops need no
database read is acknowledged in the same transaction as its pops are published (notifier.py). An entry
whose pop read a caller's history is acknowledged only once its audit entry is committed (AuditWriter,
batched off the pop's path): if the process dies in between, the entry is read again, the read audited
again, and pops already in the agent's stream (same `source_id`) are not published twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError, ResponseError

from bridge.pops.early import CONSUMER_KINDS, POPPED, rode_along
from bridge.pops.notifier import PopNotifier
from bridge.pops.services import AuditWriter, PopBuilder, content_json, make_pop, pop_actor
from hotline.bus import EventBus, agent_stream
from hotline.heap import freeze_long_lived
from hotline.tasks import run_forever

if TYPE_CHECKING:
    from hotline.runtime import RoleContext

log = logging.getLogger(__name__)

CALLS_STREAM = "calls"
GROUP = "pops"
CLAIM_IDLE_MS = 30_000  # entries another (dead) consumer read and never acknowledged are taken over after this


class PopConsumer:
    def __init__(self, bus: EventBus, builder: PopBuilder, *, group: str = GROUP, consumer: str | None = None,
                 stream: str = CALLS_STREAM, start_id: str = "$", block_ms: int = 1000,
                 audit_session_factory: Any = None) -> None:
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
        self.audit_session_factory = audit_session_factory or builder.session_factory
        self._audit: AuditWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._replaying = False
        self._acks: set[asyncio.Task[Any]] = set()
        self._ahead: dict[str, asyncio.Task[tuple[dict | None, list]]] = {}  # read-ahead by call

    @property
    def key(self) -> str:
        return self.bus.key(self.stream)

    async def ensure_group(self) -> None:
        try:
            await self.bus.redis.xgroup_create(self.key, self.group, id=self.start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _audited(self, entry_ids: list[str]) -> None:
        """From the audit thread: these entries' reads are on record, acknowledge them."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._ack_soon, entry_ids)

    def _ack_soon(self, entry_ids: list[str]) -> None:
        task = asyncio.ensure_future(self.bus.redis.xack(self.key, self.group, *entry_ids))
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)

    async def run(self) -> None:
        """Forever: take over abandoned entries, read our own pending ones, then new ones."""
        self._loop = asyncio.get_running_loop()
        self._audit = AuditWriter(self.audit_session_factory, self._audited)
        try:
            await self._run()
        finally:
            await asyncio.to_thread(self._audit.close)
            if self._acks:
                await asyncio.gather(*self._acks, return_exceptions=True)

    async def _run(self) -> None:
        await self.ensure_group()
        with contextlib.suppress(ResponseError):  # XAUTOCLAIM needs Redis ≥ 6.2
            await self.bus.redis.xautoclaim(self.key, self.group, self.consumer, CLAIM_IDLE_MS, "0-0", count=1000)
        cursor = "0"  # our pending entries first
        delay = 0.05
        while True:
            try:
                reply = await self.bus.redis.xreadgroup(self.group, self.consumer, {self.key: cursor},
                                                        count=100, block=None if cursor != ">" else self.block_ms)
            except (RedisError, OSError) as exc:
                log.warning("reading %s failed (%s): retrying in %.2f s", self.stream, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            entries = reply[0][1] if reply else []
            self._replaying = cursor != ">"
            if self._replaying:
                if not entries:
                    cursor = ">"
                    continue
                cursor = entries[-1][0]  # on through our pending entries (some stay pending until audited)
            await self.handle_batch(entries)

    async def handle_batch(self, entries: list[tuple[str, dict[str, str] | None]]) -> None:
        """One Redis round trip per batch: every pop XADDed and every entry that needs no audit XACKed in a
        single MULTI/EXEC; entries whose pop showed a history are XACKed once their audit is committed."""
        pops: list[dict[str, Any]] = []
        acks: list[str] = []
        audits: list[tuple[dict[str, Any], str]] = []
        settled: dict[str, str | None] = {}  # call id → its last entry here (None: ended), for the publisher
        for entry_id, fields in entries:
            audit = None
            made: list[dict[str, Any]] = []
            if fields:  # (None: trimmed away while pending, nothing left to do)
                try:
                    event = json.loads(fields["data"])
                    call_id = event.get("call_id")
                    if call_id and event.get("type") in CONSUMER_KINDS:
                        settled[call_id] = None if event["type"] == "call.ended" else entry_id
                    made, audit = await self.pops_for(event, entry_id)
                    popped = fields.get(POPPED)
                    if popped:  # published with the entry (early.py): audited here, never sent again
                        made = [p for p in made if not rode_along(p, event, popped)]
                except Exception:  # a bad entry must not stop the pops of everyone else
                    log.exception("calls entry %s could not be turned into pops: skipped", entry_id)
            if made and self._replaying:
                made = [p for p in made if not await self._already_sent(p)]
            pops += made
            if audit is not None and self._audit is not None:
                audits.append((audit, entry_id))
            else:
                acks.append(entry_id)
            self.handled += 1
        if pops or acks or settled:
            await self.notifier.deliver(pops, (self.stream, self.group, acks) if acks else None,
                                        list(settled.items()))
            self.pops_sent += len(pops)
        for audit, entry_id in audits:  # after the pops are out: the XACK follows the audit's commit
            self._audit.put(audit, entry_id)  # type: ignore[union-attr]

    async def _already_sent(self, pop: dict[str, Any]) -> bool:
        """On replay only: is this entry's pop already in the agent's stream (published before a crash)?"""
        key = self.bus.key(agent_stream(pop["agent_id"]))
        for _id, fields in await self.bus.redis.xrevrange(key, count=200):
            sent = json.loads(fields["data"])
            if sent.get("source_id") == pop["source_id"] and sent.get("type") == pop["type"]:
                return True
        return False

    def _read_ahead(self, call: dict[str, Any]) -> None:
        call_id = call["call_id"]
        if call.get("caller_number") and call_id not in self._ahead and self.builder.cached(call_id) is None:
            self._ahead[call_id] = asyncio.ensure_future(self._read_and_offer(call))
            while len(self._ahead) > 10_000:  # calls that never rang nor ended (a lost call.ended)
                self._ahead.pop(next(iter(self._ahead))).cancel()

    async def _read_and_offer(self, call: dict[str, Any]) -> tuple[dict | None, list]:
        """The read-ahead: history and KB hits, then their JSON in the call's pop state for the bridge."""
        def read() -> tuple[dict | None, list, str]:
            history, hits, _audit = self.builder.read(call, "bridge")  # audited when shown, for the agent
            return history, hits, content_json(history, hits)

        history, hits, encoded = await asyncio.to_thread(read)
        try:
            await self.notifier.offer_content(call["call_id"], encoded)
        except (RedisError, OSError) as exc:  # the pops then go out through this consumer, a little later
            log.warning("read-ahead of call %s not offered to the bridge: %s", call["call_id"], exc)
        return history, hits

    async def _read(self, call: dict[str, Any], agent: str) -> tuple[dict | None, list, dict | None]:
        ahead = self._ahead.pop(call["call_id"], None)
        content = self.builder.cached(call["call_id"])
        if ahead is not None:
            try:
                content = await ahead
            except Exception:
                log.exception("read-ahead for call %s failed: reading again", call["call_id"])
        if content is None:
            history, hits, _audit = await asyncio.to_thread(self.builder.read, call, pop_actor(agent))
        else:
            history, hits = content
        audit = self.builder.audit_for(call, pop_actor(agent), history)
        if audit is not None and self._audit is None:  # used outside run(): audit synchronously
            await asyncio.to_thread(self._record_now, audit)
            audit = None
        return history, hits, audit

    def _record_now(self, audit: dict[str, Any]) -> None:
        from hotline.audit.services import record

        with self.builder.session_factory() as session:
            record(session, **audit)
            session.commit()

    async def pops_for(self, event: dict[str, Any], entry_id: str
                       ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """The pops an entry makes, and the audit entry of the history read they needed (if any)."""
        kind = event.get("type")
        call = event.get("call") or {}
        call_id = event.get("call_id") or call.get("call_id")
        if not call_id:
            return [], None
        call.setdefault("call_id", call_id)
        ts = event.get("ts") or 0.0
        agent = event.get("agent") or None
        had = self._had.setdefault(call_id, set()) if kind != "call.ended" else self._had.pop(call_id, set())
        if kind in ("call.started", "call.queued"):
            self._read_ahead(call)
        if kind == "call.ringing" and agent:
            history, hits, audit = await self._read(call, agent)
            had.add(agent)
            return [make_pop("pop.ringing", call, agent, ts, history, hits, source_id=entry_id)], audit
        if kind == "call.answered" and agent:
            audit = None
            content = self.builder.cached(call_id)
            if content is None:  # e.g. rung before a restart: read it again
                history, hits, audit = await self._read(call, agent)
                content = (history, hits)
            others = sorted(had - {agent})
            had.clear()
            had.add(agent)
            return [make_pop("pop.answered", call, agent, ts, *content, source_id=entry_id)] + [
                make_pop("pop.hangup", call, other, ts, None, [], reason="answered_elsewhere", source_id=entry_id)
                for other in others], audit
        if kind == "call.ring_noanswer" and agent:
            had.discard(agent)
            return [make_pop("pop.hangup", call, agent, ts, None, [], reason="ring_noanswer", source_id=entry_id)], None
        if kind == "call.ended":
            self.builder.forget(call_id)
            ahead = self._ahead.pop(call_id, None)
            if ahead is not None:
                ahead.cancel()
            targets = set(had)
            if call.get("agent"):
                targets.add(call["agent"])
            targets.update(call.get("experts") or [])
            targets.update(call.get("ringing") or [])
            return [make_pop("pop.hangup", call, who, ts, None, [], reason="ended", source_id=entry_id)
                    for who in sorted(targets)], None
        if not had:
            self._had.pop(call_id, None)
        return [], None


def make_consumer(ctx: RoleContext) -> PopConsumer:
    # named after the host, not the process: a restarted pops role reads its own pending entries at once
    return PopConsumer(ctx.bus, PopBuilder(ctx.session_factory, ctx.knowledge_base),
                       consumer=f"pops-{socket.gethostname()}")


async def run_role(ctx: RoleContext, consumer: PopConsumer | None = None) -> None:
    """The `pops` role for hotline.runtime (the bridge's publisher sends the pops that ride with their
    `calls` entry, from the content this role offers): runs until cancelled."""
    consumer = consumer or make_consumer(ctx)
    kb = consumer.builder.kb
    try:
        if kb is not None:
            await asyncio.to_thread(kb.refresh)  # build the index before the first pop needs it
    except Exception:  # no KB table yet (unmigrated) or database down: pops go out without suggestions
        log.exception("knowledge base not loaded: pops carry no KB hits until it is")
    # the index is hundreds of thousands of long-lived objects: keep them out of the collector's full
    # passes, which would otherwise stall pops for tens of milliseconds (bench/screen_pop.py)
    freeze_long_lived()
    # Redis down at start, or a bug: start over (the group keeps our place)
    await run_forever(consumer.run, "screen-pop consumer")
