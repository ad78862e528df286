"""The event hub: every AMI event the simulated Asterisk raises goes through `EventHub.emit`, which hands it
to each listener (AMI sessions, recorders, statistics) as a list of header pairs in wire order."""

from __future__ import annotations

from collections.abc import Callable, Iterable

Pairs = list[tuple[str, str]]
Listener = Callable[[Pairs], None]

# Privilege classes as Asterisk 22 labels them (manager.c / the recordings).
_PRIVILEGE = {
    "VarSet": "dialplan,all", "Newexten": "dialplan,all",
    "AGIExecStart": "agi,all", "AGIExecEnd": "agi,all",
    "DTMFBegin": "dtmf,all", "DTMFEnd": "dtmf,all",
    "QueueCallerJoin": "agent,all", "QueueCallerLeave": "agent,all", "QueueCallerAbandon": "agent,all",
    "AgentCalled": "agent,all", "AgentConnect": "agent,all", "AgentComplete": "agent,all",
    "AgentRingNoAnswer": "agent,all", "AgentDump": "agent,all",
    "QueueMemberAdded": "agent,all", "QueueMemberRemoved": "agent,all", "QueueMemberPause": "agent,all",
    "QueueMemberStatus": "agent,all", "QueueMemberPenalty": "agent,all",
    "FullyBooted": "system,all", "Reload": "system,all",
}


class EventHub:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self.emitted = 0

    @property
    def listening(self) -> bool:
        return bool(self._listeners)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: str, *parts: Iterable[tuple[str, str]]) -> Pairs:
        self.emitted += 1
        pairs: Pairs = [("Event", event), ("Privilege", _PRIVILEGE.get(event, "call,all"))]
        if not self._listeners:
            return pairs          # nobody listens (virtual-time runs): don't build the frame
        for part in parts:
            pairs.extend(part)
        for listener in list(self._listeners):
            listener(pairs)
        return pairs
