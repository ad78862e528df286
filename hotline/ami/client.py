"""`AmiClient`: the platform's one AMI link, a thin wrapper over panoramisk's `Manager`.

What it adds to panoramisk 1.4 (see docs/areas/ami.md):
- replies shaped by the action (one `Frame`, or every frame up to `...Complete`), `Async: true` on
  Originate/PlayDTMF, incremental UTF-8 (in `AmiProtocol`);
- a timeout on every action (`AmiActionTimeout`), `Response: Error` raised as `AmiActionError`
  (or returned with `check=False`);
- a Ping every `ping_interval` whose reply is awaited: no reply in time and the connection is dropped;
- reconnection with exponential back-off starting at 50 ms, then, after every login, a resynchronisation
  (QueueStatus + CoreShowChannels) handed to the listeners as a `Resync` before any event of the new
  connection;
- listeners (sync or async) that get typed events (or the frames themselves) in wire order, each only the
  events it asked for (events no listener wants are skipped unparsed), and link-state callbacks;
- a link whose listeners all want no event (a console alone: actions and their replies only) has
  `Events: off` (at login, or by an `Events` action once they say so), so Asterisk does not send it every
  event of every call; a listener that wants events later makes it log in again with events on (and resync).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from panoramisk.manager import Manager

from hotline.ami.actions import (
    AmiActionError,
    AmiActionTimeout,
    AmiConnectionLost,
    AmiError,
    AmiLoginError,
    AmiNotConnected,
    PendingAction,
    is_error,
    prepare,
)
from hotline.ami.events import AmiEvent, CoreShowChannel, QueueEntry, QueueMember, QueueParams, parse_event
from hotline.ami.frames import EventFilter, Frame
from hotline.ami.protocol import AmiProtocol
from hotline.tasks import cancel_and_wait

if TYPE_CHECKING:
    from hotline.settings import Settings

__all__ = [
    "AmiActionError",
    "AmiActionTimeout",
    "AmiClient",
    "AmiConnectionLost",
    "AmiError",
    "AmiLoginError",
    "AmiNotConnected",
    "Resync",
]

log = logging.getLogger(__name__)

EventListener = Callable[[Any], Awaitable[None] | None]  # gets an AmiEvent (or a Frame) or a Resync
StateListener = Callable[[bool], Awaitable[None] | None]


@dataclass(slots=True)
class Resync:
    """What Asterisk holds right after a (re)login: rebuild your view from it, then apply the events."""

    queues: list[QueueParams] = field(default_factory=list)
    members: list[QueueMember] = field(default_factory=list)
    callers: list[QueueEntry] = field(default_factory=list)  # citizens waiting in a queue
    channels: list[CoreShowChannel] = field(default_factory=list)
    reconnect: bool = False  # False after the first login of this client
    at: float = field(default_factory=time.time)

    @property
    def name(self) -> str:  # so a listener can switch on `.name` for events and resyncs alike
        return "Resync"


class AmiManager(Manager):
    """panoramisk's Manager as the connection factory only.

    Its own login, unchecked pinger, fixed-delay reconnect (`int()` of the delay) and re-sending of
    unanswered actions after a reconnect are switched off: `AmiClient` does those.
    """

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if not f.cancelled() and f.exception() is None:
            self.protocol = f.result()[1]

    def connection_lost(self, exc: Exception | None) -> None:
        pass

    def ping(self) -> None:
        pass


@dataclass(slots=True)
class _Listener:
    callback: EventListener
    filter: EventFilter | None  # None: every event
    typed: bool  # False: the `Frame` itself (no typed event built for it)


class AmiClient:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5038,
        username: str = "hotline",
        secret: str = "",
        *,
        action_timeout: float = 5.0,
        ping_interval: float = 2.0,
        ping_timeout: float | None = None,
        backoff_initial: float = 0.05,
        backoff_max: float = 1.0,
        events: str = "on",
    ) -> None:
        self.host, self.port = host, port
        self.username, self._secret = username, secret
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout if ping_timeout is not None else min(ping_interval, action_timeout)
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.events = events
        self.manager = AmiManager(host=host, port=port, events=events)
        self.logins = 0
        self.last_error: BaseException | None = None
        self._listeners: list[_Listener] = []
        self._state_listeners: list[StateListener] = []
        self._protocol: AmiProtocol | None = None
        self._up = asyncio.Event()
        self._held: list[list[Frame]] | None = None
        self._events_off = False  # this connection has `Events: off` (at login, or asked for since)
        self._queue: asyncio.Queue[list[Frame] | Resync] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._closing = False
        self._malformed = 0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> AmiClient:
        secret = settings.ami_secret.get_secret_value() if settings.ami_secret else ""
        options: dict[str, Any] = dict(action_timeout=settings.ami_action_timeout,
                                       ping_interval=settings.ami_ping_interval)
        options.update(overrides)
        return cls(settings.ami_host, settings.ami_port, settings.ami_user, secret, **options)

    # --- public API ---------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Logged in right now (the "AMI link up" metric)."""
        return self._up.is_set()

    @property
    def banner(self) -> str | None:
        return self._protocol.banner if self._protocol else None

    @property
    def malformed_frames(self) -> int:
        """Frames with bad lines, cut for size, or with neither Event nor Response, over every connection so far.

        Frames are parsed lazily: a bad line is found (and logged) when its frame is parsed, by any reader of
        its `headers`, `pairs`, `errors` or typed event; a frame whose readers only ask for single headers is
        not checked (the headers it gives are exactly the parsed ones all the same).
        """
        return self._malformed

    def add_listener(self, callback: EventListener, *, events: Iterable[str] | None = None,
                     varsets: Iterable[str] | None = None, typed: bool = True) -> None:
        """`callback(event)` for every `AmiEvent` and every `Resync`, in wire order; may be async.

        `events`: only these event names (default: all); `varsets`: only the `VarSet` events whose variable
        starts with one of these prefixes (default: all). Events carrying an ActionID (OriginateResponse)
        always pass. When no listener wants an event, the decoder skips it without parsing it.
        `typed=False`: the callback gets the `Frame` instead of a typed event (cheaper; `Resync` stays typed).
        """
        wanted = None if events is None and varsets is None else EventFilter.of(events, varsets)
        self._listeners.append(_Listener(callback, wanted, typed))
        self._refilter()

    def remove_listener(self, callback: EventListener) -> None:
        for i, entry in enumerate(self._listeners):
            if entry.callback == callback:
                del self._listeners[i]
                self._refilter()
                return
        raise ValueError(f"{callback!r} is not a listener")

    def event_filter(self) -> EventFilter | None:
        """What the listeners want together (`None`: every event); the decoder skips the rest unparsed."""
        if not self._listeners:
            return None  # nobody listens yet: keep everything rather than guess
        return EventFilter.union(entry.filter for entry in self._listeners)

    def wants_no_event(self) -> bool:
        """Every listener asked for no event at all (a Resync and action replies still reach them)."""
        wanted = self.event_filter()
        return wanted is not None and wanted.events == frozenset()

    def _refilter(self) -> None:
        if self._protocol is not None:
            self._protocol.decoder.event_filter = self.event_filter()
            if self._events_off and not self.wants_no_event():
                # logged in with events off, and now a listener wants some: log in again (with a resync)
                log.info("AMI link to %s:%s: a listener wants events, logging in again with events on",
                         self.host, self.port)
                self._protocol.abort()
            elif not self._events_off and self.wants_no_event() and self._up.is_set():
                self._events_off = True  # nobody wants events any more: ask Asterisk to stop sending them
                task = asyncio.ensure_future(self._turn_events_off())
                self._tasks.add(task)  # awaited by close(), like the async listeners' tasks
                task.add_done_callback(self._tasks.discard)

    async def _turn_events_off(self) -> None:
        try:
            await self.send_action({"Action": "Events", "EventMask": "off"})
        except (AmiError, OSError, TimeoutError) as exc:  # the next login decides again
            log.info("AMI link to %s:%s: events not turned off (%s)", self.host, self.port, exc)

    def add_state_listener(self, callback: StateListener) -> None:
        """`callback(True)` once logged in and resynchronised, `callback(False)` when that link is lost or closed."""
        self._state_listeners.append(callback)

    async def connect(self, wait: bool = True, timeout: float | None = None) -> None:
        """Start the link (it keeps reconnecting until `close`); wait for the first login unless told not to.

        Raises `AmiNotConnected` if no login happened within `timeout` (default: the action timeout); the
        client goes on trying in the background.
        """
        if self._supervisor is None:
            self._closing = False
            self._dispatcher = asyncio.create_task(self._dispatch_forever(), name="ami-dispatch")
            self._supervisor = asyncio.create_task(self._run(), name="ami-supervisor")
        if wait:
            await self._wait_up(self.action_timeout if timeout is None else timeout)

    async def send_action(
        self, action: Mapping[str, object], *, timeout: float | None = None, check: bool = True
    ) -> Frame | list[Frame]:
        """Send one action and return its reply.

        Single-reply actions give one `Frame`; list actions (QueueStatus, CoreShowChannels, ...) give every
        frame from the first reply to the `...Complete` event. `Response: Error` raises `AmiActionError`
        unless `check=False` (then the error frame is returned, in a list for list actions). No complete
        reply within `timeout` (default `action_timeout`) raises `AmiActionTimeout`; a link that is down and
        does not come back in that time raises `AmiNotConnected`.
        """
        if self._closing or self._supervisor is None:
            raise AmiNotConnected("AmiClient is not started (call connect()) or is closed")
        timeout = self.action_timeout if timeout is None else timeout
        started = time.monotonic()
        await self._wait_up(timeout)
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise AmiNotConnected(f"AMI link to {self.host}:{self.port} dropped")
        remaining = max(0.0, timeout - (time.monotonic() - started))
        return await self._request(protocol, action, remaining, check, reported_timeout=timeout)

    async def close(self) -> None:
        self._closing = True
        if self._protocol is not None:
            self._protocol.close()
        # a listener blocked in a Redis call may swallow one cancellation: insist, for a bounded time
        await cancel_and_wait([self._supervisor, self._dispatcher], timeout=self.action_timeout)
        # Let async state listeners see the final "down" (the supervisor reported it while stopping).
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, self.action_timeout)
        self._supervisor = self._dispatcher = None
        self.manager.protocol = None

    # --- requests -----------------------------------------------------------------------------------------

    async def _wait_up(self, timeout: float) -> None:
        if self._up.is_set():
            return
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except TimeoutError:
            reason = f": {self.last_error}" if self.last_error else ""
            raise AmiNotConnected(f"no AMI link to {self.host}:{self.port} within {timeout:g} s{reason}") from None

    async def _request(
        self, protocol: AmiProtocol, action: Mapping[str, object], timeout: float, check: bool,
        reported_timeout: float | None = None,
    ) -> Frame | list[Frame]:
        pending = PendingAction(prepare(action))
        future = protocol.send(pending)
        try:
            async with asyncio.timeout(timeout):
                result = await future
        except TimeoutError:
            protocol.forget(pending)
            total = timeout if reported_timeout is None else reported_timeout
            raise AmiActionTimeout(pending.action, total, list(pending.frames)) from None
        if isinstance(result, list):
            return result
        if check and is_error(result):
            raise AmiActionError(pending.action, result)
        return [result] if pending.kind == "list" else result

    # --- the link -----------------------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.backoff_initial
        while not self._closing:
            logged_in = False
            try:
                logged_in = await self._session()
            except asyncio.CancelledError:
                raise
            except (OSError, AmiError, TimeoutError) as exc:
                self.last_error = exc
                log.warning("AMI link to %s:%s: %s", self.host, self.port, exc)
            finally:
                await self._link_down()
            if self._closing:
                return
            if logged_in:
                delay = self.backoff_initial  # a link that worked: the first retry is fast again
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)

    async def _session(self) -> bool:
        """One connection: connect, login, resync, keep alive. Returns whether it logged in."""
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[Exception | None] = loop.create_future()

        def on_lost(exc: Exception | None) -> None:
            if not lost.done():
                lost.set_result(exc)

        self._held = []  # events of this connection wait until the Resync is delivered
        self.manager.config["protocol_factory"] = lambda: AmiProtocol(self._on_frames, on_lost, self.event_filter(),
                                                                      self._count_malformed)
        self.manager.loop = loop
        async with asyncio.timeout(self.action_timeout):
            _transport, protocol = await self.manager.connect()
        self._protocol = protocol
        try:
            async with asyncio.timeout(self.action_timeout):
                await asyncio.shield(protocol.banner_seen)
            self._events_off = self.wants_no_event()
            login = {"Action": "Login", "Username": self.username, "Secret": self._secret,
                     "Events": "off" if self._events_off else self.events}
            try:
                await self._request(protocol, login, self.action_timeout, check=True)
            except AmiActionError as exc:
                raise AmiLoginError(exc.action, exc.frame) from None
            self.logins += 1
            log.info("AMI logged in to %s:%s (%s)", self.host, self.port, protocol.banner)
            resync = await self._resync(protocol)
            held, self._held = self._held or [], None
            self._queue.put_nowait(resync)
            for batch in held:
                self._queue.put_nowait(batch)
            # Up only once resynchronised: an action sent now acts on a view that matches Asterisk's.
            self.last_error = None
            self._up.set()
            self._notify_state(True)
            pinger = asyncio.create_task(self._ping_forever(protocol), name="ami-ping")
            try:
                await lost
            finally:
                pinger.cancel()
            return True
        finally:
            protocol.close()
            self._protocol = None if self._protocol is protocol else self._protocol

    async def _resync(self, protocol: AmiProtocol) -> Resync:
        # check=True: an Error here (app_queue not loaded yet while Asterisk boots) must not pass for "no
        # members"; it drops the link and the next attempt resyncs again.
        queue_status = await self._request(protocol, {"Action": "QueueStatus"}, self.action_timeout, check=True)
        channels = await self._request(protocol, {"Action": "CoreShowChannels"}, self.action_timeout, check=True)
        resync = Resync(reconnect=self.logins > 1)
        for frame in (*queue_status, *channels):  # type: ignore[misc]
            item = parse_event(frame)
            if isinstance(item, QueueParams):
                resync.queues.append(item)
            elif isinstance(item, QueueMember):
                resync.members.append(item)
            elif isinstance(item, QueueEntry):
                resync.callers.append(item)
            elif isinstance(item, CoreShowChannel):
                resync.channels.append(item)
        return resync

    async def _ping_forever(self, protocol: AmiProtocol) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                reply = await self._request(protocol, {"Action": "Ping"}, self.ping_timeout, check=False)
            except AmiActionTimeout:
                log.warning("AMI peer %s:%s did not answer a Ping within %g s: reconnecting",
                            self.host, self.port, self.ping_timeout)
                protocol.abort()
                return
            except AmiConnectionLost:
                return
            if isinstance(reply, Frame) and reply.get("Ping") != "Pong":
                log.info("unexpected Ping reply: %s", reply.headers)

    async def _link_down(self) -> None:
        self._held = None
        self._events_off = False
        if self._up.is_set():
            self._up.clear()
            self._notify_state(False)

    # --- delivery -----------------------------------------------------------------------------------------

    def _count_malformed(self, frame: Frame) -> None:
        # Counted here, not per connection: a frame is found bad when parsed, which may be after its link closed.
        self._malformed += 1

    def _on_frames(self, frames: list[Frame]) -> None:
        if self._held is not None:
            self._held.append(frames)
        else:
            self._queue.put_nowait(frames)

    async def _dispatch_forever(self) -> None:
        queue = self._queue
        while True:
            batch = await queue.get()
            if isinstance(batch, Resync):
                for entry in list(self._listeners):
                    await self._deliver(entry.callback, batch, "Resync")
                continue
            for frame in batch:
                # Inline rather than one coroutine per event: this loop runs for every event Asterisk sends.
                event: AmiEvent | None = None  # typed event built once, and only if a listener wants it
                for entry in self._listeners:
                    if entry.filter is not None and not entry.filter.keeps_frame(frame):
                        continue
                    item: AmiEvent | Frame = frame
                    if entry.typed:
                        if event is None:
                            event = parse_event(frame)
                        item = event
                    try:
                        result = entry.callback(item)
                        if result is not None and inspect.isawaitable(result):
                            await result
                    except Exception:
                        # One broken listener must not stop the others nor the link.
                        log.exception("AMI listener %r failed on %s", entry.callback, frame.event)

    @staticmethod
    async def _deliver(callback: EventListener, item: Any, name: str) -> None:
        try:
            result = callback(item)
            if result is not None and inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("AMI listener %r failed on %s", callback, name)

    def _notify_state(self, up: bool) -> None:
        for callback in self._state_listeners:
            try:
                result = callback(up)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except Exception:
                log.exception("AMI state listener %r failed", callback)
