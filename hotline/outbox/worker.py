"""The delivery worker: posts pending outbox rows to the provincial endpoint with retries.

State lives only in the rows (attempts, next_attempt_at), so a worker that stops, crashes or restarts
carries on where the last one left off. The receiver gets an `Idempotency-Key` header: a message
delivered but not yet marked (crash in between) is sent again and must be recognised there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.outbox.models import OutboxMessage
from hotline.outbox.services import backoff

log = logging.getLogger(__name__)


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

    def _claim(self, session: Session, now: datetime) -> list[OutboxMessage]:
        stmt = (select(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(self.policy.batch))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)  # several workers never send one row twice at once
        return list(session.scalars(stmt))

    async def run_once(self, now: datetime | None = None) -> int:
        """Try every due message once; returns how many were delivered."""
        now = now or datetime.now(UTC)
        client = self._client or httpx.AsyncClient(timeout=self.policy.timeout)
        delivered = 0
        try:
            with self.session_factory() as session, session.begin():
                for message in self._claim(session, now):
                    delivered += await self._deliver(client, message, now)
        finally:
            if self._client is None:
                await client.aclose()
        return delivered

    async def _deliver(self, client: httpx.AsyncClient, message: OutboxMessage, now: datetime) -> int:
        message.attempts += 1
        try:
            response = await client.post(self.endpoint, json={"topic": message.topic, "key": message.key,
                                                              "payload": message.payload},
                                         headers={"Idempotency-Key": message.key})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= self.policy.max_attempts:
                message.status = "dead"
                log.error("outbox %s given up after %d attempts: %s", message.key, message.attempts, exc)
            else:
                message.next_attempt_at = now + backoff(message.attempts, self.policy.base_delay,
                                                        self.policy.max_delay)
            return 0
        message.status, message.delivered_at, message.last_error = "delivered", datetime.now(UTC), None
        return 1

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
