"""The traffic model: Poisson arrivals whose rate follows a daily profile (one rate per half hour), and the
citizens' patience, talk time, IVR digits and caller numbers drawn from a seeded RNG."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pbxsim.citizens import Citizen
from pbxsim.distributions import Distribution, Exponential, LogNormal

HALF_HOUR = 1800.0


@dataclass
class TrafficModel:
    """`rate` calls per second, or `profile`: 48 calls-per-hour figures, one per half hour from midnight."""

    rate: float = 0.0
    profile: Sequence[float] | None = None
    talk_time: Distribution = field(default_factory=lambda: LogNormal(240.0, 120.0))
    patience: Distribution | None = field(default_factory=lambda: Exponential(90.0))
    digits: Sequence[tuple[str, float]] = (("2", 1.0),)       # (digits, weight)
    ivr_vars: dict[str, str] = field(default_factory=dict)       # scripted IVR outcome (no FastAGI)
    names: Sequence[str] = ("Citizen",)
    seed: int = 1

    def __post_init__(self) -> None:
        if self.profile is not None and len(self.profile) != 48:
            raise ValueError("a daily profile has 48 half-hour rates (calls per hour)")
        if self.rate < 0 or (self.profile is not None and min(self.profile) < 0):
            raise ValueError("arrival rates must not be negative")
        self.rng = random.Random(self.seed)
        self._n = 0

    def rate_at(self, t: float) -> float:
        """Calls per second at simulated epoch time `t` (local day = UTC+8, China Standard Time)."""
        if self.profile is None:
            return self.rate
        slot = int(((t + 8 * 3600) % 86400) // HALF_HOUR)
        return self.profile[slot] / 3600.0

    def max_rate(self) -> float:
        return max(self.profile) / 3600.0 if self.profile is not None else self.rate

    def next_arrival(self, now: float) -> float | None:
        """Time of the next arrival after `now` (thinning of a non-homogeneous Poisson process)."""
        peak = self.max_rate()
        if peak <= 0:
            return None
        t = now
        while True:
            t += self.rng.expovariate(peak)
            if self.rng.random() * peak <= self.rate_at(t):
                return t

    def citizen(self) -> Citizen:
        self._n += 1
        choices, weights = zip(*self.digits, strict=True) if self.digits else (("",), (1.0,))
        return Citizen(
            caller=f"139{self._n:08d}"[-11:], name=self.rng.choice(list(self.names)),
            digits=self.rng.choices(list(choices), weights=list(weights))[0],
            patience=self.patience.sample(self.rng) if self.patience is not None else None,
            talk_time=self.talk_time.sample(self.rng), ivr_vars=dict(self.ivr_vars))


class ArrivalProcess:
    """Schedules `place(citizen)` on the clock for each arrival of the model until `until`."""

    def __init__(self, model: TrafficModel, clock, place: Callable[[Citizen], object], until: float | None = None):  # type: ignore[no-untyped-def]
        self.model, self.clock, self.place, self.until = model, clock, place, until
        self.stopped = False
        self._timer = None
        self._schedule()

    def _schedule(self) -> None:
        when = self.model.next_arrival(self.clock.now())
        if when is None or (self.until is not None and when > self.until) or self.stopped:
            return
        self._timer = self.clock.call_later(when - self.clock.now(), self._arrive)

    def _arrive(self) -> None:
        if self.stopped:
            return
        self.place(self.model.citizen())
        self._schedule()

    def stop(self) -> None:
        self.stopped = True
        if self._timer is not None:
            self._timer.cancel()
