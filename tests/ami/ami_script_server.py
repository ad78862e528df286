"""A small scripted AMI server for the client tests: real TCP, replies copied from the recordings.

It sends the banner, checks Login, answers every action with the exact frames a real Asterisk 22.10.1
sent for it (`*.actions.jsonl`, ActionID swapped for the request's) and can stream recorded events
(`*.ami.jsonl`). Knobs for the failure tests: `silent` (actions never answered), `freeze()` (stop
answering anything, keep the socket open), `stop()`/`start()` (Asterisk restart), `set_reply()`.
The full PBX simulator lives in pbxsim/; this one only replays.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from hotline.ami.frames import Frame, FrameDecoder, encode_frame
from hotline.traces import SCENARIOS, load_actions, load_ami

BANNER = "Asterisk Call Manager/11.0.0"
IGNORED = {"actionid", "async"}


def recorded_actions() -> list[dict[str, Any]]:
    """Every recorded action with its reply frames (without panoramisk's `content` artefact)."""
    out = []
    for scenario in SCENARIOS:
        for record in load_actions(scenario):
            frames = [{k: v for k, v in f.items() if k != "content"} for f in record["response"]]
            out.append({"scenario": scenario, "action": record["action"], "response": frames})
    return out


def _params(headers: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((k.lower(), v) for k, v in headers.items() if k.lower() not in IGNORED | {"action"})


@dataclass(eq=False)
class Connection:
    writer: asyncio.StreamWriter
    frozen: bool = False
    logged_in: bool = False
    received: list[Frame] = field(default_factory=list)

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)


class ScriptServer:
    def __init__(self, username: str = "hotline", secret: str = "s3cret", port: int = 0) -> None:
        self.username, self.secret = username, secret
        self.port = port
        self.replies: dict[str, list[tuple[frozenset[tuple[str, str]], list[dict[str, str]]]]] = defaultdict(list)
        for record in recorded_actions():
            self.replies[record["action"]["Action"].lower()].append((_params(record["action"]), record["response"]))
        self.overrides: dict[str, list[dict[str, str]]] = {}
        self.silent: set[str] = set()  # action names (lower case) never answered
        self.after_login: list[bytes] = []  # raw frames pushed right after a successful login
        self.connections: list[Connection] = []
        self.received: list[Frame] = []
        self.logins = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    # --- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> ScriptServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Asterisk going away: listening socket closed, every connection reset."""
        if self._server is not None:
            self._server.close()
            for conn in self.connections:
                conn.writer.transport.abort()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(BaseException):
                await task
        self.connections.clear()

    async def __aenter__(self) -> ScriptServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- knobs -----------------------------------------------------------------------------------------

    def set_reply(self, action: str, frames: list[dict[str, str]]) -> None:
        self.overrides[action.lower()] = frames

    def freeze(self) -> None:
        """The open connections stop answering (a hung Asterisk, a dead NAT entry); new ones work."""
        for conn in self.connections:
            conn.frozen = True

    async def send_raw(self, chunks: list[bytes], pause: float = 0.0) -> None:
        """Write to every logged-in connection, one chunk per write, pausing so each is its own read."""
        for chunk in chunks:
            for conn in self.connections:
                if conn.logged_in:
                    conn.write(chunk)
                    await conn.writer.drain()
            if pause:
                await asyncio.sleep(pause)

    async def stream(self, scenario: str) -> int:
        """Push a recorded scenario's events (not its login reply) to every logged-in connection."""
        raw = [tf.raw.encode() for tf in load_ami(scenario)[1] if tf.frame.event is not None]
        await self.send_raw([b"".join(raw)])
        return len(raw)

    async def wait_logins(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.logins < count:
                await asyncio.sleep(0.01)

    # --- protocol --------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        conn = Connection(writer)
        self.connections.append(conn)
        decoder = FrameDecoder(expect_banner=False)
        try:
            writer.write((BANNER + "\r\n").encode())
            while data := await reader.read(65536):
                for frame in decoder.feed(data):
                    conn.received.append(frame)
                    self.received.append(frame)
                    if not conn.frozen:
                        self._answer(conn, frame)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            with contextlib.suppress(ValueError):
                self.connections.remove(conn)
            writer.transport.abort()

    def _answer(self, conn: Connection, request: Frame) -> None:
        name = (request.get("Action") or "").lower()
        action_id = request.get("ActionID", "")
        if name in self.silent:
            return
        if name == "login":
            if request.get("Username") == self.username and request.get("Secret") == self.secret:
                conn.logged_in = True
                self.logins += 1
                conn.write(encode_frame({"Response": "Success", "ActionID": action_id,
                                         "Message": "Authentication accepted"}))
                conn.write(encode_frame({"Event": "FullyBooted", "Privilege": "system,all", "Uptime": "33",
                                         "LastReload": "33", "Status": "Fully Booted"}))
                for raw in self.after_login:
                    conn.write(raw)
            else:
                conn.write(encode_frame({"Response": "Error", "ActionID": action_id,
                                         "Message": "Authentication failed"}))
            return
        if not conn.logged_in:
            conn.write(encode_frame({"Response": "Error", "ActionID": action_id, "Message": "Permission denied"}))
            return
        if name == "ping":
            conn.write(encode_frame({"Response": "Success", "ActionID": action_id, "Ping": "Pong",
                                     "Timestamp": f"{time.time():.6f}"}))
            return
        for frame in self._reply_frames(name, request):
            conn.write(encode_frame({k: (action_id if k == "ActionID" else v) for k, v in frame.items()}))

    def _reply_frames(self, name: str, request: Frame) -> list[dict[str, str]]:
        if name in self.overrides:
            return self.overrides[name]
        candidates = self.replies.get(name)
        if not candidates:
            return [{"Response": "Error", "ActionID": "", "Message": "Invalid/unknown command"}]
        wanted = _params(request.headers)
        for params, frames in candidates:
            if params == wanted:
                return frames
        return candidates[0][1]
