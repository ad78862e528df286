"""Agent states as an explicit state machine; every transition is named after the AMI event (or console
action) that causes it. The ACD only *confirms* states from AMI events: a console action sends an AMI
action and the state moves when Asterisk reports the effect.

    logged_out --member_added--> ready | not_ready (added paused)
    ready --member_paused--> not_ready(reason)          not_ready --member_unpaused--> ready
    ready --agent_called--> ringing                     ringing --ring_noanswer / ring_cancelled--> ready
    ringing --agent_connect--> on_call                  on_call --conference_joined--> three_way
    ready --direct_call--> on_call --direct_call_ended--> wrap_up   (the last agent dialled directly)
    on_call | three_way --agent_complete / conference_left--> wrap_up
    wrap_up --member_unpaused / wrap_up_done / wrap_up_overdue--> ready
    wrap_up --member_paused (other reason)--> not_ready
    any --member_removed--> logged_out
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum


class AgentState(StrEnum):
    logged_out = "logged_out"
    ready = "ready"              # 示闲
    not_ready = "not_ready"      # 示忙 (with a reason)
    ringing = "ringing"
    on_call = "on_call"
    wrap_up = "wrap_up"          # 话后整理
    three_way = "three_way"      # in a three-way room (experts)

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {AgentState.logged_out: "未登录", AgentState.ready: "示闲", AgentState.not_ready: "示忙",
          AgentState.ringing: "振铃", AgentState.on_call: "通话中", AgentState.wrap_up: "话后整理",
          AgentState.three_way: "三方通话"}

S = AgentState
LOGGED_IN = frozenset(set(S) - {S.logged_out})
# event → {from state: to state}; `*` (None key) = from any logged-in state
TRANSITIONS: dict[str, dict[AgentState | None, AgentState]] = {
    "member_added": {S.logged_out: S.ready},
    "member_added_paused": {S.logged_out: S.not_ready},
    "member_removed": {None: S.logged_out},
    "member_paused": {S.ready: S.not_ready, S.wrap_up: S.not_ready},
    "wrap_up_paused": {S.ready: S.wrap_up, S.wrap_up: S.wrap_up},
    "member_unpaused": {S.not_ready: S.ready, S.wrap_up: S.ready},
    "agent_called": {S.ready: S.ringing, S.ringing: S.ringing},
    "ring_noanswer": {S.ringing: S.ready},
    "ring_cancelled": {S.ringing: S.ready},
    "agent_connect": {S.ready: S.on_call, S.ringing: S.on_call},
    "conference_joined": {S.on_call: S.three_way, S.ready: S.three_way, S.ringing: S.three_way,
                          S.wrap_up: S.three_way},
    "agent_complete": {S.on_call: S.wrap_up, S.three_way: S.three_way},
    "direct_call": {S.ready: S.on_call},             # the dialplan's last-agent Dial, outside app_queue
    "direct_call_ended": {S.on_call: S.wrap_up},
    "conference_left": {S.three_way: S.wrap_up},
    "wrap_up_done": {S.wrap_up: S.ready},
    "wrap_up_overdue": {S.wrap_up: S.ready},
}


class InvalidTransition(ValueError):
    def __init__(self, state: AgentState, event: str) -> None:
        super().__init__(f"event {event!r} is not allowed in state {state.value!r}")
        self.state, self.event = state, event


@dataclass(slots=True)
class Agent:
    """One seat's confirmed state (what Redis holds)."""

    agent_id: str
    state: AgentState = AgentState.logged_out
    reason: str = ""                 # 示忙 reason, or the wrap-up reason
    since: float = 0.0               # epoch when the state was entered
    paused: bool = False
    queues: list[str] = field(default_factory=list)
    call_id: str = ""                # the citizen's Uniqueid while ringing/on call
    flagged: str = ""                # e.g. "wrap_up_overdue"

    def can(self, event: str) -> bool:
        table = TRANSITIONS.get(event, {})
        return self.state in table or (None in table and self.state in LOGGED_IN)

    def fire(self, event: str, now: float) -> tuple[AgentState, float]:
        """Apply `event`; returns the state left and the seconds spent in it."""
        table = TRANSITIONS.get(event)
        if table is None:
            raise InvalidTransition(self.state, event)
        target = table.get(self.state)
        if target is None and None in table and self.state in LOGGED_IN:
            target = table[None]
        if target is None:
            raise InvalidTransition(self.state, event)
        left, spent = self.state, max(0.0, now - self.since) if self.since else 0.0
        if target != left:
            self.since = now
        self.state = target
        if target not in (S.not_ready, S.wrap_up):
            self.reason = ""
        if target in (S.ready, S.logged_out, S.not_ready, S.wrap_up) and event != "agent_complete":
            self.call_id = ""
        if target == S.logged_out:
            self.paused, self.queues, self.flagged = False, [], ""
        if target != S.wrap_up:
            self.flagged = "" if self.flagged == "wrap_up_overdue" else self.flagged
        return left, spent

    def to_redis(self) -> dict[str, str]:
        return {"agent_id": self.agent_id, "state": self.state.value, "reason": self.reason,
                "since": repr(self.since), "paused": "1" if self.paused else "0", "queues": ",".join(self.queues),
                "call_id": self.call_id, "flagged": self.flagged}

    def to_json(self) -> str:
        return json.dumps(self.to_redis(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Agent:
        return cls.from_redis(json.loads(text))

    @classmethod
    def from_redis(cls, data: dict[str, str]) -> Agent:
        return cls(data["agent_id"], AgentState(data.get("state", "logged_out")), data.get("reason", ""),
                   float(data.get("since") or 0), data.get("paused") == "1",
                   [q for q in data.get("queues", "").split(",") if q], data.get("call_id", ""),
                   data.get("flagged", ""))
