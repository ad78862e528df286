"""Publishing pops to each agent's stream, together with the acknowledgement of the `calls` entry they come
from: one MULTI/EXEC, so after a crash an entry is either fully delivered and acknowledged or neither
(it is then read again from the consumer group's pending list): no pop is lost or doubled.

The same transaction records, in each call's pop state (bridge.pops.early), the last entry of the call whose
pops are now out (`delivered`): the bridge's publisher lets a later pop of the call ride only once it has
reached what is owed. A call's end deletes its state here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge.pops.early import CONTENT, DELIVERED, STATE_TTL_MS, state_key
from hotline.bus import DEFAULT_MAXLEN, EventBus, agent_stream, encode


class PopNotifier:
    def __init__(self, bus: EventBus, maxlen: int = DEFAULT_MAXLEN) -> None:
        self.bus = bus
        self.maxlen = maxlen

    async def deliver(self, pops: Sequence[dict[str, Any]],
                      ack: tuple[str, str, str | Sequence[str]] | None = None,
                      settled: Sequence[tuple[str, str | None]] = ()) -> list[str]:
        """XADD every pop to `agent:<pop.agent_id>` and, in the same transaction, XACK `ack` =
        (stream name, group, entry id or ids) and record `settled` = (call id, its entry now delivered, or
        None when the call ended: its state is deleted). Returns the new entry ids."""
        async with self.bus.redis.pipeline(transaction=True) as pipe:
            for pop in pops:
                pipe.xadd(self.bus.key(agent_stream(pop["agent_id"])), {"data": encode(pop)},
                          maxlen=self.maxlen, approximate=True)
            if ack is not None:
                stream, group, ids = ack
                pipe.xack(self.bus.key(stream), group, *([ids] if isinstance(ids, str) else ids))
            for call_id, entry_id in settled:
                key = self.bus.key(state_key(call_id))
                if entry_id is None:
                    pipe.delete(key)
                else:
                    pipe.hset(key, DELIVERED, entry_id)
                    pipe.pexpire(key, STATE_TTL_MS)
            replies = await pipe.execute()
        return [str(r) for r in replies[:len(pops)]]

    async def publish(self, pop: dict[str, Any]) -> str:
        """One pop or invitation outside the consumer (call controls)."""
        return (await self.deliver([pop]))[0]

    async def offer_content(self, call_id: str, content: str) -> None:
        """A call's read-ahead (services.content_json) for the bridge's publisher, whose pops ride with it."""
        key = self.bus.key(state_key(call_id))
        async with self.bus.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, CONTENT, content)
            pipe.pexpire(key, STATE_TTL_MS)
            await pipe.execute()
