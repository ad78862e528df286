"""A real console (uvicorn, sessions in Redis, the security middleware) serving the metrics router."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from metrics.resources import router
from tests.console.conftest import Session, login
from tests.console.server import ConsoleServer, running_console


@pytest.fixture(scope="module")
def console(redis_url: str, db_engine) -> Iterator[ConsoleServer]:  # type: ignore[no-untyped-def]
    with running_console(redis_url, db_engine, routers=[(router, "")]) as server:
        yield server


@pytest.fixture
def live(console: ConsoleServer, db_session_factory) -> ConsoleServer:  # type: ignore[no-untyped-def]
    console.create_users()
    return console


@pytest.fixture
async def supervisor(live: ConsoleServer) -> AsyncIterator[Session]:
    session = await login(live, "super1")
    yield session
    await session.client.aclose()


@pytest.fixture
async def agent(live: ConsoleServer) -> AsyncIterator[Session]:
    session = await login(live, "agent1")
    yield session
    await session.client.aclose()
