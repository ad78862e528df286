"""The role matrix: every HTTP route and the websocket of the assembled console (its own routes and the
other domains' routers it includes) admits exactly the roles it declares; plus number masking."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from agent_console.masking import for_principal, mask_numbers
from hotline.security import Principal, Role

from .conftest import Session, login
from .server import ROLE_USER, ConsoleServer

PUBLIC = {("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("GET", "/healthz")}
PATH_VALUES = {"number": "13912345678", "call_id": "1732000000.42"}
ALL_ROLES = tuple(Role)


def iter_routes(app: FastAPI) -> Iterator[tuple[str, str, Any, list[Any]]]:
    """(method, full path, route, extra dependencies) of every API route, through included routers."""
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI keeps included routers as branches
            for ctx in route.effective_route_contexts():
                original = ctx.original_route
                extra = list(getattr(ctx, "dependencies", None) or [])
                path = ctx.path or ctx.frontend_prefix + original.path  # websocket contexts carry no path
                if isinstance(original, APIWebSocketRoute):
                    yield "WS", path, original, extra
                elif isinstance(original, APIRoute):
                    for method in sorted(original.methods):
                        yield method, path, original, extra
        elif isinstance(route, APIWebSocketRoute):
            yield "WS", route.path, route, []
        elif isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield method, route.path, route, []


def declared_roles(route: Any, extra: list[Any]) -> frozenset[Role] | None:
    found: set[Role] = set()
    seen = False
    stack = [route.dependant, *[getattr(d, "dependant", None) for d in extra]]
    calls = [getattr(d, "dependency", None) for d in extra]
    while stack:
        dep = stack.pop()
        if dep is None:
            continue
        calls.append(dep.call)
        stack.extend(dep.dependencies)
    for call in calls:
        allowed = getattr(call, "allowed_roles", None)
        if allowed is not None:
            found = set(allowed) if not seen else found & set(allowed)  # nested checks: all must pass
            seen = True
    return frozenset(found) if seen else None


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)


def test_every_route_declares_its_roles(console: ConsoleServer) -> None:
    routes = list(iter_routes(console.app))
    paths = {path for _, path, _, _ in routes}
    # the other domains' routers are part of the console
    for expected in ("/api/workorders", "/api/callers/{number}/history", "/api/kb/search", "/api/sla/policy",
                     "/api/ivr/notice", "/api/acd/me", "/api/metrics/wallboard", "/api/calls/{call_id}/transfer",
                     "/ws", "/ws/wallboard",
                     "/api/console/state"):
        assert expected in paths, expected
    undeclared = [(m, p) for m, p, route, extra in routes
                  if (m, p) not in PUBLIC and m != "HEAD" and declared_roles(route, extra) is None]
    assert undeclared == []


async def _request(session: Session | None, console: ConsoleServer, method: str, path: str) -> int:
    import httpx

    url = console.url + concrete(path)
    if session is None:
        async with httpx.AsyncClient() as client:
            resp = await client.request(method, url, headers={"Accept": "application/json", "Origin": console.origin})
        return resp.status_code
    body = {} if method in ("POST", "PUT", "PATCH") else None
    resp = await session.client.request(method, url, json=body, headers=session.headers())
    return resp.status_code


async def test_role_matrix_http(live: ConsoleServer, sessions) -> None:  # type: ignore[no-untyped-def]
    failures: list[str] = []
    checked = 0
    for method, path, route, extra in iter_routes(live.app):
        if method in ("HEAD", "WS") or (method, path) in PUBLIC:
            continue
        allowed = declared_roles(route, extra)
        assert allowed is not None, (method, path)
        # the anonymous caller and the four roles at once: each request stands alone
        anonymous, *statuses = await asyncio.gather(
            _request(None, live, method, path), *(_request(sessions[role], live, method, path) for role in ALL_ROLES))
        if anonymous != 401:
            failures.append(f"{method} {path} anonymous -> {anonymous}")
        for role, status in zip(ALL_ROLES, statuses, strict=True):
            if path == "/logout" and status == 204:
                sessions[role] = await login(live, ROLE_USER[role])  # that session just ended
            ok = status not in (401, 403) if role in allowed else status == 403
            if not ok:
                failures.append(f"{method} {path} as {role.value} -> {status} (admits {sorted(allowed)})")
            checked += 1
    assert checked >= 4 * 20
    assert failures == [], "\n".join(failures)


async def test_role_matrix_websocket(live: ConsoleServer, sessions) -> None:  # type: ignore[no-untyped-def]
    sockets = [(path, declared_roles(r, e)) for m, path, r, e in iter_routes(live.app) if m == "WS"]
    assert ("/ws", frozenset(ALL_ROLES)) in sockets
    base = live.ws_url[: -len("/ws")]
    for path, allowed in sockets:
        assert allowed is not None, path
        for role in ALL_ROLES:
            headers = {"Cookie": sessions[role].cookie}
            if role in allowed:
                ws = await connect(base + path, origin=live.origin, additional_headers=headers)  # type: ignore[arg-type]
                await ws.close()
            else:
                with pytest.raises(InvalidStatus) as refused:
                    await connect(base + path, origin=live.origin, additional_headers=headers)  # type: ignore[arg-type]
                assert refused.value.response.status_code == 403, (path, role)
        with pytest.raises(InvalidStatus):
            await connect(base + path, origin=live.origin)  # type: ignore[arg-type]


async def test_pages_admit_only_their_role(live: ConsoleServer, sessions) -> None:  # type: ignore[no-untyped-def]
    pages = {Role.agent: ("/agent", "坐席工作台"), Role.expert: ("/expert", "专家座席"),
             Role.supervisor: ("/supervisor", "值班长"), Role.admin: ("/admin", "系统管理")}
    for role, session in ((r, sessions[r]) for r in ALL_ROLES):
        landing = await session.client.get("/")
        assert landing.headers["location"] == pages[role][0]
        for page_role, (path, title) in pages.items():
            resp = await session.client.get(path)
            if page_role == role:
                assert resp.status_code == 200 and title in resp.text
            else:
                assert resp.status_code == 403


def test_mask_numbers_at_any_depth() -> None:
    event = {"type": "pop.ringing", "caller_number": "13912345678", "history": {
        "number": "13912345678", "orders": [{"caller_number": "02866001234", "content": "13912345678 不是号码字段"}]},
        "call": {"callback_number": "66001234"}, "wait_seconds": 12}
    masked = mask_numbers(event)
    assert masked["caller_number"] == "139****5678"
    assert masked["history"]["number"] == "139****5678"
    assert masked["history"]["orders"][0]["caller_number"] == "028****1234"
    assert masked["call"]["callback_number"] == "******34"
    assert masked["history"]["orders"][0]["content"] == event["history"]["orders"][0]["content"]
    assert masked["wait_seconds"] == 12
    assert event["caller_number"] == "13912345678"  # the original is untouched


def test_masking_follows_the_principal() -> None:
    event = {"caller_number": "13912345678"}
    for role in ALL_ROLES:
        principal = Principal("u", role, "1001" if role in (Role.agent, Role.expert) else None)
        shown = for_principal(event, principal)["caller_number"]
        assert (shown == "13912345678") == principal.sees_full_numbers
        assert (shown == "139****5678") == (role == Role.admin)
