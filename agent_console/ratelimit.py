"""Login rate limiting in Redis: failed attempts counted per username and per client address over a
fixed window, shared by every console process."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis


@dataclass(frozen=True)
class LoginLimits:
    per_user: int = 5      # failures before a username is locked for the rest of the window
    per_ip: int = 20       # failures from one address (many usernames tried) before it is locked
    window_seconds: int = 900


class LoginRateLimiter:
    def __init__(self, client: aioredis.Redis, prefix: str, limits: LoginLimits | None = None) -> None:
        self.redis = client
        self.prefix = prefix + "console:login-failures:"
        self.limits = limits or LoginLimits()

    def _keys(self, username: str, ip: str) -> tuple[str, str]:
        return self.prefix + "user:" + username.casefold(), self.prefix + "ip:" + ip

    async def blocked(self, username: str, ip: str) -> bool:
        user_key, ip_key = self._keys(username, ip)
        user_count, ip_count = await self.redis.mget(user_key, ip_key)
        return int(user_count or 0) >= self.limits.per_user or int(ip_count or 0) >= self.limits.per_ip

    async def record_failure(self, username: str, ip: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(username, ip):
                # the window starts at the first failure (SET NX EX); INCR keeps the TTL
                pipe.set(key, 0, ex=self.limits.window_seconds, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def record_success(self, username: str, ip: str) -> None:
        await self.redis.delete(self._keys(username, ip)[0])
