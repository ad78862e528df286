"""Staffing advisor: Erlang-C and Erlang-A (M/M/n+M, Palm 1943; Garnett, Mandelbaum & Reiman 2002).

Erlang-A is solved numerically as the birth-death chain it is: state k = calls in the system, births at the
arrival rate λ, deaths at min(k, n)·μ + max(k − n, 0)·θ (μ = 1/handling time, θ = 1/mean patience). Then

- P(abandon) = θ·E[queue length] / λ   (every abandonment comes from the queue),
- P(answered) = 1 − P(abandon),
- P(answered within t): an arrival that finds k ≥ n (PASTA) has i = k − n callers ahead; each "ahead" caller
  leaves at rate n·μ (a head-of-line start) + i·θ (someone ahead gives up), and the tagged caller itself
  gives up at rate θ. That small absorbing chain is solved with one matrix exponential.

With θ → 0 the chain is Erlang C; `erlang_c` gives its closed form for the check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.linalg import expm
from scipy.sparse import diags
from scipy.sparse.linalg import expm_multiply


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/M/n/n (stable recursion)."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability that a caller waits in M/M/n (load = λ/μ in Erlangs); 1 when the queue is unstable."""
    if load >= servers:
        return 1.0
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1 - b))


def erlang_c_service_level(servers: int, load: float, aht: float, t: float) -> float:
    """Share of callers answered within t seconds in M/M/n (infinite patience)."""
    if load >= servers:
        return 0.0
    return 1.0 - erlang_c(servers, load) * math.exp(-(servers - load) * t / aht)


@dataclass(frozen=True, slots=True)
class ErlangA:
    agents: int
    arrival_rate: float     # calls per second
    aht: float              # mean handling time, seconds
    patience: float         # mean patience, seconds (math.inf: Erlang C)
    p_wait: float           # P(a caller has to wait)
    p_abandon: float
    p_answered: float
    service_level: float    # P(answered within `threshold` seconds), over all offered calls
    threshold: float
    mean_queue: float
    occupancy: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _stationary(n: int, lam: float, mu: float, theta: float) -> np.ndarray:
    # log-weights avoid overflow at large loads; the chain is cut where the tail no longer matters (e⁻⁴⁰ below
    # its peak) or 20,000 states past the agents. Vectorised: at a thousand agents a Python loop took 0.2 s.
    k = np.arange(1, n + 20001, dtype=float)
    deaths = np.minimum(k, n) * mu + np.maximum(k - n, 0) * theta
    logs = np.concatenate(([0.0], np.cumsum(np.log(lam / deaths))))
    peak = np.maximum.accumulate(logs)
    beyond = np.nonzero((np.arange(len(logs)) > n) & (logs < peak - 40))[0]
    logs = logs[: beyond[0] + 1] if len(beyond) else logs
    weights = np.exp(logs - logs.max())
    return weights / weights.sum()


DENSE_UP_TO = 200  # states; beyond, the dense matrix exponential costs seconds and gigabytes (size² floats)


def _reachable(n: int, mu: float, theta: float, size: int, t: float) -> int:
    """How many callers-ahead states can still be served within t: with i ahead, i+1 departures must happen and
    they come at most at rate n·mu + i·theta, so beyond i+1 > Λ + 10√Λ + 10 (Λ = that rate × t) the chance is
    below 1e-20 (Poisson tail) and the state is left out. Keeps long queues (patient callers, huge loads)
    from costing seconds."""
    if theta * t >= 1:
        return size   # impatient callers: the queue's tail is short anyway
    for i in range(size):
        reach = (n * mu + i * theta) * t
        if i + 1 > reach + 10 * math.sqrt(reach) + 10:
            return i
    return size


def _answered_within(n: int, mu: float, theta: float, ahead: np.ndarray, t: float) -> float:
    """P(served within t) for an arrival whose number of callers ahead is distributed as `ahead`."""
    if len(ahead) == 0 or t <= 0:
        return 0.0
    ahead = ahead[:_reachable(n, mu, theta, len(ahead), t)]
    size = len(ahead)
    # states 0..size-1 = callers ahead, `size` = served (absorbing); abandonment is the missing mass.
    # The generator is bidiagonal: a sparse matrix, exponentiated densely only while that is cheap.
    out = n * mu + np.arange(size) * theta
    g = diags([np.append(-(out + theta), 0.0), np.append(out[1:], 0.0)], [0, -1],
              shape=(size + 1, size + 1), format="lil")
    g[0, size] = n * mu
    start = np.append(ahead, 0.0)
    if size <= DENSE_UP_TO:
        return float((start @ expm(g.toarray() * t))[size])
    return float(expm_multiply(g.T.tocsr() * t, start)[size])


