"""The `console` role of `hotline run` (hotline.runtime): the console app under uvicorn until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import uvicorn

from .app import create_app

if TYPE_CHECKING:
    from hotline.runtime import RoleContext

log = logging.getLogger(__name__)
WS_MAX_SIZE = 64 * 1024  # a client frame larger than this closes that socket (1009) before the app sees it


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: uvicorn re-raises SIGINT/SIGTERM after its shutdown, which
    would end the process before the runtime's cleanup (embedded Redis, AMI, bus) runs. The process
    owner cancels this role instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def pbx_link(ctx: RoleContext) -> Any:
    """The process's AMI client for the ACD routes. An unreachable PBX does not stop the console: the client
    keeps trying in the background (hotline.ami.client.AmiClient.connect)."""
    try:
        return await ctx.ami()
    except Exception as exc:
        log.warning("AMI not reachable yet (%s); the ACD routes answer errors until it is", exc)
        return ctx._ami


def server_for(ctx: RoleContext, ami: Any = None) -> uvicorn.Server:
    app = create_app(ctx.settings, ctx.session_factory, ctx.bus, ami=ami,
                     idle_timeout=ctx.settings.session_idle_timeout)
    config = uvicorn.Config(app, host=ctx.settings.console_host, port=ctx.settings.console_port,
                            ws_max_size=WS_MAX_SIZE, proxy_headers=False, log_level="info", lifespan="off")
    return _Server(config)


async def run_role(ctx: RoleContext) -> None:
    server = server_for(ctx, await pbx_link(ctx))
    serving = asyncio.create_task(server.serve(), name="console:uvicorn")
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        server.should_exit = True  # close the sockets and finish the open requests, then stop
        await serving
        raise
    finally:
        await server.config.app.state.hub.aclose()  # the websockets' Redis reader
