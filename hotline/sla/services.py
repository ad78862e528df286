"""Loading official year schedules, building the engine, and telling the work orders about it.

After a year is stored and installed in the engine's calendar, every registered *year-loaded hook* runs:
`hook(session, engine) -> int` recomputes the provisional deadlines it owns with the updated engine and
returns how many orders it changed. `hotline.workorders.services.recompute_provisional` is looked up by
name (so loading a year from the command line also reaches it); other modules may `on_year_loaded(fn)`.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.sla.calendar import WorkCalendar
from hotline.sla.engine import DeadlineEngine
from hotline.sla.models import CalendarDay, CalendarYear
from hotline.sla.policy import load_policy
from hotline.sla.schemas import StoredYear, YearSchedule

log = logging.getLogger(__name__)

YearLoadedHook = Callable[[Session, DeadlineEngine], int]
# "module:function" hooks resolved when a year is loaded; a module not (yet) present is skipped and reported
# Everything whose due times depend on the calendar is recomputed when an official year is loaded.
DEFAULT_HOOKS = ("hotline.workorders.services:recompute_provisional",
                 "hotline.kb.services:recompute_review_deadlines")
_hooks: list[YearLoadedHook] = []


class ExampleScheduleRefused(ValueError):
    """An example schedule is not an official one: loading it needs an explicit allow_example."""


def on_year_loaded(hook: YearLoadedHook) -> YearLoadedHook:
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def remove_year_loaded_hook(hook: YearLoadedHook) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


def _resolve_hooks() -> dict[str, YearLoadedHook | str]:
    found: dict[str, YearLoadedHook | str] = {}
    for path in DEFAULT_HOOKS:
        module_name, _, attr = path.partition(":")
        try:
            found[path] = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            found[path] = f"not available: {exc}"
    for hook in _hooks:
        found[f"{hook.__module__}:{hook.__qualname__}"] = hook
    return found


def build_calendar(session: Session | None, office_hours: str) -> WorkCalendar:
    calendar = WorkCalendar(office_hours)
    if session is not None:
        install_stored_years(session, calendar)
    return calendar


def build_engine(session: Session | None, city: str, office_hours: str) -> DeadlineEngine:
    """The engine for `settings.city_policy` on a calendar holding every year loaded so far."""
    return DeadlineEngine(load_policy(city), build_calendar(session, office_hours))


def install_stored_years(session: Session, calendar: WorkCalendar) -> set[int]:
    """Put every stored year into `calendar` (also how another process catches up after a load)."""
    years = session.scalars(select(CalendarYear)).all()
    for row in years:
        calendar.install_year(row.year, {d.day: d.name for d in row.days if not d.workday},
                              {d.day: d.name for d in row.days if d.workday})
    return {row.year for row in years}


def stored_year(row: CalendarYear) -> StoredYear:
    workdays = sum(1 for d in row.days if d.workday)
    return StoredYear(year=row.year, source=row.source, example=row.example, loaded_at=row.loaded_at,
                      loaded_by=row.loaded_by, holidays=len(row.days) - workdays, workdays=workdays)


def list_years(session: Session) -> list[StoredYear]:
    return [stored_year(r) for r in session.scalars(select(CalendarYear).order_by(CalendarYear.year))]


def store_year(session: Session, schedule: YearSchedule, *, loaded_by: str,
               allow_example: bool = False) -> CalendarYear:
    """Insert or replace the year's schedule (not committed)."""
    if schedule.example and not allow_example:
        raise ExampleScheduleRefused(
            f"the {schedule.year} file is marked example: it is not the State Council's schedule "
            f"(pass allow_example to load it anyway, e.g. in a demo)")
    old = session.get(CalendarYear, schedule.year)
    if old is not None:
        session.delete(old)
        session.flush()
    row = CalendarYear(year=schedule.year, source=schedule.source, example=schedule.example,
                       loaded_at=dt.datetime.now(dt.UTC), loaded_by=loaded_by,
                       document=schedule.model_dump(mode="json"))
    row.days = [CalendarDay(day=d, year=schedule.year, workday=False, name=n)
                for d, n in schedule.holiday_days().items()]
    row.days += [CalendarDay(day=d, year=schedule.year, workday=True, name=n)
                 for d, n in schedule.workday_days().items()]
    session.add(row)
    session.flush()
    return row


def load_year(session: Session, engine: DeadlineEngine, schedule: YearSchedule, *, loaded_by: str,
              allow_example: bool = False) -> tuple[StoredYear, dict[str, Any]]:
    """Store the year, install it in the engine's calendar, commit, then run the year-loaded hooks.

    The year is committed before the hooks run: a failing hook is reported and loses nothing; running
    it again (or loading the year again) finishes the job.
    """
    row = store_year(session, schedule, loaded_by=loaded_by, allow_example=allow_example)
    session.commit()
    engine.calendar.install_year(schedule.year, schedule.holiday_days(), schedule.workday_days())
    results: dict[str, Any] = {}
    for name, hook in _resolve_hooks().items():
        if isinstance(hook, str):
            results[name] = hook
            continue
        try:
            results[name] = hook(session, engine)
            session.commit()
        except Exception as exc:  # one broken hook must not hide that the year is loaded
            session.rollback()
            log.exception("year-loaded hook %s failed", name)
            results[name] = f"failed: {exc!r}"
    return stored_year(row), results
