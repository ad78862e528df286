"""Closing control flows when their call ends, whichever console process started them: reads `calls` in
its own consumer group and, on `call.ended`, closes the call's control (withdraws a pending invitation,
frees the expert, tells the agent). Runs in the bridge role."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from bridge.controls.notifier import ControlNotifier
from bridge.controls.services import ControlStore, close_on_hangup
from hotline.bus import EventBus
from hotline.tasks import run_forever

if TYPE_CHECKING:
    from hotline.runtime import RoleContext

log = logging.getLogger(__name__)

GROUP = "controls"


class ControlConsumer:
    def __init__(self, bus: EventBus, *, consumer: str = "bridge", stream: str = "calls", start_id: str = "$",
                 block_ms: int = 1000) -> None:
        self.bus = bus
        self.store = ControlStore(bus)
        self.notify = ControlNotifier(bus)
        self.consumer, self.stream, self.start_id, self.block_ms = consumer, stream, start_id, block_ms
        self.closed = 0

    async def run(self) -> None:
        key = self.bus.key(self.stream)
        async for entries in self.bus.group_batches(self.stream, GROUP, self.consumer, start_id=self.start_id,
                                                    count=200, block_ms=self.block_ms):
            for entry_id, fields in entries:
                try:
                    event = json.loads(fields["data"]) if fields else {}
                    if event.get("type") == "call.ended":
                        closed = await close_on_hangup(self.store, self.notify, event["call_id"])
                        self.closed += closed is not None
                except (ValueError, KeyError):
                    log.exception("calls entry %s unreadable: skipped", entry_id)
            await self.bus.redis.xack(key, GROUP, *[e[0] for e in entries])


async def run(ctx: RoleContext) -> None:
    await run_forever(ControlConsumer(ctx.bus).run, "control consumer")  # the group keeps our place
