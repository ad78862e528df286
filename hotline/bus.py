"""The event bus: Redis streams carry every event between roles.

Streams, not pub/sub, because a consumer that was away (a console restarted, a websocket that
reconnected) must get what it missed: it reads on from the last id it saw. Each event is one stream
entry with a single `data` field holding JSON.

Stream names used across the platform:
- `calls`              every call-tracker transition (bridge → metrics, console, acd)
- `agent:<agent_id>`   what one agent's console must show (screen pops, invitations)
- `supervisors`        alerts and guard actions for shift managers
- `acd`                agent state changes
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError

log = logging.getLogger(__name__)
DEFAULT_MAXLEN = 100_000  # approximate trim: streams are a replay window, not the archive
POOL_SIZE = 100  # connections per process; more concurrent commands wait for one (POOL_WAIT_S at most)
POOL_WAIT_S = 20.0
RESTART_RETRIES = 2  # a command that finds its connection dead is tried again on a new one (Redis restarted)


def encode(event: dict[str, Any]) -> str:
    """An event as the streams (and the console's websockets) carry it: compact JSON, Chinese kept as is."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream id as a comparable pair ("1700000000000-3" → (1700000000000, 3))."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def agent_stream(agent_id: str) -> str:
    return f"agent:{agent_id}"


def redis_client(url: str, max_connections: int = POOL_SIZE, wait_s: float = POOL_WAIT_S) -> aioredis.Redis:
    """The platform's Redis client. A blocking pool: a burst (500 pages reconnecting to one console, 1,000 IVR
    calls) waits for a connection instead of failing with MaxConnectionsError, which redis-py's default pool
    raises past its size. After a Redis restart every pooled connection is dead, which a command finds out only
    by failing on it: such a command is tried again on a new connection rather than fail the request it serves
    (a console's first page loads after a restart answered 500 without this)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, decode_responses=True, max_connections=max_connections, timeout=wait_s,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), RESTART_RETRIES), retry_on_error=[RedisConnectionError])
    return aioredis.Redis.from_pool(pool)


class EventBus:
    def __init__(self, client: aioredis.Redis, prefix: str = "hotline:") -> None:
        self.redis = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "hotline:") -> EventBus:
        return cls(redis_client(url), prefix)

    def key(self, stream: str) -> str:
        return self.prefix + "stream:" + stream

    async def publish(self, stream: str, event: dict[str, Any], maxlen: int = DEFAULT_MAXLEN) -> str:
        return await self.redis.xadd(self.key(stream), {"data": encode(event)}, maxlen=maxlen, approximate=True)

    async def publish_many(self, stream: str, events: list[dict[str, Any]], maxlen: int = DEFAULT_MAXLEN) -> list[str]:
        """Several events in one round trip, all or none (MULTI/EXEC), in order."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for event in events:
                pipe.xadd(self.key(stream), {"data": encode(event)}, maxlen=maxlen, approximate=True)
            return await pipe.execute()

    async def read_since(self, stream: str, last_id: str = "0-0", count: int = 1000) -> list[tuple[str, dict]]:
        """Entries after `last_id`, without blocking (the replay a reconnecting client asks for); foreign entries
        are left out (`read_after` keeps their place, for pagers)."""
        return [(entry_id, event) for entry_id, event in await self.read_after(stream, last_id, count)
                if event is not None]

    async def group_batches(self, stream: str, group: str, consumer: str, *, start_id: str = "$", count: int = 100,
                            block_ms: int = 1000, retry_s: float = 0.5
                            ) -> AsyncIterator[list[tuple[str, dict[str, str] | None]]]:
        """Forever, batches of a consumer group's entries for `consumer`: its pending ones first (read and not
        acknowledged before a restart), then new ones. The group is made if missing (from `start_id`); Redis
        errors are retried. Acknowledging (XACK) is the caller's, once an entry is acted on."""
        key = self.key(stream)
        cursor, grouped = "0", False
        while True:
            try:
                if not grouped:
                    try:
                        await self.redis.xgroup_create(key, group, id=start_id, mkstream=True)
                    except ResponseError as exc:
                        if "BUSYGROUP" not in str(exc):
                            raise
                    grouped = True
                reply = await self.redis.xreadgroup(group, consumer, {key: cursor}, count=count,
                                                    block=None if cursor != ">" else block_ms)
            except (RedisError, OSError) as exc:
                log.warning("reading %s (group %s) failed (%s): retrying", stream, group, exc)
                await asyncio.sleep(retry_s)
                continue
            entries = reply[0][1] if reply else []
            if cursor != ">":
                if not entries:
                    cursor = ">"
                    continue
                cursor = entries[-1][0]  # on through the pending entries
            if entries:
                yield entries

    async def subscribe(self, streams: dict[str, str], block_ms: int = 1000,
                        count: int = 500) -> AsyncIterator[tuple[str, str, dict]]:
        """Yields (stream, id, event) for every entry after the given ids, forever. Use `$` for 'new only'."""
        cursor = {self.key(name): last for name, last in streams.items()}
        strip = len(self.prefix + "stream:")
        while True:
            reply = await self.redis.xread(cursor, block=block_ms, count=count)
            for key, entries in reply or []:
                for entry_id, fields in entries:
                    cursor[key] = entry_id  # a bad entry is skipped, never re-read forever
                    event = _decode(key, entry_id, fields)
                    if event is not None:
                        yield key[strip:], entry_id, event

    async def read_after(self, stream: str, last_id: str, count: int = 500) -> list[tuple[str, dict | None]]:
        """One page of entries after `last_id` (XRANGE), foreign entries as None so that a pager can step over
        them: a page shorter than `count` is the end of the stream."""
        rows = await self.redis.xrange(self.key(stream), min=f"({last_id}" if last_id != "0-0" else "-",
                                       count=count)
        return [(entry_id, _decode(self.key(stream), entry_id, fields)) for entry_id, fields in rows]

    async def last_id(self, stream: str) -> str:
        info = await self.redis.xrevrange(self.key(stream), count=1)
        return info[0][0] if info else "0-0"


def _decode(key: str, entry_id: str, fields: dict) -> dict | None:
    """An entry's event, or None (logged) for an entry some other writer put there that is not ours."""
    try:
        event = json.loads(fields["data"])
    except (KeyError, TypeError, ValueError) as exc:
        log.error("skipping malformed entry %s on %s: %r", entry_id, key, exc)
        return None
    if not isinstance(event, dict):
        log.error("skipping entry %s on %s: not an object", entry_id, key)
        return None
    return event


class StreamCursor:
    """One stream of a `ManyStreamsReader` and the last id read on it, kept packed for the XREAD command."""

    __slots__ = ("last_id", "packed_id", "packed_key", "stream")

    def __init__(self, bus: EventBus, stream: str, last_id: str) -> None:
        self.stream = stream
        self.packed_key = _bulk(bus.key(stream))
        self.move(last_id)

    def move(self, last_id: str) -> None:
        self.last_id = last_id
        self.packed_id = _bulk(last_id)


class ManyStreamsReader:
    """Reads many streams with one XREAD BLOCK, again and again, on a Redis connection of its own.

    Its own connection: its `CLIENT ID` stays that connection's (another connection may `CLIENT UNBLOCK` it),
    and it does not retry, so an outage reaches the reader at once. The command is kept packed in the cursors:
    over hundreds of streams, redis-py's packing of ~1,000 arguments was 80% of the reader's CPU (1.4 ms per
    XREAD); here only the ids that moved are encoded again.
    """

    def __init__(self, bus: EventBus, block_ms: int, count: int = 500, name: str | None = None) -> None:
        self.bus = bus
        self.block_ms = block_ms
        # a dead server that sends no reset must not hang the reader for ever; BLOCK 0 waits for ever by design
        self._pool = _own_pool(bus, name, block_ms / 1000 + 10 if block_ms > 0 else None)
        self._connection: Any = None
        self._head = b"".join(_bulk(part) for part in ("XREAD", "COUNT", str(count), "BLOCK", str(block_ms),
                                                        "STREAMS"))
        self._strip = len(bus.prefix + "stream:")

    def cursor(self, stream: str, last_id: str) -> StreamCursor:
        return StreamCursor(self.bus, stream, last_id)

    async def client_id(self) -> int:
        """The connection's CLIENT ID, (re)connecting first if it is down."""
        await self._send([_command("CLIENT", "ID")])
        return int(await self._connection.read_response())

    async def read(self, cursors: list[StreamCursor]) -> list[tuple[str, list[tuple[str, dict | None, str]]]]:
        """One XREAD over `cursors` (which the caller moves): [(stream, [(id, event or None for a foreign
        entry, the entry's JSON text), ...]), ...]; [] when the block time passed (or the reader was unblocked)."""
        await self._send([b"*%d\r\n" % (6 + 2 * len(cursors)), self._head,
                          b"".join([c.packed_key for c in cursors]), b"".join([c.packed_id for c in cursors])])
        reply = await self._connection.read_response()
        batches = reply.items() if isinstance(reply, dict) else (reply or [])  # RESP3 answers a map, RESP2 a list
        out = []
        for key, entries in batches:
            decoded = []
            for entry_id, fields in entries:
                data = dict(zip(fields[::2], fields[1::2], strict=True))
                decoded.append((entry_id, _decode(key, entry_id, data), data.get("data", "")))
            out.append((key[self._strip:], decoded))
        return out

    async def _send(self, pieces: list[bytes]) -> None:
        if self._connection is None:
            self._connection = await self._pool.get_connection()
        await self._connection.send_packed_command(pieces, check_health=False)

    async def aclose(self) -> None:
        await self._pool.disconnect()


class DirectScript:
    """A Lua script called on a Redis connection of its own, for one caller at a time on a hot path (the
    bridge's publisher): the command is packed here and goes straight to the socket, without redis-py's
    pool, retry wrapper and packing, ~0.2 ms less per call on an otherwise idle machine (bench/screen_pop).

    No retries: a failure reaches the caller (which decides whether to try again) and drops the connection,
    since a command cut half-way leaves it unusable; the next call connects again. After a Redis restart
    (NOSCRIPT) the script is loaded again and the call repeated, as redis-py's `Script` does.
    """

    def __init__(self, bus: EventBus, source: str, name: str | None = None, timeout_s: float = 10.0) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._pool = _own_pool(bus, name, timeout_s)
        self._connection: Any = None
        self._lock = asyncio.Lock()

    async def __call__(self, keys: list[str], args: list[str | int]) -> Any:
        command = _command("EVALSHA", self.sha, len(keys), *keys, *args)
        async with self._lock:
            try:
                return await self._send(command)
            except NoScriptError:
                await self._send(_command("SCRIPT", "LOAD", self.source))
                return await self._send(command)

    async def _send(self, command: bytes) -> Any:
        if self._connection is None:
            self._connection = await self._pool.get_connection()
        try:
            await self._connection.send_packed_command([command], check_health=False)
            return await self._connection.read_response()
        except ResponseError:  # a whole reply (NOSCRIPT, a script's error): the connection is fine
            raise
        except BaseException:  # cut off mid-command (error, timeout, cancellation): never reuse the connection
            connection, self._connection = self._connection, None
            await self._pool.release(connection)
            await connection.disconnect()
            raise

    async def aclose(self) -> None:
        await self._pool.disconnect()


def _own_pool(bus: EventBus, name: str | None, socket_timeout: float | None) -> aioredis.ConnectionPool:
    """A pool of one connection with the bus's settings, no retries, and a name seen in CLIENT LIST."""
    pool = bus.redis.connection_pool
    kwargs = dict(pool.connection_kwargs)
    kwargs["retry"] = Retry(NoBackoff(), 0)
    if name:
        kwargs["client_name"] = name
    kwargs["socket_timeout"] = socket_timeout
    return aioredis.ConnectionPool(connection_class=pool.connection_class, max_connections=1, **kwargs)


def _bulk(value: str | int) -> bytes:
    data = str(value).encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _command(*parts: str | int) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(part) for part in parts)
