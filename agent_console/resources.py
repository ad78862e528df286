"""HTTP routes of the console: login/logout, the pages, and the console's own small API."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from acd.bus_consumer import REQUESTS_STREAM
from hotline.api_deps import get_db
from hotline.bus import EventBus
from hotline.security import Principal, Role, require_roles

from .models import ConsoleUser
from .schemas import PAUSE_REASON_LABELS, Me, StateAccepted, StateRequest, UserCreate, UserOut
from .sessions import COOKIE_NAME
from .users import NewUser, UserError, create_user

router = APIRouter()

ANY_ROLE = require_roles(Role.agent, Role.expert, Role.supervisor, Role.admin)
SEATED = require_roles(Role.agent, Role.expert)
Db = Annotated[Session, Depends(get_db)]
AnyRole = Annotated[Principal, Depends(ANY_ROLE)]
Seated = Annotated[Principal, Depends(SEATED)]
AgentOnly = Annotated[Principal, Depends(require_roles(Role.agent))]
ExpertOnly = Annotated[Principal, Depends(require_roles(Role.expert))]
SupervisorOnly = Annotated[Principal, Depends(require_roles(Role.supervisor))]
AdminOnly = Annotated[Principal, Depends(require_roles(Role.admin))]
LANDING = {Role.agent: "/agent", Role.expert: "/expert", Role.supervisor: "/supervisor", Role.admin: "/admin"}


def _render(request: Request, template: str, status_code: int = 200, **context: object) -> HTMLResponse:
    from hotline.domain import CATEGORY_LABELS, Urgency

    session = request.state.session
    context.setdefault("principal", request.state.principal)
    context["csrf_token"] = session.csrf_token if session else ""
    context["categories"] = [(c.value, label) for c, label in CATEGORY_LABELS.items()]
    context["urgencies"] = [(u.value, u.label) for u in Urgency]
    context["pause_reasons"] = list(PAUSE_REASON_LABELS.items())
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/", include_in_schema=False)
async def landing(request: Request) -> Response:
    principal: Principal | None = request.state.principal
    return RedirectResponse(LANDING[principal.role] if principal else "/login", status.HTTP_303_SEE_OTHER)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request) -> Response:
    return _render(request, "login.html", error=None)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login", include_in_schema=False)
async def login(request: Request, username: Annotated[str, Form(max_length=64)],
                password: Annotated[str, Form(max_length=256)],
                db: Db) -> Response:
    app = request.app.state
    ip = _client_ip(request)
    if await app.login_limiter.blocked(username, ip):
        return _render(request, "login.html", status.HTTP_429_TOO_MANY_REQUESTS,
                       error="登录失败次数过多，请稍后再试。", username=username)
    principal = app.authenticator.authenticate(db, username, password)
    if principal is None:
        await app.login_limiter.record_failure(username, ip)
        return _render(request, "login.html", status.HTTP_401_UNAUTHORIZED, error="用户名或密码错误。",
                       username=username)
    await app.login_limiter.record_success(username, ip)
    old = request.state.session_token
    if old:
        await app.session_store.delete(old)  # no session fixation: a login always starts a new session
    token, _ = await app.session_store.create(principal)
    response = RedirectResponse(LANDING[principal.role], status.HTTP_303_SEE_OTHER)
    response.set_cookie(COOKIE_NAME, token, max_age=app.settings.session_max_age, httponly=True,
                        secure=app.secure_cookies, samesite="strict", path="/")
    return response


@router.post("/logout")
async def logout(request: Request, _: AnyRole) -> Response:
    await request.app.state.session_store.delete(request.state.session_token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, secure=request.app.state.secure_cookies,
                           samesite="strict")
    return response


@router.get("/agent", response_class=HTMLResponse, include_in_schema=False)
async def agent_page(request: Request, _: AgentOnly) -> Response:
    return _render(request, "agent.html")


@router.get("/expert", response_class=HTMLResponse, include_in_schema=False)
async def expert_page(request: Request, _: ExpertOnly) -> Response:
    return _render(request, "expert.html")


@router.get("/supervisor", response_class=HTMLResponse, include_in_schema=False)
async def supervisor_page(request: Request, _: SupervisorOnly) -> Response:
    return _render(request, "supervisor.html")


@router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
async def admin_page(request: Request, _: AdminOnly) -> Response:
    return _render(request, "admin.html")


@router.get("/api/console/me", response_model=Me)
async def me(request: Request, principal: AnyRole) -> Me:
    return Me(username=principal.username, role=principal.role, agent_id=principal.agent_id,
              csrf_token=request.state.session.csrf_token, sees_full_numbers=principal.sees_full_numbers)


@router.post("/api/console/state", response_model=StateAccepted, status_code=status.HTTP_202_ACCEPTED)
async def request_state(body: StateRequest, request: Request, principal: Seated) -> StateAccepted:
    """A state request on stream `acd:requests` for the ACD to honour (the page uses it for 话后整理 on
    request; 签入/示闲/示忙/结束整理/签出 go to the ACD's own routes, /api/acd/me/...)."""
    if (body.state == "paused") != (body.reason is not None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "示忙须选择原因，其他状态不带原因 (reason goes with state=paused only)")
    bus: EventBus = request.app.state.bus
    event = {"type": "agent.state_requested", "agent_id": principal.agent_id, "state": body.state,
             "reason": body.reason, "by": principal.username, "ts": time.time()}
    event_id = await bus.publish(REQUESTS_STREAM, event)
    await bus.redis.hset(bus.prefix + "console:requested-state", principal.agent_id,  # type: ignore[arg-type]
                         body.state if body.reason is None else f"{body.state}:{body.reason}")
    return StateAccepted(agent_id=principal.agent_id or "", state=body.state, reason=body.reason, event_id=event_id)


@router.get("/api/console/users", response_model=list[UserOut])
def list_users(db: Db, _: AdminOnly) -> list[UserOut]:
    rows = db.scalars(select(ConsoleUser).order_by(ConsoleUser.username)).all()
    return [UserOut(username=r.username, role=Role(r.role), agent_id=r.agent_id, display_name=r.display_name,
                    active=r.active) for r in rows]


@router.post("/api/console/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def add_user(body: UserCreate, request: Request, db: Db,
             _: AdminOnly) -> UserOut:
    try:
        row = create_user(db, NewUser(body.username, body.role, body.password, body.agent_id, body.display_name),
                          request.app.state.authenticator.hasher)
    except UserError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return UserOut(username=row.username, role=Role(row.role), agent_id=row.agent_id,
                   display_name=row.display_name, active=row.active)
