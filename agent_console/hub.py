"""The console's fan-out hub: a few Redis readers per console process for every websocket it serves.

Each socket follows one stream (`agent:<id>` or `supervisors`, chosen from its session). Instead of one blocking
XREAD per socket (hundreds of Redis connections, each re-issuing its timeout), the hub keeps a cursor per
stream that has sockets, and reader tasks doing XREAD BLOCK over many streams at once, each on a connection of
its own (up to STREAMS_PER_READER streams a reader: 500 agents are 10 connections, see StreamHub); each
entry goes to the sockets of its stream only.

Joining with a last id, without gap or duplicate:
- a stream the hub does not follow yet starts at the socket's last id: its reader's next XREAD is the replay;
- a stream it already follows (another socket of the same seat, a supervisor among many) has its cursor
  elsewhere: the socket holds back what the hub delivers from the moment it joins, replays with XRANGE from
  its last id up to the end, then releases what it held; every entry goes through one filter (ids must rise),
  so what both the replay and the hub brought is sent once.
Both rest on a reader dispatching each XREAD reply synchronously (no await between the reply and the
sockets' queues): a socket joins either before a reply is dispatched (it gets it from the hub) or after (the
entries were in Redis before it joined, so its replay has them).

A stream that joins while its reader is blocked on the others would wait for the block timeout: the hub
`CLIENT UNBLOCK`s that reader instead, which then reads again with the new stream. When Redis fails, every
socket is told (the subscription fails) and closes so that its page reconnects and resumes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from typing import Any

from hotline.bus import EventBus, ManyStreamsReader, StreamCursor, entry_key
from hotline.tasks import cancel_and_wait

log = logging.getLogger(__name__)
MAX_PENDING = 2000  # entries queued for one socket that does not read: it is closed and resumes when it can
UNBLOCK_RETRY_S = 0.001  # the reader's XREAD was sent but is not blocking in Redis yet: try again shortly
FAILURE_PAUSE_S = 0.2  # between reads after Redis failed, while sockets keep (re)joining
STREAMS_PER_READER = 50
_HUB_NUMBERS = itertools.count(1)


Entry = tuple[str, dict[str, Any], str | None]  # id, event, its JSON text as stored (None: not at hand)


class Subscription:
    """One socket's place on its stream: what the hub delivers waits in `queue` until the socket sends it."""

    __slots__ = ("failure", "held", "holding", "position", "queue", "stream")

    def __init__(self, stream: str, last_id: str, holding: bool) -> None:
        self.stream = stream
        self.position = entry_key(last_id)  # the last id handed to the socket: only later ones pass
        self.holding = holding  # True while the socket replays: live entries wait in `held`
        self.held: list[Entry] = []
        self.queue: asyncio.Queue[Entry | None] = asyncio.Queue()
        self.failure: str | None = None

    def advance(self, entry_id: str) -> bool:
        """Whether `entry_id` is new for this socket (and it is now the last one)."""
        key = entry_key(entry_id)
        if key <= self.position:
            return False
        self.position = key
        return True

    def offer(self, entry_id: str, event: dict[str, Any], raw: str | None = None) -> None:
        """Called by the hub (synchronously) for each live entry of the stream (`raw`: its JSON text)."""
        if self.failure is not None:
            return
        if self.holding:
            self.held.append((entry_id, event, raw))
            if len(self.held) > MAX_PENDING:
                self.fail("too many entries waiting for the replay")
            return
        if not self.advance(entry_id):
            return
        if self.queue.qsize() >= MAX_PENDING:
            self.fail("the socket does not keep up")
            return
        self.queue.put_nowait((entry_id, event, raw))

    def release(self) -> None:
        """The replay is done: what the hub brought meanwhile follows it (older ids are dropped)."""
        self.holding = False
        held, self.held = self.held, []
        for entry in held:
            self.offer(*entry)

    def fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
            self.queue.put_nowait(None)

    async def next(self) -> Entry:
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

    def __init__(self, bus: EventBus, name: str, last_id: str) -> None:
        self.name = name
        self.cursor = StreamCursor(bus, name, last_id)
        self.subscribers: set[Subscription] = set()


