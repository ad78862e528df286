"""The console's fan-out hub: one Redis reader per console process for every websocket it serves.

Each socket follows one stream (`agent:<id>` or `supervisors`, chosen from its session). Instead of one blocking
XREAD per socket (hundreds of Redis connections, each re-issuing its timeout), the hub keeps a cursor per
stream that has sockets and one reader task doing XREAD BLOCK over all of them on a connection of its own;
each entry goes to the sockets of its stream only.

Joining with a last id, without gap or duplicate:
- a stream the hub does not follow yet starts at the socket's last id: the hub's next XREAD is the replay;
- a stream it already follows (another socket of the same seat, a supervisor among many) has its cursor
  elsewhere: the socket holds back what the hub delivers from the moment it joins, replays with XRANGE from
  its last id up to the end, then releases what it held; every entry goes through one filter (ids must rise),
  so what both the replay and the hub brought is sent once.
Both rest on the reader dispatching each XREAD reply synchronously (no await between the reply and the
sockets' queues): a socket joins either before a reply is dispatched (it gets it from the hub) or after (the
entries were in Redis before it joined, so its replay has them).

A stream that joins while the reader is blocked on the others would wait for the block timeout: the hub
`CLIENT UNBLOCK`s its reader instead, which then reads again with the new stream. When Redis fails, every
socket is told (the subscription fails) and closes so that its page reconnects and resumes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis

from hotline.bus import EventBus
from hotline.tasks import cancel_and_wait

log = logging.getLogger(__name__)
MAX_PENDING = 2000  # entries queued for one socket that does not read: it is closed and resumes when it can
UNBLOCK_RETRY_S = 0.001  # the reader's XREAD was sent but is not blocking in Redis yet: try again shortly
FAILURE_PAUSE_S = 0.2  # between reads after Redis failed, while sockets keep (re)joining


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream id as a comparable pair ("1700000000000-3" → (1700000000000, 3))."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Subscription:
    """One socket's place on its stream: what the hub delivers waits in `queue` until the socket sends it."""

    __slots__ = ("failure", "held", "holding", "position", "queue", "stream")

    def __init__(self, stream: str, last_id: str, holding: bool) -> None:
        self.stream = stream
        self.position = entry_key(last_id)  # the last id handed to the socket: only later ones pass
        self.holding = holding  # True while the socket replays: live entries wait in `held`
        self.held: list[tuple[str, dict[str, Any]]] = []
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        self.failure: str | None = None

    def advance(self, entry_id: str) -> bool:
        """Whether `entry_id` is new for this socket (and it is now the last one)."""
        key = entry_key(entry_id)
        if key <= self.position:
            return False
        self.position = key
        return True

    def offer(self, entry_id: str, event: dict[str, Any]) -> None:
        """Called by the hub (synchronously) for each live entry of the stream."""
        if self.failure is not None:
            return
        if self.holding:
            self.held.append((entry_id, event))
            if len(self.held) > MAX_PENDING:
                self.fail("too many entries waiting for the replay")
            return
        if not self.advance(entry_id):
            return
        if self.queue.qsize() >= MAX_PENDING:
            self.fail("the socket does not keep up")
            return
        self.queue.put_nowait((entry_id, event))

    def release(self) -> None:
        """The replay is done: what the hub brought meanwhile follows it (older ids are dropped)."""
        self.holding = False
        held, self.held = self.held, []
        for entry_id, event in held:
            self.offer(entry_id, event)

    def fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
            self.queue.put_nowait(None)

    async def next(self) -> tuple[str, dict[str, Any]]:
        """The next entry to send; raises StreamUnavailable when the hub can no longer follow the stream."""
        item = await self.queue.get()
        if item is None:
            raise StreamUnavailable(self.failure or "stream unavailable")
        return item


class StreamUnavailable(Exception):
    pass


class _Followed:
    """A stream the hub reads: its cursor (last id read) and the sockets on it."""

    __slots__ = ("cursor", "name", "subscribers")

    def __init__(self, name: str, cursor: str) -> None:
        self.name = name
        self.cursor = cursor
        self.subscribers: set[Subscription] = set()


