"""The agent console's FastAPI application.

All state (sessions, login counters, event streams) is in Redis, so any number of console processes can
serve agents behind a load balancer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from hotline.bus import EventBus
from hotline.settings import Settings
from hotline.text import RefuseNulInUrls

from . import resources, ws
from .hub import STREAMS_PER_READER, StreamHub
from .middleware import ConsoleSecurityMiddleware
from .ratelimit import LoginLimits, LoginRateLimiter
from .sessions import SessionStore
from .users import Authenticator

HERE = Path(__file__).resolve().parent
DEFAULT_IDLE_TIMEOUT = 30 * 60


def domain_routers() -> list[tuple[APIRouter, str]]:
    """The other domains' HTTP resources served by the console, with the prefix each is mounted under
    (routers whose own prefix lacks `/api` get it here). Every route declares its roles."""
    from acd.resources import router as acd
    from bridge.controls.resources import router as calls
    from hotline.handoffs.resources import router as handoffs
    from hotline.history.resources import router as history
    from hotline.kb.resources import router as kb
    from hotline.sla.resources import router as sla
    from hotline.units.resources import router as units
    from hotline.workorders.resources import router as workorders
    from ivr.resources import router as ivr
    from metrics.resources import router as metrics

    return [(workorders, "/api"), (history, "/api"), (handoffs, "/api"), (units, "/api"), (acd, "/api"),
            (calls, ""), (kb, ""), (sla, ""), (ivr, ""), (metrics, "")]


def create_app(settings: Settings, session_factory: sessionmaker, bus: EventBus, *,
               routers: Iterable[tuple[APIRouter, str]] | None = None, ami: Any = None,
               idle_timeout: int = DEFAULT_IDLE_TIMEOUT,
               login_limits: LoginLimits | None = None, password_hasher: PasswordHasher | None = None,
               allowed_origins: Iterable[str] = (), secure_cookies: bool | None = None,
               heartbeat_seconds: float = 15.0, ws_block_ms: int = 1000,
               ws_streams_per_reader: int = STREAMS_PER_READER, clock: Callable[[], float] = time.time) -> FastAPI:
    """`routers` ((router, prefix) pairs) defaults to `domain_routers()`; pass a list to serve others.
    `ami` (a hotline.ami.client.AmiClient) lets the ACD and call-control routes act on the PBX; without it
    they answer 503."""
    if settings.session_key is None:
        raise RuntimeError("missing secret: set HOTLINE_SESSION_KEY in the environment (or HOTLINE_DEMO=1)")
    app = FastAPI(title="12345 热线坐席控制台", docs_url=None, redoc_url=None, openapi_url=None)
    store = SessionStore(bus.redis, settings.session_key.get_secret_value().encode(), bus.prefix,
                         settings.session_max_age, idle_timeout, clock)
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.bus = bus
    app.state.ami = ami
    app.state.session_store = store
    app.state.login_limiter = LoginRateLimiter(bus.redis, bus.prefix, login_limits)
    app.state.authenticator = Authenticator(password_hasher)
    app.state.secure_cookies = (not settings.demo) if secure_cookies is None else secure_cookies
    app.state.heartbeat_seconds = heartbeat_seconds
    app.state.ws_block_ms = ws_block_ms
    # a few Redis readers for every websocket of the process (agent_console.hub)
    app.state.hub = StreamHub(bus, block_ms=ws_block_ms, streams_per_reader=ws_streams_per_reader)
    app.state.templates = Jinja2Templates(directory=HERE / "templates")

    app.include_router(resources.router)
    app.include_router(ws.router)
    for router, prefix in domain_routers() if routers is None else routers:
        app.include_router(router, prefix=prefix)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(RefuseNulInUrls)  # inside the security middleware: its 422 gets the security headers too
    app.add_middleware(ConsoleSecurityMiddleware, store=store,
                       allowed_origins=frozenset(o.rstrip("/") for o in allowed_origins))

    @app.exception_handler(StarletteHTTPException)
    async def _login_redirect(request: Request, exc: StarletteHTTPException) -> Response:
        # a browser asking for a page without a session is sent to the login page, APIs get the 401
        wants_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 401 and request.method == "GET" and wants_html:
            return RedirectResponse("/login", 303)
        return await http_exception_handler(request, exc)

    return app
