"""ACD staffing advisor vs the PBX simulator: a simulated day (virtual clock) at several staffing levels.

For each head count the simulator's answer rate (answered / offered, every caller who joined the queue) is
compared with the Erlang-A prediction for the same staffing (target: within 0.5 percentage points), and the
advisor's head count for ≥95% answered is checked against the smallest head count that reaches 95% in
simulation (target: ±1). Exponential handling time and patience, Poisson arrivals: the Erlang-A model's
assumptions, so the gap measures the formulas (and the simulator), not a model mismatch.

    python -m bench acd_vs_erlang            (defaults)
    python -m bench.acd_vs_erlang [--hours 24] [--per-hour 600] [--aht 240] [--patience 90] [--days 1]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from acd.erlang import agents_needed, erlang_a
from bench.common import write_results
from pbxsim.config import QueueConfig, SeatBehaviour, SimConfig
from pbxsim.distributions import Constant, Exponential
from pbxsim.simulator import Simulator
from pbxsim.traffic import TrafficModel

QUEUE = "hotline-general"


def simulate(agents: int, per_hour: float, aht: float, patience: float, hours: float, seed: int) -> dict[str, Any]:
    # no ring delay, no wrap-up, no queue timeout: the M/M/n+M the formulas describe
    config = SimConfig(agi_url=None, queues=[QueueConfig(name=QUEUE, wrapuptime=0.0, retry=0.0, max_wait=1e9)],
                       default_seat=SeatBehaviour(answer_delay=Constant(0.0)), seed=seed)
    sim = Simulator(config, virtual=True)
    for i in range(agents):
        sim.add_member(f"PJSIP/{3000 + i}", f"agent-{3000 + i}", QUEUE)
    model = TrafficModel(rate=per_hour / 3600, talk_time=Exponential(aht), patience=Exponential(patience),
                         ivr_vars={"HOTLINE_QUEUE": QUEUE}, seed=seed)
    started = time.perf_counter()
    stats = sim.run_day(model, hours=hours, drain=4 * 3600)
    summary = stats.summary()
    summary["wall_seconds"] = time.perf_counter() - started
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench acd_vs_erlang")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--per-hour", type=float, default=600.0)
    parser.add_argument("--aht", type=float, default=240.0)
    parser.add_argument("--patience", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv or [])
    lam = args.per_hour / 3600
    advised = agents_needed(lam, args.aht, args.patience, answer_rate=0.95, service_level=0.0).agents
    levels = list(range(advised - 3, advised + 3))
    figures: dict[str, Any] = {"per_hour": args.per_hour, "aht_s": args.aht, "patience_s": args.patience,
                               "hours": args.hours, "advised_agents_95": advised}
    worst_gap, smallest_95 = 0.0, None
    for n in levels:
        sim = simulate(n, args.per_hour, args.aht, args.patience, args.hours, args.seed + n)
        model = erlang_a(n, lam, args.aht, args.patience)
        gap_pp = abs(sim["answer_rate"] - model.p_answered) * 100
        worst_gap = max(worst_gap, gap_pp)
        if sim["answer_rate"] >= 0.95 and smallest_95 is None:
            smallest_95 = n
        figures |= {f"n{n}_offered": sim["offered"], f"n{n}_sim_answer_rate": sim["answer_rate"],
                    f"n{n}_erlang_a_answer_rate": model.p_answered, f"n{n}_gap_pp": gap_pp,
                    f"n{n}_sim_sl15": sim["service_level_15s"], f"n{n}_erlang_a_sl15": model.service_level,
                    f"n{n}_wall_s": sim["wall_seconds"]}
    figures |= {"worst_gap_pp": worst_gap, "gap_target_pp": 0.5, "gap_within_target": worst_gap <= 0.5,
                "smallest_n_95_in_simulation": smallest_95 if smallest_95 is not None else -1,
                "advisor_within_one": smallest_95 is not None and abs(smallest_95 - advised) <= 1}
    write_results("acd_vs_erlang", figures)
    return figures


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
