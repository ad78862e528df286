"""Publishing pops to each agent's stream, together with the acknowledgement of the `calls` entry they come
from: one MULTI/EXEC, so after a crash an entry is either fully delivered and acknowledged or neither
(it is then read again from the consumer group's pending list): no pop is lost or doubled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hotline.bus import DEFAULT_MAXLEN, EventBus, agent_stream, encode


class PopNotifier:
    def __init__(self, bus: EventBus, maxlen: int = DEFAULT_MAXLEN) -> None:
        self.bus = bus
        self.maxlen = maxlen

    async def deliver(self, pops: Sequence[dict[str, Any]],
                      ack: tuple[str, str, str | Sequence[str]] | None = None) -> list[str]:
        """XADD every pop to `agent:<pop.agent_id>` and, in the same transaction, XACK `ack` =
        (stream name, group, entry id or ids). Returns the new entry ids."""
        async with self.bus.redis.pipeline(transaction=True) as pipe:
            for pop in pops:
                pipe.xadd(self.bus.key(agent_stream(pop["agent_id"])), {"data": encode(pop)},
                          maxlen=self.maxlen, approximate=True)
            if ack is not None:
                stream, group, ids = ack
                pipe.xack(self.bus.key(stream), group, *([ids] if isinstance(ids, str) else ids))
            replies = await pipe.execute()
        return [str(r) for r in replies[:len(pops)]]

    async def publish(self, pop: dict[str, Any]) -> str:
        """One pop or invitation outside the consumer (call controls)."""
        return (await self.deliver([pop]))[0]
