"""A small raw-socket AMI client for the tests (no panoramisk: the tests check the wire itself)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

from hotline.ami.frames import Frame, FrameDecoder, encode_frame


class RawAmi:
    def __init__(self) -> None:
        self.decoder = FrameDecoder()
        self.events: list[tuple[float, Frame]] = []
        self.replies: dict[str, list[Frame]] = {}
        self._waiters: dict[str, asyncio.Future[list[Frame]]] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self.banner: str | None = None
        self._changed = asyncio.Event()

    async def connect(self, port: int, username: str = "hotline", secret: str = "hotline-secret") -> Frame:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self._task = asyncio.create_task(self._read())
        (reply,) = await self.send({"Action": "Login", "Username": username, "Secret": secret})
        return reply

    async def _read(self) -> None:
        while True:
            data = await self.reader.read(65536)
            if not data:
                break
            for frame in self.decoder.feed(data):
                self.banner = self.decoder.banner
                aid = frame.action_id
                if aid in self._waiters and (frame.event is None or frame.event not in ("OriginateResponse",)):
                    self.replies.setdefault(aid, []).append(frame)
                    first = self.replies[aid][0]
                    is_list = first.get("EventList") == "start"
                    if not is_list or frame.get("EventList") == "Complete":
                        self._waiters.pop(aid).set_result(self.replies[aid])
                    continue
                if frame.event:
                    self.events.append((time.monotonic(), frame))
                    self._changed.set()
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(ConnectionError("AMI closed"))

    async def send(self, action: dict[str, str], timeout: float = 5.0) -> list[Frame]:
        action = dict(action)
        aid = action.setdefault("ActionID", f"t-{next(self._ids)}")
        fut: asyncio.Future[list[Frame]] = asyncio.get_running_loop().create_future()
        self._waiters[aid] = fut
        self.writer.write(encode_frame(action))
        await self.writer.drain()
        return await asyncio.wait_for(fut, timeout)

    async def wait_for(self, predicate, timeout: float = 10.0) -> Frame:  # type: ignore[no-untyped-def]
        """Wait (wall seconds) until an event matching `predicate` has arrived; return it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for _, frame in self.events:
                if predicate(frame):
                    return frame
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError("event did not arrive")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def close(self) -> None:
        self.writer.close()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