class StreamHub:
    def __init__(self, bus: EventBus, block_ms: int = 1000, count: int = 500) -> None:
        self.bus = bus
        self.block_ms = block_ms
        self.count = count
        self.client_name = f"{bus.prefix}console-hub"  # the reader's connection in CLIENT LIST
        self._streams: dict[str, _Followed] = {}
        self._reader: asyncio.Task[None] | None = None
        self._client: aioredis.Redis | None = None
        self._client_id: int | None = None
        self._inflight: frozenset[_Followed] | None = None  # the streams of the XREAD now waiting in Redis
        self._stale = False  # the XREAD in flight misses a stream that joined (or there is none left)
        self._waker: asyncio.Task[None] | None = None

    @property
    def streams(self) -> list[str]:
        return list(self._streams)

    @property
    def reading(self) -> bool:
        return self._reader is not None

    def join(self, stream: str, last_id: str) -> Subscription:
        """Follow `stream` for one socket from `last_id`; see the module's docstring for the replay."""
        followed = self._streams.get(stream)
        if followed is None:
            followed = self._streams[stream] = _Followed(stream, last_id)
            subscription = Subscription(stream, last_id, holding=False)
        else:
            subscription = Subscription(stream, last_id, holding=True)
        followed.subscribers.add(subscription)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="console-hub:reader")
        elif self._inflight is not None and followed not in self._inflight:
            self._wake()
        return subscription

    def leave(self, subscription: Subscription) -> None:
        followed = self._streams.get(subscription.stream)
        if followed is None or subscription not in followed.subscribers:
            return
        followed.subscribers.discard(subscription)
        if not followed.subscribers:
            del self._streams[subscription.stream]
            if not self._streams and self._inflight is not None:
                self._wake()  # nobody left: the reader ends instead of blocking for nothing

    async def aclose(self) -> None:
        """Stop reading (the process is stopping): sockets still open are told to reconnect."""
        self._fail_all("the console is stopping")
        await cancel_and_wait([self._reader, self._waker])
        if self._client is not None:
            await self._client.aclose(close_connection_pool=True)
            self._client = None
            self._client_id = None

    # --- the reader ----------------------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            while self._streams:
                try:
                    if self._client is None:
                        self._client = self.bus.blocking_client(self.block_ms, self.client_name)
                    if self._client_id is None:
                        self._client_id = await self._client.client_id()
                    if not self._streams:
                        break
                    followed = list(self._streams.values())
                    self._inflight, self._stale = frozenset(followed), False
                    try:
                        batches = await self.bus.read_many(self._client, {f.name: f.cursor for f in followed},
                                                           self.block_ms, self.count)
                    finally:
                        self._inflight = None
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis gone (or refusing): every socket is told and reconnects
                    log.warning("console hub: reading %d streams failed: %r", len(self._streams), exc)
                    self._client_id = None
                    self._fail_all("event stream unavailable")
                    await asyncio.sleep(FAILURE_PAUSE_S)
                    continue
                self._dispatch(followed, batches)
        finally:
            if self._reader is asyncio.current_task():
                self._reader = None

    def _dispatch(self, followed: list[_Followed], batches: list[tuple[str, list[tuple[str, dict | None]]]]) -> None:
        """Synchronous on purpose (see the module's docstring): no await between the reply and the queues."""
        read = {f.name: f for f in followed}
        for stream, entries in batches:
            state = read.get(stream)
            if state is None or self._streams.get(stream) is not state:
                continue  # its sockets left while the XREAD waited (a new join has its own cursor)
            for entry_id, event in entries:
                state.cursor = entry_id  # a foreign entry is stepped over, never read again
                if event is not None:
                    for subscription in tuple(state.subscribers):
                        subscription.offer(entry_id, event)

    def _fail_all(self, reason: str) -> None:
        streams, self._streams = self._streams, {}
        for followed in streams.values():
            for subscription in followed.subscribers:
                subscription.fail(reason)

    # --- waking the reader ---------------------------------------------------------------------------------

    def _wake(self) -> None:
        self._stale = True
        if self._waker is None or self._waker.done():
            self._waker = asyncio.create_task(self._unblock(), name="console-hub:waker")

    async def _unblock(self) -> None:
        """CLIENT UNBLOCK the reader until it has read again with every stream (it clears `_stale` when it
        does). A refusal means its XREAD is not blocking yet (still on its way, or answering): retry."""
        while self._stale and self._inflight is not None and self._client_id is not None:
            try:
                unblocked = await self.bus.redis.client_unblock(self._client_id)
            except Exception:  # Redis gone: the reader finds out by itself
                return
            if not unblocked:
                await asyncio.sleep(UNBLOCK_RETRY_S)
