"""The console websocket `/ws`: screen pops and alerts, with replay after a reconnect.

Protocol (JSON text frames):
  server → {"type": "welcome", "stream", "role", "agent_id", "heartbeat_seconds"}
  client → {"type": "resume", "last_id": "<stream id>" | null}   (first message; may be sent again)
  server → {"type": "event", "stream", "id", "event"}            (every entry after last_id, then live ones)
  server → {"type": "heartbeat", "ts", "last_id", "agent_state"?} (every heartbeat_seconds; seats get the
                                                                  ACD's confirmed state)
  client → {"type": "ping"}  → server {"type": "pong", "ts"}
  server → {"type": "error", "code", "message"}                  (bad client frame; connection stays open)
A null last_id replays the last REPLAY_WINDOW_SECONDS, so a pop that arrived while the page loaded is
not lost. The stream is chosen from the session (never from the client): a pop never reaches another seat.
Entries come from the process's fan-out hub (agent_console.hub: a few Redis readers for all its sockets); the
replay and the live entries after it have no gap and no duplicate. If the stream cannot be read (Redis
gone), the socket gets `stream_unavailable` and is closed with 1011: the page reconnects and resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketException
from starlette.websockets import WebSocketDisconnect, WebSocketState

from hotline.bus import EventBus, agent_stream, encode
from hotline.security import Principal, Role

from .agent_state import confirmed_state
from .hub import StreamHub, Subscription
from .masking import for_principal

MAX_CLIENT_MESSAGE = 4096
REPLAY_WINDOW_SECONDS = 900  # a page (re)loaded during a call gets that call's pops back
STREAM_ID_RE = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
MAX_ID_PART = 2**64 - 1  # Redis refuses larger parts, and one bad id must not fail the hub's XREAD for all
REPLAY_PAGE = 500
CLOSE_FORBIDDEN = 4403
CLOSE_SESSION_ENDED = 4401
CLOSE_TRY_AGAIN = 1011
log = logging.getLogger(__name__)


def valid_stream_id(value: object) -> bool:
    if not isinstance(value, str) or not STREAM_ID_RE.match(value):
        return False
    return all(int(part) <= MAX_ID_PART for part in value.split("-"))


def ws_roles(*roles: Role):  # type: ignore[no-untyped-def]
    """Websocket counterpart of `require_roles` (FastAPI gives websocket dependencies no Request)."""
    allowed = frozenset(roles)

    def dependency(websocket: WebSocket) -> Principal:
        principal = getattr(websocket.state, "principal", None)
        if principal is None:
            raise WebSocketException(CLOSE_SESSION_ENDED, "login required")
        if principal.role not in allowed:
            raise WebSocketException(CLOSE_FORBIDDEN, f"role {principal.role} may not do this")
        return principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency


def stream_for(principal: Principal) -> str:
    if principal.role in (Role.agent, Role.expert):
        if not principal.agent_id:
            raise WebSocketException(CLOSE_FORBIDDEN, "this account has no seat")
        return agent_stream(principal.agent_id)
    return "supervisors"


router = APIRouter()
WS_ROLES = ws_roles(Role.agent, Role.expert, Role.supervisor, Role.admin)


@router.websocket("/ws")
async def console_socket(websocket: WebSocket, principal: Annotated[Principal, Depends(WS_ROLES)]) -> None:
    stream = stream_for(principal)
    await ConsoleSocket(websocket, principal, stream).run()


class ConsoleSocket:
    def __init__(self, websocket: WebSocket, principal: Principal, stream: str) -> None:
        self.ws = websocket
        self.principal = principal
        self.stream = stream
        self.stream_json = json.dumps(stream, ensure_ascii=False)
        app_state = websocket.app.state
        self.bus: EventBus = app_state.bus
        self.hub: StreamHub = app_state.hub
        self.store = app_state.session_store
        self.heartbeat_seconds: float = app_state.heartbeat_seconds
        self.token: str | None = websocket.state.session_token
        self.last_sent: str | None = None
        self.subscription: Subscription | None = None
        self.delivery: asyncio.Task[None] | None = None
        self.send_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_text(encode(frame))

    async def send_text(self, text: str) -> None:
        async with self.send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED:
                await self.ws.send_text(text)

    async def error(self, code: str, message: str) -> None:
        await self.send({"type": "error", "code": code, "message": message})

    async def run(self) -> None:
        await self.ws.accept()
        await self.send({"type": "welcome", "stream": self.stream, "role": self.principal.role.value,
                         "agent_id": self.principal.agent_id, "heartbeat_seconds": self.heartbeat_seconds})
        heartbeat = asyncio.create_task(self._heartbeats())
        try:
            await self._receive_loop()
        except WebSocketDisconnect:
            pass
        finally:
            self._unfollow()
            for task in (heartbeat, self.delivery):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _receive_loop(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self.error("binary_refused", "只接受 JSON 文本帧 (text frames only)")
                continue
            if len(text.encode()) > MAX_CLIENT_MESSAGE:
                await self.error("too_large", f"消息过长 (at most {MAX_CLIENT_MESSAGE} bytes)")
                continue
            try:
                frame = json.loads(text)
            except (ValueError, RecursionError):  # deep nesting fits in 4 KiB and exhausts the parser's stack
                await self.error("bad_json", "消息不是合法 JSON (not valid JSON)")
                continue
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                await self.error("bad_frame", "消息须为带 type 字段的 JSON 对象 (object with a type)")
                continue
            await self._handle(frame)

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ping":
            await self.send({"type": "pong", "ts": time.time()})
        elif kind == "resume":
            last_id = frame.get("last_id")
            if last_id is None:
                last_id = f"{max(0, int(time.time() * 1000) - REPLAY_WINDOW_SECONDS * 1000)}-0"
            elif not valid_stream_id(last_id):
                await self.error("bad_last_id", "last_id 格式应为 '<毫秒>-<序号>' (e.g. 1700000000000-0)")
                return
            self._follow(last_id)
        else:
            await self.error("unknown_type", f"未知消息类型 (unknown type {kind[:40]!r})")

    def _follow(self, last_id: str) -> None:
        """(Re)start delivery from `last_id`: join the hub now, so that nothing arriving from here on is missed."""
        self._unfollow()
        self.subscription = self.hub.join(self.stream, last_id)
        self.delivery = asyncio.create_task(self._deliver(self.subscription, last_id))

    def _unfollow(self) -> None:
        if self.subscription is not None:
            self.hub.leave(self.subscription)
            self.subscription = None
        if self.delivery is not None:
            self.delivery.cancel()
            self.delivery = None

    async def _deliver(self, subscription: Subscription, last_id: str) -> None:
        """The replay this socket needs (if the hub was already on its stream), then the live entries."""
        try:
            if subscription.holding:
                await self._replay(subscription, last_id)
                subscription.release()
            while True:
                await self._send_event(*await subscription.next())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis gone or the socket too slow: tell the client, which reconnects and resumes
            log.warning("websocket on %s: stream unavailable (%s)", self.stream, exc)
            await self.error("stream_unavailable", "事件流暂不可用，正在重连 (event stream unavailable)")
            with contextlib.suppress(Exception):
                await self.ws.close(CLOSE_TRY_AGAIN, "event stream unavailable")

    async def _replay(self, subscription: Subscription, last_id: str) -> None:
        after = last_id
        while True:
            page = await self.bus.read_after(self.stream, after, REPLAY_PAGE)
            for entry_id, event in page:
                if event is not None and subscription.advance(entry_id):
                    await self._send_event(entry_id, event)
            if len(page) < REPLAY_PAGE:
                return
            after = page[-1][0]

    async def _send_event(self, entry_id: str, event: dict[str, Any], raw: str | None = None) -> None:
        if raw is not None and self.principal.sees_full_numbers:  # the stored JSON as it is: no re-encoding
            await self.send_text(f'{{"type":"event","stream":{self.stream_json},"id":"{entry_id}","event":{raw}}}')
        else:
            await self.send({"type": "event", "stream": self.stream, "id": entry_id,
                             "event": for_principal(event, self.principal)})
        self.last_sent = entry_id

    async def _heartbeats(self) -> None:
        # the first beat at a random point of the period: pages that connected together (a console restarted,
        # a shift starting) do not all check their sessions in Redis at the same instant ever after
        delay = self.heartbeat_seconds * random.uniform(0.5, 1.0)
        while True:
            await asyncio.sleep(delay)
            delay = self.heartbeat_seconds
            # the session may have ended (logout, expiry) while the socket stayed open; an open console
            # counts as activity (an agent waiting for calls is not idle), max_age still bounds the session
            try:
                session = None if self.token is None else await self.store.load(self.token)
            except Exception as exc:  # Redis trouble: try at the next beat (if Redis is gone, the hub closes us)
                log.warning("websocket on %s: session not checked (%r)", self.stream, exc)
                continue
            if session is None:
                await self.error("session_ended", "会话已结束，请重新登录 (session ended)")
                with contextlib.suppress(Exception):
                    await self.ws.close(CLOSE_SESSION_ENDED, "session ended")
                return
            frame: dict[str, Any] = {"type": "heartbeat", "ts": time.time(), "last_id": self.last_sent}
            if self.principal.role in (Role.agent, Role.expert) and self.principal.agent_id:
                with contextlib.suppress(Exception):  # the ACD's state is a courtesy, never a reason to drop
                    state = await confirmed_state(self.bus.redis, self.principal.agent_id)
                    frame["agent_state"] = state.model_dump()
            await self.send(frame)
