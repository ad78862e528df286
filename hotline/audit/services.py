"""Recording audit entries. Every read of a citizen's personal data goes through `record`
(Ziyang art. 22: access to the business system is managed over its whole course)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.audit.models import AuditEntry
from hotline.security import Principal


def actor_name(actor: Principal | str) -> str:
    return actor.username if isinstance(actor, Principal) else actor


def record(session: Session, actor: Principal | str, action: str, subject_type: str, subject_id: object,
           detail: dict[str, Any] | None = None, *, at: datetime | None = None) -> AuditEntry:
    """Add an entry to the caller's transaction (committed with the change or read it documents)."""
    entry = AuditEntry(at=at or datetime.now(UTC), actor=actor_name(actor), action=action,
                       subject_type=subject_type, subject_id=str(subject_id), detail=detail)
    session.add(entry)
    return entry


def entries_for(session: Session, subject_type: str, subject_id: object) -> list[AuditEntry]:
    stmt = (select(AuditEntry).where(AuditEntry.subject_type == subject_type,
                                     AuditEntry.subject_id == str(subject_id))
            .order_by(AuditEntry.at, AuditEntry.id))
    return list(session.scalars(stmt))
