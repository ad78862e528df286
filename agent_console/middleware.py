"""One ASGI middleware for the console's request security, for HTTP and websockets alike:

- loads the server-side session named by the cookie and sets `request.state.principal` (and `.session`);
- refuses state-changing requests whose Origin (or Referer) is not the console's own, and websocket
  handshakes without a matching Origin (cross-site websocket hijacking);
- refuses state-changing requests without the session's CSRF token in the `X-CSRF-Token` header
  (login is exempt: there is no session yet, the Origin check covers it);
- adds the security headers to every HTTP response.
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .sessions import COOKIE_NAME, SessionStore, csrf_matches

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_EXEMPT = frozenset({"/login"})

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def session_token(headers: dict[str, str]) -> str | None:
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is treated as no session
        return None
    morsel = cookie.get(COOKIE_NAME)
    return morsel.value if morsel else None


class ConsoleSecurityMiddleware:
    def __init__(self, app: ASGIApp, store: SessionStore, allowed_origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.store = store
        self.allowed_origins = allowed_origins

    def origin_allowed(self, headers: dict[str, str], websocket: bool) -> bool:
        origin = headers.get("origin")
        if origin is None and not websocket:
            origin = headers.get("referer")  # some clients send only Referer on same-origin posts
        if not origin or origin == "null":
            return False
        parts = urlsplit(origin)
        if f"{parts.scheme}://{parts.netloc}" in self.allowed_origins:
            return True
        return bool(parts.netloc) and parts.netloc == headers.get("host")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        state = scope.setdefault("state", {})
        token = session_token(headers)
        session = await self.store.load(token) if token else None
        state["session"] = session
        state["session_token"] = token if session else None
        state["principal"] = session.principal if session else None

        if scope["type"] == "websocket":
            if not self.origin_allowed(headers, websocket=True):
                await send({"type": "websocket.close", "code": 4403, "reason": "origin not allowed"})
                return
            await self.app(scope, receive, send)
            return

        send = self._with_headers(send)
        if scope["method"] not in SAFE_METHODS:
            if not self.origin_allowed(headers, websocket=False):
                await _refuse(send, 403, "origin_refused", "跨站请求被拒绝 (Origin not allowed)")
                return
            if scope["path"] not in CSRF_EXEMPT and (session is None
                                                     or not csrf_matches(session, headers.get(CSRF_HEADER))):
                if session is None:
                    await _refuse(send, 401, "login_required", "请先登录 (login required)")
                else:
                    await _refuse(send, 403, "csrf_refused", "CSRF 校验失败 (missing or wrong X-CSRF-Token)")
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return wrapped


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"detail": message, "code": code}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
