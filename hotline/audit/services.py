"""Recording audit entries. Every read of a citizen's personal data goes through `record`
(Ziyang art. 22: access to the business system is managed over its whole course)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hotline.audit.models import AuditEntry
from hotline.security import Principal
from hotline.workorders.prepared import Prepared


def actor_name(actor: Principal | str) -> str:
    return actor.username if isinstance(actor, Principal) else actor


# every console request writes one: a prepared INSERT on the session's connection, not an ORM object flushed
# through the unit of work at commit (which cost a third of creating an order)
_INSERT = Prepared(insert(AuditEntry.__table__).inline())


def record(session: Session, actor: Principal | str, action: str, subject_type: str, subject_id: object,
           detail: dict[str, Any] | None = None, *, at: datetime | None = None) -> None:
    """Write an entry in the caller's transaction (committed with the change or read it documents, rolled
    back with it)."""
    _INSERT.execute_many(session.connection(), [{
        "at": at or datetime.now(UTC), "actor": actor_name(actor), "action": action, "subject_type": subject_type,
        "subject_id": str(subject_id), "detail": detail}])


def entries_for(session: Session, subject_type: str, subject_id: object) -> list[AuditEntry]:
    stmt = (select(AuditEntry).where(AuditEntry.subject_type == subject_type,
                                     AuditEntry.subject_id == str(subject_id))
            .order_by(AuditEntry.at, AuditEntry.id))
    return list(session.scalars(stmt))
