"""Shared fixtures: real Redis and real SQL databases.

Without REDIS_URL an embedded redis-server is started for the session; without DATABASE_URL each
session gets a fresh SQLite file. With them (CI), the same tests run against PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from sqlalchemy import Engine

from hotline.db import Base, drop_everything, make_engine, make_session_factory, normalise_url, upgrade_to_head
from hotline.redis_server import EmbeddedRedis

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def redis_sync(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
async def redis_async(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hotline.db'}"
    url = normalise_url(url)
    engine = make_engine(url)
    drop_everything(engine)  # every run starts from an empty schema and runs the real migrations
    engine.dispose()
    upgrade_to_head(url)
    yield url


@pytest.fixture(scope="session")
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session_factory(db_engine: Engine):  # type: ignore[no-untyped-def]
    """A session factory on the migrated database; every table is emptied after the test."""
    yield make_session_factory(db_engine)
    with db_engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def db_session(db_session_factory):  # type: ignore[no-untyped-def]
    with db_session_factory() as session:
        yield session


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
