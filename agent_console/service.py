"""The `console` role of `hotline run` (hotline.runtime): the console app under uvicorn until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import uvicorn

from hotline.heap import freeze_long_lived

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
        ami = await ctx.ami()
    except Exception as exc:
        log.warning("AMI not reachable yet (%s); the ACD routes answer errors until it is", exc)
        ami = ctx._ami
    if ami is not None:
        # the console sends actions and reads their replies (and the call controls listen for what they need):
        # saying it wants no event lets the link skip them unparsed, ~7% of a standalone console's CPU at
        # 50 calls/s otherwise (roles sharing the link get what they asked for, hotline.ami.client)
        ami.add_listener(_no_events, events=())
    return ami


def _no_events(_item: Any) -> None:
    """Registered with an empty event filter: gets only what every listener gets (a Resync, frames carrying
    an ActionID), and ignores it."""


def server_for(ctx: RoleContext, ami: Any = None, **app_options: Any) -> uvicorn.Server:
    """The console under uvicorn; `app_options` go to `create_app` (e.g. a password hasher)."""
    app = create_app(ctx.settings, ctx.session_factory, ctx.bus, ami=ami,
                     idle_timeout=ctx.settings.session_idle_timeout, **app_options)
    # no permessage-deflate: pops are a few KiB on the call centre's LAN, and compressing each frame cost
    # ~0.2 ms of the process's CPU plus a zlib context per socket (hundreds of sockets per process)
    config = uvicorn.Config(app, host=ctx.settings.console_host, port=ctx.settings.console_port,
                            ws_max_size=WS_MAX_SIZE, ws_per_message_deflate=False, proxy_headers=False,
                            log_level="info", lifespan="off")
    freeze_startup_heap()
    return _Server(config)


def freeze_startup_heap() -> None:
    """What startup imported and built (FastAPI, every domain's routers and models, jieba's tables) lives as long
    as the process: move it out of the collector's reach. Otherwise each full collection walks it all, ~100 ms
    of CPU during which no websocket of the process is served (bench/screen_pop.py)."""
    freeze_long_lived()


def warm_up(kb: Any) -> None:
    try:
        kb.refresh()
    except Exception:  # unmigrated or unreachable database: the first search tries again
        log.exception("knowledge base not loaded at start")
        return
    freeze_startup_heap()  # the index lives as long as the process: out of the collector's walks too


async def run_role(ctx: RoleContext) -> None:
    server = server_for(ctx, await pbx_link(ctx))
    app = server.config.app
    app.state.kb = ctx.knowledge_base  # shared with the pops when they run in this process
    # load the index while the console starts, not on the first agent's search (seconds at 50,000 articles)
    warming = asyncio.create_task(asyncio.to_thread(warm_up, app.state.kb), name="console:kb-warm-up")
    serving = asyncio.create_task(server.serve(), name="console:uvicorn")
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        server.should_exit = True  # close the sockets and finish the open requests, then stop
        await serving
        raise
    finally:
        warming.cancel()
        await server.config.app.state.hub.aclose()  # the websockets' Redis reader
