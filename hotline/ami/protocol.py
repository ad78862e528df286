"""The AMI connection: panoramisk's `AMIProtocol` with our codec and our reply matching.

Replaced from panoramisk 1.4:
- `data_received`: each read was decoded on its own (`data.decode(encoding, 'ignore')`), so a UTF-8
  character split across two reads was dropped (张三 arriving as 三). We feed `FrameDecoder`, which cuts
  frames on bytes and decodes each frame whole, and flags bad frames instead of raising.
- `send`: panoramisk sorts the headers and lets a line break inside a value end the frame early (header
  injection); we write `encode_frame` of `actions.prepare` output (Action first, refusing line breaks).
- reply matching: `PendingAction` decides single vs list by the action's name (see `actions.py`).
- `close`: panoramisk queues unanswered actions to re-send after a reconnect (a Hangup or an Originate
  would run twice); we fail them with `AmiConnectionLost`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from panoramisk.ami_protocol import AMIProtocol

from hotline.ami.actions import AmiConnectionLost, PendingAction, header_pairs
from hotline.ami.frames import EventFilter, Frame, FrameDecoder, encode_frame

log = logging.getLogger(__name__)
MAX_ABANDONED = 1024


class AmiProtocol(AMIProtocol):
    """One TCP connection. Events go to `on_frames` in wire order, a batch per network read."""

    def __init__(self, on_frames: Callable[[list[Frame]], None], on_lost: Callable[[Exception | None], None],
                 event_filter: EventFilter | None = None,
                 on_malformed: Callable[[Frame], None] | None = None) -> None:
        self.on_frames = on_frames
        self.on_lost = on_lost
        self.on_malformed = on_malformed
        # Events no listener wants are skipped by the decoder on their first lines (replies always pass).
        self.decoder = FrameDecoder(expect_banner=True, event_filter=event_filter, on_bad=self._malformed)
        self.pending: dict[str, PendingAction] = {}
        # Actions given up on (timed out): their late replies must not leak to the listeners as events.
        self.abandoned: dict[str, str] = {}
        self.banner_seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.malformed = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.log = log
        self.responses = {}  # panoramisk's table; unused, kept empty so its close() has nothing to re-queue

    @property
    def banner(self) -> str | None:
        return self.decoder.banner

    def _malformed(self, frame: Frame, reason: str = "") -> None:
        """A frame cut for size, with bad lines (found when it is parsed, by whoever reads it) or with
        neither Event nor Response: counted and logged once, never fatal."""
        self.malformed += 1
        log.warning("malformed AMI frame: %.300s", reason or "; ".join(frame.errors))
        if self.on_malformed is not None:
            self.on_malformed(frame)

    def data_received(self, data: bytes) -> None:
        frames = self.decoder.feed(data)
        if self.version is None and self.decoder.banner is not None:
            self.version = self.decoder.banner.partition("/")[2].strip()
            if not self.banner_seen.done():
                self.banner_seen.set_result(self.decoder.banner)
        events: list[Frame] = []
        # Single headers only: a frame is parsed whole when a reader asks for more (frames are lazy). With no
        # action waiting (the usual case while events stream in) no ActionID can route a frame elsewhere, so
        # none is looked for (finding that a frame has none means reading it to its end).
        matching = bool(self.pending or self.abandoned)
        for frame in frames:
            if frame.event is not None:
                if not matching:
                    events.append(frame)
                    continue
            elif frame.response is None:
                if not frame.errors:  # bad lines: reported by `errors`
                    self._malformed(frame, f"no Event/Response: {frame.headers}")
                if not matching:
                    continue
            elif not matching:
                log.debug("reply to an action no one waits for (timed out?): %s", frame.action_id)
                continue
            action_id = frame.get("ActionID")
            pending = self.pending.get(action_id) if action_id is not None else None
            if pending is not None and pending.add(frame):
                del self.pending[action_id]
            elif pending is not None and frame.response is None and not pending.frames:
                events.append(frame)
            elif pending is None and action_id in self.abandoned:
                if self.abandoned[action_id] == "single":
                    if frame.response is None:
                        events.append(frame)  # e.g. the OriginateResponse of an Originate that timed out
                    else:
                        del self.abandoned[action_id]
                elif (frame.get("EventList") or "").lower() == "complete" or (frame.event or "").endswith("Complete"):
                    del self.abandoned[action_id]
            elif pending is None and frame.event is not None:
                events.append(frame)  # including OriginateResponse, which arrives after its action completed
            elif pending is None and frame.response is not None:
                log.debug("reply to an action no one waits for (timed out?): %s", action_id)
        if events:
            self.on_frames(events)

    def send(self, pending: PendingAction) -> asyncio.Future[Frame | list[Frame]]:  # type: ignore[override]
        if self.closed:
            pending.fail(AmiConnectionLost("AMI connection closed"))
            return pending.future
        if pending.action_id in self.pending:
            raise ValueError(f"ActionID {pending.action_id!r} is already waiting for a reply")
        data = encode_frame(header_pairs(pending.action))  # raises ValueError on a line break in a value: nothing sent
        self.pending[pending.action_id] = pending
        self.transport.write(data)
        return pending.future

    def forget(self, pending: PendingAction) -> None:
        if self.pending.get(pending.action_id) is pending:
            del self.pending[pending.action_id]
            self.abandoned[pending.action_id] = pending.kind
            if len(self.abandoned) > MAX_ABANDONED:
                del self.abandoned[next(iter(self.abandoned))]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.close()
        self.on_lost(exc)

    def close(self) -> None:
        pending, self.pending = self.pending, {}
        for action in pending.values():
            action.fail(AmiConnectionLost(f"AMI connection lost before the reply to {action.action['Action']}"))
        if not self.banner_seen.done():
            self.banner_seen.set_exception(AmiConnectionLost("AMI connection closed before the banner"))
            self.banner_seen.exception()  # retrieved: nobody may be waiting for it
        super().close()

    def abort(self) -> None:
        """Drop the connection at once (a dead peer will never answer a FIN)."""
        if not self.closed:
            self.transport.abort()
