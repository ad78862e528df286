"""The seat's state as the ACD confirmed it (acd.services.AgentStore in Redis), for the console to show.

The console only asks (stream `acd:requests`, honoured by acd.bus_consumer.StateRequestsConsumer); Asterisk's
events, read by the ACD, decide the state.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from acd.services import AgentStore

from .schemas import ConfirmedState


async def confirmed_state(client: aioredis.Redis, agent_id: str) -> ConfirmedState:
    agent = await AgentStore(client).get(agent_id)
    return ConfirmedState(agent_id=agent_id, state=agent.state.value, label=agent.state.label,
                          reason=agent.reason or None, since=agent.since or None, call_id=agent.call_id or None)
