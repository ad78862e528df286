"""Screen-pop latency: from the AMI AgentCalled event to the websocket frame an agent's browser receives.

Processes (spawned; the machine is shared, so figures move with its load, recorded before and during):
- pbx:      pbxsim with 500 seats in `hotline-general`, Poisson arrivals at 50 calls/s (scripted IVR of 2.6 s as
            recorded, talk 4 s, answer after 0.5 s); every AgentCalled is time-stamped (wall clock) as the
            simulator emits it onto its AMI socket;
- bridge:   the bridge role's path: AmiClient → CallTracker → `calls` stream (Redis); the ringing and answered
            pops whose content the pops process offered ride with their `calls` entry (bridge.pops.early: one
            script XADDs both);
- pops:     the pops role: PopConsumer (caller history over 1,000,000 work orders read ahead and offered in
            Redis, audit entry, KB hits over 50,000 articles) → `agent:<id>` streams for the pops that did not
            ride; it audits those that did;
- console:  the real agent console: `agent_console.create_app` with every router, served by uvicorn as the
            `console` role serves it (same options, the default asyncio loop); the 500 seat users log in
            through POST /login and their `/ws` sockets are fed by the process's fan-out hub;
- bare:     the baseline in the same run: a raw reader on the simulator's AMI socket (FrameDecoder) that sends
            each AgentCalled frame to that agent's websocket at once: no tracker, no Redis, no lookups;
- browsers: BENCH_POP_BROWSERS processes sharing the agents; each agent has its console socket (cookie,
            Origin, `resume` as the page sends it) and its bare socket in the same process, so both paths
            meet the same client; a frame's arrival is the wall time it is read.

Latency = arrival − AgentCalled emission, per call, for both paths; the first WARMUP_S are not counted. Where
a pop's time goes: the Redis ids of its `calls` entry and of the pop (1 ms steps), and wall-clock stamps taken
on the way (the bridge's `ts`, its publisher taking up the batch, the console hub reading the pop, its socket
having sent it): `listener_to_publisher`, `publisher_to_hub_read` (encoding, the script, Redis waking the
hub), `hub_read_to_sent`, `sent_to_browser`, with the mean of each over the slowest 1% (`tail_mean_*`). The
measured calls are also cut into BENCH_POP_WINDOWS consecutive windows (p99 of each, and the best). Every
process records its collector pauses and event-loop stalls (≥ STALL_MS) as wall-clock intervals, and each
pop slower than the target is laid against them (`slow_pops_during_<process>_stall`): that names the process
a tail came from; stalls in three processes or more at once (`machine_wide_stalls`) are the machine's, and the
CPU the bench used is set beside what other programs took (`others_cpu_percent_of_machine`), with the load
average before and during. Target: pop p99 ≤ 25 ms and ≤ 2× the bare relay's p99. A run takes ~2 minutes.
Sizes: BENCH_POP_ORDERS (1,000,000), BENCH_POP_ARTICLES (50,000), BENCH_POP_SECONDS (45, warm-up included),
BENCH_POP_RATE (50), BENCH_POP_AGENTS (500), BENCH_POP_BROWSERS (2), BENCH_POP_WINDOWS (3).
Database: DATABASE_URL (PostgreSQL, a database of its own) or a temp SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import multiprocessing as mp
import os
import queue
import random
import time
from pathlib import Path
from typing import Any

from bench.common import percentile

ORDERS = int(os.environ.get("BENCH_POP_ORDERS", 1_000_000))
ARTICLES = int(os.environ.get("BENCH_POP_ARTICLES", 50_000))
SECONDS = float(os.environ.get("BENCH_POP_SECONDS", 45))
RATE = float(os.environ.get("BENCH_POP_RATE", 50))
AGENTS = int(os.environ.get("BENCH_POP_AGENTS", 500))
BROWSERS = int(os.environ.get("BENCH_POP_BROWSERS", 2))
WINDOWS = int(os.environ.get("BENCH_POP_WINDOWS", 3))
WARMUP_S = 5.0
FIRST_SEAT = 3000  # seats 3000..3499: their own numbering, nothing in acd/skills.yaml
TARGET_P99_MS = 25.0
STALL_MS = 10.0  # a collector pause or loop stall this long is kept for the diagnosis
TICK_S = 0.01
PASSWORD = "bench-seat-password"
SESSION_KEY = "bench-screen-pop-session-key"


def seats() -> list[str]:
    return [str(FIRST_SEAT + i) for i in range(AGENTS)]


# --- what every process records -------------------------------------------------------------------------

class Stalls:
    """This process's collector pauses and event-loop stalls, as wall-clock intervals for the diagnosis."""

    def __init__(self) -> None:
        self.gc_ms: list[float] = []
        self.gen2 = 0
        self.lags: list[float] = []
        self.intervals: list[tuple[float, float]] = []
        self._gc_started = 0.0
        self.cpu_start = time.process_time()
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        ms = (time.perf_counter() - self._gc_started) * 1000
        self.gc_ms.append(ms)
        self.gen2 += info["generation"] == 2
        if ms >= STALL_MS:
            now = time.time()
            self.intervals.append((now - ms / 1000, now))

    async def watch(self, go: Any) -> None:
        """From `go` on: a short sleep that wakes late means the loop was busy, or the process had no core."""
        while not go.is_set():
            await asyncio.sleep(0.02)
        # steady state, as in a process that has run for a minute: its first full collection since start-up
        # (which walks everything the logins and sockets built, and which hotline.heap then freezes) is behind it
        gc.collect()
        self.gc_ms.clear()
        self.gen2 = 0
        self.cpu_start = time.process_time()
        while True:
            started = time.perf_counter()
            await asyncio.sleep(TICK_S)
            late = (time.perf_counter() - started - TICK_S) * 1000
            self.lags.append(late)
            if late >= STALL_MS:
                now = time.time()
                self.intervals.append((now - late / 1000, now))

    def report(self) -> dict[str, Any]:
        figures = {"gc_max_ms": max(self.gc_ms, default=0.0), "gc_total_ms": sum(self.gc_ms), "gc_gen2": self.gen2,
                   "lag_p99_ms": percentile(self.lags, 99) if self.lags else 0.0,
                   "lag_max_ms": max(self.lags, default=0.0), "stalls": self.intervals,
                   "cpu_s": time.process_time() - self.cpu_start}
        # what a full collection would walk now, and what it costs (frozen objects are not walked)
        figures["gc_tracked_objects"] = len(gc.get_objects())
        started = time.process_time()
        gc.collect()
        figures["full_gc_cpu_ms"] = (time.process_time() - started) * 1000
        return figures


