"""Login, sessions, rate limiting, CSRF/Origin and security headers against a real console server."""

from __future__ import annotations

import json

import httpx
from websockets.asyncio.client import connect

from agent_console.middleware import CSP
from agent_console.sessions import COOKIE_NAME

from .conftest import login
from .server import PASSWORD, ConsoleServer


def anon(console: ConsoleServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=console.url, follow_redirects=False)


async def test_login_sets_an_httponly_strict_cookie_and_lands_on_the_role_page(live: ConsoleServer) -> None:
    async with anon(live) as client:
        resp = await client.post("/login", data={"username": "agent1", "password": PASSWORD},
                                 headers={"Origin": live.origin})
        assert resp.status_code == 303
        assert resp.headers["location"] == "/agent"
        cookie = resp.headers["set-cookie"]
        assert cookie.startswith(COOKIE_NAME + "=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        page = await client.get("/agent")
        assert page.status_code == 200
        assert "坐席工作台" in page.text and "示闲" in page.text
        me = await client.get("/api/console/me")
        assert me.json()["username"] == "agent1" and me.json()["agent_id"] == "1001"


async def test_the_session_lives_in_redis_not_in_the_cookie(live: ConsoleServer, redis_sync) -> None:  # type: ignore[no-untyped-def]
    session = await login(live, "super1")
    token = session.client.cookies[COOKIE_NAME]
    keys = redis_sync.keys(live.prefix + "console:session:*")
    assert len(keys) == 1 and token not in keys[0]  # stored under an HMAC of the token
    assert redis_sync.hget(keys[0], "role") == "supervisor"
    await session.client.aclose()


async def test_wrong_password_and_unknown_user_get_the_same_refusal(live: ConsoleServer) -> None:
    async with anon(live) as client:
        wrong = await client.post("/login", data={"username": "agent1", "password": "nope-nope"},
                                  headers={"Origin": live.origin})
        unknown = await client.post("/login", data={"username": "ghost", "password": "nope-nope"},
                                    headers={"Origin": live.origin})
    for resp in (wrong, unknown):
        assert resp.status_code == 401
        assert "用户名或密码错误" in resp.text
        assert COOKIE_NAME not in resp.headers.get("set-cookie", "")


async def test_login_is_rate_limited_per_user(live: ConsoleServer) -> None:
    async with anon(live) as client:
        for _ in range(5):
            resp = await client.post("/login", data={"username": "agent1", "password": "bad-password"},
                                     headers={"Origin": live.origin})
            assert resp.status_code == 401
        # locked: even the right password is refused for the rest of the window
        resp = await client.post("/login", data={"username": "agent1", "password": PASSWORD},
                                 headers={"Origin": live.origin})
        assert resp.status_code == 429
        assert "登录失败次数过多" in resp.text
        # another user from the same address is not locked yet
        resp = await client.post("/login", data={"username": "agent2", "password": PASSWORD},
                                 headers={"Origin": live.origin})
        assert resp.status_code == 303


async def test_login_is_rate_limited_per_address(live: ConsoleServer) -> None:
    async with anon(live) as client:
        for i in range(8):  # per_ip=8 in the test console; each username stays under its own limit
            resp = await client.post("/login", data={"username": f"user{i}", "password": "bad-password"},
                                     headers={"Origin": live.origin})
            assert resp.status_code == 401
        resp = await client.post("/login", data={"username": "agent2", "password": PASSWORD},
                                 headers={"Origin": live.origin})
        assert resp.status_code == 429


async def test_session_expires_at_max_age_even_when_active(live: ConsoleServer) -> None:
    session = await login(live, "agent1")
    assert (await session.client.get("/api/console/me")).status_code == 200
    for step in (500, 1000, 1500, 2000, 2500, 3000, 3500, 3599):  # active, never idle 600 s
        live.clock.offset = step  # settings.session_max_age = 3600
        assert (await session.client.get("/api/console/me")).status_code == 200
    live.clock.offset = 3600 + 1
    assert (await session.client.get("/api/console/me")).status_code == 401
    live.clock.offset = 0  # the record was deleted: going back in time does not revive it
    assert (await session.client.get("/api/console/me")).status_code == 401
    await session.client.aclose()


async def test_session_expires_after_idle_timeout_and_activity_extends_it(live: ConsoleServer) -> None:
    session = await login(live, "agent1")
    for step in (500, 1000, 1500):  # idle_timeout = 600: each request restarts the idle timer
        live.clock.offset = step
        assert (await session.client.get("/api/console/me")).status_code == 200
    live.clock.offset = 1500 + 601
    assert (await session.client.get("/api/console/me")).status_code == 401
    await session.client.aclose()


async def test_page_without_session_redirects_to_login(live: ConsoleServer) -> None:
    async with anon(live) as client:
        resp = await client.get("/agent", headers={"Accept": "text/html"})
        assert resp.status_code == 303 and resp.headers["location"] == "/login"
        api = await client.get("/api/console/me", headers={"Accept": "application/json"})
        assert api.status_code == 401


async def test_logout_ends_the_session_server_side(live: ConsoleServer) -> None:
    session = await login(live, "agent1")
    stolen = dict(session.client.cookies)
    resp = await session.client.post("/logout", headers=session.headers())
    assert resp.status_code == 204
    async with httpx.AsyncClient(base_url=live.url, cookies=stolen) as replay:
        assert (await replay.get("/api/console/me")).status_code == 401  # the old cookie is worthless
    await session.client.aclose()


async def test_login_gives_a_new_session_id(live: ConsoleServer) -> None:
    session = await login(live, "agent1")
    first = session.client.cookies[COOKIE_NAME]
    resp = await session.client.post("/login", data={"username": "agent1", "password": PASSWORD},
                                     headers={"Origin": live.origin})
    assert resp.status_code == 303
    assert session.client.cookies[COOKIE_NAME] != first
    async with httpx.AsyncClient(base_url=live.url, cookies={COOKIE_NAME: first}) as old:
        assert (await old.get("/api/console/me")).status_code == 401
    await session.client.aclose()


async def test_state_change_without_csrf_token_is_refused(live: ConsoleServer) -> None:
    session = await login(live, "agent1")
    body = {"state": "idle"}
    missing = await session.client.post("/api/console/state", json=body, headers={"Origin": live.origin})
    assert missing.status_code == 403 and missing.json()["code"] == "csrf_refused"
    wrong = await session.client.post("/api/console/state", json=body,
                                      headers=session.headers(**{"X-CSRF-Token": "forged"}))
    assert wrong.status_code == 403
    ok = await session.client.post("/api/console/state", json=body, headers=session.headers())
    assert ok.status_code == 202
    await session.client.aclose()


async def test_csrf_token_of_another_session_is_refused(live: ConsoleServer) -> None:
    one, two = await login(live, "agent1"), await login(live, "agent2")
    resp = await one.client.post("/api/console/state", json={"state": "idle"},
                                 headers=one.headers(**{"X-CSRF-Token": two.csrf}))
    assert resp.status_code == 403
    await one.client.aclose()
    await two.client.aclose()


async def test_cross_origin_posts_are_refused(live: ConsoleServer) -> None:
    session = await login(live, "agent1")
    for origin in ("https://evil.example", "null", f"http://127.0.0.1:{int(live.url.rsplit(':', 1)[1]) + 1}"):
        resp = await session.client.post("/api/console/state", json={"state": "idle"},
                                         headers=session.headers(Origin=origin))
        assert resp.status_code == 403 and resp.json()["code"] == "origin_refused", origin
    no_origin = await session.client.post("/api/console/state", json={"state": "idle"},
                                          headers={"X-CSRF-Token": session.csrf})
    assert no_origin.status_code == 403
    referer = await session.client.post("/api/console/state", json={"state": "idle"},
                                        headers={"X-CSRF-Token": session.csrf, "Referer": live.url + "/agent"})
    assert referer.status_code == 202
    async with anon(live) as client:  # login itself is Origin-checked (login CSRF)
        resp = await client.post("/login", data={"username": "agent1", "password": PASSWORD},
                                 headers={"Origin": "https://evil.example"})
        assert resp.status_code == 403
    await session.client.aclose()


async def test_security_headers_on_pages_api_and_static(live: ConsoleServer) -> None:
    async with anon(live) as client:
        for path in ("/login", "/api/console/me", "/static/console.js"):
            resp = await client.get(path)
            assert resp.headers["content-security-policy"] == CSP
            assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
            assert resp.headers["x-frame-options"] == "DENY"
            assert resp.headers["x-content-type-options"] == "nosniff"
            assert resp.headers["referrer-policy"] == "same-origin"


async def test_pages_contain_no_inline_script_and_no_external_resource(live: ConsoleServer) -> None:
    sessions = {name: await login(live, name) for name in ("agent1", "expert1", "super1", "admin1")}
    async with anon(live) as client:
        pages = [(await client.get("/login")).text]
    for name, path in (("agent1", "/agent"), ("expert1", "/expert"), ("super1", "/supervisor"),
                       ("admin1", "/admin"), ("super1", "/supervisor/wallboard")):  # the last from metrics
        pages.append((await sessions[name].client.get(path)).text)
    for html in pages:
        assert "<script>" not in html and "onclick" not in html and "style=" not in html
        assert "http://" not in html and "https://" not in html and "//cdn" not in html
        assert 'lang="zh-CN"' in html
    for session in sessions.values():
        await session.client.aclose()


async def test_state_request_is_published_for_the_acd(live: ConsoleServer, bus) -> None:  # type: ignore[no-untyped-def]
    session = await login(live, "agent1")
    resp = await session.client.post("/api/console/state", json={"state": "paused", "reason": "meal"},
                                     headers=session.headers())
    assert resp.status_code == 202
    [(entry_id, event)] = await bus.read_since("acd:requests")
    assert entry_id == resp.json()["event_id"]
    assert event["type"] == "agent.state_requested"
    assert (event["agent_id"], event["state"], event["reason"]) == ("1001", "paused", "meal")
    bad = await session.client.post("/api/console/state", json={"state": "paused"}, headers=session.headers())
    assert bad.status_code == 422  # 示忙 needs a reason
    bad = await session.client.post("/api/console/state", json={"state": "idle", "reason": "lunch"},
                                    headers=session.headers())
    assert bad.status_code == 422
    assert len(await bus.read_since("acd:requests")) == 1  # refused requests publish nothing
    assert await bus.read_since("acd") == []  # the ACD's own stream carries confirmed states only
    await session.client.aclose()


async def test_heartbeats_carry_the_state_the_acd_confirmed(live: ConsoleServer, bus) -> None:  # type: ignore[no-untyped-def]
    from acd.services import AgentStore
    from acd.state import Agent

    session = await login(live, "agent1")
    before = (await session.client.get("/api/acd/me")).json()
    assert (before["agent_id"], before["state"], before["label"]) == ("1001", "logged_out", "未登录")
    await AgentStore(bus.redis).save(Agent.from_redis({"agent_id": "1001", "state": "not_ready", "reason": "用餐",
                                                       "since": "1732000000.0"}))
    after = (await session.client.get("/api/acd/me")).json()
    assert (after["state"], after["label"], after["reason"]) == ("not_ready", "示忙", "用餐")
    other = await login(live, "agent2")  # each seat reads its own state only
    assert (await other.client.get("/api/acd/me")).json()["state"] == "logged_out"
    ws = await connect(live.ws_url, origin=live.origin, additional_headers={"Cookie": session.cookie})  # type: ignore[arg-type]
    while (beat := json.loads(await ws.recv()))["type"] != "heartbeat":
        pass
    assert (beat["agent_state"]["state"], beat["agent_state"]["reason"]) == ("not_ready", "用餐")  # the same view
    await ws.close()
    await session.client.aclose()
    await other.client.aclose()
