"""Server-side sessions in Redis, so that any number of console processes serve the same users.

The browser holds only a random token (cookie); Redis holds the session under an HMAC of that token
(keyed with HOTLINE_SESSION_KEY), so a copy of Redis does not yield usable cookies. A session ends at
`max_age` after login whatever happens, after `idle_timeout` without a request, or at logout.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from hotline.security import Principal, Role

COOKIE_NAME = "hotline_session"


@dataclass(frozen=True)
class SessionData:
    principal: Principal
    csrf_token: str
    created_at: float
    last_seen: float


class SessionStore:
    def __init__(self, client: aioredis.Redis, secret: bytes, prefix: str, max_age: int, idle_timeout: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = client
        self.secret = secret
        self.prefix = prefix + "console:session:"
        self.max_age = max_age
        self.idle_timeout = min(idle_timeout, max_age)
        self.clock = clock

    def _key(self, token: str) -> str:
        return self.prefix + hmac.new(self.secret, token.encode(), hashlib.sha256).hexdigest()

    async def create(self, principal: Principal) -> tuple[str, SessionData]:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        data = SessionData(principal, secrets.token_urlsafe(32), now, now)
        fields = {"username": principal.username, "role": principal.role.value,
                  "agent_id": principal.agent_id or "", "csrf": data.csrf_token,
                  "created_at": repr(now), "last_seen": repr(now)}
        key = self._key(token)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self.idle_timeout)
            await pipe.execute()
        return token, data

    async def load(self, token: str, touch: bool = True) -> SessionData | None:
        """The live session for `token`, or None; a valid load counts as activity (idle timer restarts)."""
        if not token or len(token) > 128:
            return None
        key = self._key(token)
        fields = await self.redis.hgetall(key)
        if not fields:
            return None
        try:
            created, last_seen = float(fields["created_at"]), float(fields["last_seen"])
            principal = Principal(fields["username"], Role(fields["role"]), fields["agent_id"] or None)
            csrf = fields["csrf"]
        except (KeyError, ValueError):
            await self.redis.delete(key)  # a damaged record is worth nothing: force a new login
            return None
        now = self.clock()
        if now >= created + self.max_age or now >= last_seen + self.idle_timeout:
            await self.redis.delete(key)
            return None
        if touch:
            remaining = int(created + self.max_age - now) + 1
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, "last_seen", repr(now))
                pipe.expire(key, max(1, min(self.idle_timeout, remaining)))
                await pipe.execute()
            last_seen = now
        return SessionData(principal, csrf, created, last_seen)

    async def delete(self, token: str) -> None:
        if token and len(token) <= 128:
            await self.redis.delete(self._key(token))


def csrf_matches(session: SessionData, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf_token.encode(), sent.encode())
