"""The notice API: roles, validation, expiry, and the flow hearing what a supervisor set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI, Request

from hotline.bus import EventBus
from hotline.security import Principal, Role
from ivr import keys
from ivr.resources import router

from .conftest import call

PEOPLE = {role: Principal(role.value, role, agent_id="1001" if role == Role.agent else None) for role in Role}


def make_app(redis) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.state.bus = EventBus(redis)
    app.state.principal = None

    @app.middleware("http")
    async def put_principal(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.app.state.principal is not None:  # the console's login middleware does this for real
            request.state.principal = request.app.state.principal
        return await call_next(request)

    app.include_router(router)
    return app


@pytest.fixture
async def api(redis_async):  # type: ignore[no-untyped-def]
    app = make_app(redis_async)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


def as_(api, role: Role | None) -> None:  # type: ignore[no-untyped-def]
    api.app.state.principal = PEOPLE[role] if role else None


async def test_supervisor_sets_notice_and_callers_hear_it(api, server, redis_async) -> None:  # type: ignore[no-untyped-def]
    as_(api, Role.supervisor)
    r = await api.put("/api/ivr/notice", json={"text": "今天 9时至18时\n城东片区停水检修。"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == "今天 9时至18时 城东片区停水检修。" and body["set_by"] == "supervisor"
    assert body["prompt"].startswith("hotline/notice-")
    as_(api, Role.agent)
    assert (await api.get("/api/ivr/notice")).json()["prompt"] == body["prompt"]
    t = await call(server, keys=[None])
    assert body["prompt"] in t.played
    events = await EventBus(redis_async).read_since(keys.IVR_STREAM)
    assert events[-1][1]["type"] == "notice.set"

    as_(api, Role.admin)
    assert (await api.delete("/api/ivr/notice")).status_code == 204
    assert (await api.get("/api/ivr/notice")).json() is None
    t = await call(server, keys=[None])
    assert t.variables["HOTLINE_IVR_PATH"] == "welcome>queue"


@pytest.mark.parametrize(("role", "code"), [(None, 401), (Role.agent, 403), (Role.expert, 403)])
async def test_only_supervisors_and_admins_change_it(api, redis_async, role, code) -> None:  # type: ignore[no-untyped-def]
    as_(api, role)
    assert (await api.put("/api/ivr/notice", json={"text": "x"})).status_code == code
    assert (await api.delete("/api/ivr/notice")).status_code == code
    assert await redis_async.get(keys.NOTICE) is None


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {"text": "x" * 301}, {},
                                  {"text": "ok", "sound": "../../etc/passwd x"},
                                  {"text": "ok", "expires_at": "2030-01-01T00:00:00"},
                                  {"text": "ok", "expires_at": "2000-01-01T00:00:00+08:00"}])
async def test_bad_notice_is_refused_and_nothing_changes(api, redis_async, body) -> None:  # type: ignore[no-untyped-def]
    as_(api, Role.supervisor)
    assert (await api.put("/api/ivr/notice", json={"text": "原通知"})).status_code == 200
    r = await api.put("/api/ivr/notice", json=body)
    assert r.status_code == 422, r.text
    assert (await api.get("/api/ivr/notice")).json()["text"] == "原通知"


async def test_notice_expires(api, redis_async) -> None:  # type: ignore[no-untyped-def]
    as_(api, Role.supervisor)
    until = datetime.now(UTC) + timedelta(hours=2)
    r = await api.put("/api/ivr/notice", json={"text": "临时通知", "expires_at": until.isoformat(),
                                               "sound": "hotline/recorded/outage"})
    assert r.json()["prompt"] == "hotline/recorded/outage"
    ttl = await redis_async.ttl(keys.NOTICE)
    assert 7000 < ttl <= 7200
