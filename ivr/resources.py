"""HTTP API of the IVR: the notice played after the greeting. Supervisors set and clear it; everyone
on the floor may read it (agents should know what callers have just heard)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from hotline.bus import EventBus
from hotline.security import Principal, Role, require_roles
from ivr import keys
from ivr.notice import NoticeExpired, clear_notice, get_notice, set_notice
from ivr.schemas import Notice, NoticeIn

router = APIRouter(prefix="/api/ivr", tags=["ivr"])

Reader = Annotated[Principal, Depends(require_roles(Role.agent, Role.expert, Role.supervisor, Role.admin))]
Editor = Annotated[Principal, Depends(require_roles(Role.supervisor, Role.admin))]


def _bus(request: Request) -> EventBus:
    return request.app.state.bus


@router.get("/notice", response_model=Notice | None)
async def read_notice(request: Request, _: Reader) -> Notice | None:
    return await get_notice(_bus(request).redis)


@router.put("/notice", response_model=Notice)
async def put_notice(body: NoticeIn, request: Request, who: Editor) -> Notice:
    bus = _bus(request)
    try:
        notice = await set_notice(bus.redis, body, who.username)
    except NoticeExpired as exc:
        raise HTTPException(422, str(exc)) from exc
    await bus.publish(keys.IVR_STREAM, {"type": "notice.set", "ts": time.time(), "by": who.username,
                                        "text": notice.text, "prompt": notice.prompt})
    return notice


@router.delete("/notice", status_code=status.HTTP_204_NO_CONTENT)
async def delete_notice(request: Request, who: Editor) -> Response:
    bus = _bus(request)
    if await clear_notice(bus.redis):
        await bus.publish(keys.IVR_STREAM, {"type": "notice.cleared", "ts": time.time(), "by": who.username})
    return Response(status_code=status.HTTP_204_NO_CONTENT)
