"""Near-due (yellow card) and overdue (red card) evaluation."""

from __future__ import annotations

import datetime as dt

from hotline.sla import AlertLevel, DeadlineEngine, Thresholds, evaluate
from hotline.sla.timeutil import at


def test_foshan_yellow_and_red_cards(foshan: DeadlineEngine) -> None:
    complete = foshan.compute("complaint", "normal", accepted_at=at("2026-11-16 09:00"),
                              dispatched_at=at("2026-11-16 10:00"))["complete"]  # due Mon 23 Nov 10:00
    cards = Thresholds.from_policy(foshan.policy.alerts)
    early = evaluate(complete, at("2026-11-17 10:00"), cards)
    assert early.level is AlertLevel.ok and early.label is None
    # plain time: 80 % of the 7 calendar days pass on Sunday
    assert evaluate(complete, at("2026-11-21 23:00"), cards).level is AlertLevel.ok
    assert evaluate(complete, at("2026-11-22 03:00"), cards).level is AlertLevel.near_due
    # on the working-day clock: the 4th working day is over on Friday 10:00
    calendar = foshan.calendar
    assert evaluate(complete, at("2026-11-20 09:59"), cards, calendar=calendar).level is AlertLevel.ok
    late = evaluate(complete, at("2026-11-20 10:00"), cards, calendar=calendar)
    assert late.level is AlertLevel.near_due and late.label == "黄牌警示"
    over = evaluate(complete, at("2026-11-23 10:01"), cards)
    assert over.level is AlertLevel.overdue and over.label == "红牌督办"
    assert over.remaining == -dt.timedelta(minutes=1)
    assert evaluate(complete, at("2026-11-23 10:00"), cards).level is AlertLevel.near_due  # due is still in time


def test_thresholds_are_configurable(ziyang: DeadlineEngine) -> None:
    sign = ziyang.compute("help", "normal", accepted_at=at("2026-11-16 09:00"),
                          dispatched_at=at("2026-11-16 10:00"))["sign"]  # due 16:30
    default = Thresholds.from_policy(ziyang.policy.alerts)
    assert evaluate(sign, at("2026-11-16 14:00"), default).level is AlertLevel.ok
    strict = Thresholds(near_due_ratio=0.5)
    assert evaluate(sign, at("2026-11-16 14:00"), strict).level is AlertLevel.near_due
    # office clock: 10–12 and 13:30–14:00 are 2.5 of the 5 working hours
    calendar = ziyang.calendar
    assert evaluate(sign, at("2026-11-16 13:59"), strict, calendar=calendar).level is AlertLevel.ok
    assert evaluate(sign, at("2026-11-16 14:00"), strict, calendar=calendar).level is AlertLevel.near_due
    absolute = Thresholds(near_due_ratio=0.99, near_due_within=dt.timedelta(hours=3))
    assert evaluate(sign, at("2026-11-16 14:00"), absolute).level is AlertLevel.near_due
    assert default.near_due_label == "临期预警" and default.overdue_label == "超期"


def test_met_deadlines(foshan: DeadlineEngine) -> None:
    reply = foshan.compute("consult", "normal", accepted_at=at("2026-11-16 09:00"),
                           dispatched_at=at("2026-11-16 10:00"))["reply"]  # due Tue 17 Nov 10:00
    cards = Thresholds.from_policy(foshan.policy.alerts)
    assert evaluate(reply, at("2026-12-01 10:00"), cards, met_at=at("2026-11-17 09:59")).level is AlertLevel.ok
    assert evaluate(reply, at("2026-12-01 10:00"), cards, met_at=at("2026-11-17 11:00")).level is AlertLevel.overdue
