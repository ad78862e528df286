"""Readable work-order numbers: local date plus a per-day sequence (20261121-000123).

One upsert that returns the new value, in the same syntax on SQLite (3.35+) and PostgreSQL: the row
lock (PostgreSQL) or the write lock (SQLite) serialises concurrent creators, so no two orders ever
get the same number and a rolled-back order gives its number back.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, text
from sqlalchemy.orm import Session

from hotline.workorders.prepared import Prepared

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # the day on a number is the hotline's day, not UTC's

_TAKE = Prepared(text(
    "INSERT INTO order_sequences (day, last) VALUES (:day, :n) "
    "ON CONFLICT (day) DO UPDATE SET last = order_sequences.last + :n RETURNING last"
).columns(last=Integer))


def allocate_numbers(session: Session, now: datetime, count: int = 1) -> list[str]:
    """`count` consecutive numbers of the local day of `now`, in one statement."""
    if count < 1:
        raise ValueError("count must be at least 1")
    day = now.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    # on the session's connection: nothing of the ORM's to flush first, and creation is on the hot path
    last = _TAKE.scalar_one(session.connection(), {"day": day, "n": count})
    return [f"{day}-{seq:06d}" for seq in range(last - count + 1, last + 1)]


def next_number(session: Session, now: datetime) -> str:
    return allocate_numbers(session, now)[0]