# --- database ------------------------------------------------------------------------------------------

def load_database() -> tuple[str, dict[str, float]]:
    os.environ["BENCH_HISTORY_ORDERS"] = str(ORDERS)  # bench.history reads it at import
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
    t = time.perf_counter()
    create_seat_users(engine)
    figures["seat_users_s"] = time.perf_counter() - t
    engine.dispose()
    return url, figures


def cheap_hasher() -> Any:
    """As the console tests do: argon2 with low cost, so that 500 logins take seconds, not minutes (the
    latency measured is the websocket's, not the login's)."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def create_seat_users(engine: Any) -> None:
    from agent_console.users import NewUser, create_user
    from hotline.db import make_session_factory
    from hotline.security import Role

    hasher = cheap_hasher()
    with make_session_factory(engine)() as session:
        for seat in seats():
            create_user(session, NewUser(f"seat{seat}", Role.agent, PASSWORD, seat), hasher)


# --- pbx -----------------------------------------------------------------------------------------------

def pbx_process(ports: Any, go: Any, stop: Any, out_path: str) -> None:
    asyncio.run(_pbx(ports, go, stop, out_path))


async def _pbx(ports: Any, go: Any, stop: Any, out_path: str) -> None:
    from bench.history import NUMBERS, number_of
    from pbxsim.config import SeatBehaviour, SimConfig
    from pbxsim.distributions import Constant
    from pbxsim.simulator import Simulator

    stalls = Stalls()
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
    gc.collect()
    gc.freeze()  # the simulator stands for Asterisk, which has no collector pausing it between stamp and send
    ports.put(("ami", sim.ami_port))
    while not go.is_set():
        await asyncio.sleep(0.05)
    watcher = asyncio.create_task(stalls.watch(go))
    rng = random.Random(5)
    ivr = ["complaint", "consult", "help", "report", "suggestion"]
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        n = rng.randrange(NUMBERS // 100) if rng.random() < 0.25 else rng.randrange(NUMBERS)
        await sim.place_call(caller=number_of(n), ivr_vars={"HOTLINE_CATEGORY": rng.choice(ivr)}, talk_time=4.0)
        await asyncio.sleep(rng.expovariate(RATE))
    await asyncio.sleep(6)
    watcher.cancel()
    Path(out_path).write_text(json.dumps(emitted))
    ports.put(("pbx_done", len(emitted)))
    ports.put(("stalls:pbx", stalls.report()))
    while not stop.is_set():
        await asyncio.sleep(0.05)
    await sim.stop()


# --- bridge -------------------------------------------------------------------------------------------

def bridge_process(ports: Any, go: Any, stop: Any, ami_port: int, redis_url: str) -> None:
    asyncio.run(_bridge(ports, go, stop, ami_port, redis_url))


async def _bridge(ports: Any, go: Any, stop: Any, ami_port: int, redis_url: str) -> None:
    from bridge.pops.early import EarlyPops
    from bridge.service import BridgeService
    from hotline.ami.client import AmiClient
    from hotline.bus import EventBus
    from hotline.heap import install_heap_policy
    from hotline.tasks import cancel_and_wait

    install_heap_policy()  # as every role's process does (python -m hotline / bridge)
    stalls = Stalls()
    watcher = asyncio.create_task(stalls.watch(go))
    bus = EventBus.from_url(redis_url)  # the console's prefix: the bench's Redis is its own
    ami = AmiClient("127.0.0.1", ami_port, "hotline", "hotline-secret", ping_interval=5.0)
    early = EarlyPops(bus)  # as bridge.service.run_role wires it: pops ride with their `calls` entry
    published: dict[str, float] = {}  # call id → when the publisher took up the batch with its call.ringing

    async def publish(stream: str, events: list[dict[str, Any]]) -> list[str]:
        t = time.time()
        for event in events:
            if event.get("type") == "call.ringing":
                published[event["call_id"]] = t
        return await early.publish(stream, events)

    service = BridgeService(ami, bus, only_tracked=True, publish=publish)
    await service.start()
    await ami.connect(timeout=10)
    ports.put(("bridge", 1))
    while not stop.is_set():
        await asyncio.sleep(0.05)
    await cancel_and_wait([watcher])
    ports.put(("pops_with_their_entry", early.rode))
    ports.put(("times:bridge", published))
    ports.put(("pops_left_to_consumer", early.left))
    ports.put(("stalls:bridge", stalls.report()))
    await service.stop()
    await early.aclose()
    await ami.close()


# --- pops: read-ahead, audit, the pops that do not ride ------------------------------------------------

def pops_process(ports: Any, go: Any, stop: Any, redis_url: str, db_url: str) -> None:
    asyncio.run(_pops(ports, go, stop, redis_url, db_url))


async def _pops(ports: Any, go: Any, stop: Any, redis_url: str, db_url: str) -> None:
    from bridge.pops.bus_consumer import PopConsumer
    from bridge.pops.services import PopBuilder
    from hotline.bus import EventBus
    from hotline.db import make_engine, make_session_factory
    from hotline.heap import freeze_long_lived, install_heap_policy
    from hotline.kb.search import KnowledgeBase
    from hotline.tasks import cancel_and_wait

    factory = make_session_factory(make_engine(db_url))
    kb = KnowledgeBase(factory)
    t = time.perf_counter()
    await asyncio.to_thread(kb.refresh)
    ports.put(("kb_index_s", time.perf_counter() - t))
    freeze_long_lived()  # as bridge.pops.bus_consumer.run_role does after loading the index
    install_heap_policy()
    stalls = Stalls()
    watcher = asyncio.create_task(stalls.watch(go))
    consumer = PopConsumer(EventBus.from_url(redis_url), PopBuilder(factory, kb), consumer="bench", start_id="$",
                           block_ms=1000)
    spent: list[float] = []  # time the consumer spends turning a call.ringing into its pop
    pops_for = consumer.pops_for

    async def timed(event: dict, entry_id: str):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = await pops_for(event, entry_id)
        if event.get("type") == "call.ringing":
            spent.append((time.perf_counter() - t) * 1000)
        return out

    consumer.pops_for = timed  # type: ignore[method-assign]
    await consumer.ensure_group()
    task = asyncio.create_task(consumer.run())
    ports.put(("pops", 1))
    while not stop.is_set():
        await asyncio.sleep(0.05)
    await cancel_and_wait([task, watcher])  # a Redis read may swallow one cancellation (hotline.tasks)
    ports.put(("pops_sent", consumer.pops_sent))
    ports.put(("consumer_ringing_p50_ms", percentile(spent, 50) if spent else None))
    ports.put(("consumer_ringing_p99_ms", percentile(spent, 99) if spent else None))
    ports.put(("stalls:pops", stalls.report()))


# --- the console (the product) -------------------------------------------------------------------------

def console_process(ports: Any, go: Any, stop: Any, redis_url: str, db_url: str, ami_port: int) -> None:
    asyncio.run(_console(ports, go, stop, redis_url, db_url, ami_port))


async def _console(ports: Any, go: Any, stop: Any, redis_url: str, db_url: str, ami_port: int) -> None:
    """The `console` role as `python -m agent_console` runs it (agent_console.service.run_role: its AMI link to
    the PBX, uvicorn with the same options, the startup heap frozen), with the seat users' cheap hashes."""
    from pydantic import SecretStr

    from agent_console.service import pbx_link, server_for
    from hotline.heap import install_heap_policy
    from hotline.redis_server import free_port
    from hotline.runtime import RoleContext
    from hotline.settings import Settings

    settings = Settings(session_key=SecretStr(SESSION_KEY), redis_url=redis_url, database_url=db_url,
                        ami_port=ami_port, ami_secret=SecretStr("hotline-secret"), console_port=free_port())
    ctx = RoleContext(settings=settings, redis_url=redis_url)
    times = _stamp_console()
    server = server_for(ctx, await pbx_link(ctx), password_hasher=cheap_hasher())
    install_heap_policy()  # as `python -m hotline` does for every role
    for name in ("uvicorn.error", "uvicorn.access"):  # not 1,500 lines of logins and "connection open"
        logging.getLogger(name).setLevel(logging.WARNING)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    stalls = Stalls()
    watcher = asyncio.create_task(stalls.watch(go))
    ports.put(("console", settings.console_port))
    while not stop.is_set():
        await asyncio.sleep(0.05)
    watcher.cancel()
    ports.put(("times:console", times))
    ports.put(("stalls:console", stalls.report()))
    await ctx.close()  # the PBX is stopping too: no reconnect attempts to log
    server.should_exit = True
    await serving
    await server.config.app.state.hub.aclose()


