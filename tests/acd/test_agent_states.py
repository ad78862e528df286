"""Agents through every state over the PBX simulator's AMI socket, with a restart of the ACD in the middle."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from acd import keys
from acd.models import AgentStateLog
from acd.services import AcdError, AgentStore
from acd.state import AgentState
from pbxsim.citizens import Citizen
from pbxsim.config import SeatBehaviour
from pbxsim.distributions import Constant
from tests.acd.conftest import until

S = AgentState


async def state_of(acd, agent_id: str) -> AgentState:  # type: ignore[no-untyped-def]
    return (await acd.tracker.store.get(agent_id)).state


async def reach(acd, agent_id: str, state: AgentState, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return await state_of(acd, agent_id) == state

    await until(check, timeout)


async def events_of(bus, agent_id: str, wanted: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    """The agent's events on stream `acd` (waiting for `wanted` to be published, when given)."""

    async def read() -> list[str]:
        kinds = [e["type"] for _, e in await bus.read_since("acd") if e["agent_id"] == agent_id]
        return kinds if wanted is None or wanted in kinds else []

    return await until(read)


async def test_agent_goes_through_every_state_and_survives_a_restart(sim, ami, bus, make_acd, db_session_factory):
    acd = await make_acd()
    agent = acd.agents
    await agent.login("1001")
    await reach(acd, "1001", S.ready)

    async def all_queues() -> bool:
        return len((await acd.tracker.store.get("1001")).queues) == 3

    await until(all_queues)
    stored = await acd.tracker.store.get("1001")
    assert sorted(stored.queues) == ["hotline-consumer", "hotline-dialect", "hotline-general"]
    members = sim.pbx.queues.queues["hotline-consumer"].members
    assert members["PJSIP/1001"].penalty == 1 and members["PJSIP/1001"].name == "agent-1001"

    await agent.not_ready("1001", "meal")
    await reach(acd, "1001", S.not_ready)
    assert (await acd.tracker.store.get("1001")).reason == "用餐"
    await agent.ready("1001")
    await reach(acd, "1001", S.ready)

    # a call in the dialect queue, which only 1001 serves: ringing → on call → 话后整理
    await sim.place_call(Citizen(caller="13900000001", ivr_vars={"HOTLINE_QUEUE": "hotline-dialect"},
                                 ivr_seconds=0.1, talk_time=4.0))
    await reach(acd, "1001", S.on_call)
    await reach(acd, "1001", S.wrap_up)

    async def wrap_paused() -> bool:
        return (await acd.tracker.store.get("1001")).paused

    await until(wrap_paused)
    wrapped = await acd.tracker.store.get("1001")
    assert wrapped.reason == "话后整理" and sim.pbx.queues.queues["hotline-general"].members["PJSIP/1001"].paused
    assert await bus.redis.get(keys.last_agent("13900000001")) == "1001"

    # the ACD goes away; meanwhile the agent finishes wrap-up at the PBX (e.g. from a desk phone)
    await acd.stop()
    await ami.send_action({"Action": "QueuePause", "Interface": "PJSIP/1001", "Paused": "false"})
    await asyncio.sleep(0.1)
    assert await state_of(acd, "1001") == S.wrap_up           # nobody listened
    restarted = await make_acd()
    await reach(restarted, "1001", S.ready)                    # rebuilt from Redis + QueueStatus

    await restarted.agents.not_ready("1001", "培训")
    await reach(restarted, "1001", S.not_ready)
    await restarted.agents.logout("1001")
    await reach(restarted, "1001", S.logged_out)
    assert not any("PJSIP/1001" in q.members for q in sim.pbx.queues.queues.values())

    kinds = await events_of(bus, "1001", "agent.member_removed")
    for expected in ("agent.member_added", "agent.member_paused", "agent.member_unpaused", "agent.agent_called",
                     "agent.agent_connect", "agent.agent_complete", "agent.wrap_up_paused", "agent.member_removed"):
        assert expected in kinds, (expected, kinds)
    times = await AgentStore(bus.redis).times("1001")
    assert {"ready", "not_ready", "on_call", "wrap_up"} <= set(times)
    with db_session_factory() as session:
        rows = session.scalars(select(AgentStateLog).where(AgentStateLog.agent_id == "1001")
                               .order_by(AgentStateLog.id)).all()
    assert [r.state for r in rows][:3] == ["logged_out", "ready", "not_ready"]
    assert any(r.state == "not_ready" and r.reason == "用餐" for r in rows)
    assert rows[-1].new_state == "logged_out"


async def test_wrap_up_done_from_the_console(sim, acd):
    await acd.agents.login("1004")
    await reach(acd, "1004", S.ready)
    await sim.place_call(Citizen(caller="13900000004", ivr_vars={"HOTLINE_QUEUE": "hotline-efficiency"},
                                 ivr_seconds=0.1, talk_time=2.0))
    await reach(acd, "1004", S.wrap_up)
    await until(lambda: _paused(sim, "PJSIP/1004"))
    await acd.agents.wrap_up("1004")
    await reach(acd, "1004", S.ready)
    assert "agent.wrap_up_done" in await events_of(acd.bus, "1004", "agent.wrap_up_done")


