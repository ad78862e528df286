"""The working calendar: official 2026 days with 调休, the three clocks, provisional and unknown years."""

from __future__ import annotations

import datetime as dt

import pytest

from hotline.sla import CalendarUnavailable, WorkCalendar
from hotline.sla.calendar import parse_office_hours
from hotline.sla.timeutil import TZ, at

H = dt.timedelta(hours=1)


def test_2026_spring_festival_and_national_day_with_makeup_saturdays(calendar: WorkCalendar) -> None:
    # State Council 2026: Spring Festival 15–23 Feb, worked Sat 14 Feb and Sat 28 Feb;
    # National Day 1–7 Oct, worked Sun 20 Sep and Sat 10 Oct
    for day in ("2026-02-15", "2026-02-17", "2026-02-23", "2026-10-01", "2026-10-07"):
        assert not calendar.is_workday(dt.date.fromisoformat(day)), day
    for day in ("2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10", "2026-02-24", "2026-10-08"):
        assert calendar.is_workday(dt.date.fromisoformat(day)), day
    assert calendar.day(dt.date(2026, 10, 3)).source == "chinesecalendar"
    assert not calendar.day(dt.date(2026, 10, 3)).provisional


def test_working_days_skip_the_festival_and_count_the_makeup_saturday(calendar: WorkCalendar) -> None:
    # Thu 12 Feb 10:00 + 5 working days: 12, 13, Sat 14 (调休), [15–23 off], 24, 25 → Thu 26 Feb 10:00
    due, provisional = calendar.add_working_days(at("2026-02-12 10:00"), 5)
    assert due == at("2026-02-26 10:00") and not provisional


def test_working_day_clock_starting_on_a_holiday_starts_at_the_next_working_midnight(calendar: WorkCalendar) -> None:
    due, _ = calendar.add_working_days(at("2026-10-03 15:00"), 1)
    assert due == at("2026-10-09 00:00")  # Oct 8 is the first working day: all of it


def test_22_hour_clock_over_a_weekend(calendar: WorkCalendar) -> None:
    # Fri 20 Nov 10:00: 14 h on Friday, the weekend does not count, 8 h on Monday
    due, _ = calendar.add_working_day_time(at("2026-11-20 10:00"), 22 * H)
    assert due == at("2026-11-23 08:00")
    due, _ = calendar.add_working_day_time(at("2026-11-21 15:00"), 22 * H)  # Saturday: the clock starts Monday
    assert due == at("2026-11-23 22:00")


def test_office_hours_across_lunch_and_evening(calendar: WorkCalendar) -> None:
    due, _ = calendar.add_office_time(at("2026-11-16 10:00"), 5 * H)  # 10–12, 13:30–16:30
    assert due == at("2026-11-16 16:30")
    due, _ = calendar.add_office_time(at("2026-11-16 16:00"), 5 * H)  # 1.5 h tonight, 3 h + 0.5 h tomorrow
    assert due == at("2026-11-17 14:00")
    due, _ = calendar.add_office_time(at("2026-11-16 12:40"), 1 * H)  # lunch: the clock starts at 13:30
    assert due == at("2026-11-16 14:30")
    due, _ = calendar.add_office_time(at("2026-11-16 22:00"), 1 * H)  # evening: next morning
    assert due == at("2026-11-17 10:00")
    # Friday evening before Spring Festival: the make-up Saturday's office hours count
    due, _ = calendar.add_office_time(at("2026-02-13 16:00"), 5 * H)
    assert due == at("2026-02-14 14:00")


def test_office_hours_are_configurable() -> None:
    calendar = WorkCalendar("08:30-12:00,14:00-18:00")
    due, _ = calendar.add_office_time(at("2026-11-16 11:00"), 2 * H)
    assert due == at("2026-11-16 15:00")


@pytest.mark.parametrize("spec", ["", "9-12", "12:00-09:00", "09:00-12:00,11:00-13:00", "09:00-12:00;13:00-17:00"])
def test_bad_office_hours_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="office hours"):
        parse_office_hours(spec)


def test_utc_input_is_read_as_the_same_instant(calendar: WorkCalendar) -> None:
    due, _ = calendar.add_office_time(dt.datetime(2026, 11, 16, 2, 0, tzinfo=dt.UTC), 1 * H)  # 10:00 Beijing
    assert due == at("2026-11-16 11:00") and due.tzinfo is TZ


def test_naive_datetimes_are_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        calendar.add_working_days(dt.datetime(2026, 11, 16, 10), 1)


def test_2027_comes_from_rule_based_holidays_and_is_provisional(calendar: WorkCalendar) -> None:
    status = calendar.day(dt.date(2027, 1, 1))
    assert (status.workday, status.provisional, status.source) == (False, True, "holidays")
    assert calendar.day(dt.date(2027, 1, 4)).provisional
    due, provisional = calendar.add_working_days(at("2026-12-30 10:00"), 2)
    assert due == at("2027-01-04 10:00") and provisional  # Dec 30, Dec 31, [Jan 1 holiday, weekend], Jan 4
    due, provisional = calendar.add_working_days(at("2026-12-21 10:00"), 2)
    assert not provisional  # never touched 2027


def test_installed_year_is_authoritative(calendar: WorkCalendar) -> None:
    calendar.install_year(2027, {dt.date(2027, 1, 1): "元旦", dt.date(2027, 1, 4): "元旦"},
                          {dt.date(2027, 1, 9): "元旦"})
    assert not calendar.is_workday(dt.date(2027, 1, 4))
    assert calendar.is_workday(dt.date(2027, 1, 9))  # a Saturday worked
    assert calendar.day(dt.date(2027, 3, 1)) .source == "loaded"
    assert not calendar.day(dt.date(2027, 3, 1)).provisional
    assert calendar.loaded_years == {2027}
    calendar.remove_year(2027)
    assert calendar.day(dt.date(2027, 1, 4)).provisional


def test_a_year_nobody_knows_is_a_clear_error(calendar: WorkCalendar) -> None:
    with pytest.raises(CalendarUnavailable, match="load the State Council's schedule for 2101"):
        calendar.day(dt.date(2101, 1, 3))
    assert calendar.sources([2026, 2027, 2101]) == {2026: "chinesecalendar", 2027: "holidays", 2101: "unavailable"}


def test_working_day_time_between(calendar: WorkCalendar) -> None:
    span, _ = calendar.working_day_time_between(at("2026-11-20 18:00"), at("2026-11-23 06:00"))
    assert span == 12 * H  # Fri 18:00–24:00 and Mon 00:00–06:00
    span, _ = calendar.working_day_time_between(at("2026-11-23 06:00"), at("2026-11-20 18:00"))
    assert span == -12 * H


def test_office_time_between(calendar: WorkCalendar) -> None:
    span, _ = calendar.office_time_between(at("2026-11-20 11:00"), at("2026-11-23 10:00"))
    assert span == 6 * H  # Fri 11–12, 13:30–17:30; the weekend; Mon 9–10
    span, _ = calendar.office_time_between(at("2026-11-16 12:10"), at("2026-11-16 13:20"))
    assert span == dt.timedelta(0)  # all lunch