def _stamp_console() -> dict[str, dict[str, float]]:
    """Wall times of each ringing pop in the console: read by the hub (`read`), sent on its socket (`sent`)."""
    from agent_console import hub, ws

    times: dict[str, dict[str, float]] = {"read": {}, "sent": {}}
    dispatch, send_event = hub._Reader._dispatch, ws.ConsoleSocket._send_event

    def stamped_dispatch(self: Any, read: Any, batches: list) -> None:  # type: ignore[type-arg]
        t = time.time()
        for _stream, entries in batches:
            for _id, event, _raw in entries:
                if event is not None and event.get("type") == "pop.ringing":
                    times["read"].setdefault(event["call_id"], t)
        dispatch(self, read, batches)

    async def stamped_send(self: Any, entry_id: str, event: dict, raw: str | None = None) -> None:  # type: ignore[type-arg]
        await send_event(self, entry_id, event, raw)
        if event.get("type") == "pop.ringing":
            times["sent"].setdefault(event["call_id"], time.time())

    hub._Reader._dispatch = stamped_dispatch  # type: ignore[method-assign]
    ws.ConsoleSocket._send_event = stamped_send  # type: ignore[method-assign]
    return times


# --- the baseline: AMI frame straight to the websocket -------------------------------------------------

def bare_process(ports: Any, go: Any, stop: Any, ami_port: int) -> None:
    asyncio.run(_bare(ports, go, stop, ami_port))


