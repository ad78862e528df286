"""Queueing messages for the provincial platform (Ziyang art. 20: data pushed to the provincial 12345
platform in real time). A message is a row written in the same transaction as the change it reports,
so a change is never committed without its message, nor the reverse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.outbox.models import OutboxMessage


def enqueue(session: Session, topic: str, key: str, payload: dict[str, Any],
            now: datetime | None = None) -> OutboxMessage:
    now = now or datetime.now(UTC)
    message = OutboxMessage(key=key, topic=topic, payload=payload, status="pending", attempts=0,
                            created_at=now, next_attempt_at=now)
    session.add(message)
    return message


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Exponential back-off after `attempts` failures: base, 2·base, 4·base ... capped."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def pending(session: Session) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.status == "pending").order_by(OutboxMessage.id)
    return list(session.scalars(stmt))
