"""HTTP API of caller history (the console's history panel; the screen pop calls the service directly)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from hotline.api_deps import get_db
from hotline.audit.services import record
from hotline.history.services import CallerHistory, caller_history
from hotline.security import Principal, Role, mask_number, require_roles

router = APIRouter(prefix="/callers", tags=["history"])
Staff = Annotated[Principal, Depends(require_roles(Role.agent, Role.expert, Role.supervisor))]


@router.get("/{number}/history", response_model=CallerHistory, summary="A caller's calls and work orders")
def get_history(number: Annotated[str, Path(pattern=r"^\+?[0-9]{3,20}$")],
                session: Annotated[Session, Depends(get_db)], principal: Staff,
                window_days: Annotated[int, Query(ge=1, le=365, description="repeat-caller window")] = 30,
                ) -> CallerHistory:
    history = caller_history(session, number, window=timedelta(days=window_days))
    if not principal.sees_full_numbers:  # role matrix may widen later: keep masking in one place
        history.number = mask_number(history.number) or ""
    # the history is personal data of the caller (Ziyang art. 22)
    record(session, principal, "history", "caller", number,
           {"orders": len(history.orders), "calls": len(history.calls)})
    session.commit()
    return history