async def _bare(ports: Any, go: Any, stop: Any, ami_port: int) -> None:
    import websockets

    from hotline.ami.frames import EventFilter, FrameDecoder
    from hotline.heap import install_heap_policy

    sockets: dict[str, Any] = {}

    async def handler(ws: Any) -> None:
        hello = json.loads(await ws.recv())
        sockets[hello["agent_id"]] = ws
        await ws.wait_closed()

    # no compression, as the console serves its sockets (agent_console.service.server_for)
    server = await websockets.serve(handler, "127.0.0.1", 0, max_size=2**20, backlog=4096, compression=None)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", ami_port)
    writer.write(b"Action: Login\r\nUsername: hotline\r\nSecret: hotline-secret\r\n\r\n")
    await writer.drain()
    decoder = FrameDecoder(event_filter=EventFilter.of(["AgentCalled"]))  # the others are skipped unparsed
    gc.collect()
    gc.freeze()  # tuned as the console is (agent_console.service.freeze_startup_heap): a like-for-like baseline
    install_heap_policy()  # and with the same collector policy (hotline.heap)
    stalls = Stalls()
    watcher = asyncio.create_task(stalls.watch(go))
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
    watcher.cancel()
    ports.put(("stalls:bare", stalls.report()))
    writer.close()
    server.close()


