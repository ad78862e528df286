"""Running roles: every role is an `async def run_role(ctx: RoleContext)` that serves until cancelled.

One process can run every role (the embedded default) or each role can run alone against shared Redis
and PostgreSQL. Resources the roles share in one process (the AMI connection, the bus, the database) are
made once, on first use, by the context.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import sessionmaker

from hotline.bus import EventBus
from hotline.db import make_engine, make_session_factory, upgrade_to_head
from hotline.redis_server import EmbeddedRedis
from hotline.settings import Settings

log = logging.getLogger(__name__)

# role name → "module:function"
ROLES: dict[str, str] = {
    "ivr": "ivr.service:run_role",
    "bridge": "bridge.service:run_role",
    "pops": "bridge.pops.bus_consumer:run_role",  # screen pops: history, KB hits, audit (the `calls` stream)
    "acd": "acd.service:run_role",
    "console": "agent_console.service:run_role",
    "metrics": "metrics.service:run_role",
    "scheduler": "hotline.scheduler:run_role",
    "calls": "hotline.calls.bus_consumer:run_role",  # the `calls` stream → the calls table
}
ALL_ROLES = tuple(ROLES)


@dataclass
class RoleContext:
    settings: Settings
    redis_url: str
    _session_factory: sessionmaker | None = None
    _bus: EventBus | None = None
    _ami: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def session_factory(self) -> sessionmaker:
        if self._session_factory is None:
            self._session_factory = make_session_factory(make_engine(self.settings.database_url))
        return self._session_factory

    @property
    def knowledge_base(self) -> Any:
        """The process's one KB index (hundreds of MB at 50,000 articles): the pops and the console share it."""
        if "knowledge_base" not in self.extras:
            from hotline.kb.search import KnowledgeBase

            self.extras["knowledge_base"] = KnowledgeBase(self.session_factory)
        return self.extras["knowledge_base"]

    @property
    def bus(self) -> EventBus:
        if self._bus is None:
            self._bus = EventBus.from_url(self.redis_url)
        return self._bus

    async def ami(self) -> Any:
        """The process's one AMI connection (bridge and acd share it)."""
        if self._ami is None:
            from hotline.ami.client import AmiClient

            s = self.settings
            self._ami = AmiClient(host=s.ami_host, port=s.ami_port, username=s.ami_user,
                                  secret=s.ami_secret.get_secret_value() if s.ami_secret else "",
                                  action_timeout=s.ami_action_timeout, ping_interval=s.ami_ping_interval)
            await self._ami.connect()
        return self._ami

    async def close(self) -> None:
        if self._ami is not None:
            await self._ami.close()
        if self._bus is not None:
            await self._bus.redis.aclose()


def resolve(role: str) -> Callable[[RoleContext], Awaitable[None]]:
    if role not in ROLES:
        raise SystemExit(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    module_name, func = ROLES[role].split(":")
    return getattr(importlib.import_module(module_name), func)


def parse_roles(text: str) -> list[str]:
    names = list(ALL_ROLES) if text.strip() == "all" else [r.strip() for r in text.split(",") if r.strip()]
    for name in names:
        resolve(name)
    return names


async def run_roles(settings: Settings, roles: Iterable[str], ctx: RoleContext | None = None) -> None:
    """Run the roles until one fails or the task is cancelled; an embedded Redis is started if needed."""
    embedded: EmbeddedRedis | None = None
    if ctx is None:
        redis_url = settings.redis_url
        if not redis_url:
            embedded = EmbeddedRedis().start()
            redis_url = embedded.url
            log.info("embedded redis-server on %s", redis_url)
        ctx = RoleContext(settings=settings, redis_url=redis_url)
    await asyncio.to_thread(upgrade_to_head, settings.database_url)
    try:
        async with asyncio.TaskGroup() as group:
            for role in roles:
                log.info("starting role %s", role)
                group.create_task(resolve(role)(ctx), name=f"role:{role}")
    finally:
        await ctx.close()
        if embedded:
            embedded.stop()
