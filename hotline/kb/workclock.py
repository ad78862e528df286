"""Deadlines counted in hours of working days (Foshan art. 51(3): 22小时内(非工作日除外)).

Adapter: hotline/sla (the shared SLA calendar) did not exist when this was written, so this module reads the
official schedule from chinesecalendar (2004–2026) and falls back to Monday–Friday outside it. The clock
runs round the clock on working days and stops on non-working days, in Beijing time.
Swap `default_is_workday` for the SLA calendar's once it lands; the signature is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
IsWorkday = Callable[[date], bool]


def default_is_workday(day: date) -> bool:
    try:
        import chinese_calendar

        return bool(chinese_calendar.is_workday(day))
    except (ImportError, NotImplementedError):  # NotImplementedError: a year the package does not cover
        return day.weekday() < 5


def add_workday_hours(start: datetime, hours: float, is_workday: IsWorkday = default_is_workday) -> datetime:
    """The moment `hours` of working-day time after `start` (aware); returned in UTC."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    remaining = timedelta(hours=hours)
    t = start.astimezone(BEIJING)
    for _ in range(3660):  # ten years of days: a calendar without working days must not loop forever
        midnight = datetime.combine(t.date() + timedelta(days=1), datetime.min.time(), BEIJING)
        if is_workday(t.date()):
            available = midnight - t
            if remaining <= available:
                return (t + remaining).astimezone(UTC)
            remaining -= available
        t = midnight
    raise ValueError("no working days in the next ten years")
