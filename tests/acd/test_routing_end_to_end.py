"""Routing end to end: pbxsim running the Asterisk configuration asterisk_config renders from acd/skills.yaml
(queues.conf, queuerules.conf, `[hotline-queue]`), the real IVR over FastAGI (caller history from the database,
the ACD's routing), the ACD over AMI (agents logged in with their skill penalties), real Redis.

- a caller is offered only to the queue's core (penalty 0) members, and after the `widen` steps to the
  escalation members, without losing their place;
- priority callers (特殊紧急 open order, a callback we owe, a repeat caller) are answered before the others;
- the agent who last answered the caller is rung first when free."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

import hotline.audit.models
import hotline.calls.models
import hotline.handoffs.models
import hotline.outbox.models  # noqa: F401  (every table in the metadata)
from acd.config import default_acd_config
from acd.routing import priority_for
from acd.state import AgentState
from hotline.fastagi import FastAgiServer
from hotline.security import Principal, Role
from hotline.sla import DeadlineEngine, WorkCalendar, load_policy
from hotline.workorders import services as orders
from hotline.workorders.services import NewOrder
from ivr import keys as ivr_keys
from ivr.app import build_routes
from ivr.records import SqlOrderRecords
from ivr.schemas import CallerProfile
from ivr.services import HotlineIvrServices
from pbxsim.citizens import Citizen
from pbxsim.config import SimConfig
from pbxsim.simulator import Simulator
from tests.acd.conftest import SCALE, until
from tests.pbxsim.helpers import Recorder

GENERAL = "hotline-general"
# event times are clock readings taken as each event is emitted at SCALE× real time; a join's reading comes a
# little after the moment app_queue's timers count from
JITTER = 0.25


@pytest.fixture
async def ivr(redis_async, db_session_factory) -> AsyncIterator[FastAgiServer]:  # type: ignore[no-untyped-def]
    services = HotlineIvrServices(redis_async, SqlOrderRecords(db_session_factory))
    async with FastAgiServer(build_routes(services), port=0) as server:
        yield server


@pytest.fixture
async def sim(ivr: FastAgiServer) -> AsyncIterator[Simulator]:
    """Overrides conftest's `sim`: the same rendered configuration, with the IVR on FastAGI."""
    simulator = Simulator(SimConfig.from_platform(ami_port=0, agi_url=f"agi://127.0.0.1:{ivr.port}/ivr"),
                          scale=SCALE)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def log_in(acd, *seats: str) -> None:  # type: ignore[no-untyped-def]
    for seat in seats:
        await acd.agents.login(seat)

    async def all_ready() -> bool:
        agents = [await acd.tracker.store.get(seat) for seat in seats]
        return all(a.state == AgentState.ready and GENERAL in a.queues for a in agents)

    await until(all_ready)


def joined(rec: Recorder, caller: str) -> tuple[float, str] | None:
    joins = [(t, e["Position"]) for t, e in rec.events
             if e["Event"] == "QueueCallerJoin" and e["CallerIDNum"] == caller]
    assert len(joins) <= 1, f"{caller} joined the queue more than once"
    return joins[0] if joins else None


async def wait_joined(rec: Recorder, caller: str) -> tuple[float, str]:
    async def check() -> tuple[float, str] | None:
        return joined(rec, caller)

    return await until(check, 10.0)


def offers(rec: Recorder, caller: str) -> list[tuple[float, str]]:
    """(simulated time, member) of every AgentCalled for this caller."""
    return [(t, e["MemberName"]) for t, e in rec.events if e["Event"] == "AgentCalled" and e["CallerIDNum"] == caller]


def connects(rec: Recorder) -> list[tuple[str, str]]:
    return [(e["CallerIDNum"], e["MemberName"]) for e in rec.named("AgentConnect")]


async def wait_connected(rec: Recorder, caller: str, timeout: float = 10.0) -> str:
    async def check() -> str | None:
        return next((member for who, member in connects(rec) if who == caller), None)

    return await until(check, timeout)


async def test_the_pool_widens_to_escalation_members_while_the_caller_keeps_their_place(sim, acd) -> None:  # type: ignore[no-untyped-def]
    config = default_acd_config()
    general = config.queue(GENERAL)
    steps = sorted(general.widen, key=lambda s: s.after)
    penalties = {seat.id: seat.skills["general"] for seat in config.seats if "general" in seat.skills}
    assert (penalties["1001"], penalties["1003"], penalties["1005"]) == (0, 1, 2)   # core, first step, second step
    assert [s.max_penalty for s in steps] == [1, 2]
    rec = Recorder(sim)
    await log_in(acd, "1001", "1003", "1005")
    await sim.place_call(Citizen(caller="13900000100", talk_time=600))             # takes the core member
    assert await wait_connected(rec, "13900000100") == "agent-1001"
    await sim.place_call(Citizen(caller="13900000101", talk_time=600))
    first_join, first_position = await wait_joined(rec, "13900000101")
    await sim.place_call(Citizen(caller="13900000102", talk_time=600))
    second_join, second_position = await wait_joined(rec, "13900000102")
    assert (first_position, second_position) == ("1", "2")

    assert await wait_connected(rec, "13900000101", 15.0) == "agent-1003"
    assert await wait_connected(rec, "13900000102", 15.0) == "agent-1005"
    first_offers, second_offers = offers(rec, "13900000101"), offers(rec, "13900000102")
    # free members of penalty 1 and 2 were there from the start: offered only once the rule allowed them
    assert [m for _, m in first_offers] == ["agent-1003"]
    assert first_offers[0][0] - first_join >= steps[0].after - JITTER
    assert [m for _, m in second_offers] == ["agent-1005"]
    assert second_offers[0][0] - second_join >= steps[1].after - JITTER
    raised = [(t - second_join, e["Value"]) for t, e in rec.events if e["Event"] == "VarSet"
              and e["CallerIDNum"] == "13900000102" and e["Variable"] == "QUEUE_MAX_PENALTY"]
    assert [v for _, v in raised] == ["0", "1", "2"] and raised[1][0] >= steps[0].after - JITTER
    # the second caller moved up to the head when the first left, and never rejoined
    leave = [e for e in rec.named("QueueCallerLeave") if e["CallerIDNum"] == "13900000102"]
    assert [e["Position"] for e in leave] == ["1"]


