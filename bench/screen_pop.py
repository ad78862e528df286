"""Screen-pop latency: from the AMI AgentCalled event to the websocket frame an agent's browser receives.

Processes (2 cores are enough; the machine is shared, so figures move with its load):
- pbx:     pbxsim with 500 seats in `hotline-general`, Poisson arrivals at 50 calls/s (scripted IVR of
           2.6 s as recorded, talk 4 s, answer after 0.5 s); every
           AgentCalled is time-stamped (wall clock) as the simulator emits it onto its AMI socket;
- bridge:  the real path: AmiClient → CallTracker → `calls` stream (Redis) → PopConsumer (caller history
           over 1,000,000 work orders, audit entry, KB hits over 50,000 articles) → `agent:<id>` streams;
- relay:   websockets server: one XREAD over the 500 agent streams, each entry sent to that agent's socket.
           A stand-in for the console's /ws (which runs one XREAD per socket and needs logged-in sessions):
           same Redis read, same JSON frame, no session checks;
- bare:    the baseline in the same run: a raw reader on the simulator's AMI socket (FrameDecoder) that sends
           each AgentCalled frame to that agent's websocket at once: no tracker, no Redis, no lookups;
- main:    500 agents, each with a websocket to the relay and one to the bare relay (1,000 sockets), noting
           when each frame arrives.

Latency = arrival wall time − AgentCalled emission wall time, per call, for both paths; the first seconds
are warm-up. Target: pop p99 ≤ 25 ms and ≤ 2× the bare relay's p99.
Sizes: BENCH_POP_ORDERS (1,000,000), BENCH_POP_ARTICLES (50,000), BENCH_POP_SECONDS (30), BENCH_POP_RATE (50).
Database: DATABASE_URL (PostgreSQL, a database of its own) or a temp SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import time
from pathlib import Path
from typing import Any

ORDERS = int(os.environ.get("BENCH_POP_ORDERS", 1_000_000))
ARTICLES = int(os.environ.get("BENCH_POP_ARTICLES", 50_000))
SECONDS = float(os.environ.get("BENCH_POP_SECONDS", 30))
RATE = float(os.environ.get("BENCH_POP_RATE", 50))
AGENTS = int(os.environ.get("BENCH_POP_AGENTS", 500))
WARMUP_S = 5.0
FIRST_SEAT = 3000  # seats 3000..3499: their own numbering, nothing in acd/skills.yaml
TARGET_P99_MS = 25.0


def seats() -> list[str]:
    return [str(FIRST_SEAT + i) for i in range(AGENTS)]


# --- database ------------------------------------------------------------------------------------------

def load_database() -> tuple[str, dict[str, float]]:
    os.environ["BENCH_HISTORY_ORDERS"] = str(ORDERS)  # bench.history reads it at import
    import gc

    from sqlalchemy import insert, text, update

    from bench import history as hist
    from bench._dbsetup import fresh_database
    from bench.kb_search import generate
    from hotline.kb.models import KbArticle, KbState, utcnow

    figures: dict[str, float] = {}
    url, engine = fresh_database("screen_pop")
    t = time.perf_counter()
    orders, deadlines, calls = hist._rows(engine, random.Random(20261121))
    hist._load(engine, "work_orders", hist.ORDER_COLS, orders)
    hist._load(engine, "order_deadlines", hist.DEADLINE_COLS, deadlines)
    hist._load(engine, "calls", hist.CALL_COLS, calls)
    del orders, deadlines, calls
    gc.collect()
    figures["orders_load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    now = utcnow()
    rows = [{k: v for k, v in a.items() if not k.startswith("_")} | {"created_at": now, "updated_at": now}
            for a in generate(ARTICLES, random.Random(7))]
    categories = ["consult", "complaint", "help", "report", "suggestion"]
    for i, row in enumerate(rows):  # spread over categories so the IVR choice matters
        row["category"] = categories[i % len(categories)]
        row["use_count"] = i % 97
    with engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(KbArticle), rows[start:start + 10_000])
        conn.execute(update(KbState).where(KbState.id == 1).values(version=len(rows)))
        conn.execute(text("ANALYZE"))
    figures["kb_rows_load_s"] = time.perf_counter() - t
    engine.dispose()
    return url, figures


# --- pbx -----------------------------------------------------------------------------------------------

def pbx_process(ports: Any, go: Any, stop: Any, out_path: str) -> None:
    asyncio.run(_pbx(ports, go, stop, out_path))


async def _pbx(ports: Any, go: Any, stop: Any, out_path: str) -> None:
    from bench.history import NUMBERS, number_of
    from pbxsim.config import SeatBehaviour, SimConfig
    from pbxsim.distributions import Constant
    from pbxsim.simulator import Simulator

    sim = Simulator(SimConfig(ami_port=0, agi_url=None, default_seat=SeatBehaviour(answer_delay=Constant(0.5))))
    await sim.start()
    for seat in seats():
        sim.add_member(f"PJSIP/{seat}", f"agent-{seat}")
    emitted: dict[str, float] = {}

    def stamp(pairs: list[tuple[str, str]]) -> None:
        if pairs[0][1] == "AgentCalled":
            h = dict(pairs)
            emitted[h["Uniqueid"]] = time.time()

    sim.pbx.hub.subscribe(stamp)
    ports.put(("ami", sim.ami_port))
    while not go.is_set():
        await asyncio.sleep(0.05)
    rng = random.Random(5)
    ivr = ["complaint", "consult", "help", "report", "suggestion"]
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        n = rng.randrange(NUMBERS // 100) if rng.random() < 0.25 else rng.randrange(NUMBERS)
        await sim.place_call(caller=number_of(n), ivr_vars={"HOTLINE_CATEGORY": rng.choice(ivr)}, talk_time=4.0)
        await asyncio.sleep(rng.expovariate(RATE))
    await asyncio.sleep(6)
    Path(out_path).write_text(json.dumps(emitted))
    ports.put(("pbx_done", len(emitted)))
    ports.put(("cpu_pbx_s", time.process_time()))
    while not stop.is_set():
        await asyncio.sleep(0.05)
    await sim.stop()


# --- bridge + pops -------------------------------------------------------------------------------------

def bridge_process(ports: Any, stop: Any, ami_port: int, redis_url: str, db_url: str) -> None:
    asyncio.run(_bridge(ports, stop, ami_port, redis_url, db_url))


async def _bridge(ports: Any, stop: Any, ami_port: int, redis_url: str, db_url: str) -> None:
    from bridge.pops.bus_consumer import PopConsumer
    from bridge.pops.services import PopBuilder
    from bridge.service import BridgeService
    from hotline.ami.client import AmiClient
    from hotline.bus import EventBus
    from hotline.db import make_engine, make_session_factory
    from hotline.kb.search import KnowledgeBase

    factory = make_session_factory(make_engine(db_url))
    kb = KnowledgeBase(factory)
    t = time.perf_counter()
    await asyncio.to_thread(kb.refresh)
    ports.put(("kb_index_s", time.perf_counter() - t))
    import gc

    gc.collect()
    gc.freeze()  # as bridge.pops.bus_consumer.run does after loading the index
    bus = EventBus.from_url(redis_url, prefix="bench:")
    ami = AmiClient("127.0.0.1", ami_port, "hotline", "hotline-secret", ping_interval=5.0)
    service = BridgeService(ami, bus, only_tracked=True)
    await service.start()
    await ami.connect(timeout=10)
    consumer = PopConsumer(bus, PopBuilder(factory, kb), consumer="bench", start_id="$", block_ms=1000)
    cpu_start = time.process_time()
    spent: list[float] = []  # time the consumer spends turning a call.ringing into its pop
    pops_for = consumer.pops_for

    async def timed(event: dict, entry_id: str):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = await pops_for(event, entry_id)
        if event.get("type") == "call.ringing":
            spent.append((time.perf_counter() - t) * 1000)
        return out

    consumer.pops_for = timed  # type: ignore[method-assign]
    task = asyncio.create_task(consumer.run())
    ports.put(("bridge", 1))
    while not stop.is_set():
        await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    ports.put(("pops_sent", consumer.pops_sent))
    ports.put(("cpu_bridge_s", time.process_time() - cpu_start))
    from bench.common import percentile

    ports.put(("consumer_ringing_p50_ms", percentile(spent, 50) if spent else None))
    ports.put(("consumer_ringing_p99_ms", percentile(spent, 99) if spent else None))
    await service.stop()
    await ami.close()


# --- relays --------------------------------------------------------------------------------------------

async def _serve(handler_sockets: dict[str, Any]) -> tuple[Any, int]:
    import websockets

    async def handler(ws: Any) -> None:
        hello = json.loads(await ws.recv())
        handler_sockets[hello["agent_id"]] = ws
        await ws.wait_closed()

    server = await websockets.serve(handler, "127.0.0.1", 0, max_size=2**20)
    return server, server.sockets[0].getsockname()[1]


def relay_process(ports: Any, stop: Any, redis_url: str) -> None:
    asyncio.run(_relay(ports, stop, redis_url))


async def _relay(ports: Any, stop: Any, redis_url: str) -> None:
    from hotline.bus import EventBus, agent_stream

    sockets: dict[str, Any] = {}
    server, port = await _serve(sockets)
    bus = EventBus.from_url(redis_url, prefix="bench:")
    ports.put(("relay", port))
    # "0-0", not "$": with "$" an XREAD over many streams misses what arrives on the others between two calls
    cursor = {bus.key(agent_stream(seat)): "0-0" for seat in seats()}
    strip = len(bus.key("agent:"))
    while not stop.is_set():
        reply = await bus.redis.xread(cursor, block=500, count=100)
        for key, entries in reply or []:
            ws = sockets.get(key[strip:])
            for entry_id, fields in entries:
                cursor[key] = entry_id
                if ws is not None:  # the console's frame: {"type": "event", "stream", "id", "event"}
                    stream = key[len(bus.prefix + "stream:"):]
                    with contextlib.suppress(Exception):  # a browser that left
                        await ws.send(f'{{"type":"event","stream":"{stream}","id":"{entry_id}",'
                                      f'"event":{fields["data"]}}}')
    ports.put(("cpu_relay_s", time.process_time()))
    server.close()


def bare_process(ports: Any, stop: Any, ami_port: int) -> None:
    asyncio.run(_bare(ports, stop, ami_port))


async def _bare(ports: Any, stop: Any, ami_port: int) -> None:
    from hotline.ami.frames import FrameDecoder

    sockets: dict[str, Any] = {}
    server, port = await _serve(sockets)
    reader, writer = await asyncio.open_connection("127.0.0.1", ami_port)
    writer.write(b"Action: Login\r\nUsername: hotline\r\nSecret: hotline-secret\r\n\r\n")
    await writer.drain()
    decoder = FrameDecoder()
    ports.put(("bare", port))
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(65536), 0.5)
        except TimeoutError:
            continue
        if not data:
            break
        for frame in decoder.feed(data):
            h = frame.headers
            if h.get("Event") == "AgentCalled":
                ws = sockets.get(h.get("Interface", "").rsplit("/", 1)[-1])
                if ws is not None:
                    with contextlib.suppress(Exception):
                        await ws.send(json.dumps({"type": "event", "event": {"type": "AgentCalled",
                                                                             "call_id": h.get("Uniqueid")}}))
    ports.put(("cpu_bare_s", time.process_time()))
    writer.close()
    server.close()


# --- the agents' browsers ------------------------------------------------------------------------------

async def agents(relay_port: int, bare_port: int, ready: asyncio.Event, done: asyncio.Event
                 ) -> tuple[dict[str, float], dict[str, float]]:
    import websockets

    pops: dict[str, float] = {}
    bare: dict[str, float] = {}
    bridge_ts: dict[str, float] = {}
    hops.clear()

    async def browser(port: int, seat: str, into: dict[str, float], kind: str | None) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}", max_size=2**22) as ws:
            await ws.send(json.dumps({"agent_id": seat}))
            connected.append(seat)
            async for raw in ws:  # cancelled at the end (no per-socket timeouts: 1,000 sockets)
                at = time.time()
                frame = json.loads(raw)
                event = frame["event"]
                if kind is None or event.get("type") == kind:
                    into.setdefault(event["call_id"], at)
                    if "ts" in event:  # when the bridge received the AgentCalled
                        bridge_ts.setdefault(event["call_id"], event["ts"])
                        # stream ids carry the Redis time of each XADD: `calls` entry, then the pop
                        hops[event["call_id"]] = (int(event["source_id"].split("-")[0]) / 1000,
                                                  int(frame["id"].split("-")[0]) / 1000)

    connected: list[str] = []
    tasks = [asyncio.create_task(browser(relay_port, s, pops, "pop.ringing")) for s in seats()]
    tasks += [asyncio.create_task(browser(bare_port, s, bare, None)) for s in seats()]
    while len(connected) < 2 * AGENTS:
        await asyncio.sleep(0.05)
    ready.set()
    await done.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return pops, bare, bridge_ts


hops: dict[str, tuple[float, float]] = {}


# --- orchestration -------------------------------------------------------------------------------------

def _wait(ports: Any, name: str, timeout: float = 600) -> Any:
    pending = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        key, value = ports.get(timeout=deadline - time.monotonic())
        if key == name:
            for item in pending:
                ports.put(item)
            return value
        pending.append((key, value))
    raise TimeoutError(name)


def main() -> dict:
    import tempfile

    from bench._dbsetup import drop_database
    from bench.common import percentile, write_results
    from hotline.redis_server import EmbeddedRedis

    started = time.perf_counter()
    db_url, figures = load_database()
    ctx = mp.get_context("spawn")
    ports, go, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    out = Path(tempfile.mkdtemp(prefix="bench-pop-")) / "emitted.json"
    redis = EmbeddedRedis().start()
    procs = []
    try:
        pbx = ctx.Process(target=pbx_process, args=(ports, go, stop, str(out)), name="pbx")
        pbx.start()
        procs.append(pbx)
        ami_port = _wait(ports, "ami")
        for target, args in ((bridge_process, (ports, stop, ami_port, redis.url, db_url)),
                             (relay_process, (ports, stop, redis.url)), (bare_process, (ports, stop, ami_port))):
            p = ctx.Process(target=target, args=args)
            p.start()
            procs.append(p)
        figures["kb_index_s"] = _wait(ports, "kb_index_s")
        _wait(ports, "bridge")
        relay_port, bare_port = _wait(ports, "relay"), _wait(ports, "bare")

        async def run() -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
            ready, done = asyncio.Event(), asyncio.Event()
            browsers = asyncio.create_task(agents(relay_port, bare_port, ready, done))
            await ready.wait()
            go.set()
            await asyncio.to_thread(_wait, ports, "pbx_done", SECONDS + 120)
            await asyncio.sleep(1.0)
            done.set()
            return await browsers

        import psutil

        load_before = os.getloadavg()[0]
        cpu = psutil.cpu_percent(interval=None)
        cpu_main = time.process_time()
        pops_at, bare_at, bridge_at = asyncio.run(run())
        cpu = psutil.cpu_percent(interval=None)
        emitted = json.loads(out.read_text())
        stop.set()
        figures["cpu_browsers_s"] = time.process_time() - cpu_main
        for name in ("pops_sent", "cpu_pbx_s", "cpu_bridge_s", "consumer_ringing_p50_ms", "consumer_ringing_p99_ms",
                     "cpu_relay_s", "cpu_bare_s"):
            figures[name] = _wait(ports, name, 30)
    finally:
        stop.set()
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.terminate()
        redis.stop()
        drop_database(db_url)
    t0 = min(emitted.values())
    counted = {cid: t for cid, t in emitted.items() if t - t0 >= WARMUP_S}
    pop_ms = [(pops_at[c] - t) * 1000 for c, t in counted.items() if c in pops_at]
    bare_ms = [(bare_at[c] - t) * 1000 for c, t in counted.items() if c in bare_at]
    pop_p99, bare_p99 = percentile(pop_ms, 99), percentile(bare_ms, 99)
    # where the pop's time goes: AMI socket + AmiClient + tracker (to the bridge's `ts`), then the rest
    ami_ms = [(bridge_at[c] - t) * 1000 for c, t in counted.items() if c in bridge_at]
    rest_ms = [(pops_at[c] - bridge_at[c]) * 1000 for c in counted if c in bridge_at and c in pops_at]
    calls_ms = [(hops[c][0] - bridge_at[c]) * 1000 for c in counted if c in hops]
    consumer_ms = [(hops[c][1] - hops[c][0]) * 1000 for c in counted if c in hops]
    relay_ms = [(pops_at[c] - hops[c][1]) * 1000 for c in counted if c in hops and c in pops_at]
    for name, values in (("tracker_to_calls_xadd", calls_ms), ("calls_xadd_to_pop_xadd", consumer_ms),
                         ("pop_xadd_to_browser", relay_ms)):  # Redis ids have 1 ms resolution
        figures[f"{name}_p50_ms"] = percentile(values, 50)
        figures[f"{name}_p99_ms"] = percentile(values, 99)
    figures.update({"to_bridge_p50_ms": percentile(ami_ms, 50), "to_bridge_p99_ms": percentile(ami_ms, 99),
                    "bridge_to_browser_p50_ms": percentile(rest_ms, 50),
                    "bridge_to_browser_p99_ms": percentile(rest_ms, 99)})
    figures.update({
        "database": db_url.split(":", 1)[0], "orders": ORDERS, "kb_articles": ARTICLES, "agents": AGENTS,
        "websockets": 2 * AGENTS, "rate_calls_per_s": RATE, "seconds": SECONDS,
        "agent_called": len(emitted), "measured_calls": len(counted),
        "pops_received": len(pop_ms), "bare_received": len(bare_ms),
        "pop_p50_ms": percentile(pop_ms, 50), "pop_p95_ms": percentile(pop_ms, 95), "pop_p99_ms": pop_p99,
        "pop_max_ms": max(pop_ms), "bare_p50_ms": percentile(bare_ms, 50), "bare_p99_ms": bare_p99,
        "bare_max_ms": max(bare_ms), "pop_vs_bare_p99": pop_p99 / bare_p99 if bare_p99 else None,
        "target_p99_ms": TARGET_P99_MS, "meets_target": pop_p99 <= TARGET_P99_MS and pop_p99 <= 2 * bare_p99,
        "cpu_percent_during_run": cpu, "load_average_1m_before": load_before,
        "load_average_1m": os.getloadavg()[0], "total_s": time.perf_counter() - started,
    })
    return write_results("screen_pop", figures)


if __name__ == "__main__":
    main()
