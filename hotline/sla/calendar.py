"""The working calendar: which days are working days (法定节假日 and 调休 make-up workdays) and the clocks
the regulations count in.

Where a day's status comes from, in order of authority:
1. a year's official schedule an administrator loaded (State Council notice, stored by `services.load_year`);
2. `chinesecalendar` (the official schedules it ships, 2004–2026 in 1.11);
3. the rule-based holidays of the `holidays` package (China): no make-up workdays and no bridge days, so
   every deadline touching such a day is marked *provisional* until the official year is loaded.
A year none of them knows raises `CalendarUnavailable`: never a silent guess.

Three clocks (all in Asia/Shanghai):
- clock time: plain elapsed time (the hotline itself runs 7×24);
- working-day time: the clock runs all 24 hours of a working day and stops on non-working days. "N working
  days" is N×24 h of it, "22 hours (non-working days excluded)" is 22 h of it;
- office time: the clock runs only inside `office_hours` of working days ("5 working hours").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import chinese_calendar
import holidays as holidays_pkg

from hotline.sla.timeutil import TZ, local

DAY = dt.timedelta(days=1)
MAX_SPAN_DAYS = 800  # no regulation counts further; a longer walk means a broken calendar


class CalendarUnavailable(LookupError):
    """No source knows the year: load its official schedule first."""


@dataclass(frozen=True, slots=True)
class DayStatus:
    workday: bool
    provisional: bool
    source: str  # loaded | chinesecalendar | holidays
    name: str | None = None


def parse_office_hours(spec: str) -> tuple[tuple[dt.time, dt.time], ...]:
    """'09:00-12:00,13:30-17:30' → ((09:00, 12:00), (13:30, 17:30)); ordered, non-overlapping."""
    periods: list[tuple[dt.time, dt.time]] = []
    for part in spec.split(","):
        part = part.strip()
        try:
            start_s, end_s = part.split("-")
            start, end = dt.time.fromisoformat(start_s.strip()), dt.time.fromisoformat(end_s.strip())
        except ValueError as exc:
            raise ValueError(f"office hours {spec!r}: expected 'HH:MM-HH:MM,HH:MM-HH:MM', bad part {part!r}") from exc
        if end <= start:
            raise ValueError(f"office hours {spec!r}: period {part!r} ends before it starts")
        if periods and start < periods[-1][1]:
            raise ValueError(f"office hours {spec!r}: periods must be in order and must not overlap")
        periods.append((start, end))
    if not periods:
        raise ValueError("office hours: at least one period is needed")
    return tuple(periods)


class WorkCalendar:
    def __init__(self, office_hours: str = "09:00-12:00,13:30-17:30") -> None:
        self.office_hours = office_hours
        self._periods = parse_office_hours(office_hours)
        self._loaded: dict[int, dict[dt.date, DayStatus]] = {}
        self._cache: dict[dt.date, DayStatus] = {}
        self._fallback: dict[int, Mapping[dt.date, str]] = {}

    # -- which days work -------------------------------------------------------------------------------
    def install_year(self, year: int, holidays: Mapping[dt.date, str], workdays: Mapping[dt.date, str]) -> None:
        """Make an official schedule authoritative for `year` (replacing any earlier one)."""
        days = {d: DayStatus(False, False, "loaded", name) for d, name in holidays.items()}
        days.update({d: DayStatus(True, False, "loaded", name) for d, name in workdays.items()})
        self._loaded[year] = days
        self._cache = {d: s for d, s in self._cache.items() if d.year != year}

    def remove_year(self, year: int) -> None:
        self._loaded.pop(year, None)
        self._cache = {d: s for d, s in self._cache.items() if d.year != year}

    @property
    def loaded_years(self) -> frozenset[int]:
        return frozenset(self._loaded)

    def day(self, day: dt.date) -> DayStatus:
        status = self._cache.get(day)
        if status is None:
            status = self._cache[day] = self._lookup(day)
        return status

    def is_workday(self, day: dt.date) -> bool:
        return self.day(day).workday

    def _lookup(self, day: dt.date) -> DayStatus:
        loaded = self._loaded.get(day.year)
        if loaded is not None:
            return loaded.get(day) or DayStatus(day.weekday() < 5, False, "loaded")
        try:
            on, name = chinese_calendar.get_holiday_detail(day)
            return DayStatus(not on, False, "chinesecalendar", name)
        except NotImplementedError:
            pass
        rules = self._fallback.get(day.year)
        if rules is None:
            if not holidays_pkg.China.start_year <= day.year <= holidays_pkg.China.end_year:
                raise CalendarUnavailable(
                    f"no holiday data for {day.year}: load the State Council's schedule for {day.year} "
                    f"(python -m hotline.sla load-year FILE)") from None
            rules = self._fallback[day.year] = holidays_pkg.China(years=day.year)
        name = rules.get(day)
        return DayStatus(name is None and day.weekday() < 5, True, "holidays", name)

    def sources(self, years: Iterable[int]) -> dict[int, str]:
        """Where each year's days come from (loaded, chinesecalendar, holidays, unavailable)."""
        out = {}
        for year in years:
            try:
                out[year] = self._lookup(dt.date(year, 1, 1)).source
            except CalendarUnavailable:
                out[year] = "unavailable"
        return out

    # -- clocks ----------------------------------------------------------------------------------------
    def add_working_day_time(self, start: dt.datetime, span: dt.timedelta) -> tuple[dt.datetime, bool]:
        """`start` + `span` counted only on working days (24 h each). Returns (due, provisional)."""
        t = local(start)
        if span <= dt.timedelta(0):
            return t, False
        remaining, provisional = span, False
        day = t.date()
        for _ in range(MAX_SPAN_DAYS):
            status = self.day(day)
            provisional |= status.provisional
            if status.workday:
                day_start = dt.datetime.combine(day, dt.time(), TZ)
                begin = t if t > day_start else day_start
                available = day_start + DAY - begin
                if remaining <= available:
                    return begin + remaining, provisional
                remaining -= available
            day += DAY
        raise CalendarUnavailable(f"no working day within {MAX_SPAN_DAYS} days of {t:%Y-%m-%d}")

    def add_working_days(self, start: dt.datetime, days: float) -> tuple[dt.datetime, bool]:
        return self.add_working_day_time(start, dt.timedelta(days=days))

    def working_day_time_between(self, start: dt.datetime, end: dt.datetime) -> tuple[dt.timedelta, bool]:
        """How much working-day time lies between two moments (negative when end < start)."""
        a, b = local(start), local(end)
        if b < a:
            span, provisional = self.working_day_time_between(b, a)
            return -span, provisional
        total, provisional, day = dt.timedelta(0), False, a.date()
        while day <= b.date():
            status = self.day(day)
            provisional |= status.provisional
            if status.workday:
                day_start = dt.datetime.combine(day, dt.time(), TZ)
                total += min(b, day_start + DAY) - max(a, day_start)
            day += DAY
        return total, provisional

    def office_time_between(self, start: dt.datetime, end: dt.datetime) -> tuple[dt.timedelta, bool]:
        """How much office time lies between two moments (negative when end < start)."""
        a, b = local(start), local(end)
        if b < a:
            span, provisional = self.office_time_between(b, a)
            return -span, provisional
        total, provisional, day = dt.timedelta(0), False, a.date()
        while day <= b.date():
            status = self.day(day)
            provisional |= status.provisional
            if status.workday:
                for opens, closes in self._periods:
                    lo = max(a, dt.datetime.combine(day, opens, TZ))
                    hi = min(b, dt.datetime.combine(day, closes, TZ))
                    if hi > lo:
                        total += hi - lo
            day += DAY
        return total, provisional

    def add_office_time(self, start: dt.datetime, span: dt.timedelta) -> tuple[dt.datetime, bool]:
        """`start` + `span` counted only within office hours of working days ("工作小时")."""
        t = local(start)
        if span <= dt.timedelta(0):
            return t, False
        remaining, provisional = span, False
        day = t.date()
        for _ in range(MAX_SPAN_DAYS):
            status = self.day(day)
            provisional |= status.provisional
            if status.workday:
                for opens, closes in self._periods:
                    period_end = dt.datetime.combine(day, closes, TZ)
                    if t >= period_end:
                        continue
                    period_start = dt.datetime.combine(day, opens, TZ)
                    begin = t if t > period_start else period_start
                    available = period_end - begin
                    if remaining <= available:
                        return begin + remaining, provisional
                    remaining -= available
            day += DAY
        raise CalendarUnavailable(f"no office hours within {MAX_SPAN_DAYS} days of {t:%Y-%m-%d}")
