"""The delivery worker: posts pending outbox rows to the provincial endpoint with retries.

State lives only in the rows (attempts, next_attempt_at), so a worker that stops, crashes or restarts
carries on where the last one left off: a row it had leased is due again when the lease runs out.
The receiver gets an `Idempotency-Key` header: a message delivered but not yet marked (crash in
between) is sent again and must be recognised there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Row, select, update
from sqlalchemy.orm import sessionmaker

from hotline.outbox.models import OutboxMessage
from hotline.outbox.services import backoff

log = logging.getLogger(__name__)
LEASE_MARGIN = 30.0  # seconds beyond the HTTP timeout before a leased row is due again


@dataclass
class DeliveryPolicy:
    base_delay: float = 1.0      # seconds before the first retry
    max_delay: float = 600.0     # cap of the exponential back-off
    max_attempts: int = 20       # then the row is parked as 'dead' for a person to look at
    batch: int = 50
    timeout: float = 10.0


class OutboxWorker:
    def __init__(self, session_factory: sessionmaker, endpoint: str, policy: DeliveryPolicy | None = None,
                 client: httpx.AsyncClient | None = None) -> None:
        self.session_factory = session_factory
        self.endpoint = endpoint
        self.policy = policy or DeliveryPolicy()
        self._client = client
        self._stop = asyncio.Event()

    def _lease(self, now: datetime) -> list[Row]:
        """Claim due rows in one statement by pushing their next attempt past the delivery timeout: another
        worker skips them, and if this one dies they are due again once the lease runs out. No transaction
        stays open during HTTP (SQLite would refuse the late write; PostgreSQL would hold row locks)."""
        due = (select(OutboxMessage.id)
               .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
               .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(self.policy.batch))
        with self.session_factory() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)  # two workers never lease the same row
            lease = now + timedelta(seconds=self.policy.timeout + LEASE_MARGIN)
            stmt = (update(OutboxMessage).where(OutboxMessage.id.in_(due.scalar_subquery()))
                    .values(next_attempt_at=lease)
                    .returning(OutboxMessage.id, OutboxMessage.key, OutboxMessage.topic, OutboxMessage.payload,
                               OutboxMessage.attempts))
            rows = session.execute(stmt, execution_options={"synchronize_session": False}).all()
        return sorted(rows, key=lambda r: r.id)

    async def run_once(self, now: datetime | None = None) -> int:
        """Try every due message once; returns how many were delivered."""
        now = now or datetime.now(UTC)
        client = self._client or httpx.AsyncClient(timeout=self.policy.timeout)
        delivered = 0
        try:
            for row in self._lease(now):
                delivered += await self._deliver(client, row, now)
        finally:
            if self._client is None:
                await client.aclose()
        return delivered

    async def _deliver(self, client: httpx.AsyncClient, row: Row, now: datetime) -> int:
        attempts = row.attempts + 1
        values: dict = {"attempts": attempts}
        try:
            response = await client.post(self.endpoint, json={"topic": row.topic, "key": row.key,
                                                              "payload": row.payload},
                                         headers={"Idempotency-Key": row.key})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            values["last_error"] = f"{type(exc).__name__}: {exc}"[:2000]
            if attempts >= self.policy.max_attempts:
                values["status"] = "dead"
                log.error("outbox %s given up after %d attempts: %s", row.key, attempts, exc)
            else:
                values["next_attempt_at"] = now + backoff(attempts, self.policy.base_delay, self.policy.max_delay)
            ok = 0
        else:
            values.update(status="delivered", delivered_at=datetime.now(UTC), last_error=None)
            ok = 1
        with self.session_factory() as session, session.begin():
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values),
                            execution_options={"synchronize_session": False})
        return ok

    async def run(self, poll_interval: float = 1.0) -> None:
        """Deliver until `stop()`; each pass is its own transaction."""
        self._stop.clear()
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception:  # a database hiccup must not kill the worker
                log.exception("outbox pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), poll_interval)

    def stop(self) -> None:
        self._stop.set()
