"""Delivery to the provincial platform (Ziyang art. 20): a real HTTP server that fails the first
attempts, exponential back-off, and a worker restarted in between."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from hotline.outbox.models import OutboxMessage
from hotline.outbox.services import backoff, enqueue
from hotline.outbox.worker import DeliveryPolicy, OutboxWorker

T0 = dt.datetime(2026, 11, 16, 2, 0, tzinfo=dt.UTC)


class Province:
    """A provincial endpoint answering 503 to the first `fail` requests."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.received: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.received.append((self.headers["Idempotency-Key"], body))
                    failing = len(outer.received) <= outer.fail
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/push"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def province() -> Iterator[Province]:
    server = Province(fail=2)
    yield server
    server.close()


def test_backoff_doubles_and_caps() -> None:
    assert [backoff(n, 1.0, 10.0).total_seconds() for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 10]


async def test_retries_with_backoff_across_worker_restarts(db_session_factory, province) -> None:
    with db_session_factory() as s:
        enqueue(s, "order.accept", "20261116-000001:accept", {"number": "20261116-000001"}, now=T0)
        s.commit()
    policy = DeliveryPolicy(base_delay=10, max_delay=600)

    assert await OutboxWorker(db_session_factory, province.url, policy).run_once(now=T0) == 0
    with db_session_factory() as s:
        row = s.scalars(select(OutboxMessage)).one()
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, T0 + dt.timedelta(seconds=10))
        assert "503" in row.last_error
    # not due yet: nothing is sent
    assert await OutboxWorker(db_session_factory, province.url, policy).run_once(now=T0 + dt.timedelta(seconds=5)) == 0
    assert len(province.received) == 1
    # "restart": a new worker object finds the state in the rows
    t2 = T0 + dt.timedelta(seconds=10)
    assert await OutboxWorker(db_session_factory, province.url, policy).run_once(now=t2) == 0
    with db_session_factory() as s:
        assert s.scalars(select(OutboxMessage)).one().next_attempt_at == t2 + dt.timedelta(seconds=20)
    assert await OutboxWorker(db_session_factory, province.url, policy).run_once(now=t2 + dt.timedelta(seconds=20)) == 1
    with db_session_factory() as s:
        row = s.scalars(select(OutboxMessage)).one()
        assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert [k for k, _ in province.received] == ["20261116-000001:accept"] * 3
    assert province.received[-1][1] == {"topic": "order.accept", "key": "20261116-000001:accept",
                                        "payload": {"number": "20261116-000001"}}
    # delivered rows are never sent again
    assert await OutboxWorker(db_session_factory, province.url, policy).run_once(now=T0 + dt.timedelta(days=1)) == 0
    assert len(province.received) == 3


async def test_running_worker_stopped_and_restarted_delivers_everything(db_session_factory, province) -> None:
    now = dt.datetime.now(dt.UTC)
    with db_session_factory() as s:
        for i in range(3):
            enqueue(s, "order.accept", f"k{i}", {"i": i}, now=now)
        s.commit()
    policy = DeliveryPolicy(base_delay=0.05, max_delay=0.2)
    first = OutboxWorker(db_session_factory, province.url, policy)
    task = asyncio.create_task(first.run(poll_interval=0.02))
    while len(province.received) < 2:  # the two failures happened
        await asyncio.sleep(0.01)
    first.stop()
    await task
    second = OutboxWorker(db_session_factory, province.url, policy)
    task = asyncio.create_task(second.run(poll_interval=0.02))
    for _ in range(500):
        with db_session_factory() as s:
            if all(m.status == "delivered" for m in s.scalars(select(OutboxMessage))):
                break
        await asyncio.sleep(0.02)
    second.stop()
    await task
    with db_session_factory() as s:
        assert {m.key: m.status for m in s.scalars(select(OutboxMessage))} == {f"k{i}": "delivered" for i in range(3)}
    assert {k for k, _ in province.received[2:]} == {"k0", "k1", "k2"}


async def test_gives_up_after_max_attempts(db_session_factory) -> None:
    dead = Province(fail=10**6)
    try:
        with db_session_factory() as s:
            enqueue(s, "order.accept", "doomed", {}, now=T0)
            s.commit()
        worker = OutboxWorker(db_session_factory, dead.url, DeliveryPolicy(base_delay=1, max_attempts=3))
        for i in range(5):
            await worker.run_once(now=T0 + dt.timedelta(hours=i))
        with db_session_factory() as s:
            row = s.scalars(select(OutboxMessage)).one()
        assert (row.status, row.attempts) == ("dead", 3)
        assert len(dead.received) == 3
    finally:
        dead.close()
