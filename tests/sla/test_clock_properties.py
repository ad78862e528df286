"""Properties of the clocks over the real 2025–2026 calendars (holidays, make-up days)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.sla import WorkCalendar
from hotline.sla.timeutil import TZ

CALENDAR = WorkCalendar("09:00-12:00,13:30-17:30")
moments = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2026, 10, 31)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=TZ))
spans = st.integers(min_value=1, max_value=20 * 24 * 60).map(lambda m: dt.timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(moments, spans, spans)
def test_working_day_time_adds_up(start: dt.datetime, a: dt.timedelta, b: dt.timedelta) -> None:
    step, _ = CALENDAR.add_working_day_time(start, a)
    twice, _ = CALENDAR.add_working_day_time(step, b)
    once, _ = CALENDAR.add_working_day_time(start, a + b)
    assert twice == once
    assert CALENDAR.working_day_time_between(start, once)[0] == a + b
    assert CALENDAR.is_workday((once - dt.timedelta(microseconds=1)).date())  # a due ends inside a working day


@settings(max_examples=150, deadline=None)
@given(moments, spans, spans)
def test_office_time_adds_up(start: dt.datetime, a: dt.timedelta, b: dt.timedelta) -> None:
    a, b = a / 24, b / 24  # office spans are hours, not days
    step, _ = CALENDAR.add_office_time(start, a)
    twice, _ = CALENDAR.add_office_time(step, b)
    once, _ = CALENDAR.add_office_time(start, a + b)
    assert twice == once
    assert CALENDAR.office_time_between(start, once)[0] == a + b
    assert dt.time(9) < once.time() <= dt.time(17, 30) and CALENDAR.is_workday(once.date())
