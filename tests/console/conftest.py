"""Fixtures of the console tests: one real uvicorn console per module, users and a clean Redis per test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis.asyncio as aioredis

from hotline.bus import EventBus
from hotline.security import Role

from .server import PASSWORD, ROLE_USER, ConsoleServer, running_console


@pytest.fixture(scope="module")
def console(redis_url: str, db_engine) -> Iterator[ConsoleServer]:  # type: ignore[no-untyped-def]
    with running_console(redis_url, db_engine) as server:
        yield server


@pytest.fixture
def live(console: ConsoleServer, redis_sync, db_session_factory) -> ConsoleServer:  # type: ignore[no-untyped-def]
    """The module's console with a flushed Redis, the users created, and the clock reset."""
    console.clock.offset = 0.0
    console.create_users()
    return console


@pytest.fixture
async def bus(live: ConsoleServer, redis_url: str) -> AsyncIterator[EventBus]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield EventBus(client, prefix=live.prefix)
    await client.aclose()


class Session:
    """A logged-in browser-like client: cookie jar, CSRF token, Origin header."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf, "Origin": str(self.client.base_url).rstrip("/"),
                "Accept": "application/json", **extra}

    @property
    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.client.cookies.items())


async def login(console: ConsoleServer, username: str, password: str = PASSWORD) -> Session:
    client = httpx.AsyncClient(base_url=console.url, follow_redirects=False)
    resp = await client.post("/login", data={"username": username, "password": password},
                             headers={"Origin": console.origin})
    assert resp.status_code == 303, resp.text
    page = await client.get(resp.headers["location"], headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert token, "page carries the CSRF token"
    return Session(client, token.group(1))


@pytest.fixture
async def sessions(live: ConsoleServer) -> AsyncIterator[dict[str, Session]]:
    """One logged-in session per role (agent1, expert1, super1, admin1) plus agent2."""
    made = {role: await login(live, user) for role, user in ROLE_USER.items()}
    made["agent2"] = await login(live, "agent2")  # type: ignore[index]
    yield made  # type: ignore[misc]
    for session in made.values():
        await session.client.aclose()


__all__ = ["Role", "Session", "login"]
