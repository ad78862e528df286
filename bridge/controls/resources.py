"""HTTP routes of the call controls (served by the agent console under `/api/calls`).

The host app must set `app.state.ami` (a connected `hotline.ami.client.AmiClient`), `app.state.bus` and
`app.state.session_factory`; optionally `app.state.control_dialplan` (`ControlDialplan`, e.g.
`ControlDialplan.simulator()` against pbxsim) and `app.state.kb` (KB hits in the expert's invitation).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from bridge.controls.schemas import ConsultRequest, ControlOut, Empty, ThreeWayRequest, TransferRequest
from bridge.controls.services import ControlError, ControlService
from bridge.pops.services import PopBuilder
from hotline.security import Principal, Role, require_roles

router = APIRouter(prefix="/api/calls", tags=["call controls"])
OnCall = Annotated[Principal, Depends(require_roles(Role.agent, Role.expert))]
Expert = Annotated[Principal, Depends(require_roles(Role.expert))]
CallId = Annotated[str, Path(pattern=r"^[0-9]{1,20}\.[0-9]{1,10}$", description="Uniqueid of the citizen's channel")]


def get_controls(request: Request) -> ControlService:
    state = request.app.state
    service = getattr(state, "call_controls", None)
    if service is None:
        ami = getattr(state, "ami", None)
        if ami is None:
            raise HTTPException(503, "未连接交换机（app.state.ami 未设置），无法操作通话")
        builder = PopBuilder(state.session_factory, getattr(state, "kb", None))
        service = state.call_controls = ControlService(ami, state.bus, state.session_factory, builder=builder,
                                                       dialplan=getattr(state, "control_dialplan", None))
    return service


Controls = Annotated[ControlService, Depends(get_controls)]


def _fail(exc: ControlError) -> HTTPException:
    return HTTPException(exc.status, {"code": exc.code, "message": exc.message})


def _out(result: dict) -> ControlOut:
    return ControlOut.model_validate({k: result.get(k) for k in ControlOut.model_fields} | {
        "message": result.get("message") or ""})


@router.post("/{call_id}/transfer", response_model=ControlOut, summary="一键呼转 110/119/120 (records the 警单)")
async def transfer(call_id: CallId, body: TransferRequest, principal: OnCall, controls: Controls) -> ControlOut:
    try:
        return _out(await controls.transfer(principal, call_id, body.target, summary=body.summary,
                                            location=body.location, order_id=body.order_id))
    except ControlError as exc:
        raise _fail(exc) from exc


@router.post("/{call_id}/threeway", response_model=ControlOut, summary="三方通话 with an expert or 110")
async def threeway(call_id: CallId, body: ThreeWayRequest, principal: OnCall, controls: Controls) -> ControlOut:
    try:
        return _out(await controls.threeway(principal, call_id, body.target, summary=body.summary,
                                            location=body.location))
    except ControlError as exc:
        raise _fail(exc) from exc


@router.post("/{call_id}/threeway/accept", response_model=ControlOut, summary="The invited expert joins")
async def accept(call_id: CallId, body: Empty, principal: Expert, controls: Controls) -> ControlOut:
    try:
        return _out(await controls.accept(principal, call_id))
    except ControlError as exc:
        raise _fail(exc) from exc


@router.post("/{call_id}/threeway/decline", response_model=ControlOut, summary="The invited expert declines")
async def decline(call_id: CallId, body: Empty, principal: Expert, controls: Controls) -> ControlOut:
    try:
        return _out(await controls.decline(principal, call_id))
    except ControlError as exc:
        raise _fail(exc) from exc


@router.post("/{call_id}/consult", response_model=ControlOut, summary="咨询专家 before transferring (Atxfer)")
async def consult(call_id: CallId, body: ConsultRequest, principal: OnCall, controls: Controls) -> ControlOut:
    try:
        return _out(await controls.consult(principal, call_id))
    except ControlError as exc:
        raise _fail(exc) from exc


@router.post("/{call_id}/hangup", response_model=ControlOut, summary="Hang up one's own leg of the call")
async def hangup(call_id: CallId, body: Empty, principal: OnCall, controls: Controls) -> ControlOut:
    try:
        return _out(await controls.hangup(principal, call_id))
    except ControlError as exc:
        raise _fail(exc) from exc
