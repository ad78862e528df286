"""Tables of the ACD (migration 0004_acd): the agent state log, callback outcomes and guard actions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base

TS = DateTime(timezone=True)


class AgentStateLog(Base):
    """One row per state an agent left: how long they were in it (time in each state, per agent)."""

    __tablename__ = "acd_agent_state_log"
    __table_args__ = (Index("ix_acd_agent_state_log_agent_started", "agent_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32), default="")
    event: Mapped[str] = mapped_column(String(32))          # the event that ended the state
    new_state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(TS)
    ended_at: Mapped[datetime] = mapped_column(TS)
    seconds: Mapped[float] = mapped_column(Float)


class CallbackRecord(Base):
    """What became of each callback request (the live queue of requests is in Redis)."""

    __tablename__ = "acd_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    callback_id: Mapped[str] = mapped_column(String(64), unique=True)
    number: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))
    queued_at: Mapped[datetime] = mapped_column(TS)
    status: Mapped[str] = mapped_column(String(16))   # answered failed duplicate
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime] = mapped_column(TS)


class GuardAction(Base):
    """Each action the answer-rate guard took or undid, with the figure that caused it."""

    __tablename__ = "acd_guard_actions"
    __table_args__ = (Index("ix_acd_guard_actions_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(TS)
    queue: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(32))    # alert overflow callback_offer, or *_off when cleared
    detail: Mapped[str] = mapped_column(String(500), default="")
