"""Work-order creation rate, with deadline computation, against a raw INSERT in the same run.

`service_single`: `hotline.workorders.services.create_order` — number allocation (upsert), repeat-caller
check, units, the SLA engine's deadlines (Ziyang policy, real working calendar), the accept transition,
the provincial outbox row, the order loaded back; one transaction per order, as the console does it.
`service_batch`: `create_orders` with 100 orders per transaction (letter and web intake).
`raw_single` / `raw_batch`: the same order rows INSERTed alone (one per transaction / executemany of 100
per transaction), nothing else: the storage floor each mode is held against.
`sla_compute`: the SLA engine's compute() alone (no database).
Target: ≥ 1,000 orders/s. One commit per order is bounded by the disk's fsync (see raw_single).
"""

from __future__ import annotations

import datetime as dt
import random
import time

from sqlalchemy import text

from bench._dbsetup import drop_database, fresh_database
from bench.common import write_results
from hotline.db import make_session_factory
from hotline.domain import Category, Urgency
from hotline.sla import DeadlineEngine, WorkCalendar, load_policy
from hotline.sla.timeutil import TZ
from hotline.units.services import create_unit
from hotline.workorders.services import NewOrder, create_order, create_orders

N = 5000
SINGLE = 1000
BATCH = 100
START = dt.datetime(2026, 11, 16, 9, 0, tzinfo=TZ)
CATEGORIES = [Category.consult, Category.help, Category.complaint, Category.report, Category.suggestion]
PLACES = ["建设路", "和平路", "迎宾大道", "滨江路", "公园路"]


def _orders(rng: random.Random) -> list[NewOrder]:
    out = []
    for i in range(N):
        place = f"雁江区{rng.choice(PLACES)}{rng.randint(1, 300)}号"
        out.append(NewOrder(category=rng.choice(CATEGORIES), urgency=Urgency.normal,
                            content=f"{place}附近问题反映第{i}件：夜间施工噪音扰民，希望尽快处理",
                            caller_number=f"139{rng.randint(0, 99_999_999):08d}", caller_name="市民",
                            location=place))
    return out


def main() -> dict:
    url, engine = fresh_database("workorders")
    factory = make_session_factory(engine)
    sla = DeadlineEngine(load_policy("ziyang"), WorkCalendar("09:00-12:00,13:30-17:30"))
    rng = random.Random(12345)
    orders = _orders(rng)
    with factory() as s:
        unit = create_unit(s, "zj", "市住建局").id
        s.commit()

    t = time.perf_counter()
    for i, data in enumerate(orders[:200]):
        sla.compute(data.category, data.urgency, accepted_at=START + dt.timedelta(seconds=i),
                    dispatched_at=START + dt.timedelta(seconds=i))
    engine_rate = 200 / (time.perf_counter() - t)

    for data in orders:
        data.lead_unit_id = unit
    t = time.perf_counter()
    for i, data in enumerate(orders[:SINGLE]):
        with factory() as s:
            create_order(s, sla, "bench", data, now=START + dt.timedelta(seconds=i))
            s.commit()
    single_rate = SINGLE / (time.perf_counter() - t)

    t = time.perf_counter()
    for start in range(0, N, BATCH):
        with factory() as s:
            create_orders(s, sla, "bench", orders[start:start + BATCH], now=START + dt.timedelta(seconds=start))
            s.commit()
    batch_rate = N / (time.perf_counter() - t)

    insert = text("INSERT INTO work_orders (number, created_at, updated_at, channel, category, urgency, status, "
                  "caller_name, caller_number, confidential, content, location, created_by, extensions, version) "
                  "VALUES (:number, :t, :t, 'phone', :category, 'normal', 'accepted', '市民', :caller, false, "
                  ":content, :location, 'bench', 0, 1)")
    params = [{"number": f"RAW-{i:08d}", "t": START + dt.timedelta(seconds=i), "category": d.category.value,
               "caller": d.caller_number, "content": d.content, "location": d.location}
              for i, d in enumerate(orders)]
    t = time.perf_counter()
    for p in params[:SINGLE]:
        with engine.begin() as conn:
            conn.execute(insert, p)
    raw_single = SINGLE / (time.perf_counter() - t)
    for p in params:
        p["number"] = "B" + p["number"]
    t = time.perf_counter()
    for start in range(0, N, BATCH):
        with engine.begin() as conn:
            conn.execute(insert, params[start:start + BATCH])
    raw_batch = N / (time.perf_counter() - t)
    engine.dispose()
    drop_database(url)
    return write_results("workorders", {
        "database": engine.dialect.name, "orders_single": SINGLE, "orders_batch": N, "batch_size": BATCH,
        "service_single_orders_per_s": single_rate, "raw_single_inserts_per_s": raw_single,
        "service_single_vs_raw": single_rate / raw_single,
        "service_batch_orders_per_s": batch_rate, "raw_batch_inserts_per_s": raw_batch,
        "service_batch_vs_raw": batch_rate / raw_batch, "sla_compute_per_s": engine_rate,
        "target_orders_per_s": 1000, "meets_target_batch": batch_rate >= 1000,
        "meets_target_single": single_rate >= 1000,
    })


if __name__ == "__main__":
    main()