# --- the agents' browsers ------------------------------------------------------------------------------

def browser_process(index: int, my_seats: list[str], ports: Any, go: Any, done: Any, console_port: int, bare_port: int,
                    out_path: str) -> None:
    import uvloop  # the client only: the servers measured run on the loop the product runs on

    uvloop.run(_browsers(index, my_seats, ports, go, done, console_port, bare_port, out_path))


async def _browsers(index: int, my_seats: list[str], ports: Any, go: Any, done: Any, console_port: int, bare_port: int,
                    out_path: str) -> None:
    import httpx
    from websockets.asyncio.client import connect

    origin = f"http://127.0.0.1:{console_port}"
    pops: dict[str, float] = {}
    bare: dict[str, float] = {}
    hops: dict[str, tuple[float, float, float]] = {}  # call id → bridge ts, `calls` XADD, pop XADD (Redis times)

    async def login(seat: str) -> str:
        async with httpx.AsyncClient(base_url=origin, timeout=60) as client:
            resp = await client.post("/login", data={"username": f"seat{seat}", "password": PASSWORD},
                                     headers={"Origin": origin})
            assert resp.status_code == 303, resp.text
            return "; ".join(f"{k}={v}" for k, v in client.cookies.items())

    async def console_page(seat: str, cookie: str, ready: list[str]) -> None:
        async with connect(f"ws://127.0.0.1:{console_port}/ws", origin=origin,  # type: ignore[arg-type]
                           additional_headers={"Cookie": cookie}, open_timeout=60, close_timeout=2,
                           max_size=2**22) as ws:
            async for raw in ws:  # cancelled at the end
                at = time.time()
                frame = json.loads(raw)
                kind = frame["type"]
                if kind == "welcome":
                    await ws.send('{"type":"resume","last_id":null}')  # what a page that just loaded sends
                    ready.append(seat)
                elif kind == "event" and frame["event"].get("type") == "pop.ringing":
                    event = frame["event"]
                    pops.setdefault(event["call_id"], at)
                    if "ts" in event and "source_id" in event:  # when the bridge got the AgentCalled; stream
                        # ids carry the Redis time of each XADD: the `calls` entry, then the pop
                        hops[event["call_id"]] = (event["ts"], int(event["source_id"].split("-")[0]) / 1000,
                                                  int(frame["id"].split("-")[0]) / 1000)

    async def bare_page(seat: str, ready: list[str]) -> None:
        async with connect(f"ws://127.0.0.1:{bare_port}", open_timeout=60, close_timeout=2, max_size=2**22) as ws:
            await ws.send(json.dumps({"agent_id": seat}))
            ready.append(seat)
            async for raw in ws:
                at = time.time()
                bare.setdefault(json.loads(raw)["event"]["call_id"], at)

    cookies = []
    for start in range(0, len(my_seats), 50):  # a shift starting: logins come in bursts, not all at once
        cookies += await asyncio.gather(*(login(seat) for seat in my_seats[start:start + 50]))
    ready: list[str] = []
    tasks = [asyncio.create_task(console_page(seat, cookie, ready)) for seat, cookie in zip(my_seats, cookies,
                                                                                             strict=True)]
    tasks += [asyncio.create_task(bare_page(seat, ready)) for seat in my_seats]
    while len(ready) < 2 * len(my_seats):
        failed = [t for t in tasks if t.done()]
        if failed:
            raise RuntimeError(f"browser socket ended before the run: {failed[0].exception()!r}")
        await asyncio.sleep(0.05)
    gc.collect()
    gc.freeze()  # what was built to log in and connect lives until the end: keep it out of full collections
    stalls = Stalls()
    watcher = asyncio.create_task(stalls.watch(go))
    ports.put((f"browsers:{index}", len(my_seats)))
    while not done.is_set():
        await asyncio.sleep(0.05)
    watcher.cancel()
    # what was seen goes out first: closing 500 sockets' handshakes on a loaded machine may take a while
    Path(out_path).write_text(json.dumps({"pops": pops, "bare": bare, "hops": hops}))
    ports.put((f"stalls:browsers{index}", stalls.report()))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- orchestration -------------------------------------------------------------------------------------

