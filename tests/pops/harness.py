"""A rig for the pop and control tests: pbxsim over a real AMI socket → AmiClient → BridgeService → `calls`
stream in a real Redis → PopConsumer → `agent:<id>` streams; history and KB in the real test database.

As in the bridge role, the publisher sends the ringing and answered pops with their `calls` entry
(bridge.pops.early) when the consumer (the pops role) has offered their content; while the consumer is
stopped (a crash of the pops role, the bridge going on) new calls get no read-ahead, so their entries go
out alone and their pops wait for the consumer's restart."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

from bridge.pops.bus_consumer import PopConsumer
from bridge.pops.early import EarlyPops
from bridge.pops.services import PopBuilder
from bridge.service import BridgeService
from hotline.ami.client import AmiClient
from hotline.bus import EventBus, agent_stream
from hotline.domain import Category
from hotline.kb import services as kb_services
from hotline.kb.search import KnowledgeBase
from hotline.sla import DeadlineEngine, WorkCalendar, load_policy
from hotline.tasks import cancel_and_wait
from hotline.workorders import services as wo
from hotline.workorders.services import NewOrder
from pbxsim.config import SeatBehaviour, SimConfig
from pbxsim.distributions import Constant
from pbxsim.simulator import Simulator

NUMBER = "13912345678"
SCALE = 10.0  # ten simulated seconds per wall second


async def until(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.01) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(step)


def seed_history(factory, number: str = NUMBER) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Two orders of this caller on the same matter (a repeat caller), one still open with deadlines."""
    engine = DeadlineEngine(load_policy("ziyang"), WorkCalendar("09:00-12:00,13:30-17:30"))
    now = dt.datetime.now(dt.UTC)
    with factory() as session:
        first = wo.create_order(session, engine, "seed", NewOrder(Category.complaint, "小区夜间施工噪音扰民",
                                                                  caller_number=number, location="雁江区建设路88号"),
                                now=now - dt.timedelta(days=3))
        second = wo.create_order(session, engine, "seed", NewOrder(Category.complaint, "小区夜间施工噪音扰民",
                                                                   caller_number=number, location="雁江区建设路88号"),
                                 now=now - dt.timedelta(days=1))
        article = kb_services.create_article(session, {
            "title": "夜间施工噪音投诉处理流程", "body": "夜间施工噪音扰民的，由属地生态环境部门依法查处。",
            "category": "complaint", "article_type": "business", "owner_unit": "zy-hbj"}, created_by="editor")
        kb_services.submit_article(session, article.id, "editor")
        kb_services.review_article(session, article.id, True, "reviewer")
        session.commit()
        return {"orders": [first.number, second.number], "article_id": article.id}


class Rig:
    def __init__(self, redis_async, factory, *, prefix: str = "test-pops:", consumer: str = "c1",  # type: ignore[no-untyped-def]
                 config: SimConfig | None = None, builder: PopBuilder | None = None) -> None:
        self.bus = EventBus(redis_async, prefix=prefix)
        self.factory = factory
        self.sim = Simulator(config or SimConfig(ami_port=0, agi_url=None, conf_mark_citizen=True,
                                                 default_seat=SeatBehaviour(answer_delay=Constant(1.0)),
                                                 gateway_answer_delay=1.0), scale=SCALE)
        self.kb = KnowledgeBase(factory)
        self.builder = builder or PopBuilder(factory, self.kb)
        self.consumer_name = consumer
        self.consumer: PopConsumer | None = None
        self.early: EarlyPops | None = None  # the bridge's publisher: pops ride with their entries
        self._task: asyncio.Task[None] | None = None
        self.ami: AmiClient | None = None
        self.bridge: BridgeService | None = None

    async def __aenter__(self) -> Rig:
        await self.sim.start()
        self.ami = AmiClient("127.0.0.1", self.sim.ami_port, "hotline", "hotline-secret", ping_interval=1.0,
                             action_timeout=5.0)
        self.early = EarlyPops(self.bus)
        self.bridge = BridgeService(self.ami, self.bus, publish=self.early.publish)
        await self.bridge.start()
        await self.ami.connect(timeout=5)
        await until(lambda: self.bridge.resyncs >= 1)
        await self.start_consumer()
        return self

    async def start_consumer(self, audit_session_factory=None) -> PopConsumer:  # type: ignore[no-untyped-def]
        self.consumer = PopConsumer(self.bus, self.builder, consumer=self.consumer_name, start_id="0", block_ms=100,
                                    audit_session_factory=audit_session_factory)
        await self.consumer.ensure_group()
        self._task = asyncio.create_task(self.consumer.run())
        return self.consumer

    async def stop_consumer(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])  # a Redis read may swallow one cancellation
            self._task = None

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_consumer()
        if self.bridge is not None:
            await self.bridge.stop()
        if self.early is not None:
            await self.early.aclose()
        if self.ami is not None:
            await self.ami.close()
        await self.sim.stop()

    async def pops(self, agent_id: str) -> list[dict[str, Any]]:
        return [event for _id, event in await self.bus.read_since(agent_stream(agent_id))]

    async def wait_pop(self, agent_id: str, kind: str, timeout: float = 10.0, call_id: str | None = None) -> dict:
        async def found() -> dict | None:
            for pop in await self.pops(agent_id):
                if pop["type"] == kind and (call_id is None or pop["call_id"] == call_id):
                    return pop
            return None
        return await until(found, timeout)

    async def calls(self) -> list[dict[str, Any]]:
        return [event for _id, event in await self.bus.read_since("calls")]

    async def wait_call_event(self, call_id: str, kind: str, timeout: float = 10.0) -> dict:
        async def found() -> dict | None:
            return next((e for e in await self.calls() if e["call_id"] == call_id and e["type"] == kind), None)
        return await until(found, timeout)


@contextlib.asynccontextmanager
async def rig(redis_async, factory, **kw: Any) -> AsyncIterator[Rig]:  # type: ignore[no-untyped-def]
    async with Rig(redis_async, factory, **kw) as r:
        yield r
