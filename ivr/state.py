"""Call flows as explicit state machines: each flow declares its transitions as data, named after the
events that cause them (`key_emergency`, `silence`, `order_found` …). The runner calls the flow's
`on_<state>` handler, which does the talking and returns the event; the table says where that leads.
The states visited form the IVR path the dialplan and the reports see (HOTLINE_IVR_PATH)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger(__name__)


class InvalidTransition(RuntimeError):
    pass


class Machine:
    def __init__(self, name: str, transitions: Mapping[str, Mapping[str, str]], initial: str,
                 finals: frozenset[str]) -> None:
        self.name = name
        self.transitions = transitions
        self.state = initial
        self.finals = finals
        self.path = [initial]
        self.events: list[str] = []

    @property
    def done(self) -> bool:
        return self.state in self.finals

    def fire(self, event: str) -> str:
        try:
            target = self.transitions[self.state][event]
        except KeyError as exc:
            raise InvalidTransition(f"{self.name}: no transition {event!r} from {self.state!r}") from exc
        self.events.append(event)
        self.state = target
        if self.path[-1] != target:  # a retry loop (ask → ask) is one step of the path
            self.path.append(target)
        return target

    def path_text(self) -> str:
        return ">".join(self.path)


async def run_machine(machine: Machine, handlers: Mapping[str, Callable[[], Awaitable[str]]]) -> str:
    """Drive the machine to a final state; the final state's handler (if any) runs once."""
    while not machine.done:
        event = await handlers[machine.state]()
        machine.fire(event)
    final = handlers.get(machine.state)
    if final is not None:
        await final()
    return machine.state


def check_table(transitions: Mapping[str, Mapping[str, str]], finals: frozenset[str]) -> None:
    """Every target is a state with transitions or a final state (tested for every flow)."""
    for state, edges in transitions.items():
        for event, target in edges.items():
            if target not in transitions and target not in finals:
                raise InvalidTransition(f"{state} --{event}--> {target}: unknown state")
