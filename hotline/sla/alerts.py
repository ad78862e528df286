"""Near-due and overdue evaluation: a pure function the work-order scheduler calls for open deadlines.

Foshan art. 47(1)3: 黄牌警示 (yellow card) for an order about to run late, 红牌督办 (red card) once late.
Ziyang has no cards; the same levels carry its own labels (临期预警 / 超期).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum

from hotline.sla.calendar import WorkCalendar
from hotline.sla.engine import Deadline
from hotline.sla.policy import AlertConfig
from hotline.sla.timeutil import local


class AlertLevel(IntEnum):
    # the numbers are what hotline.workorders stores (ALERT_NONE, ALERT_YELLOW, ALERT_RED)
    ok = 0
    near_due = 1   # yellow card
    overdue = 2    # red card


@dataclass(frozen=True, slots=True)
class Thresholds:
    near_due_ratio: float = 0.8                  # share of the allowed span elapsed
    near_due_within: dt.timedelta | None = None  # or: this close to the due, whichever comes first
    near_due_label: str = "临期"
    overdue_label: str = "超期"

    @classmethod
    def from_policy(cls, config: AlertConfig, near_due_within: dt.timedelta | None = None) -> Thresholds:
        return cls(config.near_due_ratio, near_due_within, *config.near_due_labels)


@dataclass(frozen=True, slots=True)
class Alert:
    level: AlertLevel
    label: str | None
    remaining: dt.timedelta  # negative once overdue


def _elapsed(calendar: WorkCalendar | None, clock: str, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    if calendar is None or clock == "clock":
        return end - start
    measure = calendar.office_time_between if clock == "office" else calendar.working_day_time_between
    return measure(start, end)[0]


def evaluate(deadline: Deadline, now: dt.datetime, thresholds: Thresholds, *,
             calendar: WorkCalendar | None = None, met_at: dt.datetime | None = None) -> Alert:
    """Where `deadline` stands at `now`. A deadline met in time is ok; one met late stays overdue.

    With `calendar`, the share elapsed is measured on the deadline's own clock (a 5-working-day limit turns
    yellow on its 4th working day, not over the weekend); without it, in plain time.
    """
    moment = local(met_at) if met_at is not None else local(now)
    remaining = deadline.due_at - moment
    if remaining < dt.timedelta(0):
        return Alert(AlertLevel.overdue, thresholds.overdue_label, remaining)
    if met_at is None:
        allowed = _elapsed(calendar, deadline.clock, deadline.anchor_at, deadline.due_at)
        elapsed = _elapsed(calendar, deadline.clock, deadline.anchor_at, moment)
        if elapsed >= allowed * thresholds.near_due_ratio or (
                thresholds.near_due_within is not None and remaining <= thresholds.near_due_within):
            return Alert(AlertLevel.near_due, thresholds.near_due_label, remaining)
    return Alert(AlertLevel.ok, None, remaining)
