"""Work orders (工单), their transitions, deadlines, units, linked calls and KB articles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db import Base
from hotline.units import models as _units  # noqa: F401  (units.id must be in the metadata)
from hotline.workorders.sqltypes import UtcDateTime


class OrderSequence(Base):
    """Per-day counter behind the readable numbers (20261121-000123)."""

    __tablename__ = "order_sequences"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class WorkOrder(Base):
    __tablename__ = "work_orders"
    __table_args__ = (
        Index("ix_work_orders_caller_created", "caller_number", "created_at"),
        Index("ix_work_orders_status_created", "status", "created_at"),
        # every 终结件 of a caller, whatever its age, for the screen pop (Ziyang art. 15)
        Index("ix_work_orders_terminal_caller", "caller_number", sqlite_where=text("status = 'terminal'"),
              postgresql_where=text("status = 'terminal'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    caller_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    caller_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    caller_personal: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # ID number, address...
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)  # reply given on the call or by the unit
    terminal_reply: Mapped[str | None] = mapped_column(Text, nullable=True)  # 终结件 standard reply, art. 15
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), nullable=True)
    extensions: Mapped[int] = mapped_column(SmallInteger, default=0)
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # SLA anchor "dispatched"
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # SLA anchor "unit_accepted"
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 — two agents moving one order: the second one fails

    # loaded when used (a created order is often not read back); lists ask for selectinload explicitly
    units: Mapped[list[OrderUnit]] = relationship(back_populates="order", cascade="all, delete-orphan")
    deadlines: Mapped[list[OrderDeadline]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                          order_by="OrderDeadline.due_at")
    transitions: Mapped[list[OrderTransition]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderTransition.id")
    calls: Mapped[list[OrderCall]] = relationship(cascade="all, delete-orphan")
    kb_articles: Mapped[list[OrderKbArticle]] = relationship(cascade="all, delete-orphan")


class OrderUnit(Base):
    """Lead (主办) and co-handling (协办) units, Ziyang art. 13(5)5."""

    __tablename__ = "order_units"

    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(8))  # lead | co

    order: Mapped[WorkOrder] = relationship(back_populates="units")


class OrderCall(Base):
    """Calls behind an order. No foreign key to `calls`: the order is written during the call, the call
    row when the tracker reports call.ended."""

    __tablename__ = "order_calls"

    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class OrderKbArticle(Base):
    """KB articles used to answer. No foreign key: the KB tables belong to 0003_kb, after this revision."""

    __tablename__ = "order_kb_articles"

    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), primary_key=True)
    article_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)


class OrderTransition(Base):
    """Every change of status: who, when, from, to, note (Foshan art. 34: every step on record)."""

    __tablename__ = "order_transitions"
    __table_args__ = (Index("ix_order_transitions_order_at", "order_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)

    order: Mapped[WorkOrder] = relationship(back_populates="transitions")


ALERT_NONE, ALERT_YELLOW, ALERT_RED = 0, 1, 2


class OrderDeadline(Base):
    __tablename__ = "order_deadlines"
    __table_args__ = (
        Index("ix_order_deadlines_order_kind", "order_id", "kind", unique=True),
        # the overdue scanner only walks open deadlines
        Index("ix_order_deadlines_open_due", "due_at", sqlite_where=text("met_at IS NULL"),
              postgresql_where=text("met_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    anchor_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the moment the clock started
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    rule: Mapped[str] = mapped_column(String(200))
    met_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    extensions: Mapped[int] = mapped_column(SmallInteger, default=0)
    alert_level: Mapped[int] = mapped_column(SmallInteger, default=ALERT_NONE)

    order: Mapped[WorkOrder] = relationship(back_populates="deadlines")
