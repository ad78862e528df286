"""The ACD API: agents act on their own seat, supervisors see all, force and ask the staffing advisor."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from acd.resources import router
from hotline.security import Principal, Role
from tests.acd.conftest import until

USERS = {"a1001": Principal("a1001", Role.agent, "1001"), "boss": Principal("boss", Role.supervisor),
         "admin": Principal("admin", Role.admin)}


def make_app(bus, ami) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(router)
    app.state.bus = bus
    app.state.ami = ami

    @app.middleware("http")
    async def who(request: Request, call_next):  # type: ignore[no-untyped-def]
        request.state.principal = USERS.get(request.headers.get("x-user", ""))
        return await call_next(request)

    return app


def client(app: FastAPI, user: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers={"x-user": user})


async def test_agent_console_and_supervisor(sim, acd, bus, ami):
    app = make_app(bus, ami)
    async with client(app, "a1001") as me, client(app, "boss") as boss, client(app, "admin") as admin:
        assert (await me.post("/acd/me/login")).status_code == 200

        async def ready() -> bool:
            body = (await me.get("/acd/me")).json()
            return body["state"] == "ready" and body["label"] == "示闲"

        await until(ready)
        bad = await me.post("/acd/me/not-ready", json={"reason": "nap"})
        assert bad.status_code == 422 and "unknown not-ready reason" in bad.json()["detail"]
        assert (await me.post("/acd/me/not-ready", json={"reason": "用餐"})).status_code == 200
        assert (await me.post("/acd/me/wrap-up-done")).status_code == 409
        assert (await me.get("/acd/agents")).status_code == 403
        assert (await admin.get("/acd/agents")).status_code == 403

        forced = await boss.post("/acd/agents/1001/ready")
        assert forced.status_code == 200

        async def forced_ready() -> bool:
            rows = (await boss.get("/acd/agents")).json()
            return any(r["agent_id"] == "1001" and r["state"] == "ready" for r in rows)

        await until(forced_ready)
        assert (await boss.post("/acd/agents/1001/penalty", json={"queue": "hotline-general", "penalty": 3})
                ).status_code == 200
        assert sim.pbx.queues.queues["hotline-general"].members["PJSIP/1001"].penalty == 3
        assert (await boss.post("/acd/agents/1001/dance")).status_code == 404
        assert (await boss.post("/acd/agents/9999/ready")).status_code == 422

        plan = await boss.post("/acd/staffing", json={"calls_per_hour": 600, "aht_seconds": 240,
                                                      "patience_seconds": 90})
        assert plan.status_code == 200 and plan.json()["agents"] == 43 and plan.json()["p_answered"] >= 0.95
        day = await boss.post("/acd/staffing/day", json={"forecast": [100] * 48, "aht_seconds": 240,
                                                         "patience_seconds": 90})
        assert day.status_code == 200 and len(day.json()) == 48
        assert (await boss.post("/acd/staffing/day", json={"forecast": [1] * 3, "aht_seconds": 240,
                                                           "patience_seconds": 90})).status_code == 422
        for absurd in ({"calls_per_hour": 85473, "aht_seconds": 240, "patience_seconds": 90},    # a city's peak is
                       {"calls_per_hour": 600, "aht_seconds": 1.2e-7, "patience_seconds": 90},   # far below; nobody
                       {"calls_per_hour": 600, "aht_seconds": 240, "patience_seconds": 5e-324}):  # talks 0 s
            assert (await boss.post("/acd/staffing", json=absurd)).status_code == 422, absurd
        assert (await boss.post("/acd/staffing/day", json={"forecast": [50_000] * 48, "aht_seconds": 240,
                                                           "patience_seconds": 90})).status_code == 422
        assert (await me.post("/acd/staffing", json={"calls_per_hour": 1, "aht_seconds": 1,
                                                     "patience_seconds": 1})).status_code == 403
        guard = (await boss.get("/acd/guard")).json()
        assert "hotline-general" in guard["queues"]


async def test_no_pbx_link_is_503(bus):
    app = make_app(bus, None)
    async with client(app, "a1001") as me:
        assert (await me.post("/acd/me/login")).status_code == 503
        assert (await me.get("/acd/me")).json()["state"] == "logged_out"


async def test_a_pbx_link_that_is_down_is_a_clear_503(bus):  # type: ignore[no-untyped-def]
    from hotline.ami.client import AmiClient
    from hotline.redis_server import free_port

    ami = AmiClient("127.0.0.1", free_port(), "hotline", "hotline-secret", action_timeout=0.3)  # nothing listens
    try:
        async with client(make_app(bus, ami), "a1001") as me:
            reply = await me.post("/acd/me/login")  # QueueAdd: the first thing it needs is the PBX
        assert reply.status_code == 503 and reply.json()["detail"].startswith("交换机连接中断")
    finally:
        await ami.close()
