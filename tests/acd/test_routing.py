"""Routing by skill, penalty escalation as configured (skills.yaml `widen` → queuerules.conf), caller
priority, and the last agent only when ready."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from acd import keys
from acd.config import default_acd_config
from acd.routing import last_agent, route, route_call
from acd.services import AgentStore
from acd.state import Agent, AgentState
from asterisk_config.render import Deployment, render


@dataclass
class Profile:
    special_urgent: bool = False
    callback_pending: bool = False
    repeat: bool = False


def test_route_by_category_and_skill() -> None:
    assert route("consumer_complaint")[0] == "hotline-consumer"
    assert route("economic_violation")[0] == "hotline-economic"
    assert route("admin_efficiency")[0] == "hotline-efficiency"
    assert route("consult")[0] == "hotline-general"
    assert route(None)[0] == "hotline-general"
    assert route("consult", skill="dialect")[0] == "hotline-dialect"
    assert route("consult", skill="no-such-skill")[0] == "hotline-general"


def test_priorities_in_order() -> None:
    policy = default_acd_config().acd
    assert route("consult", Profile())[1] == 0
    assert route("consult", Profile(repeat=True))[1] == policy.priority_repeat
    assert route("consult", Profile(repeat=True, callback_pending=True))[1] == policy.priority_callback
    assert route("consult", Profile(special_urgent=True, repeat=True, callback_pending=True))[1] == \
        policy.priority_special_urgent
    assert policy.priority_special_urgent > policy.priority_callback > policy.priority_repeat > 0


def test_penalty_escalation_follows_widen() -> None:
    config = default_acd_config()
    general = config.queue("hotline-general")
    assert [config.max_penalty_after(general, t) for t in (0, 19, 20, 44, 45, 300)] == [0, 0, 1, 1, 2, 2]
    # the same steps are what Asterisk gets in queuerules.conf
    env = {"HOTLINE_AMI_SECRET": "s", **{f"HOTLINE_SEAT_PASSWORD_{seat.id}": "p" for seat in config.seats}}
    rules = render(config, Deployment(), env)["queuerules.conf"]
    section = rules.split("[widen-hotline-general]")[1].split("[")[0]
    assert [line for line in section.splitlines() if line] == ["penaltychange => 20,1", "penaltychange => 45,2"]
    dialplan = render(config, Deployment(), env)["extensions.conf"]
    assert "Set(QUEUE_MAX_PENALTY=0)" in dialplan
    assert "Queue(hotline-general,tc,,,120,,,widen-hotline-general)" in dialplan


async def test_last_agent_only_when_ready(redis_async) -> None:
    store = AgentStore(redis_async)
    await redis_async.set(keys.last_agent("13900000001"), "1001")
    await store.save(Agent("1001", AgentState.on_call, queues=["hotline-general"]))
    assert await last_agent(redis_async, "13900000001") is None
    await store.save(Agent("1001", AgentState.ready, queues=["hotline-general"]))
    assert await last_agent(redis_async, "13900000001") == "1001"
    assert await last_agent(redis_async, "13900000001", "hotline-economic") is None
    assert await last_agent(redis_async, "13900000002") is None
    routed = await route_call(redis_async, "13900000001", "consult", Profile(repeat=True))
    assert routed == {"HOTLINE_QUEUE": "hotline-general", "HOTLINE_PRIORITY": 5, "HOTLINE_LAST_AGENT": "1001"}


def test_bad_guard_rule_is_refused() -> None:
    from acd.config import GuardRule

    with pytest.raises(ValueError, match="exactly one"):
        GuardRule(name="x", metric="answer_rate", actions=["alert"])


async def test_skill_penalties_pick_the_first_choice_agent(sim, acd):
    """1001 serves consumer at penalty 1, 1003 at penalty 0: 1003 is rung; QueueAdd carried the penalties."""
    from pbxsim.citizens import Citizen
    from tests.acd.conftest import until

    for seat in ("1001", "1003"):
        await acd.agents.login(seat)

    async def both_ready() -> bool:
        agents = [await acd.tracker.store.get(s) for s in ("1001", "1003")]
        return all(a.state == AgentState.ready and "hotline-consumer" in a.queues for a in agents)

    await until(both_ready)
    members = sim.pbx.queues.queues["hotline-consumer"].members
    assert (members["PJSIP/1001"].penalty, members["PJSIP/1003"].penalty) == (1, 0)
    queue, priority = route("consumer_complaint", Profile(repeat=True))
    await sim.place_call(Citizen(caller="13900000031", ivr_seconds=0.1, talk_time=5.0,
                                 ivr_vars={"HOTLINE_QUEUE": queue, "HOTLINE_PRIORITY": str(priority)}))

    async def someone_on_call() -> list[str]:
        return [s for s in ("1001", "1003") if (await acd.tracker.store.get(s)).state == AgentState.on_call]

    assert await until(someone_on_call) == ["1003"]
