"""Time zone handling: every SLA computation runs in Beijing time; naive datetimes are refused."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


def local(moment: dt.datetime) -> dt.datetime:
    """The same instant in Asia/Shanghai. A naive datetime is an error: its zone would be a guess."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime (Asia/Shanghai or UTC)")
    return moment if moment.tzinfo is TZ else moment.astimezone(TZ)


def at(text: str) -> dt.datetime:
    """'2026-10-09 10:00' read as Beijing time (tests, CLI, fixtures)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)
