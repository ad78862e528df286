"""Fault (c): the database is briefly unreachable while call events arrive.

SQLite: another process-level connection holds an exclusive lock on the file. PostgreSQL (when a server
is reachable): a database of this test's own is closed to connections and its sessions are terminated.
The calls consumer must keep the events in flight: it does not move its stream position past an event
that is not written, and writes everything once the database is back."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from hotline.bus import EventBus
from hotline.calls.bus_consumer import CallsConsumer
from hotline.calls.models import Call
from hotline.db import Base, make_engine, make_session_factory
from hotline.tasks import cancel_and_wait

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=2"


class SqliteOutage:
    def __init__(self, path: str) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.lock: sqlite3.Connection | None = None

    def down(self) -> None:
        self.lock = sqlite3.connect(self.path, isolation_level=None)
        self.lock.execute("BEGIN EXCLUSIVE")

    def up(self) -> None:
        assert self.lock is not None
        self.lock.execute("ROLLBACK")
        self.lock.close()


class PostgresOutage:
    def __init__(self) -> None:
        self.name = f"h_rel_{uuid.uuid4().hex[:8]}"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {self.name}")

    def _admin(self, *sql: str) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for statement in sql:
                admin.execute(statement)

    def down(self) -> None:
        self._admin(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS false",
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'")

    def up(self) -> None:
        self._admin(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS true")

    def drop(self) -> None:
        self._admin(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS true",
                    f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def _postgres_reachable() -> bool:
    try:
        psycopg.connect(PG_ADMIN).close()
    except psycopg.Error:
        return False
    return True


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request, tmp_path) -> Iterator[SqliteOutage | PostgresOutage]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield SqliteOutage(str(tmp_path / "calls.db"))
        return
    if not _postgres_reachable():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    pg = PostgresOutage()
    try:
        yield pg
    finally:
        pg.drop()


def _event(n: int, kind: str = "started") -> dict:
    return {"type": f"call.{kind}", "call_id": f"1795000000.{n}", "ts": 1795000000 + n, "state": kind,
            "call": {"call_id": f"1795000000.{n}", "caller_number": f"1390000{n:04d}", "started_at": 1795000000 + n}}


async def test_database_outage_keeps_events_until_written(outage, redis_async) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(outage.url)
    if engine.dialect.name == "sqlite":
        # fail fast on the lock instead of the platform's 5 s busy wait: the test is about what follows
        sa_event.listen(engine, "connect", lambda conn, _rec: conn.execute("PRAGMA busy_timeout=100"))
    Base.metadata.create_all(engine, tables=[Call.__table__])
    factory = make_session_factory(engine)
    bus = EventBus(redis_async, prefix=f"rel-db-{uuid.uuid4().hex[:6]}:")
    consumer = CallsConsumer(bus, factory, name="rel-db")
    task = asyncio.create_task(consumer.run(block_ms=50))
    try:
        first = await bus.publish("calls", _event(0))
        await _until(lambda: _stored(factory) == {"1795000000.0"})
        await _until_async(lambda: _at(consumer, first))
        outage.down()
        ids = [await bus.publish("calls", _event(n)) for n in range(1, 6)]
        await _until(lambda: consumer.retries >= 3)
        assert await consumer.position() == first, "the position does not move past an unwritten event"
        outage.up()
        await _until_async(lambda: _at(consumer, ids[-1]))
        assert _stored(factory) == {f"1795000000.{n}" for n in range(6)}
        assert not task.done()
    finally:
        await cancel_and_wait([task])  # a Redis read may swallow one cancellation
        engine.dispose()


def _stored(factory) -> set[str]:  # type: ignore[no-untyped-def]
    with factory() as s:
        return set(s.scalars(select(Call.call_id)))


async def _at(consumer: CallsConsumer, entry_id: str) -> bool:
    return await consumer.position() == entry_id


async def _until(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:
            pass  # the database may be the thing that is down
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def _until_async(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)
