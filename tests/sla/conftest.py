"""SLA fixtures: engines for both cities on a fresh calendar (no loaded years)."""

from __future__ import annotations

import pytest

from hotline.sla import DeadlineEngine, WorkCalendar, load_policy

OFFICE_HOURS = "09:00-12:00,13:30-17:30"


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar(OFFICE_HOURS)


@pytest.fixture
def ziyang(calendar: WorkCalendar) -> DeadlineEngine:
    return DeadlineEngine(load_policy("ziyang"), calendar)


@pytest.fixture
def foshan(calendar: WorkCalendar) -> DeadlineEngine:
    return DeadlineEngine(load_policy("foshan"), calendar)
