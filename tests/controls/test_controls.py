"""Call controls over the simulator: HTTP routes → ControlService → real AMI socket → pbxsim; the bridge's
tracker publishes what happened on `calls`; hand-offs in the real database; states and pops in real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from acd.services import AgentStore
from acd.state import Agent, AgentState
from bridge.controls.resources import router
from bridge.controls.services import ControlDialplan, ControlService
from hotline.handoffs.services import list_handoffs
from hotline.security import Principal, Role
from pbxsim.config import SeatBehaviour, SimConfig
from pbxsim.distributions import Constant

from ..pops.harness import NUMBER, Rig, until

USERS = {"1001": Principal("li", Role.agent, "1001"), "1002": Principal("wang", Role.agent, "1002"),
         "2001": Principal("zhou", Role.expert, "2001"), "2002": Principal("wu", Role.expert, "2002"),
         "boss": Principal("zhang", Role.supervisor)}
IVR = {"HOTLINE_CATEGORY": "complaint"}


class Console:
    def __init__(self, r: Rig) -> None:
        self.rig = r
        app = FastAPI()

        @app.middleware("http")
        async def login(request: Request, call_next):  # type: ignore[no-untyped-def]
            user = request.headers.get("x-user")
            if user:
                request.state.principal = USERS[user]
            return await call_next(request)

        app.include_router(router)
        app.state.ami, app.state.bus, app.state.session_factory = r.ami, r.bus, r.factory
        app.state.control_dialplan = ControlDialplan.simulator()
        self.app = app
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")

    async def post(self, user: str, call_id: str, action: str, body: dict | None = None) -> httpx.Response:
        return await self.http.post(f"/api/calls/{call_id}/{action}", json=body or {}, headers={"x-user": user})

    def service(self) -> ControlService:
        return self.app.state.call_controls


@contextlib.asynccontextmanager
async def console(redis_async, factory, config: SimConfig | None = None) -> AsyncIterator[Console]:  # type: ignore[no-untyped-def]
    config = config or SimConfig(ami_port=0, agi_url=None, conf_mark_citizen=True,
                                 default_seat=SeatBehaviour(answer_delay=Constant(1.0)))
    async with Rig(redis_async, factory, prefix="test-controls:", config=config) as r:
        r.sim.add_member("PJSIP/1001", "agent-1001")
        c = Console(r)
        try:
            yield c
        finally:
            await c.http.aclose()


async def answered_call(c: Console, **kw: Any):  # type: ignore[no-untyped-def]
    call = await c.rig.sim.place_call(caller=NUMBER, name="张三", ivr_vars=IVR, talk_time=kw.pop("talk_time", 300),
                                      **kw)
    await c.rig.wait_call_event(call.uniqueid, "call.answered")
    await c.rig.wait_pop("1001", "pop.answered", call_id=call.uniqueid)
    return call


async def channels(c: Console) -> list[str]:
    frames = await c.rig.ami.send_action({"Action": "CoreShowChannels"})
    return [f.headers["Channel"] for f in frames if f.headers.get("Event") == "CoreShowChannel"]


async def ready(redis, *seats: str) -> None:  # type: ignore[no-untyped-def]
    store = AgentStore(redis)
    for seat in seats:
        await store.save(Agent(seat, AgentState.ready))


async def test_one_key_transfer_to_110_records_the_handoff(redis_async, db_session_factory) -> None:
    async with console(redis_async, db_session_factory) as c:
        call = await answered_call(c)
        assert (await c.post("1002", call.uniqueid, "transfer", {"target": "110"})).status_code == 403
        assert (await c.post("boss", call.uniqueid, "transfer", {"target": "110"})).status_code == 403
        assert (await c.post("1001", call.uniqueid, "transfer", {"target": "999"})).status_code == 422
        reply = await c.post("1001", call.uniqueid, "transfer",
                             {"target": "110", "summary": "市民称家中被盗", "location": "雁江区建设路88号"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["state"] == "handed_over" and reply.json()["handoff_id"]
        transferred = await c.rig.wait_call_event(call.uniqueid, "call.transferred")
        assert transferred["transfer_to"] == "110"
        await until(lambda: _connected(c, call.uniqueid))  # 110 answered (the tracker's Transfer machine)
        assert not [ch for ch in await channels(c) if ch.startswith("PJSIP/1001-")]  # the agent's leg is gone
        call.citizen_hangs_up()
        ended = await c.rig.wait_call_event(call.uniqueid, "call.ended")
        assert ended["call"]["outcome"] == "transferred"
        await c.rig.wait_pop("1001", "pop.hangup", call_id=call.uniqueid)
        status = [p for p in await c.rig.pops("1001") if p["type"] == "control.transfer"]
        assert [s["state"] for s in status] == ["handed_over"]
    with db_session_factory() as s:
        [handoff] = list_handoffs(s, call_id=call.uniqueid)
        assert (handoff.service, handoff.caller_number, handoff.location, handoff.summary, handoff.created_by) == (
            "110", NUMBER, "雁江区建设路88号", "市民称家中被盗", "li")


async def test_transfer_when_the_citizen_hangs_up_half_way(redis_async, db_session_factory) -> None:
    async with console(redis_async, db_session_factory) as c:
        call = await answered_call(c)
        # the citizen hangs up after the hand-off is recorded and before the Redirect reaches Asterisk
        original = ControlService._handoff
        loop = asyncio.get_running_loop()

        def handoff_then_hangup(self, *args, **kw):  # type: ignore[no-untyped-def]
            result = original(self, *args, **kw)
            loop.call_soon_threadsafe(call.citizen_hangs_up)  # queued before the handler resumes
            return result

        ControlService._handoff = handoff_then_hangup  # type: ignore[method-assign]
        try:
            reply = await c.post("1001", call.uniqueid, "transfer", {"target": "119"})
        finally:
            ControlService._handoff = original  # type: ignore[method-assign]
        assert reply.status_code == 409, reply.text
        assert reply.json()["detail"]["code"] == "citizen_gone"
        control = await c.service().store.load(call.uniqueid)
        assert control.state == "citizen_gone"
        # and a transfer of a call that has ended is refused clearly, with nothing recorded
        again = await c.post("1001", call.uniqueid, "transfer", {"target": "119"})
        assert again.status_code == 409 and again.json()["detail"]["message"].startswith("市民已挂机")
    with db_session_factory() as s:
        assert [h.service for h in list_handoffs(s, call_id=call.uniqueid)] == ["119"]  # kept


async def test_threeway_with_an_expert_then_the_agent_leaves(redis_async, db_session_factory) -> None:
    async with console(redis_async, db_session_factory) as c:
        await ready(redis_async, "2001", "2002")
        call = await answered_call(c)
        reply = await c.post("1001", call.uniqueid, "threeway", {"target": "expert"})
        assert reply.status_code == 200, reply.text
        assert (reply.json()["state"], reply.json()["expert"]) == ("inviting", "2001")
        invite = await c.rig.wait_pop("2001", "invite.threeway", call_id=call.uniqueid)
        assert invite["from_agent"] == "1001" and invite["caller_number"] == NUMBER
        assert invite["history"]["number"] == NUMBER and invite["room"] == f"3w-{call.uniqueid}"
        assert await c.rig.pops("2002") == []
        assert (await c.post("2002", call.uniqueid, "threeway/accept")).status_code == 404  # not invited
        assert (await c.post("1001", call.uniqueid, "threeway/accept")).status_code == 403  # agents cannot
        accepted = await c.post("2001", call.uniqueid, "threeway/accept")
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["state"] == "joined"

        async def parties() -> set[str]:
            return {e["party"]["role"] for e in await c.rig.calls()
                    if e["call_id"] == call.uniqueid and e["type"] == "call.conference_joined"}

        await until(lambda: _eq(parties(), {"citizen", "agent", "expert"}))
        # the agent leaves: the citizen and the expert go on
        left = await c.post("1001", call.uniqueid, "hangup")
        assert left.status_code == 200, left.text
        event = await c.rig.wait_call_event(call.uniqueid, "call.conference_left")
        assert event["party"]["role"] == "agent" and event["call"]["threeway_state"] == "handed_over"
        assert any(ch.startswith("PJSIP/2001-") for ch in await channels(c))
        # the citizen hangs up: the room closes, the expert's leg with it
        call.citizen_hangs_up()
        await c.rig.wait_call_event(call.uniqueid, "call.ended")
        await until(lambda: _none(channels(c)))
        await c.rig.wait_pop("2001", "pop.hangup", call_id=call.uniqueid)


def _connected(c: Console, call_id: str) -> bool:
    tracked = c.rig.bridge.tracker.call(call_id)
    return tracked is not None and tracked.transfer is not None and tracked.transfer.state == "connected"


async def _eq(value, expected) -> bool:  # type: ignore[no-untyped-def]
    return (await value) == expected


async def _none(value) -> bool:  # type: ignore[no-untyped-def]
    return not await value


async def test_declined_invitation_and_no_free_expert(redis_async, db_session_factory) -> None:
    async with console(redis_async, db_session_factory) as c:
        call = await answered_call(c)
        busy = await c.post("1001", call.uniqueid, "threeway", {"target": "expert"})
        assert busy.status_code == 409 and busy.json()["detail"]["code"] == "no_free_expert"
        await ready(redis_async, "2001")
        assert (await c.post("1001", call.uniqueid, "threeway", {"target": "expert"})).status_code == 200
        assert (await c.post("1001", call.uniqueid, "threeway", {"target": "expert"})).status_code == 409
        declined = await c.post("2001", call.uniqueid, "threeway/decline")
        assert declined.json()["state"] == "declined"
        assert (await c.post("2001", call.uniqueid, "threeway/accept")).status_code == 409
        states = [p["state"] for p in await c.rig.pops("1001") if p["type"] == "control.threeway"]
        assert states == ["inviting", "declined"]
        # declined: the expert is free again and can be invited once more
        again = await c.post("1001", call.uniqueid, "threeway", {"target": "expert"})
        assert again.status_code == 200 and again.json()["expert"] == "2001"


async def test_citizen_hangs_up_while_the_expert_is_invited(redis_async, db_session_factory) -> None:
    async with console(redis_async, db_session_factory) as c:
        await ready(redis_async, "2001")
        call = await answered_call(c)
        assert (await c.post("1001", call.uniqueid, "threeway", {"target": "expert"})).status_code == 200
        call.citizen_hangs_up()
        withdrawn = await c.rig.wait_pop("2001", "pop.hangup", call_id=call.uniqueid)
        assert withdrawn["reason"] in ("citizen_gone", "ended")
        await until(lambda: _state(c, call.uniqueid, "citizen_gone"))
        reply = await c.post("2001", call.uniqueid, "threeway/accept")
        assert reply.status_code == 409
        assert not [ch for ch in await channels(c) if ch.startswith("PJSIP/2001-")]


async def _state(c: Console, call_id: str, state: str) -> bool:
    control = await c.service().store.load(call_id)
    return control is not None and control.state == state


async def test_citizen_hangs_up_while_the_expert_is_ringing(redis_async, db_session_factory) -> None:
    config = SimConfig(ami_port=0, agi_url=None, conf_mark_citizen=True,
                       default_seat=SeatBehaviour(answer_delay=Constant(1.0)),
                       seats={"2001": SeatBehaviour(answer_delay=Constant(8.0))})
    async with console(redis_async, db_session_factory, config) as c:
        await ready(redis_async, "2001")
        call = await answered_call(c)
        assert (await c.post("1001", call.uniqueid, "threeway", {"target": "expert"})).status_code == 200
        accepting = asyncio.create_task(c.post("2001", call.uniqueid, "threeway/accept"))
        await until(lambda: any(ch.name.startswith("PJSIP/2001-") for ch in c.rig.sim.pbx.channels.alive()))
        call.citizen_hangs_up()
        reply = await accepting
        assert reply.status_code == 409 and reply.json()["detail"]["code"] == "citizen_gone"
        assert await _state(c, call.uniqueid, "citizen_gone")
        await until(lambda: _none(channels(c)))  # the expert's leg was hung up: no room left open
        rooms = await c.rig.ami.send_action({"Action": "ConfbridgeListRooms"}, check=False)
        assert not [f for f in rooms if f.headers.get("Event") == "ConfbridgeListRooms"]


async def test_threeway_with_110_records_the_handoff(redis_async, db_session_factory) -> None:
    async with console(redis_async, db_session_factory) as c:
        call = await answered_call(c)
        reply = await c.post("1001", call.uniqueid, "threeway", {"target": "110", "summary": "疑似诈骗"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["state"] == "joined"
        event = await c.rig.wait_call_event(call.uniqueid, "call.conference_joined")
        assert event["call"]["conference"] == f"3w-{call.uniqueid}"
        call.citizen_hangs_up()
        await c.rig.wait_call_event(call.uniqueid, "call.ended")
        await until(lambda: _none(channels(c)))
    with db_session_factory() as s:
        assert [(h.service, h.summary) for h in list_handoffs(s, call_id=call.uniqueid)] == [("110", "疑似诈骗")]


@pytest.mark.parametrize("atxfer_code", ["*2", None])
async def test_consult_an_expert(redis_async, db_session_factory, atxfer_code) -> None:
    config = SimConfig(ami_port=0, agi_url=None, conf_mark_citizen=True, atxfer_code=atxfer_code,
                       default_seat=SeatBehaviour(answer_delay=Constant(1.0)))
    async with console(redis_async, db_session_factory, config) as c:
        await ready(redis_async, "2001")
        call = await answered_call(c)
        reply = await c.post("1001", call.uniqueid, "consult", {"target": "expert"})
        invite = await c.rig.wait_pop("2001", "invite.threeway", call_id=call.uniqueid)
        assert invite["mode"] == "consult"
        if atxfer_code:
            assert reply.status_code == 200 and reply.json()["state"] == "consulting", reply.text
            await until(lambda: any(ch.name.startswith("PJSIP/2001-") for ch in c.rig.sim.pbx.channels.alive()))
        else:  # the PBX has no attended-transfer feature code: a clear error, the invitation withdrawn
            assert reply.status_code == 409 and "feature code" in reply.json()["detail"]["message"]
            assert (await c.rig.wait_pop("2001", "pop.hangup"))["reason"] == "consult_failed"
        call.citizen_hangs_up()
        await c.rig.wait_call_event(call.uniqueid, "call.ended")


async def test_hangup_and_a_second_hangup(redis_async, db_session_factory) -> None:
    async with console(redis_async, db_session_factory) as c:
        call = await answered_call(c)
        assert (await c.post("1002", call.uniqueid, "hangup")).status_code == 403
        reply = await c.post("1001", call.uniqueid, "hangup")
        assert reply.status_code == 200, reply.text
        ended = await c.rig.wait_call_event(call.uniqueid, "call.ended")
        assert ended["call"]["outcome"] == "answered"
        again = await c.post("1001", call.uniqueid, "hangup")
        assert again.status_code == 409 and again.json()["detail"]["code"] == "call_ended"
        assert (await c.post("1001", "not-a-call", "hangup")).status_code == 422


async def test_the_bus_consumer_closes_flows_another_process_started(redis_async, db_session_factory) -> None:
    from bridge.controls.bus_consumer import ControlConsumer

    async with console(redis_async, db_session_factory) as c:
        await ready(redis_async, "2001", "2002")
        consumer = ControlConsumer(c.rig.bus, consumer="t", start_id="0", block_ms=100)
        reader = asyncio.create_task(consumer.run())
        try:
            invited = await answered_call(c)
            assert (await c.post("1001", invited.uniqueid, "threeway", {"target": "expert"})).status_code == 200
            for task in list(c.service()._tasks):  # the console process that invited is gone
                task.cancel()
            invited.citizen_hangs_up()
            await until(lambda: _state(c, invited.uniqueid, "citizen_gone"))
            withdrawn = await c.rig.wait_pop("2001", "pop.hangup", call_id=invited.uniqueid)
            assert withdrawn["reason"] in ("citizen_gone", "ended")
            # the expert is free again: a joined three-way closes with the citizen
            joined = await answered_call(c)
            assert (await c.post("1001", joined.uniqueid, "threeway", {"target": "expert"})).json()["expert"] \
                == "2001"
            assert (await c.post("2001", joined.uniqueid, "threeway/accept")).json()["state"] == "joined"
            joined.citizen_hangs_up()
            await until(lambda: _state(c, joined.uniqueid, "closed"))
            assert consumer.closed >= 2
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def test_consult_when_the_citizen_hangs_up_half_way(redis_async, db_session_factory) -> None:
    async with console(redis_async, db_session_factory) as c:
        await ready(redis_async, "2001")
        call = await answered_call(c)
        original = ControlService._case_pop

        async def pop_then_hangup(self, *args, **kw):  # type: ignore[no-untyped-def]
            pop = await original(self, *args, **kw)
            call.citizen_hangs_up()  # after the expert is invited, before the Atxfer reaches the PBX
            return pop

        ControlService._case_pop = pop_then_hangup  # type: ignore[method-assign]
        try:
            reply = await c.post("1001", call.uniqueid, "consult", {"target": "expert"})
        finally:
            ControlService._case_pop = original  # type: ignore[method-assign]
        assert reply.status_code == 409 and reply.json()["detail"]["code"] == "citizen_gone", reply.text
        assert await _state(c, call.uniqueid, "citizen_gone")
        assert (await c.rig.wait_pop("2001", "pop.hangup", call_id=call.uniqueid))["reason"] in (
            "citizen_gone", "ended")
        # the expert is free for the next call
        assert await c.service().store.reserve_expert("2001", "next")
