"""The year-schedule file format (YAML or JSON) and the API's shapes.

One file per year, transcribing the State Council's notice (国务院办公厅关于XXXX年部分节假日安排的通知):

    year: 2027
    source: 国办发明电〔2026〕N号              # the notice the dates come from
    example: false                            # true marks a file that is NOT an official schedule
    holidays:                                 # 放假: every period, first and last day inclusive
      - {name: 元旦, start: 2027-01-01, end: 2027-01-03}
    workdays:                                 # 调休上班: weekend days that become working days
      - {name: 春节, date: 2027-02-20}

Days not listed follow the week: Monday–Friday work, Saturday and Sunday do not.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hotline.text import Text


class HolidayPeriod(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text = Field(min_length=1, max_length=64)
    start: dt.date
    end: dt.date | None = None  # single day when omitted

    def days(self) -> list[dt.date]:
        end = self.end or self.start
        return [self.start + dt.timedelta(days=i) for i in range((end - self.start).days + 1)]


class MakeupWorkday(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text = Field(min_length=1, max_length=64)
    date: dt.date


class YearSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(ge=2004, le=2100)
    source: Text = Field(min_length=1, max_length=300)
    example: bool = False
    holidays: list[HolidayPeriod] = Field(min_length=1)
    workdays: list[MakeupWorkday] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> YearSchedule:
        seen: dict[dt.date, str] = {}
        for period in self.holidays:
            if period.end is not None and period.end < period.start:
                raise ValueError(f"holiday {period.name}: end {period.end} is before start {period.start}")
            for day in period.days():
                if day.year != self.year:
                    raise ValueError(f"holiday {period.name}: {day} is not in {self.year}")
                if day in seen:
                    raise ValueError(f"{day} is listed twice ({seen[day]}, {period.name})")
                seen[day] = period.name
        for workday in self.workdays:
            day = workday.date
            if day.year != self.year:
                raise ValueError(f"make-up workday {workday.name}: {day} is not in {self.year}")
            if day in seen:
                raise ValueError(f"{day} is both a holiday and a make-up workday")
            if day.weekday() < 5:
                raise ValueError(f"make-up workday {day} is a {day:%A}: 调休 only turns weekend days into workdays")
            seen[day] = workday.name
        return self

    def holiday_days(self) -> dict[dt.date, str]:
        return {day: p.name for p in self.holidays for day in p.days()}

    def workday_days(self) -> dict[dt.date, str]:
        return {w.date: w.name for w in self.workdays}


class StoredYear(BaseModel):
    year: int
    source: str
    example: bool
    loaded_at: dt.datetime
    loaded_by: str
    holidays: int
    workdays: int


class YearLoaded(StoredYear):
    recomputed: dict[str, Any]  # hook name → orders recomputed (or the error it raised)


class CalendarOverview(BaseModel):
    loaded: list[StoredYear]
    sources: dict[int, str]  # year → loaded | chinesecalendar | holidays (provisional) | unavailable
