"""HTTP API of hand-offs to 110/119/120."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy.orm import Session

from hotline.api_deps import get_db
from hotline.audit.services import record
from hotline.handoffs.schemas import HandoffCreate, HandoffOut
from hotline.handoffs.services import list_handoffs, record_handoff
from hotline.security import Principal, Role, mask_number, require_roles

router = APIRouter(prefix="/handoffs", tags=["handoffs"])
DB = Annotated[Session, Depends(get_db)]
STAFF = (Role.agent, Role.expert, Role.supervisor)


def _out(handoff, principal: Principal) -> HandoffOut:  # type: ignore[no-untyped-def]
    out = HandoffOut.model_validate(handoff)
    if not principal.sees_full_numbers:
        out.caller_number = mask_number(out.caller_number)
    return out


@router.post("", response_model=HandoffOut, status_code=status.HTTP_201_CREATED,
             summary="Record a transfer to an emergency line (警单)")
def create(body: HandoffCreate, session: DB,
           principal: Annotated[Principal, Depends(require_roles(*STAFF))]) -> HandoffOut:
    try:
        handoff = record_handoff(session, principal, body.service, body.summary, call_id=body.call_id,
                                 order_id=body.order_id, caller_number=body.caller_number,
                                 caller_name=body.caller_name, location=body.location)
    except ValueError as exc:
        session.rollback()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    record(session, principal, "create", "handoff", handoff.id, {"service": handoff.service})
    out = _out(handoff, principal)
    session.commit()
    return out


@router.get("", response_model=list[HandoffOut], summary="Hand-offs, newest first")
def index(session: DB, principal: Annotated[Principal, Depends(require_roles(*STAFF, Role.admin))],
          call_id: str | None = None, order_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[HandoffOut]:
    rows = list_handoffs(session, call_id=call_id, order_id=order_id, limit=limit)
    for row in rows:
        record(session, principal, "read", "handoff", row.id, None)
    out = [_out(r, principal) for r in rows]
    session.commit()
    return out
