"""Routing: which skill queue a call goes to and with what app_queue priority (QUEUE_PRIO).

The IVR calls `route(category, profile)` and sets HOTLINE_QUEUE / HOTLINE_PRIORITY from it; the dialplan then
runs Queue() with the queue's penalty-escalation rule (queuerules.conf from skills.yaml `widen`).

Priority (higher is answered first, the caller keeps their place among equals):
special-urgent open order (Ziyang art. 13(4) 特殊紧急) > a callback we owe > a repeat caller > everyone else.
"""

from __future__ import annotations

from typing import Any, Protocol

import redis.asyncio as aioredis

from acd import keys
from acd.config import AcdConfig, default_acd_config
from acd.services import AgentStore
from acd.state import AgentState

# work-order categories (hotline/domain.py) → skill group (skills.yaml)
CATEGORY_SKILL = {
    "consumer_complaint": "consumer",
    "economic_violation": "economic",
    "admin_efficiency": "efficiency",
}
DEFAULT_SKILL = "general"


class Profile(Protocol):
    special_urgent: bool
    callback_pending: bool
    repeat: bool


def priority_for(profile: Profile | None, config: AcdConfig | None = None) -> int:
    policy = (config or default_acd_config()).acd
    if profile is None:
        return 0
    if getattr(profile, "special_urgent", False):
        return policy.priority_special_urgent
    if getattr(profile, "callback_pending", False):
        return policy.priority_callback
    if getattr(profile, "repeat", False):
        return policy.priority_repeat
    return 0


def route(category: str | None, profile: Profile | None = None, config: AcdConfig | None = None,
          skill: str | None = None) -> tuple[str, int]:
    """(queue name, priority) for a call. `skill` (e.g. `dialect`, `business`) overrides the category's."""
    config = config or default_acd_config()
    wanted = skill or CATEGORY_SKILL.get(category or "", DEFAULT_SKILL)
    queue = config.queue_for_skill(wanted) or config.queue_for_skill(DEFAULT_SKILL)
    if queue is None:
        raise ValueError(f"no queue serves skill {wanted!r} nor {DEFAULT_SKILL!r}")
    return queue.name, priority_for(profile, config)


async def last_agent(redis: aioredis.Redis, number: str, queue: str | None = None) -> str | None:
    """The agent who last answered `number`, if they are ready right now (and serve `queue`, when given)."""
    if not number:
        return None
    agent_id = await redis.get(keys.last_agent(number))
    if not agent_id:
        return None
    agent = await AgentStore(redis).get(agent_id)
    if agent.state != AgentState.ready or (queue and queue not in agent.queues):
        return None
    return agent_id


async def route_call(redis: aioredis.Redis, number: str, category: str | None, profile: Any = None,
                     config: AcdConfig | None = None, skill: str | None = None) -> dict[str, Any]:
    """Everything the IVR sets before Queue(): HOTLINE_QUEUE, HOTLINE_PRIORITY, HOTLINE_LAST_AGENT."""
    queue, priority = route(category, profile, config, skill)
    return {"HOTLINE_QUEUE": queue, "HOTLINE_PRIORITY": priority,
            "HOTLINE_LAST_AGENT": await last_agent(redis, number, queue) or ""}
