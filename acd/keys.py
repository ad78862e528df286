"""Redis keys the ACD keeps. The queue and callback keys are the IVR's contract (ivr/keys.py) and are reused
from there; the rest are the ACD's own. Documented in docs/areas/acd.md."""

from __future__ import annotations

from ivr.keys import CALLBACK_NUMBERS, CALLBACK_OFFER, CALLBACKS, PREFIX, callback, queue_stats, queue_waiting

__all__ = ["CALLBACKS", "CALLBACK_NUMBERS", "CALLBACK_OFFER", "callback", "queue_stats", "queue_waiting"]

# HASH agent id → the confirmed state of that agent as JSON (acd/state.py `Agent.to_json`): every seat in one
# key, so the queue figures, the guard and the callbacks read them all in one round trip
AGENT_STATES = PREFIX + "acd:agent_states"
OVERFLOW = PREFIX + "acd:overflow"                   # HASH queue → comma list of agent ids the guard added
GUARD_ACTIVE = PREFIX + "acd:guard:active"           # HASH "<queue>|<rule>" → epoch it fired
LAST_AGENT_TTL = 7 * 86400


def agent_time(agent_id: str) -> str:
    """HASH: state → seconds spent in it (accumulated since the key was created)."""
    return f"{PREFIX}acd:agent:{agent_id}:time"


def last_agent(number: str) -> str:
    """STRING: the agent who last answered this calling number (TTL LAST_AGENT_TTL)."""
    return f"{PREFIX}acd:last_agent:{number}"
