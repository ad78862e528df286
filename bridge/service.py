"""The bridge role: AMI events → call tracker → `calls` stream on the event bus.

The tracker runs inside the AMI client's listener (synchronous, in wire order); the events it returns
go through a queue to one publisher task, so a slow Redis never reorders nor drops call events: a
failed publish is retried until it goes through (or the service stops, when what is left is logged).
After every (re)login the client hands a `Resync` (QueueStatus + CoreShowChannels) before any event of
the new connection; the tracker rebuilds the live calls from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from bridge.calls.tracker import IVR_VARIABLES, CallTracker
from hotline.ami.client import AmiError, AmiNotConnected, Resync
from hotline.ami.frames import Frame
from hotline.tasks import cancel_and_wait

if TYPE_CHECKING:
    from hotline.ami.client import AmiClient
    from hotline.bus import EventBus
    from hotline.runtime import RoleContext

log = logging.getLogger(__name__)

CALLS_STREAM = "calls"
PublishMany = Callable[[str, list[dict[str, Any]]], Awaitable[list[str]]]
RETRY_INITIAL, RETRY_MAX = 0.05, 2.0
PUBLISH_BATCH = 200  # events per round trip at most


class BridgeService:
    def __init__(self, ami: AmiClient, bus: EventBus, tracker: CallTracker | None = None,
                 stream: str = CALLS_STREAM, clock: Callable[[], float] = time.time,
                 only_tracked: bool = False, publish: PublishMany | None = None) -> None:
        self.ami = ami
        self.bus = bus
        # how a batch goes out: the bus's MULTI of XADDs (None), or with the pops that ride along (bridge.pops.early)
        self.publish = publish
        self.tracker = tracker or CallTracker()
        self.stream = stream
        self.clock = clock
        self.only_tracked = only_tracked  # listen only to the events the tracker handles (frames_in counts those)
        self.frames_in = 0
        self.published = 0
        self.resyncs = 0
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._publisher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._publisher = asyncio.create_task(self._publish_forever(), name="bridge-publisher")
        if self.only_tracked:
            # Only the events the tracker handles, as frames: the client skips the rest unparsed (unless
            # another role on the same link wants them) and builds no typed events for us.
            self.ami.add_listener(self.on_ami, events=self.tracker.wanted_events, varsets=IVR_VARIABLES, typed=False)
        else:
            self.ami.add_listener(self.on_ami, typed=False)
        if self.ami.connected:
            # The link was up before we listened (another role opened it): its first Resync went to the
            # others, so take our own snapshot of the calls in progress.
            await self.snapshot()

    async def snapshot(self) -> None:
        """Ask Asterisk for the live channels and queue callers and resynchronise the tracker."""
        frames = []
        try:
            for action in ({"Action": "QueueStatus"}, {"Action": "CoreShowChannels"}):
                reply = await self.ami.send_action(action, check=False)
                frames += reply if isinstance(reply, list) else [reply]
        except AmiError as exc:
            log.warning("no call snapshot at start (%s): the next reconnect's resync will bring it", exc)
            return
        for event in self.tracker.resync(frames, self.clock()):
            self._outbox.put_nowait(event)

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Stop listening, publish what is queued (up to `drain_timeout`), then stop the publisher."""
        with contextlib.suppress(ValueError):
            self.ami.remove_listener(self.on_ami)
        if self._publisher is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_timeout):
                await self._outbox.join()
        await cancel_and_wait([self._publisher])
        self._publisher = None
        if not self._outbox.empty():
            log.error("bridge stopped with %d call events unpublished", self._outbox.qsize())

    def on_ami(self, item: Any) -> None:
        """The AMI listener: frames (or typed events, with `.frame`) and `Resync` notifications."""
        if isinstance(item, Resync):
            self.resyncs += 1
            frames = [entry.frame for entry in (*item.callers, *item.channels)]
            events = self.tracker.resync(frames, item.at)
            log.info("AMI resync: %d channel(s), %d caller(s) waiting, %d live call(s), %d event(s)",
                     len(item.channels), len(item.callers), len(self.tracker.active), len(events))
        else:
            self.frames_in += 1
            events = self.tracker.feed(item if isinstance(item, Frame) else item.frame, self.clock())
        for event in events:
            self._outbox.put_nowait(event)

    async def _publish_forever(self) -> None:
        """Publish in order; whatever queued up meanwhile goes out in one atomic round trip, so a burst of
        events does not wait behind one XADD each (the screen pop's latency)."""
        delay = RETRY_INITIAL
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < PUBLISH_BATCH:
                batch.append(self._outbox.get_nowait())
            while True:
                try:
                    await (self.publish or self.bus.publish_many)(self.stream, batch)
                except (RedisError, OSError) as exc:
                    log.warning("publishing %d call event(s) from %s failed (%s): retrying in %.2f s",
                                len(batch), batch[0]["type"], exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                break
            delay = RETRY_INITIAL
            self.published += len(batch)
            for _ in batch:
                self._outbox.task_done()


async def run_role(ctx: RoleContext) -> None:
    """The `bridge` role for hotline.runtime: runs until cancelled."""
    try:
        ami = await ctx.ami()
    except AmiNotConnected as exc:
        log.warning("%s: the bridge starts anyway, the AMI client keeps reconnecting", exc)
        ami = await ctx.ami()  # the same client, already created and retrying in the background
    from bridge.controls.bus_consumer import run as run_controls
    from bridge.pops.early import EarlyPops

    # ringing and answered pops ride with their `calls` entry once the pops role has offered their content
    early = EarlyPops(ctx.bus)
    service = BridgeService(ami, ctx.bus, only_tracked=True, publish=early.publish)
    await service.start()
    controls = asyncio.create_task(run_controls(ctx), name="bridge-controls")
    try:
        await asyncio.Event().wait()
    finally:
        await cancel_and_wait([controls])
        await service.stop()
        await early.aclose()
