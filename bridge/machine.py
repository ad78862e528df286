"""A table-driven state machine: transitions are named after the events that cause them.

Each machine declares `TRANSITIONS = {transition: {from_state: allowed_targets}}`; the first target is
the default. A transition that is not allowed from the current state is logged and ignored: a surprising
AMI event (one missed during a reconnect, a stray duplicate) must never crash the tracker.
"""

from __future__ import annotations

import logging
from typing import ClassVar

log = logging.getLogger(__name__)


class StateMachine:
    TRANSITIONS: ClassVar[dict[str, dict[str, tuple[str, ...]]]] = {}
    INITIAL: ClassVar[str] = ""
    FINAL: ClassVar[frozenset[str]] = frozenset()

    __slots__ = ("key", "state")

    def __init__(self, key: str, state: str | None = None) -> None:
        self.key = key
        self.state = state or self.INITIAL

    def can(self, transition: str) -> bool:
        return self.state in self.TRANSITIONS.get(transition, {})

    def fire(self, transition: str, target: str | None = None) -> bool:
        """Apply `transition` (to `target` when it allows several); False, logged, when not allowed."""
        targets = self.TRANSITIONS.get(transition, {}).get(self.state)
        if targets is None:
            log.info("%s %s: transition %r not allowed from %r, ignored",
                     type(self).__name__, self.key, transition, self.state)
            return False
        if target is None:
            target = targets[0]
        elif target not in targets:
            log.warning("%s %s: %r cannot lead from %r to %r, ignored",
                        type(self).__name__, self.key, transition, self.state, target)
            return False
        self.state = target
        return True

    @property
    def finished(self) -> bool:
        return self.state in self.FINAL

    @classmethod
    def states(cls) -> list[str]:
        seen = [cls.INITIAL]
        for moves in cls.TRANSITIONS.values():
            for source, targets in moves.items():
                for s in (source, *targets):
                    if s not in seen:
                        seen.append(s)
        return seen
