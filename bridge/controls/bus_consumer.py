"""Closing control flows when their call ends, whichever console process started them: reads `calls` in
its own consumer group and, on `call.ended`, closes the call's control (withdraws a pending invitation,
frees the expert, tells the agent). Runs in the bridge role."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from redis.exceptions import RedisError, ResponseError

from bridge.controls.notifier import ControlNotifier
from bridge.controls.services import ControlStore, close_on_hangup
from hotline.bus import EventBus

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
        try:
            await self.bus.redis.xgroup_create(key, GROUP, id=self.start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        cursor = "0"  # our pending entries first, then new ones
        while True:
            try:
                reply = await self.bus.redis.xreadgroup(GROUP, self.consumer, {key: cursor}, count=200,
                                                        block=None if cursor != ">" else self.block_ms)
            except (RedisError, OSError) as exc:
                log.warning("reading %s failed (%s): retrying", self.stream, exc)
                await asyncio.sleep(0.5)
                continue
            entries = reply[0][1] if reply else []
            if cursor != ">" and not entries:
                cursor = ">"
                continue
            for entry_id, fields in entries:
                try:
                    event = json.loads(fields["data"]) if fields else {}
                    if event.get("type") == "call.ended":
                        closed = await close_on_hangup(self.store, self.notify, event["call_id"])
                        self.closed += closed is not None
                except (ValueError, KeyError):
                    log.exception("calls entry %s unreadable: skipped", entry_id)
            if entries:
                await self.bus.redis.xack(key, GROUP, *[e[0] for e in entries])
                if cursor != ">":
                    cursor = entries[-1][0]


async def run(ctx: RoleContext) -> None:
    consumer = ControlConsumer(ctx.bus)
    while True:  # the group keeps our place across restarts
        try:
            await consumer.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("control consumer failed: restarting in 1 s")
            await asyncio.sleep(1.0)
