"""The AMI server: real TCP, asyncio, many clients at once, each one gets every event (after Login, while
`Events` is on). Wire format by hotline.ami.frames. Login checks the manager.conf account."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hotline.ami.frames import Frame, FrameDecoder, encode_frame
from pbxsim.actions import Actions
from pbxsim.events import Pairs
from pbxsim.pbx import Pbx

log = logging.getLogger(__name__)
BANNER = "Asterisk Call Manager/11.0.0"
MAX_BACKLOG = 100_000   # frames queued for a client that does not read: beyond it, the client is dropped


def with_action_id(pairs: Pairs, action_id: str | None) -> Pairs:
    if action_id is None or any(k == "ActionID" for k, _ in pairs):
        return pairs
    return [pairs[0], ("ActionID", action_id), *pairs[1:]]


class AmiSession:
    def __init__(self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.events_on = True
        self.events_sent = 0  # events queued for this session (not replies): what `Events: off` saves
        self.outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._held: list[bytes] | None = None

    def push_event(self, data: bytes) -> None:
        if self.authenticated and self.events_on and not self.writer.is_closing():
            if self._held is not None:
                self._held.append(data)
                return
            if self.outbox.qsize() > MAX_BACKLOG:
                self.close()
                return
            self.events_sent += 1
            self.outbox.put_nowait(data)

    def send(self, pairs: Pairs) -> None:
        self.outbox.put_nowait(encode_frame(pairs))

    def close(self) -> None:
        self.outbox.put_nowait(None)

    async def _writer_loop(self) -> None:
        while True:
            data = await self.outbox.get()
            if data is None or self.writer.is_closing():
                break
            self.writer.write(data)
            if self.outbox.empty():
                await self.writer.drain()
        with contextlib.suppress(Exception):
            await self.writer.drain()
        self.writer.close()

    async def run(self) -> None:
        writer_task = asyncio.create_task(self._writer_loop())
        self.writer.write(f"{BANNER}\r\n".encode())
        decoder = FrameDecoder(expect_banner=False)
        try:
            while not writer_task.done():
                data = await self.reader.read(65536)
                if not data:
                    self.writer.close()     # the client left: stop writing to it at once
                    break
                for frame in decoder.feed(data):
                    if frame.errors and not frame.pairs:
                        self.send([("Response", "Error"), ("Message", "Invalid frame")])
                        continue
                    self._action(frame.headers, frame)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.server.sessions.discard(self)
            self.close()
            with contextlib.suppress(Exception):
                await writer_task
            self.server.sessions.discard(self)

    def _action(self, headers: dict[str, str], frame: Frame | None = None) -> None:
        action = headers.get("Action", "")
        action_id = headers.get("ActionID")
        name = action.lower()
        if not action:
            self.send(with_action_id([("Response", "Error"), ("Message", "Missing action in request")], action_id))
            return
        if name == "login":
            self._login(headers, action_id)
            return
        if name == "logoff":
            self.send(with_action_id([("Response", "Goodbye"), ("Message", "Thanks for all the fish.")], action_id))
            self.close()
            return
        if not self.authenticated:
            self.send(with_action_id([("Response", "Error"), ("Message", "Permission denied")], action_id))
            return
        if name == "events":
            mask = headers.get("EventMask", "on").lower()
            self.events_on = mask not in ("off", "none", "0", "false", "no")
            self.send(with_action_id([("Response", "Success"), ("Events", "On" if self.events_on else "Off")],
                                     action_id))
            return
        # The client sees its reply before the events the action causes.
        self._held = []
        try:
            reply = self.server.actions.handle(headers, action_id, frame)
        finally:
            held, self._held = self._held, None
        for pairs in reply:
            if pairs and pairs[0][0] == "Event":
                self.send(with_action_id(pairs, action_id) if action_id else pairs)
            else:
                self.send(with_action_id(pairs, action_id))
        for data in held:
            self.outbox.put_nowait(data)

    def _login(self, headers: dict[str, str], action_id: str | None) -> None:
        cfg = self.server.pbx.config
        if headers.get("Username") == cfg.ami_username and headers.get("Secret") == cfg.ami_secret:
            self.authenticated = True
            mask = headers.get("Events", "on").lower()
            self.events_on = mask not in ("off", "none", "0", "false", "no")
            self.send(with_action_id([("Response", "Success"), ("Message", "Authentication accepted")], action_id))
            if self.events_on:
                self.send([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "33"),
                           ("LastReload", "33"), ("Status", "Fully Booted")])
        else:
            self.send(with_action_id([("Response", "Error"), ("Message", "Authentication failed")], action_id))


class AmiServer:
    def __init__(self, pbx: Pbx, host: str = "127.0.0.1", port: int = 5038) -> None:
        self.pbx = pbx
        self.host, self.port = host, port
        self.actions = Actions(pbx)
        self.sessions: set[AmiSession] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe = pbx.hub.subscribe(self._broadcast)

    def _broadcast(self, pairs: Pairs) -> None:
        if self.sessions:
            data = encode_frame(pairs)          # encoded once for every client
            for session in list(self.sessions):
                session.push_event(data)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        except asyncio.CancelledError:
            pass    # stop(): the connection is being closed on purpose
        finally:
            if task is not None:
                self._tasks.discard(task)

    def disconnect_all(self) -> int:
        """Drop every client connection (a network blip; the PBX keeps its state). Returns how many."""
        sessions = list(self.sessions)
        for session in sessions:
            session.close()
            session.writer.close()
        return len(sessions)

    async def stop(self) -> None:
        self._unsubscribe()
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.close()
            session.writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