@pytest.fixture
def make_order(db_session):  # type: ignore[no-untyped-def]
    engine = DeadlineEngine(load_policy("ziyang"), WorkCalendar("09:00-12:00,13:30-17:30"))

    def make(number: str, urgency: str = "normal") -> None:
        orders.create_order(db_session, engine, Principal("li", Role.agent, agent_id="1001"),
                            NewOrder(category="complaint", content="小区楼下餐馆油烟扰民", caller_number=number,
                                     urgency=urgency, location="雁江区建设路88号"), now=dt.datetime.now(dt.UTC))
        db_session.commit()

    return make


async def keep_finishing_wrap_up(acd, *seats: str) -> None:  # type: ignore[no-untyped-def]
    """The agents press 话后整理完成 as soon as a call is over."""
    while True:
        for seat in seats:
            if (await acd.tracker.store.get(seat)).state == AgentState.wrap_up:
                await acd.agents.wrap_up(seat)
        await asyncio.sleep(0.02)


async def all_ready(acd, *seats: str) -> bool:  # type: ignore[no-untyped-def]
    states = [(await acd.tracker.store.get(seat)).state for seat in seats]
    return all(state == AgentState.ready for state in states)


async def test_priority_callers_are_answered_first(sim, acd, redis_async, make_order) -> None:  # type: ignore[no-untyped-def]
    policy = default_acd_config().acd
    plain, repeat, callback, urgent = "13900000200", "13900000201", "13900000202", "13900000203"
    make_order(repeat)                                  # an open order: a repeat caller
    make_order(urgent, urgency="special_urgent")        # an open 特殊紧急 order
    await redis_async.hset(ivr_keys.CALLBACK_NUMBERS, callback, "cb-1")   # a callback we owe this number
    expected = {plain: 0, repeat: policy.priority_repeat, callback: policy.priority_callback,
                urgent: policy.priority_special_urgent}
    assert expected[callback] == priority_for(CallerProfile(callback, callback_pending=True))
    rec = Recorder(sim)
    await log_in(acd, "1001")
    finisher = asyncio.ensure_future(keep_finishing_wrap_up(acd, "1001"))
    try:
        busy = await sim.place_call(Citizen(caller="13900000299", talk_time=3600))
        await wait_connected(rec, "13900000299")
        for number in (plain, repeat, callback, urgent):            # lowest priority first
            await sim.place_call(Citizen(caller=number, talk_time=3))
            await wait_joined(rec, number)
        prios = {e["CallerIDNum"]: e["Value"] for e in rec.named("VarSet", Variable="QUEUE_PRIO")}
        assert {n: int(prios[n]) for n in expected} == expected       # what the IVR set from the history
        assert [joined(rec, n)[1] for n in (plain, repeat, callback, urgent)] == ["1", "1", "1", "1"]
        busy.citizen_hangs_up()
        await wait_connected(rec, plain, 20.0)
    finally:
        finisher.cancel()
    assert [who for who, _ in connects(rec)] == ["13900000299", urgent, callback, repeat, plain]


async def test_the_last_agent_is_rung_first_when_free(sim, acd, redis_async) -> None:  # type: ignore[no-untyped-def]
    rec = Recorder(sim)
    number = "13900000300"
    await log_in(acd, "1002")
    finisher = asyncio.ensure_future(keep_finishing_wrap_up(acd, "1001", "1002"))
    try:
        first = await sim.place_call(Citizen(caller=number, talk_time=2))
        assert await wait_connected(rec, number) == "agent-1002"
        await first.wait(10)
        await log_in(acd, "1001")          # 1001 has never had a call: leastrecent alone would ring 1001
        await until(lambda: all_ready(acd, "1001", "1002"), 10.0)
        again = await sim.place_call(Citizen(caller=number, talk_time=2))
        await again.wait(10)
        assert (again.outcome, again.member) == ("answered", "PJSIP/1002")
        assert len(rec.named("QueueCallerJoin", CallerIDNum=number)) == 1     # the first call only
        assert [e["DialString"] for e in rec.named("DialBegin", CallerIDNum=number)][-1] == "PJSIP/1002"
        stranger = await sim.place_call(Citizen(caller="13900000301", talk_time=2))
        await stranger.wait(10)
        assert stranger.member == "PJSIP/1001" and len(rec.named("QueueCallerJoin", CallerIDNum="13900000301")) == 1

        # the last agent busy: the ACD does not name them, the call queues for whoever is free
        await until(lambda: all_ready(acd, "1001", "1002"), 10.0)
        await sim.place_call(Citizen(caller="13900000302", talk_time=600))
        assert await wait_connected(rec, "13900000302") == "agent-1002"
        dialled_before = len(rec.named("DialBegin", CallerIDNum=number))
        third = await sim.place_call(Citizen(caller=number, talk_time=2))
        await third.wait(10)
    finally:
        finisher.cancel()
    assert third.member == "PJSIP/1001"
    assert [e["DialString"] for e in rec.named("DialBegin", CallerIDNum=number)][dialled_before:] == ["PJSIP/1001"]
    assert len(rec.named("QueueCallerJoin", CallerIDNum=number)) == 2
