"""The `acd` role: agent states, queue figures, callbacks, wrap-up limits and the answer-rate guard, all on
the process's one AMI connection, until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from acd.bus_consumer import CallsConsumer, StateRequestsConsumer
from acd.callbacks import CallbackDispatcher
from acd.config import AcdConfig, default_acd_config
from acd.guard import AnswerRateGuard
from acd.notifier import AcdNotifier
from acd.queues import QueueMonitor
from acd.services import AgentService, AgentTracker
from hotline.ami.client import Resync
from hotline.ami.events import QueueEntry, QueueMember, parse_event
from hotline.bus import EventBus
from hotline.tasks import cancel_and_wait

log = logging.getLogger(__name__)


# The AMI events the ACD acts on (agent tracker, queue figures, callbacks); the rest never reach it, and
# frames no role wants are skipped by the decoder unparsed (the soak showed the ACD drowning without this).
ACD_EVENTS = ("QueueMemberAdded", "QueueMemberRemoved", "QueueMemberPause", "QueueMemberStatus",
              "QueueMemberPenalty", "AgentCalled", "AgentRingNoAnswer", "AgentConnect", "AgentComplete",
              "ConfbridgeJoin", "ConfbridgeLeave", "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon",
              "OriginateResponse")


@dataclass
class Acd:
    """The ACD's parts wired to one AMI client and one bus; `start()` attaches them, `stop()` detaches."""

    ami: Any
    bus: EventBus
    config: AcdConfig = field(default_factory=default_acd_config)
    session_factory: Any = None
    short_abandon_seconds: float = 5
    tick: float = 1.0
    clock: Any = time.time

    def __post_init__(self) -> None:
        redis = self.bus.redis
        self.notifier = AcdNotifier(self.bus)
        self.tracker = AgentTracker(self.config, redis, self.notifier, self.session_factory, self.ami, self.clock)
        self.agents = AgentService(self.config, self.ami, redis, self.tracker)
        self.queues = QueueMonitor(self.config, redis, self.clock)
        self.callbacks = CallbackDispatcher(self.config, redis, self.ami, self.notifier, self.session_factory,
                                            self.clock)
        self.guard = AnswerRateGuard(self.config, redis, self.notifier,
                                     short_abandon_seconds=self.short_abandon_seconds, ami=self.ami,
                                     session_factory=self.session_factory, clock=self.clock)
        self.calls = CallsConsumer(self.bus, self.guard)
        self.requests = StateRequestsConsumer(self.bus, self.agents)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def on_event(self, event: Any) -> None:
        try:
            await self.tracker.on_event(event)
            await self.queues.on_event(event)
            await self.callbacks.on_event(event)
        except Exception:
            if (task := asyncio.current_task()) is not None and task.cancelling():
                # redis-py may turn the AMI dispatcher's cancellation into an error: let it through
                raise asyncio.CancelledError from None
            log.exception("ACD: could not handle %s", getattr(event, "name", event))

    async def start(self) -> None:
        self._stopping = False
        self.ami.add_listener(self.on_event, events=ACD_EVENTS)
        await self.calls.catch_up()
        self._tasks = [asyncio.create_task(self._loop(), name="acd-loop"),
                       asyncio.create_task(self.calls.run(), name="acd-calls"),
                       asyncio.create_task(self.requests.run(), name="acd-requests")]

    async def resync(self) -> None:
        """Rebuild from Redis + QueueStatus now (the client's own Resync may have come before `start`)."""
        frames = await self.ami.send_action({"Action": "QueueStatus"})
        parsed = [parse_event(f) for f in frames if f.headers.get("Event")]
        await self.on_event(Resync(members=[p for p in parsed if isinstance(p, QueueMember)],
                                   callers=[p for p in parsed if isinstance(p, QueueEntry)]))

    async def _loop(self) -> None:
        # a cancellation that a library turns into TimeoutError must still stop the loop: hence the flag
        while not self._stopping:
            await asyncio.sleep(self.tick)
            for step in (self.tracker.check_wrap_up, self.callbacks.dispatch, self.queues.settle, self.guard.evaluate):
                if self._stopping:
                    return
                try:
                    await step()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    if (task := asyncio.current_task()) is not None and task.cancelling():
                        raise asyncio.CancelledError from None
                    log.exception("ACD: %s failed", step.__qualname__)

    async def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(ValueError):
            self.ami.remove_listener(self.on_event)
        await cancel_and_wait(self._tasks, timeout=2.0)
        self._tasks = []
        await self.queues.close()


async def run_role(ctx: Any) -> None:
    ami = await ctx.ami()
    session_factory = None
    with contextlib.suppress(Exception):
        session_factory = ctx.session_factory
    acd = Acd(ami, ctx.bus, session_factory=session_factory,
              short_abandon_seconds=ctx.settings.short_abandon_seconds)
    ctx.extras["acd"] = acd
    await acd.start()
    await acd.resync()
    try:
        await asyncio.Event().wait()
    finally:
        await acd.stop()
