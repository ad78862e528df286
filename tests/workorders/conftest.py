"""Fixtures for work orders, calls, history, hand-offs and the outbox: the real SLA engine (Ziyang's
policy on the working calendar), real SQL, real Redis, a real FastAPI app."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

import hotline.audit.models
import hotline.calls.models
import hotline.handoffs.models
import hotline.outbox.models  # noqa: F401  (every table in the metadata: the shared fixture empties them)
from hotline.handoffs.resources import router as handoffs_router
from hotline.history.resources import router as history_router
from hotline.security import Principal, Role
from hotline.sla import DeadlineEngine, WorkCalendar, load_policy
from hotline.sla.timeutil import TZ
from hotline.units.resources import router as units_router
from hotline.units.services import create_unit
from hotline.workorders.resources import router as workorders_router

AGENT = Principal("li", Role.agent, agent_id="1001")
OTHER_AGENT = Principal("wang", Role.agent, agent_id="1002")
SUPERVISOR = Principal("zhang", Role.supervisor)
ADMIN = Principal("root", Role.admin)
MONDAY = dt.datetime(2026, 11, 16, 10, 0, tzinfo=TZ)  # an ordinary working Monday


@pytest.fixture(scope="session")
def engine() -> DeadlineEngine:
    return DeadlineEngine(load_policy("ziyang"), WorkCalendar("09:00-12:00,13:30-17:30"))


@pytest.fixture
def units(db_session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    housing = create_unit(db_session, "zj", "市住建局")
    water = create_unit(db_session, "sw", "市水务局")
    street = create_unit(db_session, "jd01", "雁江区某街道办")
    db_session.commit()
    return {"housing": housing.id, "water": water.id, "street": street.id}


def make_app(session_factory, engine: DeadlineEngine, principal: Principal | None) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.state.session_factory = session_factory
    app.state.deadline_engine = engine
    app.state.principal = principal

    @app.middleware("http")
    async def put_principal(request: Request, call_next):  # type: ignore[no-untyped-def]
        # the console's login middleware does this for real; tests switch users via app.state.principal
        if request.app.state.principal is not None:
            request.state.principal = request.app.state.principal
        return await call_next(request)

    for router in (workorders_router, history_router, handoffs_router, units_router):
        app.include_router(router)
    return app


@pytest.fixture
def app(db_session_factory, engine) -> FastAPI:  # type: ignore[no-untyped-def]
    return make_app(db_session_factory, engine, AGENT)


@pytest.fixture
def client(app: FastAPI):  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c
