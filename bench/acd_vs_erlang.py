"""ACD staffing advisor vs the PBX simulator: simulated days (virtual clock) at several staffing levels.

For each head count the simulator's answer rate (answered / every caller who joined the queue, the quantity
Erlang-A's P(answered) describes) is compared with the Erlang-A prediction for the same staffing (target: within
0.5 percentage points), and the advisor's head count for ≥95% answered is checked against the smallest head
count that reaches 95% in simulation (target: ±1). Poisson arrivals, exponential handling time and patience, no
ring delay, no wrap-up, no queue timeout: the M/M/n+M the formulas describe, so the gap measures the formulas
and the simulator, not a model mismatch.

One simulated day's answer rate is noisy near ρ = 1 (SD ≈ 0.8 points at 40 agents: waits are long and strongly
correlated), so each head count runs `--days` independent days and the figures carry 95% confidence intervals:

- the same days at every head count (common random numbers: day d has the same callers everywhere), so the
  head counts are compared on equal traffic;
- each day starts with an empty centre: the first `--warmup` hour's callers are served but not counted;
- control variate: a day's answer rate follows the work that happened to be offered, W = Σ talk times of all
  arrivals, whose mean λ·T·AHT is known exactly. The estimate is the intercept of the regression of the daily
  answer rates on W/(λ·T·AHT) − 1 (its t interval on days − 2 degrees of freedom); the plain mean and its interval
  are reported beside it.

The platform's own answer rate (metrics, the guard) leaves abandons shorter than `short_abandon_seconds` out of the
offered calls; the simulated rate by that definition is reported too (`..._platform`): Erlang-A's P(answered),
and so the advisor, count those callers as lost.

    python -m bench acd_vs_erlang            (defaults)
    python -m bench.acd_vs_erlang [--days 8] [--hours 24] [--warmup 1] [--per-hour 600] [--aht 240] ...
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from acd.erlang import agents_needed, erlang_a
from bench.common import write_results
from hotline.settings import Settings
from pbxsim.citizens import Citizen
from pbxsim.config import QueueConfig, SeatBehaviour, SimConfig
from pbxsim.distributions import Constant, Exponential
from pbxsim.simulator import Simulator
from pbxsim.traffic import TrafficModel

QUEUE = "hotline-general"
T0 = 1_795_263_400.0


class MeteredTraffic(TrafficModel):
    """The traffic model, adding up the talk time it drew for every arrival (the control variate)."""

    def citizen(self) -> Citizen:
        citizen = super().citizen()
        self.talk_drawn = getattr(self, "talk_drawn", 0.0) + (citizen.talk_time or 0.0)
        return citizen


@dataclass
class DayCounts:
    """Outcomes of the callers who joined the queue inside the counted window."""

    counted_from: float
    counted_until: float
    short_abandon: float
    threshold: float = 15.0
    counted: set[int] = field(default_factory=set)
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0

    def on_queue_event(self, what: str, data: dict[str, Any]) -> None:
        caller = data.get("caller")
        if caller is None:
            return
        if what == "join":
            if self.counted_from <= caller.joined_at < self.counted_until:
                self.counted.add(id(caller))
                self.offered += 1
            return
        if id(caller) not in self.counted:
            return
        if what == "connect":
            self.answered += 1
            self.answered_in_sl += data["wait"] <= self.threshold
        elif what in ("abandon", "timeout"):
            self.abandoned += 1
            self.short_abandoned += data["wait"] < self.short_abandon


def simulate_day(agents: int, per_hour: float, aht: float, patience: float, hours: float, warmup: float,
                 short_abandon: float, seed: int) -> dict[str, float]:
    # no ring delay, no wrap-up, no queue timeout: the M/M/n+M the formulas describe
    config = SimConfig(agi_url=None, queues=[QueueConfig(name=QUEUE, wrapuptime=0.0, retry=0.0, max_wait=1e9)],
                       default_seat=SeatBehaviour(answer_delay=Constant(0.0)), seed=seed)
    sim = Simulator(config, virtual=True, start_time=T0)
    for i in range(agents):
        sim.add_member(f"PJSIP/{3000 + i}", f"agent-{3000 + i}", QUEUE)
    counts = DayCounts(T0 + warmup * 3600, T0 + (warmup + hours) * 3600, short_abandon)
    sim.pbx.queues.listeners.append(counts.on_queue_event)
    model = MeteredTraffic(rate=per_hour / 3600, talk_time=Exponential(aht), patience=Exponential(patience),
                           ivr_vars={"HOTLINE_QUEUE": QUEUE}, seed=seed)
    sim.run_day(model, start=T0, hours=warmup + hours, drain=4 * 3600)
    expected_work = per_hour / 3600 * (warmup + hours) * 3600 * aht
    platform_offered = counts.offered - counts.short_abandoned
    return {"offered": counts.offered, "answer_rate": counts.answered / counts.offered,
            "sl15": counts.answered_in_sl / counts.offered,
            "answer_rate_platform": counts.answered / platform_offered,
            "excess_work": getattr(model, "talk_drawn", 0.0) / expected_work - 1.0}


def interval(values: np.ndarray, control: np.ndarray | None = None) -> tuple[float, float]:
    """(estimate, 95% half-width): the mean, or with a control of known mean 0 the regression intercept."""
    k = len(values)
    if control is None:
        return float(values.mean()), float(stats.t.ppf(0.975, k - 1) * values.std(ddof=1) / math.sqrt(k))
    design = np.column_stack([np.ones(k), control])
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    residual = values - design @ coef
    s2 = float(residual @ residual) / (k - 2)
    spread = float(((control - control.mean()) ** 2).sum())
    se = math.sqrt(s2 * (1 / k + control.mean() ** 2 / spread))
    return float(coef[0]), float(stats.t.ppf(0.975, k - 2) * se)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench acd_vs_erlang")
    parser.add_argument("--days", type=int, default=8, help="independent simulated days per head count (≥ 3)")
    parser.add_argument("--hours", type=float, default=24.0, help="counted hours per day")
    parser.add_argument("--warmup", type=float, default=1.0, help="hours served but not counted, from empty")
    parser.add_argument("--per-hour", type=float, default=600.0)
    parser.add_argument("--aht", type=float, default=240.0)
    parser.add_argument("--patience", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv or [])
    if args.days < 3:
        parser.error("--days must be at least 3 (the control-variate interval has days − 2 degrees of freedom)")
    short_abandon = Settings().short_abandon_seconds
    lam = args.per_hour / 3600
    advised = agents_needed(lam, args.aht, args.patience, answer_rate=0.95, service_level=0.0).agents
    levels = list(range(advised - 3, advised + 3))
    load_before = os.getloadavg()
    started, cpu_started = time.perf_counter(), time.process_time()
    figures: dict[str, Any] = {"per_hour": args.per_hour, "aht_s": args.aht, "patience_s": args.patience,
                               "days_per_level": args.days, "hours_per_day": args.hours, "warmup_h": args.warmup,
                               "short_abandon_s": short_abandon, "advised_agents_95": advised}
    worst_gap = worst_gap_ci = 0.0
    smallest_95 = smallest_95_platform = None
    for n in levels:
        level_started = time.perf_counter()
        days = [simulate_day(n, args.per_hour, args.aht, args.patience, args.hours, args.warmup, short_abandon,
                             seed=args.seed * 1000 + d) for d in range(args.days)]
        rate = np.array([d["answer_rate"] for d in days])
        work = np.array([d["excess_work"] for d in days])
        mean, mean_ci = interval(rate)
        estimate, ci = interval(rate, work)
        sl, sl_ci = interval(np.array([d["sl15"] for d in days]), work)
        platform, platform_ci = interval(np.array([d["answer_rate_platform"] for d in days]), work)
        model = erlang_a(n, lam, args.aht, args.patience)
        gap = (estimate - model.p_answered) * 100
        worst_gap = max(worst_gap, abs(gap))
        worst_gap_ci = max(worst_gap_ci, abs(gap) + ci * 100)
        if estimate >= 0.95 and smallest_95 is None:
            smallest_95 = n
        if platform >= 0.95 and smallest_95_platform is None:
            smallest_95_platform = n
        figures |= {f"n{n}_offered": sum(d["offered"] for d in days),
                    f"n{n}_sim_answer_rate": estimate, f"n{n}_sim_answer_rate_ci95_pp": ci * 100,
                    f"n{n}_sim_answer_rate_plain_mean": mean, f"n{n}_sim_answer_rate_plain_ci95_pp": mean_ci * 100,
                    f"n{n}_sim_daily_sd_pp": float(rate.std(ddof=1)) * 100,
                    f"n{n}_erlang_a_answer_rate": model.p_answered, f"n{n}_gap_pp": gap,
                    f"n{n}_gap_ci95_low_pp": gap - ci * 100, f"n{n}_gap_ci95_high_pp": gap + ci * 100,
                    f"n{n}_sim_sl15": sl, f"n{n}_sim_sl15_ci95_pp": sl_ci * 100,
                    f"n{n}_erlang_a_sl15": model.service_level,
                    f"n{n}_sim_answer_rate_platform": platform,
                    f"n{n}_sim_answer_rate_platform_ci95_pp": platform_ci * 100,
                    f"n{n}_wall_s": time.perf_counter() - level_started}
    figures |= {"worst_gap_pp": worst_gap, "worst_gap_ci95_bound_pp": worst_gap_ci, "gap_target_pp": 0.5,
                "gap_within_target": worst_gap <= 0.5, "gap_ci95_within_target": worst_gap_ci <= 0.5,
                "smallest_n_95_in_simulation": smallest_95 if smallest_95 is not None else -1,
                "advisor_within_one": smallest_95 is not None and abs(smallest_95 - advised) <= 1,
                "smallest_n_95_platform_definition": smallest_95_platform if smallest_95_platform is not None else -1,
                "wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu_started,
                "load_average_1m_before": load_before[0],
                "load_average_1m_after": os.getloadavg()[0]}
    write_results("acd_vs_erlang", figures)
    return figures


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
