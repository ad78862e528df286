"""Work-order creation rate, with deadline computation, against a raw INSERT in the same run.

`service_single`: `hotline.workorders.services.create_order` — number allocation (upsert), repeat-caller
check, unit check, the SLA engine's deadlines (Ziyang policy, real working calendar), the order, its lead
unit, the accept transition, its deadlines and the provincial outbox row; one session and one transaction
per order, as the console does it.
`console_single`: what `POST /workorders` runs, called as a function (no HTTP): `create_order`, the audit
entry, the response with units, deadlines and history (`resources.create_order`); one session each.
`service_batch`: `create_orders` with 100 orders per transaction (letter and web intake).
`raw_single` / `raw_batch`: the same order rows INSERTed alone (one per transaction / executemany of 100
per transaction), nothing else: the storage floor each mode is held against.
`sla_compute`: the SLA engine's compute() alone (no database).

The machine is shared (2 cores, other jobs running): the four modes run in alternating rounds, each figure
is the best round (the median is recorded beside it), and the load average is recorded.
Target: ≥ 1,000 orders/s. One commit per order is bounded by the commit itself (see raw_single).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
from collections.abc import Callable

from sqlalchemy import text

from bench._dbsetup import drop_database, fresh_database
from bench.common import write_results
from hotline.db import make_session_factory
from hotline.domain import Category, Urgency
from hotline.security import Principal, Role
from hotline.sla import DeadlineEngine, WorkCalendar, load_policy
from hotline.sla.timeutil import TZ
from hotline.units.services import create_unit
from hotline.workorders import resources
from hotline.workorders.schemas import OrderCreate
from hotline.workorders.services import NewOrder, create_order, create_orders

ROUNDS = 5
SINGLE = 300  # orders per round and mode, one transaction each
BATCHED = 1000  # orders per round, in transactions of BATCH
BATCH = 100
START = dt.datetime(2026, 11, 16, 9, 0, tzinfo=TZ)
CATEGORIES = [Category.consult, Category.help, Category.complaint, Category.report, Category.suggestion]
PLACES = ["建设路", "和平路", "迎宾大道", "滨江路", "公园路"]
RAW_INSERT = text(
    "INSERT INTO work_orders (number, created_at, updated_at, channel, category, urgency, status, caller_name, "
    "caller_number, confidential, content, location, created_by, extensions, version) VALUES (:number, :t, :t, "
    "'phone', :category, 'normal', 'accepted', '市民', :caller, false, :content, :location, 'bench', 0, 1)")


def _orders(rng: random.Random, count: int) -> list[NewOrder]:
    out = []
    for i in range(count):
        place = f"雁江区{rng.choice(PLACES)}{rng.randint(1, 300)}号"
        out.append(NewOrder(category=rng.choice(CATEGORIES), urgency=Urgency.normal,
                            content=f"{place}附近问题反映第{i}件：夜间施工噪音扰民，希望尽快处理",
                            caller_number=f"139{rng.randint(0, 99_999_999):08d}", caller_name="市民",
                            location=place))
    return out


def _rate(count: int, run: Callable[[], None]) -> float:
    t = time.perf_counter()
    run()
    return count / (time.perf_counter() - t)


def main() -> dict:
    url, engine = fresh_database("workorders")
    factory = make_session_factory(engine)
    sla = DeadlineEngine(load_policy("ziyang"), WorkCalendar("09:00-12:00,13:30-17:30"))
    orders = _orders(random.Random(12345), ROUNDS * (SINGLE + BATCHED))
    console_bodies = [OrderCreate(category=d.category, content=d.content, caller_name=d.caller_name,
                                  caller_number=d.caller_number, location=d.location)
                      for d in _orders(random.Random(54321), ROUNDS * SINGLE)]
    agent = Principal("bench", Role.agent, agent_id="1001")
    with factory() as s:
        unit = create_unit(s, "zj", "市住建局").id
        s.commit()
    for data in orders:
        data.lead_unit_id = unit
    for body in console_bodies:
        body.lead_unit_id = unit
    raw_rows = [{"number": f"RAW-{i:08d}", "t": START + dt.timedelta(seconds=i), "category": d.category.value,
                 "caller": d.caller_number, "content": d.content, "location": d.location}
                for i, d in enumerate(orders)]
    load_before = os.getloadavg()
    rates: dict[str, list[float]] = {"sla": [], "single": [], "console": [], "raw_single": [], "batch": [],
                                     "raw_batch": []}
    at = iter(range(len(orders)))  # one second apart, rising across rounds: every order its own moment
    for r in range(ROUNDS):
        base = r * (SINGLE + BATCHED)
        single, batched = orders[base:base + SINGLE], orders[base + SINGLE:base + SINGLE + BATCHED]
        raw_single, raw_batched = raw_rows[base:base + SINGLE], raw_rows[base + SINGLE:base + SINGLE + BATCHED]

        def sla_round(batch: list[NewOrder] = batched) -> None:
            for i, data in enumerate(batch):
                moment = START + dt.timedelta(seconds=i)
                sla.compute(data.category, data.urgency, accepted_at=moment, dispatched_at=moment)

        def single_round(batch: list[NewOrder] = single) -> None:
            for data in batch:
                with factory() as s:
                    create_order(s, sla, "bench", data, now=START + dt.timedelta(seconds=next(at)))
                    s.commit()

        def console_round(bodies: list[OrderCreate] = console_bodies[r * SINGLE:(r + 1) * SINGLE]) -> None:
            for body in bodies:  # accepted now (the route takes no time argument)
                with factory() as s:
                    resources.create_order(body, s, agent, sla)

        def raw_single_round(rows: list[dict] = raw_single) -> None:
            for row in rows:
                with engine.begin() as conn:
                    conn.execute(RAW_INSERT, row)

        def batch_round(batch: list[NewOrder] = batched) -> None:
            for start in range(0, len(batch), BATCH):
                with factory() as s:
                    create_orders(s, sla, "bench", batch[start:start + BATCH],
                                  now=START + dt.timedelta(seconds=next(at)))
                    s.commit()

        def raw_batch_round(rows: list[dict] = raw_batched) -> None:
            for start in range(0, len(rows), BATCH):
                with engine.begin() as conn:
                    conn.execute(RAW_INSERT, rows[start:start + BATCH])

        rates["sla"].append(_rate(BATCHED, sla_round))
        # alternate which of each pair goes first: neither always gets the warmer (or quieter) moment
        pairs = [("single", SINGLE, single_round), ("console", SINGLE, console_round),
                 ("raw_single", SINGLE, raw_single_round), ("batch", BATCHED, batch_round),
                 ("raw_batch", BATCHED, raw_batch_round)]
        if r % 2:
            pairs = [pairs[2], pairs[1], pairs[0], pairs[4], pairs[3]]
        for name, count, run in pairs:
            rates[name].append(_rate(count, run))
    load_after = os.getloadavg()
    engine.dispose()
    drop_database(url)
    best = {k: max(v) for k, v in rates.items()}
    median = {k: statistics.median(v) for k, v in rates.items()}
    return write_results("workorders", {
        "database": engine.dialect.name, "rounds": ROUNDS, "orders_single_per_round": SINGLE,
        "orders_batch_per_round": BATCHED, "batch_size": BATCH,
        "service_single_orders_per_s": best["single"], "service_single_median_per_s": median["single"],
        "raw_single_inserts_per_s": best["raw_single"], "raw_single_median_per_s": median["raw_single"],
        "service_single_vs_raw": best["single"] / best["raw_single"],
        "console_single_orders_per_s": best["console"], "console_single_median_per_s": median["console"],
        "service_batch_orders_per_s": best["batch"], "service_batch_median_per_s": median["batch"],
        "raw_batch_inserts_per_s": best["raw_batch"], "raw_batch_median_per_s": median["raw_batch"],
        "service_batch_vs_raw": best["batch"] / best["raw_batch"], "sla_compute_per_s": best["sla"],
        "target_orders_per_s": 1000, "meets_target_batch": best["batch"] >= 1000,
        "meets_target_single": best["single"] >= 1000, "console_meets_target": best["console"] >= 1000,
        "load_avg_1m_before": load_before[0], "load_avg_1m_after": load_after[0],
        "load_avg_5m_after": load_after[1],
    })


if __name__ == "__main__":
    main()
