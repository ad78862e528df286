"""HTTP API of handling units."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy.orm import Session

from hotline.api_deps import get_db
from hotline.audit.services import record
from hotline.security import Principal, Role, require_roles
from hotline.units.schemas import UnitCreate, UnitOut
from hotline.units.services import UnitExists, create_unit, list_units

router = APIRouter(prefix="/units", tags=["units"])
DB = Annotated[Session, Depends(get_db)]


@router.get("", response_model=list[UnitOut], summary="Active handling units (承办单位)")
def index(session: DB,
          _: Annotated[Principal, Depends(require_roles(Role.agent, Role.expert, Role.supervisor, Role.admin))]
          ) -> list[UnitOut]:
    return [UnitOut.model_validate(u) for u in list_units(session)]


@router.post("", response_model=UnitOut, status_code=status.HTTP_201_CREATED, summary="Add a handling unit")
def create(body: UnitCreate, session: DB,
           principal: Annotated[Principal, Depends(require_roles(Role.supervisor, Role.admin))]) -> UnitOut:
    try:
        unit = create_unit(session, body.code, body.name, body.parent_id, body.contact_phone)
    except UnitExists as exc:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    record(session, principal, "create", "unit", unit.id, {"code": unit.code})
    out = UnitOut.model_validate(unit)
    session.commit()
    return out
