"""IVR fixtures: the real FastAGI server with the real flows, real Redis, the real database (migrated by
Alembic) holding work orders created through hotline.workorders."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence

import pytest

import hotline.audit.models
import hotline.calls.models
import hotline.handoffs.models
import hotline.outbox.models  # noqa: F401  (every table in the metadata: the shared fixture empties them)
from hotline.fastagi import FastAgiServer
from hotline.security import Principal, Role
from hotline.sla import DeadlineEngine, WorkCalendar, load_policy
from hotline.workorders import services as orders
from hotline.workorders.services import NewOrder
from ivr.app import build_routes
from ivr.config import IvrConfig
from ivr.records import SqlOrderRecords
from ivr.services import HotlineIvrServices
from tests.fastagi.peer import FakeAsterisk, Transcript, env_for

AGENT = Principal("li", Role.agent, agent_id="1001")
SUPERVISOR = Principal("zhang", Role.supervisor)


@pytest.fixture(scope="session")
def deadline_engine() -> DeadlineEngine:
    return DeadlineEngine(load_policy("ziyang"), WorkCalendar("09:00-12:00,13:30-17:30"))


@pytest.fixture
def services(redis_async, db_session_factory) -> HotlineIvrServices:  # type: ignore[no-untyped-def]
    return HotlineIvrServices(redis_async, SqlOrderRecords(db_session_factory))


@pytest.fixture
def config() -> IvrConfig:
    return IvrConfig()


@pytest.fixture
async def server(services: HotlineIvrServices, config: IvrConfig) -> AsyncIterator[FastAgiServer]:
    async with FastAgiServer(build_routes(services, config), port=0) as srv:
        yield srv


@pytest.fixture
def make_order(db_session, deadline_engine):  # type: ignore[no-untyped-def]
    def make(caller_number: str = "13900001", category: str = "complaint", urgency: str = "normal",
             call_ids: Sequence[str] = (), now: dt.datetime | None = None):  # type: ignore[no-untyped-def]
        data = NewOrder(category=category, content="小区楼下餐馆油烟扰民", caller_number=caller_number,
                        urgency=urgency, location="雁江区建设路88号", call_ids=call_ids)
        order = orders.create_order(db_session, deadline_engine, AGENT, data,
                                    now=now or dt.datetime.now(dt.UTC))
        db_session.commit()
        return order
    return make


async def call(server: FastAgiServer, script: str = "ivr", keys: Sequence[str | None] = (), **kw) -> Transcript:  # type: ignore[no-untyped-def]
    """One call through the real server; waits until the server has finished the session."""
    env_extra = kw.pop("env", {})
    peer = FakeAsterisk(env_for(script, **env_extra), keys, **kw)
    transcript = await peer.run(server.port)
    for _ in range(500):
        if not server.active:
            break
        await asyncio.sleep(0.01)
    assert not peer.transcript.rejected, f"Asterisk would refuse: {peer.transcript.rejected}"
    return transcript