def erlang_a(agents: int, arrival_rate: float, aht: float, patience: float, threshold: float = 15.0) -> ErlangA:
    """Figures of M/M/n+M for `agents` agents. Rates are per second; `patience=math.inf` gives Erlang C."""
    if agents < 0 or arrival_rate < 0 or aht <= 0 or patience <= 0:
        raise ValueError("agents and the arrival rate must be ≥ 0, handling time and patience > 0")
    mu = 1.0 / aht
    theta = 0.0 if math.isinf(patience) else 1.0 / patience
    load = arrival_rate * aht
    if arrival_rate == 0:
        return ErlangA(agents, 0.0, aht, patience, 0.0, 0.0, 1.0, 1.0, threshold, 0.0, 0.0)
    if theta == 0.0:
        if agents == 0 or load >= agents:
            return ErlangA(agents, arrival_rate, aht, patience, 1.0, 0.0, 0.0, 0.0, threshold, math.inf, 1.0)
        pw = erlang_c(agents, load)
        return ErlangA(agents, arrival_rate, aht, patience, pw, 0.0, 1.0,
                       erlang_c_service_level(agents, load, aht, threshold), threshold,
                       pw * load / (agents - load), load / agents)
    pi = _stationary(agents, arrival_rate, mu, theta)
    ks = np.arange(len(pi))
    queue = np.maximum(ks - agents, 0)
    mean_queue = float((pi * queue).sum())
    p_abandon = min(1.0, theta * mean_queue / arrival_rate)
    p_wait = float(pi[agents:].sum())
    immediate = float(pi[:agents].sum())
    sl = immediate + (_answered_within(agents, mu, theta, pi[agents:], threshold) if agents else 0.0)
    busy = float((pi * np.minimum(ks, agents)).sum())
    return ErlangA(agents, arrival_rate, aht, patience, p_wait, p_abandon, 1.0 - p_abandon, sl, threshold,
                   mean_queue, busy / agents if agents else 1.0)


def agents_needed(arrival_rate: float, aht: float, patience: float, *, answer_rate: float = 0.95,
                  service_level: float = 0.8, threshold: float = 15.0, max_agents: int = 2000) -> ErlangA:
    """The fewest agents whose Erlang-A figures reach both targets (answered share and answered-within-t).
    Both figures grow with the head count, so: gallop up from just under the load to a team that reaches
    them, then bisect down to the smallest (patient callers at a thousand agents: 11 evaluations, not 80)."""
    def reaches(n: int) -> ErlangA | None:
        figures = erlang_a(n, arrival_rate, aht, patience, threshold)
        return figures if figures.p_answered >= answer_rate and figures.service_level >= service_level else None

    start = max(0, int(arrival_rate * aht) - 1)
    if start > max_agents:
        raise ValueError(f"more than {max_agents} agents needed")
    if (found := reaches(start)) is not None:
        low, n = -1, start          # patient enough callers: fewer agents than the load may do, look below
    else:
        low, n, step = start, start + 1, 1
        while (found := reaches(n)) is None:
            if n >= max_agents:
                raise ValueError(f"more than {max_agents} agents needed")
            low, n, step = n, min(max_agents, n + step), step * 2
    while n - low > 1:
        middle = (low + n) // 2
        if (figures := reaches(middle)) is None:
            low = middle
        else:
            n, found = middle, figures
    return found


@dataclass(frozen=True, slots=True)
class StaffingRow:
    slot: str                # "08:30"
    calls_per_hour: float
    agents: int
    answer_rate: float
    service_level: float
    occupancy: float


def day_plan(forecast: Sequence[float], aht: float, patience: float, *,
             answer_rate: float = 0.95, service_level: float = 0.8, threshold: float = 15.0) -> list[StaffingRow]:
    """A day's forecast (48 figures in calls per hour, one per half hour from 00:00) → agents per half hour."""
    if len(forecast) != 48:
        raise ValueError("a day's forecast has 48 half-hour figures")
    rows = []
    for slot, per_hour in enumerate(forecast):
        if per_hour < 0:
            raise ValueError("arrival rates must not be negative")
        fig = agents_needed(per_hour / 3600.0, aht, patience, answer_rate=answer_rate,
                            service_level=service_level, threshold=threshold)
        rows.append(StaffingRow(f"{slot // 2:02d}:{30 * (slot % 2):02d}", per_hour, fig.agents,
                                fig.p_answered, fig.service_level, fig.occupancy))
    return rows
