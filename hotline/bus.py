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

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger(__name__)
DEFAULT_MAXLEN = 100_000  # approximate trim: streams are a replay window, not the archive


def agent_stream(agent_id: str) -> str:
    return f"agent:{agent_id}"


class EventBus:
    def __init__(self, client: aioredis.Redis, prefix: str = "hotline:") -> None:
        self.redis = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "hotline:") -> EventBus:
        return cls(aioredis.from_url(url, decode_responses=True), prefix)

    def key(self, stream: str) -> str:
        return self.prefix + "stream:" + stream

    async def publish(self, stream: str, event: dict[str, Any], maxlen: int = DEFAULT_MAXLEN) -> str:
        payload = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
        return await self.redis.xadd(self.key(stream), {"data": payload}, maxlen=maxlen, approximate=True)

    async def publish_many(self, stream: str, events: list[dict[str, Any]], maxlen: int = DEFAULT_MAXLEN) -> list[str]:
        """Several events in one round trip, all or none (MULTI/EXEC), in order."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for event in events:
                payload = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
                pipe.xadd(self.key(stream), {"data": payload}, maxlen=maxlen, approximate=True)
            return await pipe.execute()

    async def read_since(self, stream: str, last_id: str = "0-0", count: int = 1000) -> list[tuple[str, dict]]:
        """Entries after `last_id`, without blocking (the replay a reconnecting client asks for)."""
        rows = await self.redis.xrange(self.key(stream), min=f"({last_id}" if last_id != "0-0" else "-",
                                       count=count)
        decoded = ((entry_id, _decode(self.key(stream), entry_id, fields)) for entry_id, fields in rows)
        return [(entry_id, event) for entry_id, event in decoded if event is not None]

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
        rows = await self.redis.xrange(self.key(stream), min=f"({last_id}", count=count)
        return [(entry_id, _decode(self.key(stream), entry_id, fields)) for entry_id, fields in rows]

    async def read_many(self, client: aioredis.Redis, cursors: dict[str, str], block_ms: int,
                        count: int = 500) -> list[tuple[str, list[tuple[str, dict | None]]]]:
        """One XREAD over several streams (names, not keys) from the given ids, on `client` (a connection of
        `blocking_client`): [(stream, [(id, event or None for a foreign entry), ...]), ...]; [] on timeout."""
        reply = await client.xread({self.key(name): last for name, last in cursors.items()}, count=count,
                                   block=block_ms)
        strip = len(self.prefix + "stream:")
        batches = reply.items() if isinstance(reply, dict) else (reply or [])  # RESP3 answers a map
        return [(key[strip:], [(entry_id, _decode(key, entry_id, fields)) for entry_id, fields in entries])
                for key, entries in batches]

    def blocking_client(self, block_ms: int, name: str | None = None) -> aioredis.Redis:
        """A client on one connection of its own, to the same server, for one reader that blocks in XREAD: its
        `CLIENT ID` stays that connection's (another connection may `CLIENT UNBLOCK` it) and it does not retry,
        so an outage reaches the reader at once. `name` is its CLIENT SETNAME (seen in CLIENT LIST)."""
        pool = self.redis.connection_pool
        kwargs = dict(pool.connection_kwargs)
        kwargs["retry"] = Retry(NoBackoff(), 0)
        if name:
            kwargs["client_name"] = name
        # a dead server that sends no reset must not hang the reader for ever; BLOCK 0 waits for ever by design
        kwargs["socket_timeout"] = block_ms / 1000 + 10 if block_ms > 0 else None
        own = aioredis.ConnectionPool(connection_class=pool.connection_class, max_connections=1, **kwargs)
        return aioredis.Redis(connection_pool=own, single_connection_client=True)

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
