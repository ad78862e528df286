"""The ThreeWay machine: the ConfBridge room `3w-<citizen uniqueid>` where an expert joins a call.

The recording (threeway) shows the order: `Originate` of the expert seat into the room (ConfbridgeStart,
then the expert's ConfbridgeJoin), then `Redirect` of the citizen and the agent into it (their
ConfbridgeJoin); later the agent leaves (ConfbridgeLeave) and the citizen goes on with the expert.

    inviting --expert_joined|agent_joined|citizen_joined--> inviting, or three_way once all three are in
    three_way --agent_left--> handed_over          (citizen and expert go on)
    three_way --expert_left--> agent_only          (the expert dropped out)
    handed_over --expert_left--> citizen_alone     agent_only --agent_left--> citizen_alone
    any --citizen_left|conference_ended--> closed
"""

from __future__ import annotations

from typing import ClassVar

from bridge.machine import StateMachine

INVITING, THREE_WAY, HANDED_OVER, AGENT_ONLY, CITIZEN_ALONE, CLOSED = (
    "inviting", "three_way", "handed_over", "agent_only", "citizen_alone", "closed")
OPEN = (INVITING, THREE_WAY, HANDED_OVER, AGENT_ONLY, CITIZEN_ALONE)
ROOM_PREFIX = "3w-"

THREEWAY_TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # ConfbridgeJoin, told apart by who joins
    "expert_joined": {INVITING: (INVITING, THREE_WAY), AGENT_ONLY: (THREE_WAY,), CITIZEN_ALONE: (HANDED_OVER,),
                      THREE_WAY: (THREE_WAY,), HANDED_OVER: (HANDED_OVER,)},
    "agent_joined": {INVITING: (INVITING, THREE_WAY), HANDED_OVER: (THREE_WAY,), CITIZEN_ALONE: (AGENT_ONLY,)},
    "citizen_joined": {INVITING: (INVITING, THREE_WAY)},
    # ConfbridgeLeave, told apart by who leaves
    "agent_left": {THREE_WAY: (HANDED_OVER,), AGENT_ONLY: (CITIZEN_ALONE,), INVITING: (INVITING,)},
    "expert_left": {THREE_WAY: (AGENT_ONLY,), HANDED_OVER: (CITIZEN_ALONE,), INVITING: (INVITING,)},
    "citizen_left": {s: (CLOSED,) for s in OPEN},
    "conference_ended": {s: (CLOSED,) for s in OPEN},  # ConfbridgeEnd
}


class ThreeWayMachine(StateMachine):
    TRANSITIONS: ClassVar[dict[str, dict[str, tuple[str, ...]]]] = THREEWAY_TRANSITIONS
    INITIAL: ClassVar[str] = INVITING
    FINAL: ClassVar[frozenset[str]] = frozenset({CLOSED})

    __slots__ = ("_present_experts", "agents", "citizen_in", "experts", "room")

    def __init__(self, room: str) -> None:
        super().__init__(room)
        self.room = room
        self.citizen_in = False
        self.agents: set[str] = set()   # agent channels in the room
        self.experts: list[str] = []    # expert seat ids that ever joined, in order ("2001")
        self._present_experts: set[str] = set()

    def join(self, who: str, channel: str, seat: str | None = None) -> str | None:
        """Record a ConfbridgeJoin; returns the transition fired (or None when not allowed)."""
        if who == "citizen":
            self.citizen_in = True
        elif who == "agent":
            self.agents.add(channel)
        else:
            self._present_experts.add(channel)
            if seat and seat not in self.experts:
                self.experts.append(seat)
        transition = f"{who}_joined"
        return transition if self.fire(transition, self._target_after_join()) else None

    def leave(self, who: str, channel: str) -> str | None:
        if who == "citizen":
            self.citizen_in = False
        elif who == "agent":
            self.agents.discard(channel)
        else:
            self._present_experts.discard(channel)
        transition = f"{who}_left"
        targets = self.TRANSITIONS[transition].get(self.state)
        target = targets[0] if targets else None
        return transition if self.fire(transition, target) else None

    def _target_after_join(self) -> str | None:
        if self.state == INVITING:
            full = self.citizen_in and self.agents and self._present_experts
            return THREE_WAY if full else INVITING
        return None


def room_for(call_id: str) -> str:
    return ROOM_PREFIX + call_id


def call_id_of_room(room: str) -> str | None:
    return room[len(ROOM_PREFIX):] if room.startswith(ROOM_PREFIX) else None
