"""HTTP API of work orders: create, read, list, transition, deadline preview."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hotline.api_deps import get_db
from hotline.audit.services import record
from hotline.domain import OrderStatus
from hotline.security import Principal, Role, mask_number, require_roles
from hotline.sla import DeadlineEngine
from hotline.workorders import services
from hotline.workorders.deadlines import engine_from_settings, preview
from hotline.workorders.models import OrderUnit, WorkOrder
from hotline.workorders.schemas import (
    MAX_ID,
    DeadlineOut,
    OrderCreate,
    OrderOut,
    OrderPage,
    PreviewRequest,
    TransitionOut,
    TransitionRequest,
)
from hotline.workorders.state import InvalidTransition, allowed_events

router = APIRouter(prefix="/workorders", tags=["workorders"])
STAFF = (Role.agent, Role.expert, Role.supervisor)
EVERYONE = (*STAFF, Role.admin)
DB = Annotated[Session, Depends(get_db)]
Staff = Annotated[Principal, Depends(require_roles(*STAFF))]
Anyone = Annotated[Principal, Depends(require_roles(*EVERYONE))]


def get_deadline_engine(request: Request) -> DeadlineEngine:
    """`app.state.deadline_engine` when the host app set one, else the configured city's engine."""
    engine = getattr(request.app.state, "deadline_engine", None)
    if engine is None:
        with request.app.state.session_factory() as session:  # with every official year stored so far
            engine = request.app.state.deadline_engine = engine_from_settings(session)
    return engine


Engine = Annotated[DeadlineEngine, Depends(get_deadline_engine)]


def sees_caller(principal: Principal, order: WorkOrder) -> bool:
    """Caller data in full: roles that handle calls; for a 保密件 only supervisors and the accepting agent
    (Foshan art. 60(1)-(2); Ziyang art. 22, 27(2))."""
    if not principal.sees_full_numbers:
        return False
    return not order.confidential or principal.role == Role.supervisor or principal.username == order.created_by


def mask_name(name: str | None) -> str | None:
    return name[:1] + "*" * max(1, len(name) - 1) if name else name


def order_out(session: Session, order: WorkOrder, principal: Principal, *, with_history: bool = False) -> OrderOut:
    full = sees_caller(principal, order)
    terminal_reply = None
    if order.repeat_of_id is not None:
        previous = session.get(WorkOrder, order.repeat_of_id)
        if previous is not None and previous.status == OrderStatus.terminal:
            terminal_reply = previous.terminal_reply
    return OrderOut(
        id=order.id, number=order.number, created_at=order.created_at, updated_at=order.updated_at,
        status=OrderStatus(order.status), status_label=OrderStatus(order.status).label, channel=order.channel,
        category=order.category, urgency=order.urgency,
        caller_name=order.caller_name if full else mask_name(order.caller_name),
        caller_number=order.caller_number if full else mask_number(order.caller_number),
        caller_personal=order.caller_personal if full else None, confidential=order.confidential, masked=not full,
        content=order.content, location=order.location,
        units=[{"unit_id": u.unit_id, "role": u.role} for u in order.units],
        call_ids=[c.call_id for c in order.calls], kb_article_ids=[k.article_id for k in order.kb_articles],
        deadlines=[DeadlineOut.model_validate(d) for d in order.deadlines], answer=order.answer,
        terminal_reply=order.terminal_reply, repeat_of_id=order.repeat_of_id, repeat_of_terminal_reply=terminal_reply,
        extensions=order.extensions, satisfaction=order.satisfaction, version=order.version,
        allowed_events=[e.value for e in allowed_events(order.status)],
        transitions=[TransitionOut.model_validate(t) for t in order.transitions] if with_history else None)


def audit_read(session: Session, principal: Principal, orders: list[WorkOrder], action: str) -> None:
    """Every read of a citizen's personal data leaves a trace (Ziyang art. 22)."""
    for order in orders:
        if order.caller_number or order.caller_name or order.caller_personal:
            record(session, principal, action, "work_order", order.id,
                   {"number": order.number, "masked": not sees_caller(principal, order)})


