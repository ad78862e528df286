"""The IVR as FastAGI routes, and its process: `python -m ivr` serves them on HOTLINE_FASTAGI_HOST:PORT."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable

from hotline.bus import redis_client
from hotline.fastagi import AgiSession, FastAgiServer, Handler
from hotline.fastagi.dialplan import missing_routes
from hotline.settings import get_settings
from ivr.config import IvrConfig
from ivr.flows.base import FlowContext
from ivr.flows.callback import callback_route
from ivr.flows.order_status import order_status_route
from ivr.flows.queue_announce import queue_announce_route
from ivr.flows.survey import survey_route
from ivr.flows.welcome import welcome_route
from ivr.services import HotlineIvrServices, IvrServices

log = logging.getLogger(__name__)

FLOWS: dict[str, Callable[[FlowContext], Awaitable[None]]] = {
    "ivr": welcome_route,               # the dialplan's AGI(agi://host:4573/ivr) (rig-config/extensions.conf)
    "order-status": order_status_route,
    "queue-announce": queue_announce_route,
    "survey": survey_route,
    "callback": callback_route,         # asterisk_config's hotline-after-queue / hotline-queue-exit
}


def build_routes(services: IvrServices, config: IvrConfig | None = None) -> dict[str, Handler]:
    config = config or IvrConfig()

    def bind(flow: Callable[[FlowContext], Awaitable[None]]) -> Handler:
        async def handler(session: AgiSession) -> None:
            await flow(FlowContext(session, services, config))
        return handler

    return {path: bind(flow) for path, flow in FLOWS.items()}


def build_services(redis_url: str, database_url: str | None) -> HotlineIvrServices:
    records = None
    if database_url:
        from hotline.db import make_engine, make_session_factory
        from ivr.records import SqlOrderRecords

        records = SqlOrderRecords(make_session_factory(make_engine(database_url)))
    return HotlineIvrServices(redis_client(redis_url), records)


async def serve(extensions_conf: str | None = None) -> None:
    settings = get_settings()
    if not settings.redis_url:
        raise SystemExit("set REDIS_URL: the IVR reads the ACD's queue figures from Redis")
    routes = build_routes(build_services(settings.redis_url, settings.database_url))
    if extensions_conf:
        for call in missing_routes(extensions_conf, routes):
            log.error("dialplan context %s calls %s but no IVR flow serves %r", call.context, call.url, call.script)
    server = FastAgiServer(routes, settings.fastagi_host, settings.fastagi_port)
    await server.start()
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ivr", description="the hotline's FastAGI IVR server")
    parser.add_argument("--extensions-conf", help="check that every AGI script this dialplan calls is served")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(args.extensions_conf))
