"""SQL and script injection in work-order text, caller names, KB search and the login form: stored as
text (read back equal), never interpreted by the database, and shown escaped in the pages."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.workorders.models import WorkOrder

PAYLOADS = [
    "'; DROP TABLE work_orders; --",
    "\" OR 1=1 --",
    "1' UNION SELECT password_hash FROM console_users --",
    "<script>alert('xss')</script>",
    "<img src=x onerror=alert(1)>",
    "{{ 7*7 }} ${7*7} {% raw %}",
    "%' AND 1=0 UNION SELECT NULL --",
    "小区噪音\x00扰民 \\' \\\" `rm -rf /`",
    "\u202e反转文字 \ufeff零宽",
]
STATIC = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_work_order_text_and_names_are_stored_as_text(live, sessions, db_session_factory, payload: str) -> None:  # type: ignore[no-untyped-def]
    agent = sessions["agent"]
    body = {"category": "complaint", "content": payload, "caller_name": payload[:100], "location": payload[:255],
            "caller_number": "13912345678"}
    resp = await agent.client.post("/api/workorders", json=body, headers=agent.headers())
    if "\x00" in payload:
        # PostgreSQL text cannot hold NUL: refused with a clear 422 on every database, never a 500
        assert resp.status_code == 422, resp.text
        return
    assert resp.status_code == 201, resp.text
    created = resp.json()
    got = (await agent.client.get(f"/api/workorders/{created['id']}", headers=agent.headers())).json()
    assert (got["content"], got["caller_name"], got["location"]) == (payload, payload[:100], payload[:255])
    with db_session_factory() as s:
        assert s.scalar(select(func.count()).select_from(WorkOrder)) == 1  # the table is still there
    listed = await agent.client.get("/api/workorders", params={"q": payload}, headers=agent.headers())
    assert listed.status_code < 500


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_kb_search_treats_queries_as_text(live, sessions, payload: str) -> None:  # type: ignore[no-untyped-def]
    agent = sessions["agent"]
    resp = await agent.client.get("/api/kb/search", params={"q": payload}, headers=agent.headers())
    assert resp.status_code in (200, 422), resp.text
    if resp.status_code == 200:
        assert isinstance(resp.json(), list | dict)


async def test_login_page_escapes_what_it_echoes(live) -> None:  # type: ignore[no-untyped-def]
    import httpx

    payload = "\"><script>alert('xss')</script>"
    async with httpx.AsyncClient(base_url=live.url) as client:
        resp = await client.post("/login", data={"username": payload, "password": "x"},
                                  headers={"Origin": live.origin, "Accept": "text/html"})
    assert "<script>alert" not in resp.text
    assert payload not in resp.text
    if "alert" in resp.text:
        assert html.escape(payload, quote=True) in resp.text or "&#34;&gt;&lt;script&gt;" in resp.text


def test_console_scripts_never_build_markup_from_data() -> None:
    """Pages fill caller data with textContent only; a guard against an innerHTML slipping in."""
    sinks = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function")
    offenders = []
    for folder in ("agent_console/static", "metrics/static"):
        for path in (STATIC / folder).glob("*.js"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if any(s in line for s in sinks) and not line.lstrip().startswith("//"):
                    offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize(("role", "path", "body"), [
    ("agent", "/api/handoffs", {"service": "110", "summary": "有人持刀\x00闹事"}),
    ("agent", "/api/handoffs", {"service": "119", "summary": "起火", "location": "某小区\x00三栋"}),
    ("supervisor", "/api/units", {"code": "nul-unit", "name": "区住建局\x00"}),
])
async def test_nul_in_any_stored_text_is_a_422_on_every_database(live, sessions, role, path, body) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL text cannot hold NUL (SQLite can): every write API refuses it the same way (hotline.text)."""
    who = sessions[role]
    resp = await who.client.post(path, json=body, headers=who.headers())
    assert resp.status_code == 422, resp.text
    clean = {key: value.replace("\x00", "") if isinstance(value, str) else value for key, value in body.items()}
    assert (await who.client.post(path, json=clean, headers=who.headers())).status_code == 201


@pytest.mark.parametrize(("path", "params"), [
    ("/api/handoffs", {"call_id": "1700000000.1\x00"}),  # schemathesis found this one a 500 on PostgreSQL
    ("/api/workorders", {"q": "小区噪音\x00扰民"}),
    ("/api/callers/139%0012345678/history", {}),  # a path parameter, sent percent-encoded
])
async def test_nul_in_a_url_is_a_422_on_every_database(live, sessions, path, params) -> None:  # type: ignore[no-untyped-def]
    """Query strings and path parameters filter on text columns: a NUL there is refused like one in a body."""
    who = sessions["supervisor"]
    resp = await who.client.get(path, params=params, headers=who.headers())
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["msg"] == "text must not contain NUL characters"
    assert resp.headers["x-content-type-options"] == "nosniff"  # the security headers still go on
    clean = {key: value.replace("\x00", "") for key, value in params.items()}
    assert (await who.client.get(path.replace("%00", ""), params=clean, headers=who.headers())).status_code == 200