def _fail(exc: Exception) -> HTTPException:
    if isinstance(exc, services.OrderNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, services.OrderConflict | InvalidTransition):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


@router.post("", response_model=OrderOut, status_code=status.HTTP_201_CREATED, summary="Accept a work order (受理)")
def create_order(body: OrderCreate, session: DB,
                 principal: Staff,
                 engine: Engine) -> OrderOut:
    data = services.NewOrder(**body.model_dump(), agent_id=principal.agent_id)
    try:
        order = services.create_order(session, engine, principal, data)
        session.flush()
    except (ValueError, InvalidTransition) as exc:
        session.rollback()
        raise _fail(exc) from exc
    record(session, principal, "create", "work_order", order.id, {"number": order.number})
    out = order_out(session, order, principal, with_history=True)
    session.commit()
    return out


@router.post("/deadlines/preview", response_model=list[DeadlineOut],
             summary="Deadlines an order would get, for the form before saving")
def preview_deadlines(body: PreviewRequest, principal: Staff,
                      engine: Engine) -> list[DeadlineOut]:
    at = body.at or datetime.now(UTC)
    if at.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at: give a time zone (e.g. +08:00)")
    try:
        return [DeadlineOut(kind=d.kind, due_at=d.due_at, provisional=d.provisional, rule=d.rule, label=d.label)
                for d in preview(engine, body.category, body.urgency, at)]
    except LookupError as exc:  # the calendar has no data for that year
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


@router.get("", response_model=OrderPage, summary="List work orders, newest first")
def list_orders(session: DB, principal: Anyone,
                status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
                caller_number: Annotated[str | None, Query(pattern=r"^\+?[0-9]{3,20}$")] = None,
                unit_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> OrderPage:
    stmt = (select(WorkOrder).order_by(WorkOrder.id.desc()).limit(limit)
            .options(*(selectinload(r) for r in (WorkOrder.units, WorkOrder.deadlines, WorkOrder.calls,
                                                 WorkOrder.kb_articles))))
    if status_ is not None:
        stmt = stmt.where(WorkOrder.status == status_)
    if caller_number:
        stmt = stmt.where(WorkOrder.caller_number == caller_number)
    if unit_id is not None:
        stmt = stmt.where(WorkOrder.id.in_(select(OrderUnit.order_id).where(OrderUnit.unit_id == unit_id)))
    if before_id is not None:
        stmt = stmt.where(WorkOrder.id < before_id)
    orders = list(session.scalars(stmt))
    audit_read(session, principal, orders, "list")
    items = [order_out(session, o, principal) for o in orders]
    session.commit()
    return OrderPage(items=items, next_before_id=orders[-1].id if len(orders) == limit else None)


@router.get("/{order_ref}", response_model=OrderOut, summary="One work order with its history")
def get_order(order_ref: str, session: DB,
              principal: Anyone) -> OrderOut:
    try:
        order = services.get_order(session, order_ref)
    except services.OrderNotFound as exc:
        raise _fail(exc) from exc
    audit_read(session, principal, [order], "read")
    out = order_out(session, order, principal, with_history=True)
    session.commit()
    return out


@router.post("/{order_ref}/transitions", response_model=OrderOut,
             summary="Move an order: dispatch, sign, start_handling, return_to_hotline, extend, complete, "
                     "revisit, redo, archive, mark_terminal")
def transition(order_ref: str, body: TransitionRequest, session: DB,
               principal: Staff,
               engine: Engine) -> OrderOut:
    try:
        order = services.transition(session, engine, principal, order_ref, body.event, body.note,
                                    unit_id=body.unit_id, co_unit_ids=body.co_unit_ids,
                                    satisfaction=body.satisfaction, expected_version=body.expected_version)
    except (services.OrderNotFound, services.OrderConflict, InvalidTransition, ValueError) as exc:
        session.rollback()
        raise _fail(exc) from exc
    record(session, principal, body.event.value, "work_order", order.id, {"number": order.number})
    out = order_out(session, order, principal, with_history=True)
    session.commit()
    return out