def _wait(ports: Any, name: str, timeout: float = 600) -> Any:
    pending = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                key, value = ports.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if key == name:
                return value
            pending.append((key, value))
    finally:
        for item in pending:
            ports.put(item)
    raise TimeoutError(f"no {name!r} from the bench's processes within {timeout:.0f} s")


def _stall_figures(name: str, report: dict[str, Any], figures: dict[str, Any]) -> list[tuple[float, float]]:
    for key in ("gc_max_ms", "gc_total_ms", "gc_gen2", "lag_p99_ms", "lag_max_ms", "cpu_s", "gc_tracked_objects",
                "full_gc_cpu_ms"):
        figures[f"{name}_{key}"] = report[key]
    return [tuple(i) for i in report["stalls"]]  # type: ignore[misc]


def _slow_during(slow: dict[str, tuple[float, float]], stalls: list[tuple[float, float]]) -> int:
    """How many slow calls (emission, arrival) overlap a stall of a process."""
    return sum(any(start < arrived and end > emitted for start, end in stalls)
               for emitted, arrived in slow.values())


def main() -> dict:
    import tempfile

    import psutil

    from bench._dbsetup import drop_database
    from bench.common import write_results
    from hotline.redis_server import EmbeddedRedis

    started = time.perf_counter()
    db_url, figures = load_database()
    gc.collect()
    ctx = mp.get_context("spawn")
    ports, go, stop, done = ctx.Queue(), ctx.Event(), ctx.Event(), ctx.Event()
    workdir = Path(tempfile.mkdtemp(prefix="bench-pop-"))
    out = workdir / "emitted.json"
    redis = EmbeddedRedis().start()
    procs = []
    reports: dict[str, dict[str, Any]] = {}
    loads: list[float] = []
    try:
        pbx = ctx.Process(target=pbx_process, args=(ports, go, stop, str(out)), name="pbx")
        pbx.start()
        procs.append(pbx)
        ami_port = _wait(ports, "ami")
        for target, args in ((bridge_process, (ports, go, stop, ami_port, redis.url)),
                             (pops_process, (ports, go, stop, redis.url, db_url)),
                             (console_process, (ports, go, stop, redis.url, db_url, ami_port)),
                             (bare_process, (ports, go, stop, ami_port))):
            p = ctx.Process(target=target, args=args)
            p.start()
            procs.append(p)
        figures["kb_index_s"] = _wait(ports, "kb_index_s")
        _wait(ports, "bridge")
        _wait(ports, "pops")
        console_port, bare_port = _wait(ports, "console"), _wait(ports, "bare")
        t = time.perf_counter()
        browser_files = [workdir / f"browsers{i}.json" for i in range(BROWSERS)]
        for i in range(BROWSERS):
            p = ctx.Process(target=browser_process, args=(i, seats()[i::BROWSERS], ports, go, done, console_port,
                                                          bare_port, str(browser_files[i])))
            p.start()
            procs.append(p)
        for i in range(BROWSERS):
            _wait(ports, f"browsers:{i}", 300)
        figures["logins_and_sockets_s"] = time.perf_counter() - t
        time.sleep(2.0)  # the last sockets' first heartbeats and replays settle
        load_before = os.getloadavg()[0]
        psutil.cpu_percent(interval=None)
        redis_process = psutil.Process(redis.process.pid)  # type: ignore[union-attr]
        redis_cpu = sum(redis_process.cpu_times()[:2])
        run_started = time.monotonic()
        go.set()
        deadline = time.monotonic() + SECONDS + 120
        while True:  # sample the load while the calls run
            with contextlib.suppress(Exception):
                n_emitted = _wait(ports, "pbx_done", 2.0)
                break
            loads.append(os.getloadavg()[0])
            if time.monotonic() > deadline:
                raise TimeoutError("pbx did not finish")
        cpu = psutil.cpu_percent(interval=None)
        run_s = time.monotonic() - run_started
        figures["redis_cpu_s"] = sum(redis_process.cpu_times()[:2]) - redis_cpu
        time.sleep(1.0)
        done.set()
        for i in range(BROWSERS):
            reports[f"browsers{i}"] = _wait(ports, f"stalls:browsers{i}", 60)
        stop.set()
        for name in ("pops_sent", "pops_with_their_entry", "pops_left_to_consumer", "consumer_ringing_p50_ms",
                     "consumer_ringing_p99_ms"):
            figures[name] = _wait(ports, name, 30)
        published_at = _wait(ports, "times:bridge", 30)
        console_times = _wait(ports, "times:console", 30)
        for name in ("pbx", "bridge", "pops", "console", "bare"):
            reports[name] = _wait(ports, f"stalls:{name}", 30)
        emitted = json.loads(out.read_text())
        pops_at: dict[str, float] = {}
        bare_at: dict[str, float] = {}
        hops: dict[str, list[float]] = {}
        for path in browser_files:
            seen = json.loads(path.read_text())
            pops_at.update(seen["pops"])
            bare_at.update(seen["bare"])
            hops.update(seen["hops"])
    finally:
        stop.set()
        done.set()
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
    # where the pop's time goes: AMI socket + AmiClient + tracker (to the bridge's `ts`), then Redis hops
    hop_values = {
        "to_bridge": [(hops[c][0] - t) * 1000 for c, t in counted.items() if c in hops],
        "tracker_to_calls_xadd": [(hops[c][1] - hops[c][0]) * 1000 for c in counted if c in hops],
        "calls_xadd_to_pop_xadd": [(hops[c][2] - hops[c][1]) * 1000 for c in counted if c in hops],
        "pop_xadd_to_browser": [(pops_at[c] - hops[c][2]) * 1000 for c in counted if c in hops],  # 1 ms ids
    }
    # the same path in wall-clock stamps (µs, not Redis's 1 ms ids): bridge listener → publisher task, publisher
    # → console hub read (encoding, the script, Redis waking the hub's XREAD), hub → sent, sent → browser
    read_at, sent_at = console_times["read"], console_times["sent"]
    timed = [c for c in counted if c in hops and c in published_at and c in read_at and c in sent_at and c in pops_at]
    wall_spans = {"listener_to_publisher": lambda c: published_at[c] - hops[c][0],
                  "publisher_to_hub_read": lambda c: read_at[c] - published_at[c],
                  "hub_read_to_sent": lambda c: sent_at[c] - read_at[c],
                  "sent_to_browser": lambda c: pops_at[c] - sent_at[c]}
    hop_values |= {name: [span(c) * 1000 for c in timed] for name, span in wall_spans.items()}
    for name, values in hop_values.items():
        figures[f"{name}_p50_ms"] = percentile(values, 50) if values else None
        figures[f"{name}_p99_ms"] = percentile(values, 99) if values else None
    # the slowest 1% of pops: the mean of each span (which one the tail is made of)
    slowest = sorted(timed, key=lambda c: pops_at[c] - counted[c])[-max(1, len(timed) // 100):]
    wall_spans = {"to_bridge": lambda c: hops[c][0] - counted[c]} | wall_spans
    for name, span in wall_spans.items():
        figures[f"tail_mean_{name}_ms"] = sum(span(c) for c in slowest) * 1000 / len(slowest) if slowest else None
    # consecutive windows of the measured calls: is the tail steady or one bad moment?
    ordered = sorted(counted.items(), key=lambda item: item[1])
    size = max(1, len(ordered) // WINDOWS)
    window_p99 = []
    for w in range(WINDOWS):
        part = ordered[w * size:(w + 1) * size if w < WINDOWS - 1 else len(ordered)]
        pw = [(pops_at[c] - t) * 1000 for c, t in part if c in pops_at]
        bw = [(bare_at[c] - t) * 1000 for c, t in part if c in bare_at]
        window_p99.append((percentile(pw, 99), percentile(bw, 99)))
        figures[f"window{w + 1}_pop_p99_ms"], figures[f"window{w + 1}_bare_p99_ms"] = window_p99[-1]
    best = min(window_p99)
    figures.update({"best_window_pop_p99_ms": best[0], "best_window_bare_p99_ms": best[1]})
    # the tail's diagnosis: slow calls laid against each process's stalls
    slow_pops = {c: (t, pops_at[c]) for c, t in counted.items() if c in pops_at and (pops_at[c] - t) * 1000 >
                 TARGET_P99_MS}
    slow_bare = {c: (t, bare_at[c]) for c, t in counted.items() if c in bare_at and (bare_at[c] - t) * 1000 >
                 TARGET_P99_MS}
    figures["slow_pops"], figures["slow_bare"] = len(slow_pops), len(slow_bare)
    for name in ("to_bridge", "tracker_to_calls_xadd", "calls_xadd_to_pop_xadd", "pop_xadd_to_browser"):
        figures[f"slow_pops_mostly_{name}"] = 0  # which hop took most of each slow pop's time
    for c in slow_pops:
        if c in hops:
            spans = {"to_bridge": hops[c][0] - counted[c], "tracker_to_calls_xadd": hops[c][1] - hops[c][0],
                     "calls_xadd_to_pop_xadd": hops[c][2] - hops[c][1], "pop_xadd_to_browser": pops_at[c] - hops[c][2]}
            figures[f"slow_pops_mostly_{max(spans, key=spans.__getitem__)}"] += 1
    browser_stalls: list[tuple[float, float]] = []
    for name, report in sorted(reports.items()):
        stalls = _stall_figures(name, report, figures)
        if name.startswith("browsers"):
            browser_stalls += stalls
            continue
        figures[f"slow_pops_during_{name}_stall"] = _slow_during(slow_pops, stalls)
        figures[f"slow_bare_during_{name}_stall"] = _slow_during(slow_bare, stalls)
    figures["slow_pops_during_browsers_stall"] = _slow_during(slow_pops, browser_stalls)
    # stalls in three processes or more at once: the machine, not one process (CPU taken by others)
    every = {name: [tuple(i) for i in report["stalls"]] for name, report in reports.items()}
    figures["machine_wide_stalls"] = sum(
        sum(any(a < end and b > start for a, b in other) for o, other in every.items() if o != name) >= 2
        for name, stalls in every.items() for start, end in stalls)
    # the machine's CPU over the run: ours (every bench process and Redis) and the others' (other helpers)
    ours = sum(figures[f"{name}_cpu_s"] for name in reports) + figures["redis_cpu_s"]
    figures["bench_cpu_percent_of_machine"] = 100 * ours / (run_s * (os.cpu_count() or 1))
    figures["others_cpu_percent_of_machine"] = max(0.0, cpu - figures["bench_cpu_percent_of_machine"])
    figures["slow_bare_during_browsers_stall"] = _slow_during(slow_bare, browser_stalls)
    figures.update({
        "database": db_url.split(":", 1)[0], "orders": ORDERS, "kb_articles": ARTICLES, "agents": AGENTS,
        "websockets": 2 * AGENTS, "browser_processes": BROWSERS, "rate_calls_per_s": RATE, "seconds": SECONDS,
        "agent_called": n_emitted, "measured_calls": len(counted),
        "pops_received": len(pop_ms), "bare_received": len(bare_ms),
        "pop_p50_ms": percentile(pop_ms, 50), "pop_p95_ms": percentile(pop_ms, 95), "pop_p99_ms": pop_p99,
        "pop_max_ms": max(pop_ms), "bare_p50_ms": percentile(bare_ms, 50), "bare_p99_ms": bare_p99,
        "bare_max_ms": max(bare_ms), "pop_vs_bare_p99": pop_p99 / bare_p99 if bare_p99 else None,
        "target_p99_ms": TARGET_P99_MS, "meets_target": pop_p99 <= TARGET_P99_MS and pop_p99 <= 2 * bare_p99,
        "cpu_percent_during_run": cpu, "load_average_1m_before": load_before,
        "load_average_1m_during_max": max(loads, default=load_before),
        "load_average_1m_during_mean": sum(loads) / len(loads) if loads else load_before,
        "load_average_1m_after": os.getloadavg()[0], "total_s": time.perf_counter() - started,
    })
    return write_results("screen_pop", figures)


if __name__ == "__main__":
    main()
