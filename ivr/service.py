"""The `ivr` role of `hotline run` (hotline.runtime): the FastAGI server with every flow until cancelled."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hotline.bus import redis_client
from hotline.fastagi import FastAgiServer
from ivr.app import build_routes
from ivr.records import SqlOrderRecords
from ivr.services import HotlineIvrServices

if TYPE_CHECKING:
    from hotline.runtime import RoleContext

log = logging.getLogger(__name__)


async def run_role(ctx: RoleContext) -> None:
    settings = ctx.settings
    services = HotlineIvrServices(redis_client(ctx.redis_url), SqlOrderRecords(ctx.session_factory))
    server = FastAgiServer(build_routes(services), settings.fastagi_host, settings.fastagi_port)
    await server.start()
    log.info("FastAGI on %s:%s", settings.fastagi_host, server.port)
    try:
        await server.serve_forever()
    finally:
        await server.close(grace=2.0)  # calls in the IVR get 2 s, then Asterisk goes on (AGISTATUS)
        await services.redis.aclose()
