"""Numbers, digits, dates and statuses spoken from recorded pieces (prompt ids in the catalogue)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hotline.domain import OrderStatus

BEIJING = timezone(timedelta(hours=8), "CST")  # China keeps no daylight saving: a fixed offset is exact
_UNITS = ((1000, "digits/thousand"), (100, "digits/hundred"), (10, "digits/ten"))


def digit_pieces(digits: str) -> list[str]:
    """Read one by one, as a work-order number is: 2 0 2 6 …"""
    return [f"digits/{d}" for d in digits if d.isdigit()]


def number_pieces(n: int) -> list[str]:
    """Chinese cardinal reading for 0..9999 (十二, 二十, 一百零五); larger numbers are read digit by digit."""
    if n < 0:
        raise ValueError("negative number")
    if n == 0:
        return ["digits/0"]
    if n >= 10_000:
        return digit_pieces(str(n))
    pieces: list[str] = []
    rest = n
    zero_pending = False
    for value, unit in _UNITS:
        head, rest = divmod(rest, value)
        if head:
            if zero_pending:
                pieces.append("digits/0")
                zero_pending = False
            if not (value == 10 and head == 1 and not pieces):  # 十二, not 一十二
                pieces.append(f"digits/{head}")
            pieces.append(unit)
        elif pieces:
            zero_pending = True
    if rest:
        if zero_pending:
            pieces.append("digits/0")
        pieces.append(f"digits/{rest}")
    return pieces


def date_pieces(day: date | datetime) -> list[str]:
    """2026年11月21日: the year digit by digit, month and day as numbers. Aware datetimes are read in
    Beijing time (a deadline stored in UTC at 17:00 is already the next day there)."""
    if isinstance(day, datetime):
        if day.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        day = day.astimezone(BEIJING).date()
    return [*digit_pieces(str(day.year)), "unit/year", *number_pieces(day.month), "unit/month",
            *number_pieces(day.day), "unit/day"]


def status_pieces(status: OrderStatus | str) -> list[str]:
    return [f"status/{OrderStatus(status).value}"]


def minutes_pieces(seconds: int) -> list[str]:
    """Expected wait rounded up to whole minutes (at least one)."""
    minutes = max(1, -(-int(seconds) // 60))
    return [*number_pieces(minutes), "unit/minute"]
