"""Test helpers: a recorder of the simulator's events (virtual clock, no sockets)."""

from __future__ import annotations

from typing import Any

from pbxsim.simulator import Simulator


class Recorder:
    """Every event the simulated Asterisk emits, with its simulated time."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.events: list[tuple[float, dict[str, str]]] = []
        sim.pbx.hub.subscribe(self._on)

    def _on(self, pairs: list[tuple[str, str]]) -> None:
        first: dict[str, str] = {}
        for k, v in pairs:
            first.setdefault(k, v)
        self.events.append((self.sim.clock.now(), first))

    def named(self, event: str, **match: Any) -> list[dict[str, str]]:
        return [e for _, e in self.events if e["Event"] == event
                and all(e.get(k) == str(v) for k, v in match.items())]

    def times(self, event: str, **match: Any) -> list[float]:
        return [t for t, e in self.events if e["Event"] == event
                and all(e.get(k) == str(v) for k, v in match.items())]