async def _paused(sim, interface: str) -> bool:  # type: ignore[no-untyped-def]
    return any(q.members[interface].paused for q in sim.pbx.queues.queues.values() if interface in q.members)


async def test_wrap_up_overdue_makes_the_agent_ready(sim, bus, make_acd):
    from acd.config import default_acd_config

    config = default_acd_config().model_copy(deep=True)
    config.acd.wrap_up_max_seconds = 1
    acd = await make_acd(config=config)
    await acd.agents.login("1002")
    await reach(acd, "1002", S.ready)
    await sim.place_call(Citizen(caller="13900000002", ivr_vars={"HOTLINE_QUEUE": "hotline-economic"},
                                 ivr_seconds=0.1, talk_time=2.0))
    await reach(acd, "1002", S.wrap_up)
    await reach(acd, "1002", S.ready, timeout=5)
    assert "agent.wrap_up_overdue" in await events_of(bus, "1002", "agent.wrap_up_overdue")
    alerts = [e for _, e in await bus.read_since("supervisors") if e["type"] == "acd.wrap_up_overdue"]
    assert alerts and alerts[0]["agent_id"] == "1002"


async def test_ring_no_answer_returns_the_agent_to_ready(sim, acd):
    sim.set_seat("1005", SeatBehaviour(answer_probability=0.0))
    await acd.agents.login("1005")
    await reach(acd, "1005", S.ready)
    await sim.place_call(Citizen(caller="13900000005", ivr_vars={"HOTLINE_QUEUE": "hotline-economic"},
                                 ivr_seconds=0.1, patience=20))
    await reach(acd, "1005", S.ringing)
    await reach(acd, "1005", S.ready)
    assert "agent.ring_noanswer" in await events_of(acd.bus, "1005", "agent.ring_noanswer")


async def test_expert_in_a_three_way_room(sim, ami, acd):
    sim.set_seat("2001", SeatBehaviour(answer_delay=Constant(0.5)))
    await acd.agents.login("2001")
    await reach(acd, "2001", S.ready)
    await ami.send_action({"Action": "Originate", "Channel": "PJSIP/2001", "Application": "ConfBridge",
                           "Data": "3w-test", "CallerID": "12345"})
    await reach(acd, "2001", S.three_way)
    channel = next(c.name for c in sim.pbx.channels.alive() if c.name.startswith("PJSIP/2001-"))
    await ami.send_action({"Action": "Hangup", "Channel": channel})
    await reach(acd, "2001", S.wrap_up)


async def test_bad_console_actions_are_refused(acd):
    import pytest

    with pytest.raises(AcdError, match="unknown seat"):
        await acd.agents.login("9999")
    with pytest.raises(AcdError, match="not logged in"):
        await acd.agents.ready("1003")
    await acd.agents.login("1003")
    await reach(acd, "1003", S.ready)
    with pytest.raises(AcdError, match="unknown not-ready reason"):
        await acd.agents.not_ready("1003", "nap")
    with pytest.raises(AcdError, match="not in wrap-up"):
        await acd.agents.wrap_up("1003")
    assert await state_of(acd, "1003") == S.ready


async def test_state_requests_from_the_consoles_are_honoured_once(sim, bus, acd):
    """POST /api/console/state writes `acd:requests`; the ACD acts on each entry once, through the PBX."""
    from acd.bus_consumer import REQUESTS_GROUP, REQUESTS_STREAM
    from hotline.bus import agent_stream

    async def request(agent_id: str, state: str, reason: str | None = None) -> None:
        await bus.publish(REQUESTS_STREAM, {"type": "agent.state_requested", "agent_id": agent_id, "state": state,
                                            "reason": reason, "by": "agent" + agent_id})

    await acd.agents.login("1004")
    await reach(acd, "1004", S.ready)
    await request("1004", "wrapup")  # 话后整理 on request: a pause with the wrap-up reason
    await reach(acd, "1004", S.wrap_up)
    assert await _paused(sim, "PJSIP/1004")
    await request("1004", "idle")  # from 话后整理, 示闲 is 结束整理
    await reach(acd, "1004", S.ready)
    await request("1004", "paused", "meal")
    await reach(acd, "1004", S.not_ready)
    assert (await acd.agents.store.get("1004")).reason == "用餐"
    await request("1005", "wrapup")  # not signed in: refused, and the agent's page is told why
    refusals = await until(lambda: _events(bus, agent_stream("1005")))
    assert [(r["type"], r["state"]) for r in refusals] == [("agent.request_refused", "wrapup")]
    assert "1005" in refusals[0]["message"]
    await until(lambda: _nothing_pending(bus, REQUESTS_STREAM, REQUESTS_GROUP))
    assert acd.requests.handled == 4


async def _events(bus, stream: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [event for _id, event in await bus.read_since(stream)]


async def _nothing_pending(bus, stream: str, group: str) -> bool:  # type: ignore[no-untyped-def]
    return (await bus.redis.xpending(bus.key(stream), group))["pending"] == 0
