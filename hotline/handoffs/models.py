"""Hand-offs (警单) to the emergency lines (Ziyang art. 9(3), 34; Foshan art. 17(2), 55)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base
from hotline.workorders import models as _orders  # noqa: F401  (work_orders.id must be in the metadata)
from hotline.workorders.sqltypes import UtcDateTime


class Handoff(Base):
    __tablename__ = "handoffs"
    # one hand-off per call and emergency line: the bridge records the transfer, the agent completes it
    __table_args__ = (Index("uq_handoffs_call_service", "call_id", "service", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(8))  # 110 | 119 | 120
    call_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), nullable=True, index=True)
    order_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    caller_number: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    caller_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    location: Mapped[str | None] = mapped_column(String(255), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
