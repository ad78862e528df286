"""Calls as the call tracker reported them (stream `calls`, docs/CONTRACTS.md "Call events")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base
from hotline.workorders.sqltypes import UtcDateTime


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_caller_started", "caller_number", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # Uniqueid of the citizen's channel
    linkedid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    caller_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    caller_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(128), nullable=True)
    state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    queue: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ivr_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ivr_priority: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ivr_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    recording_file: Mapped[str | None] = mapped_column(String(255), nullable=True)
    satisfaction: Mapped[int | None] = mapped_column(Integer, nullable=True)
    wait_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    talk_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    transfer_to: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hangup_cause: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_event_ts: Mapped[float | None] = mapped_column(Float, nullable=True)  # ignores replays of older events
