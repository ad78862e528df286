"""HTTP and websocket resources of the metrics area, served by the agent console (include `router`).

- `GET /supervisor/wallboard`                 the 看板 page (large type, for a wall screen)
- `GET /metrics-static/{name}`                its script and style sheet (CSP `script-src 'self'`: no inline code)
- `GET /api/metrics/wallboard`                the current snapshot (JSON) the metrics role keeps in Redis
- `WS  /ws/wallboard`                         live: `{"type": "snapshot", "data"}` every second it changed,
                                              `{"type": "alert", "id", "event"}` for each new `supervisors` entry
- `GET /api/metrics/reports/{daily|monthly}?period=2026-11-21|2026-11&format=csv|html|json` (period: default
  today / this month, China Standard Time)

Roles: supervisor (值班长) and admin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, WebSocket, WebSocketException
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketDisconnect

from hotline.api_deps import get_db
from hotline.bus import EventBus
from hotline.security import Principal, Role, require_roles
from metrics.engine import CST
from metrics.reports import build_report, category_label, report_csv, report_tables
from metrics.state import MetricsStateStore

HERE = Path(__file__).resolve().parent
STATIC = {"wallboard.js": "text/javascript", "wallboard.css": "text/css", "report.css": "text/css"}
SUPERVISION = (Role.supervisor, Role.admin)
PUSH_INTERVAL = 1.0
CLOSE_FORBIDDEN, CLOSE_LOGIN = 4403, 4401

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["category_label"] = category_label
router = APIRouter(tags=["metrics"])
Supervisor = Annotated[Principal, Depends(require_roles(*SUPERVISION))]


def ws_supervisor(websocket: WebSocket) -> Principal:
    """Websocket counterpart of require_roles (FastAPI gives websocket dependencies no Request)."""
    principal = getattr(websocket.state, "principal", None)
    if principal is None:
        raise WebSocketException(CLOSE_LOGIN, "login required")
    if principal.role not in SUPERVISION:
        raise WebSocketException(CLOSE_FORBIDDEN, f"role {principal.role} may not do this")
    return principal


ws_supervisor.allowed_roles = frozenset(SUPERVISION)  # type: ignore[attr-defined]  # the role-matrix test


def _bus(app: Any) -> EventBus:
    return app.state.bus


@router.get("/supervisor/wallboard", response_class=HTMLResponse)
async def wallboard_page(request: Request, principal: Supervisor) -> HTMLResponse:
    return templates.TemplateResponse(request, "wallboard.html", {"principal": principal})


@router.get("/metrics-static/{name}")
async def static_file(name: str, principal: Supervisor) -> FileResponse:
    if name not in STATIC:
        raise HTTPException(404, "not found")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name])


@router.get("/api/metrics/wallboard")
async def wallboard_json(request: Request, principal: Supervisor) -> JSONResponse:
    bus = _bus(request.app)
    snapshot = await MetricsStateStore(bus.redis, bus.prefix).wallboard()
    if snapshot is None:
        raise HTTPException(503, "the metrics role has not published figures yet")
    return JSONResponse(snapshot)


@router.websocket("/ws/wallboard")
async def wallboard_ws(websocket: WebSocket, principal: Annotated[Principal, Depends(ws_supervisor)]) -> None:
    await websocket.accept()
    bus = _bus(websocket.app)
    store = MetricsStateStore(bus.redis, bus.prefix)
    last_alert = await bus.last_id("supervisors")
    sent = None
    receiver = asyncio.create_task(_drain(websocket))
    try:
        while not receiver.done():
            raw = await bus.redis.get(store.wallboard_key)
            if raw is not None and raw != sent:
                await websocket.send_text('{"type":"snapshot","data":' + raw + "}")
                sent = raw
            for entry_id, event in await bus.read_since("supervisors", last_alert, count=100):
                last_alert = entry_id
                await websocket.send_text(json.dumps({"type": "alert", "id": entry_id, "event": event},
                                                     ensure_ascii=False))
            await asyncio.wait({receiver}, timeout=PUSH_INTERVAL)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the wall screen went away
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await receiver


async def _drain(websocket: WebSocket) -> None:
    """The page sends nothing that matters; reading notices the close."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


@router.get("/api/metrics/reports/{kind}")
def report(request: Request, kind: Literal["daily", "monthly"], principal: Supervisor,
           session: Annotated[Session, Depends(get_db)],
           period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}(-\d{2})?$",
                                               description="2026-11-21 / 2026-11, default today / this month")] = None,
           format: Literal["csv", "html", "json"] = "html") -> Response:
    settings = request.app.state.settings
    if period is None:
        today = datetime.now(CST)
        period = today.strftime("%Y-%m-%d" if kind == "daily" else "%Y-%m")
    try:
        built = build_report(session, kind, period, short_abandon_seconds=settings.short_abandon_seconds,
                             service_level_seconds=settings.service_level_seconds)
    except ValueError as exc:
        raise HTTPException(422, f"period {period!r} does not fit a {kind} report: {exc}") from exc
    name = f"hotline-{kind}-{period}"
    if format == "csv":
        # BOM: Excel opens UTF-8 CSV with Chinese headers correctly only with it
        return Response("\ufeff" + report_csv(built), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{name}.csv"'})
    if format == "json":
        data = asdict(built)
        data["tables"] = report_tables(built)
        return JSONResponse(json.loads(json.dumps(data, default=str, ensure_ascii=False)))
    return templates.TemplateResponse(request, "report.html", {
        "report": built, "tables": report_tables(built), "title": "日报" if kind == "daily" else "月报",
        "generated": built.generated_at.astimezone(CST).strftime("%Y-%m-%d %H:%M"), "name": name})
