"""Official holiday schedules an administrator loaded (revision 0002_calendar)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db import Base
from hotline.workorders.sqltypes import UtcDateTime


class CalendarYear(Base):
    __tablename__ = "sla_calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(300))
    example: Mapped[bool] = mapped_column(Boolean, default=False)
    loaded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    loaded_by: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict] = mapped_column(JSON)  # the schedule exactly as loaded

    days: Mapped[list[CalendarDay]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                   lazy="selectin", order_by="CalendarDay.day")


class CalendarDay(Base):
    __tablename__ = "sla_calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("sla_calendar_years.year", ondelete="CASCADE"), index=True)
    workday: Mapped[bool] = mapped_column(Boolean)  # True: 调休 make-up workday; False: holiday
    name: Mapped[str] = mapped_column(String(64))
