"""HTTP API of the ACD. Agents and experts act on their own seat (`/acd/me/...`); supervisors see every
agent, force states and penalties, read the guard figures and ask the staffing advisor.

The host app provides `app.state.bus` and `app.state.ami` (an AmiClient); without an AMI link the state
changing actions answer 503.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status

from acd import erlang, keys
from acd.config import AcdConfig, default_acd_config
from acd.schemas import AgentOut, DayPlanIn, NotReadyIn, PenaltyIn, StaffingIn
from acd.services import AcdError, AgentService, AgentStore
from acd.state import Agent
from hotline.ami.actions import AmiError
from hotline.security import Principal, Role, require_roles

router = APIRouter(prefix="/acd", tags=["acd"])
Seated = Annotated[Principal, Depends(require_roles(Role.agent, Role.expert))]
Supervisor = Annotated[Principal, Depends(require_roles(Role.supervisor))]


def get_config(request: Request) -> AcdConfig:
    return getattr(request.app.state, "acd_config", None) or default_acd_config()


def get_service(request: Request) -> AgentService:
    ami = getattr(request.app.state, "ami", None)
    if ami is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "PBX link unavailable")
    acd = getattr(request.app.state, "acd", None)
    return AgentService(get_config(request), ami, request.app.state.bus.redis, acd.tracker if acd else None)


Service = Annotated[AgentService, Depends(get_service)]


def _seat(principal: Principal) -> str:
    if not principal.agent_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this account has no seat")
    return principal.agent_id


async def _out(store: AgentStore, agent: Agent) -> AgentOut:
    return AgentOut(agent_id=agent.agent_id, state=agent.state.value, label=agent.state.label, reason=agent.reason,
                    since=agent.since, paused=agent.paused, queues=agent.queues, flagged=agent.flagged,
                    seconds_by_state=await store.times(agent.agent_id))


async def _act(service: AgentService, action: str, agent_id: str, *args: Any) -> AgentOut:
    try:
        await getattr(service, action)(agent_id, *args)
    except AcdError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT if "not " in str(exc) else 422, str(exc)) from None
    except AmiError as exc:  # the link is down or Asterisk did not answer: nothing changed, try again later
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"交换机连接中断，请稍后重试 (PBX link down: {exc})") from None
    return await _out(service.store, await service.store.get(agent_id))


@router.get("/me", response_model=AgentOut)
async def my_state(request: Request, who: Seated) -> AgentOut:
    store = AgentStore(request.app.state.bus.redis)
    return await _out(store, await store.get(_seat(who)))


@router.post("/me/login", response_model=AgentOut)
async def login(who: Seated, service: Service) -> AgentOut:
    return await _act(service, "login", _seat(who))


@router.post("/me/ready", response_model=AgentOut)
async def ready(who: Seated, service: Service) -> AgentOut:
    return await _act(service, "ready", _seat(who))


@router.post("/me/not-ready", response_model=AgentOut)
async def not_ready(body: NotReadyIn, who: Seated, service: Service) -> AgentOut:
    return await _act(service, "not_ready", _seat(who), body.reason)


@router.post("/me/wrap-up-done", response_model=AgentOut)
async def wrap_up_done(who: Seated, service: Service) -> AgentOut:
    return await _act(service, "wrap_up", _seat(who))


@router.post("/me/logout", response_model=AgentOut)
async def logout(who: Seated, service: Service) -> AgentOut:
    return await _act(service, "logout", _seat(who))


@router.get("/agents", response_model=list[AgentOut])
async def all_agents(request: Request, _: Supervisor) -> list[AgentOut]:
    store = AgentStore(request.app.state.bus.redis)
    return [await _out(store, agent) for agent in await store.all()]


@router.post("/agents/{agent_id}/penalty", response_model=AgentOut)
async def penalty(agent_id: str, body: PenaltyIn, _: Supervisor, service: Service) -> AgentOut:
    return await _act(service, "set_penalty", agent_id, body.queue, body.penalty)


@router.post("/agents/{agent_id}/{action}", response_model=AgentOut)
async def force(agent_id: str, action: str, _: Supervisor, service: Service,
                body: NotReadyIn | None = None) -> AgentOut:
    actions = {"login": (), "ready": (), "logout": (), "wrap-up-done": (), "not-ready": (body,)}
    if action not in actions:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown action {action!r}")
    if action == "not-ready":
        if body is None:
            raise HTTPException(422, "a reason is required")
        return await _act(service, "not_ready", agent_id, body.reason)
    return await _act(service, {"wrap-up-done": "wrap_up"}.get(action, action), agent_id)


@router.get("/guard")
async def guard_state(request: Request, _: Supervisor) -> dict[str, Any]:
    redis = request.app.state.bus.redis
    return {"active": await redis.hgetall(keys.GUARD_ACTIVE),
            "callback_offer": await redis.hgetall(keys.CALLBACK_OFFER),
            "overflow": await redis.hgetall(keys.OVERFLOW),
            "queues": {q.name: await redis.hgetall(keys.queue_stats(q.name)) for q in get_config(request).queues}}


# plain `def`: FastAPI runs them in its thread pool, so the numerical work never holds up the event loop
@router.post("/staffing")
def staffing(body: StaffingIn, _: Supervisor) -> dict[str, Any]:
    try:
        figures = erlang.agents_needed(body.calls_per_hour / 3600, body.aht_seconds, body.patience_seconds,
                                       answer_rate=body.answer_rate, service_level=body.service_level,
                                       threshold=body.threshold_seconds)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return figures.as_dict()


@router.post("/staffing/day")
def staffing_day(body: DayPlanIn, _: Supervisor) -> list[dict[str, Any]]:
    try:
        rows = erlang.day_plan(body.forecast, body.aht_seconds, body.patience_seconds, answer_rate=body.answer_rate,
                               service_level=body.service_level, threshold=body.threshold_seconds)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return [asdict(row) for row in rows]
