"""Random durations for the traffic model (talk time, patience, answer delay), drawn from a seeded RNG."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol


class Distribution(Protocol):
    def sample(self, rng: random.Random) -> float: ...


@dataclass(frozen=True)
class Constant:
    value: float

    def sample(self, rng: random.Random) -> float:
        return self.value


@dataclass(frozen=True)
class Exponential:
    mean: float

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean) if self.mean > 0 else 0.0


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class LogNormal:
    """Parameterised by the mean and standard deviation of the durations themselves (not of their log)."""

    mean: float
    stdev: float

    def sample(self, rng: random.Random) -> float:
        sigma2 = math.log(1.0 + (self.stdev / self.mean) ** 2)
        return rng.lognormvariate(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2))


def parse(spec: str | float | int | Distribution) -> Distribution:
    """`12` → Constant, `exp:180`, `lognormal:240,120`, `uniform:5,30` (the CLI's notation)."""
    if isinstance(spec, int | float):
        return Constant(float(spec))
    if not isinstance(spec, str):
        return spec
    kind, _, args = spec.partition(":")
    try:
        if not args:
            return Constant(float(kind))
        values = [float(v) for v in args.split(",")]
        if kind == "exp":
            return Exponential(*values)
        if kind == "lognormal":
            return LogNormal(*values)
        if kind == "uniform":
            return Uniform(*values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad distribution {spec!r}: {exc}") from exc
    raise ValueError(f"unknown distribution {spec!r} (use N, exp:M, lognormal:M,S or uniform:A,B)")
