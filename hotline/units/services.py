"""Handling units."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.units.models import Unit


class UnitExists(ValueError):
    pass


def create_unit(session: Session, code: str, name: str, parent_id: int | None = None,
                contact_phone: str | None = None) -> Unit:
    if parent_id is not None and session.get(Unit, parent_id) is None:
        raise ValueError(f"no parent unit {parent_id}")
    unit = Unit(code=code, name=name, parent_id=parent_id, contact_phone=contact_phone, active=True)
    try:
        with session.begin_nested():
            session.add(unit)
    except IntegrityError as exc:
        raise UnitExists(f"unit code {code!r} already exists") from exc
    return unit


def list_units(session: Session, active_only: bool = True) -> list[Unit]:
    stmt = select(Unit).order_by(Unit.code)
    if active_only:
        stmt = stmt.where(Unit.active.is_(True))
    return list(session.scalars(stmt))
