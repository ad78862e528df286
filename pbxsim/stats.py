"""Figures of a simulated run for staffing what-ifs: offered, answered, abandoned, waits, service level."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunStats:
    offered: int = 0          # calls that joined a queue
    answered: int = 0
    abandoned: int = 0
    timed_out: int = 0
    no_answer: int = 0        # AgentRingNoAnswer count
    answered_waits: list[float] = field(default_factory=list)
    abandoned_waits: list[float] = field(default_factory=list)
    talk_times: list[float] = field(default_factory=list)

    def on_queue_event(self, what: str, data: dict[str, Any]) -> None:
        if what == "join":
            self.offered += 1
        elif what == "connect":
            self.answered += 1
            self.answered_waits.append(data["wait"])
        elif what == "abandon":
            self.abandoned += 1
            self.abandoned_waits.append(data["wait"])
        elif what == "timeout":
            self.timed_out += 1
            self.abandoned_waits.append(data["wait"])
        elif what == "noanswer":
            self.no_answer += 1
        elif what == "complete":
            self.talk_times.append(data["talk"])

    def service_level(self, threshold: float = 15.0) -> float:
        """Share of offered calls answered within `threshold` seconds (0 when nothing was offered)."""
        if not self.offered:
            return 0.0
        return sum(1 for w in self.answered_waits if w <= threshold) / self.offered

    def summary(self) -> dict[str, float]:
        waits = self.answered_waits
        return {
            "offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
            "timed_out": self.timed_out, "ring_noanswer": self.no_answer,
            "answer_rate": self.answered / self.offered if self.offered else 0.0,
            "abandon_rate": (self.abandoned + self.timed_out) / self.offered if self.offered else 0.0,
            "mean_wait_answered": sum(waits) / len(waits) if waits else 0.0,
            "max_wait_answered": max(waits) if waits else 0.0,
            "service_level_15s": self.service_level(15.0),
            "mean_talk": sum(self.talk_times) / len(self.talk_times) if self.talk_times else 0.0,
        }