class StreamHub:
    """The process's readers: streams are placed on a reader with room (at most `streams_per_reader` each).

    Redis's cost of an XREAD grows with its number of streams (about 1 µs per stream to scan and to block on,
    every time an entry wakes it: 0.5 ms for 500 streams, 1.4 ms on a loaded machine, during which Redis
    serves nobody else); a few readers of a few dozen streams each cost Redis a tenth of that per entry and
    still need a handful of connections, not one per socket."""

    def __init__(self, bus: EventBus, block_ms: int = 1000, count: int = 500,
                 streams_per_reader: int = STREAMS_PER_READER) -> None:
        self.bus = bus
        self.block_ms = block_ms
        self.count = count
        self.streams_per_reader = streams_per_reader
        # the readers' connections in CLIENT LIST: which console process (and which hub in it) they serve
        self.client_name = f"{bus.prefix}console-hub-{os.getpid()}-{next(_HUB_NUMBERS)}"
        self._readers: list[_Reader] = []
        self._reader_of: dict[str, _Reader] = {}

    @property
    def streams(self) -> list[str]:
        return [stream for reader in self._readers for stream in reader.streams]

    @property
    def reading(self) -> bool:
        return any(reader.reading for reader in self._readers)

    @property
    def readers(self) -> int:
        """Readers following at least one stream (each on its own Redis connection)."""
        return sum(bool(reader.streams) for reader in self._readers)

    def join(self, stream: str, last_id: str) -> Subscription:
        """Follow `stream` for one socket from `last_id`; see the module's docstring for the replay."""
        reader = self._reader_of.get(stream)
        if reader is None or stream not in reader.streams:  # new here (or its reader failed and let go)
            reader = next((r for r in self._readers if len(r.streams) < self.streams_per_reader), None)
            if reader is None:
                reader = _Reader(self.bus, self.block_ms, self.count, self.client_name)
                self._readers.append(reader)
            self._reader_of[stream] = reader
        return reader.join(stream, last_id)

    def leave(self, subscription: Subscription) -> None:
        reader = self._reader_of.get(subscription.stream)
        if reader is None:
            return
        reader.leave(subscription)
        if subscription.stream not in reader.streams:
            del self._reader_of[subscription.stream]

    async def aclose(self) -> None:
        """Stop reading (the process is stopping): sockets still open are told to reconnect."""
        for reader in self._readers:
            await reader.aclose()
        self._reader_of.clear()


class _Reader:
    """One XREAD loop on a connection of its own over some of the hub's streams."""

    def __init__(self, bus: EventBus, block_ms: int, count: int, client_name: str) -> None:
        self.bus = bus
        self.block_ms = block_ms
        self.count = count
        self.client_name = client_name
        self._streams: dict[str, _Followed] = {}
        self._reader: asyncio.Task[None] | None = None
        self._client: ManyStreamsReader | None = None
        self._client_id: int | None = None
        self._inflight: frozenset[_Followed] | None = None  # the streams of the XREAD now waiting in Redis
        self._stale = False  # the XREAD in flight misses a stream that joined (or there is none left)
        self._waker: asyncio.Task[None] | None = None

    @property
    def streams(self) -> dict[str, _Followed]:
        return self._streams

    @property
    def reading(self) -> bool:
        return self._reader is not None

    def join(self, stream: str, last_id: str) -> Subscription:
        """Follow `stream` for one socket from `last_id`; see the module's docstring for the replay."""
        followed = self._streams.get(stream)
        if followed is None:
            followed = self._streams[stream] = _Followed(self.bus, stream, last_id)
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
        self._fail_all("the console is stopping")
        await cancel_and_wait([self._reader, self._waker])
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._client_id = None

    # --- the reader ----------------------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            while self._streams:
                try:
                    if self._client is None:
                        self._client = ManyStreamsReader(self.bus, self.block_ms, self.count, self.client_name)
                    if self._client_id is None:
                        self._client_id = await self._client.client_id()
                    if not self._streams:
                        break
                    followed = list(self._streams.values())
                    snapshot = self._inflight = frozenset(followed)
                    self._stale = False
                    try:
                        batches = await self._client.read([f.cursor for f in followed])
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
                self._dispatch(snapshot, batches)
                await asyncio.sleep(0)  # the sockets send what was just dispatched before the next XREAD is sent
        finally:
            if self._reader is asyncio.current_task():
                self._reader = None

    def _dispatch(self, read: frozenset[_Followed],
                  batches: list[tuple[str, list[tuple[str, dict | None, str]]]]) -> None:
        """Synchronous on purpose (see the module's docstring): no await between the reply and the queues."""
        for stream, entries in batches:
            state = self._streams.get(stream)
            if state is None or state not in read or not entries:
                continue  # its sockets left while the XREAD waited (a new join has its own cursor)
            state.cursor.move(entries[-1][0])  # a foreign entry is stepped over, never read again
            for entry_id, event, raw in entries:
                if event is not None:
                    for subscription in tuple(state.subscribers):
                        subscription.offer(entry_id, event, raw)

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
