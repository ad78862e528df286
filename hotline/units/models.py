"""Handling units (承办单位, Ziyang art. 8; 成员单位, Foshan art. 10)."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # districts dispatch on to their own member units (Foshan art. 20-21)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    contact_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
