"""Soak: the simulator as the PBX holding 200 concurrent calls for 10 minutes through every role of one
`hotline run --roles all` process; reports events lost, pops lost, orders duplicated and the process's RSS.

    python -m bench.soak                    # 10 minutes (the figure that counts)
    python -m bench.soak --duration 60      # a quick check
    python -m bench soak                    # same as the first; HOTLINE_SOAK_DURATION overrides

What is counted, per citizen call the simulator placed:
- events lost: of the transitions the call must produce on the `calls` stream (started, ended, and
  answered when a seat answered), those missing; plus duplicated `call.ended` entries;
- pops lost: for an answered call, the pop.ringing / pop.answered / pop.hangup missing on that seat's
  `agent:<id>` stream;
- orders duplicated: the soak files one work order per answered call through the console's API, as the
  agent would; orders linked to the same call beyond the first;
- calls not stored: answered or abandoned calls without their row in the calls table (the `calls` role);
- RSS of the platform process (with its children) after the ramp-up and at the end: flat means < 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import write_results
from hotline.bus import EventBus, agent_stream
from hotline.redis_server import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hotline-secret"  # the simulator's manager.conf login (pbxsim), not a platform default
PASSWORD = "soak-password-long-enough"


def process_tree(pid: int, measure: Callable[[psutil.Process], float]) -> float:
    """`measure` summed over a process and its children (the platform's roles may fork workers)."""
    proc = psutil.Process(pid)
    total = measure(proc)
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += measure(child)
    return total


def rss_mb(pid: int) -> float:
    return process_tree(pid, lambda proc: proc.memory_info().rss) / 2**20


def cpu_seconds(pid: int) -> float:
    return process_tree(pid, lambda proc: sum(proc.cpu_times()[:2]))   # user + system


def platform_env(redis_url: str, db_url: str, ami_port: int, agi_port: int, console_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"REDIS_URL": redis_url, "DATABASE_URL": db_url, "HOTLINE_AMI_PORT": str(ami_port),
                "HOTLINE_AMI_USER": "hotline", "HOTLINE_AMI_SECRET": SECRET, "HOTLINE_FASTAGI_PORT": str(agi_port),
                "HOTLINE_CONSOLE_PORT": str(console_port), "HOTLINE_SESSION_KEY": "soak-" + os.urandom(16).hex(),
                "HOTLINE_METRICS_PORT": str(free_port())})
    return env


def quick_wrap_up_config(workdir: Path, seconds: int) -> Path:
    """The ACD's skills.yaml with a short 话后整理: nobody presses 整理完成 here, so the ACD's overdue rule
    (wrap_up_overdue: ready) stands in for the agents."""
    import yaml

    from acd.config import DEFAULT_PATH

    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    data.setdefault("acd", {})["wrap_up_max_seconds"] = seconds
    path = workdir / "skills.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def create_agent(db_url: str) -> None:
    from agent_console.users import NewUser, create_user
    from hotline.db import make_engine, make_session_factory, upgrade_to_head
    from hotline.security import Role

    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        create_user(session, NewUser("soak-agent", Role.agent, PASSWORD, "9999"))
    engine.dispose()


async def console_session(base: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    client = httpx.AsyncClient(base_url=base, timeout=30)
    resp = await client.post("/login", data={"username": "soak-agent", "password": PASSWORD},
                             headers={"Origin": base})
    if resp.status_code != 303:
        raise RuntimeError(f"console login failed: {resp.status_code} {resp.text[:300]}")
    # the console's cookies are Secure (TLS in production); over loopback http we hand them over ourselves
    cookie = "; ".join(f"{k}={v}" for k, v in resp.cookies.items())
    client.cookies.clear()
    client.headers["Cookie"] = cookie
    page = await client.get(resp.headers["location"], headers={"Accept": "text/html"})
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    if not token:
        raise RuntimeError(f"console page without a CSRF token: {page.status_code} {page.text[:300]}")
    return client, {"X-CSRF-Token": token.group(1), "Origin": base, "Accept": "application/json"}


async def file_order(client: httpx.AsyncClient, headers: dict[str, str], call: Any) -> bool:
    """The agent's 工单 for an answered call, linked to it; True when accepted."""
    body = {"category": "complaint", "content": "噪音扰民（压测）", "caller_number": call.citizen.caller,
            "call_ids": [call.uniqueid]}
    for attempt in range(2):  # a keep-alive connection the server closed as we reused it: once more
        try:
            resp = await client.post("/api/workorders", headers=headers, json=body)
        except httpx.TransportError:
            if attempt:
                return False
            continue
        return resp.status_code == 201
    return False


async def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hotline run exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


async def soak(duration: float, concurrency: int, talk: float, seed: int, split: bool = False) -> dict[str, Any]:
    from pbxsim.citizens import Citizen
    from pbxsim.config import SeatBehaviour, SimConfig
    from pbxsim.distributions import Constant, LogNormal
    from pbxsim.simulator import Simulator

    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="hotline-soak-"))
    redis = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis = EmbeddedRedis(workdir=workdir).start()
        redis_url = redis.url
    db_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'soak.db'}"
    await asyncio.to_thread(create_agent, db_url)
    agi_port, console_port = free_port(), free_port()
    seats = [str(2000 + n) for n in range(concurrency + concurrency // 4)]
    sim = Simulator(SimConfig(ami_port=0, agi_url=f"agi://127.0.0.1:{agi_port}/ivr",
                              default_seat=SeatBehaviour(answer_delay=Constant(1.0))), scale=1.0)
    await sim.start()
    for seat in seats:
        sim.add_member(f"PJSIP/{seat}", f"agent-{seat}")
    env = platform_env(redis_url, db_url, sim.ami_port, agi_port, console_port)
    env["HOTLINE_ACD_CONFIG"] = str(quick_wrap_up_config(workdir, 5))
    from hotline.runtime import ALL_ROLES

    log = open(workdir / "hotline.log", "wb")  # noqa: SIM115 - lives as long as the processes
    procs = {group: subprocess.Popen([sys.executable, "-m", "hotline.cli", "--log-level", "WARNING", "run",
                                      "--roles", group], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
             for group in (ALL_ROLES if split else ("all",))}
    ivr_proc, console_proc = procs.get("ivr", procs.get("all")), procs.get("console", procs.get("all"))
    rss_start: dict[str, float] = {}
    rss_mid: dict[str, float] = {}
    cpu_start = cpu_end = (0.0, 0.0)
    rss_end: dict[str, float] = {}
    bus = EventBus.from_url(redis_url)
    calls: list[Any] = []
    orders_posted = order_errors = 0
    live_samples: list[int] = []
    try:
        await wait_port(agi_port, ivr_proc)  # type: ignore[arg-type]
        await wait_port(console_port, console_proc)  # type: ignore[arg-type]
        await asyncio.sleep(2.0)  # AMI login and first resync
        client, headers = await console_session(f"http://127.0.0.1:{console_port}")
        ivr_estimate = 12.0  # seconds the welcome menu takes at scale 1 (prompts, one key)
        started = time.monotonic()
        ramp = min(duration / 4, talk + ivr_estimate + 10)
        # closed loop: a new citizen calls whenever fewer than `concurrency` calls are up, checked at random
        # intervals twice as frequent as needed to reach the target within half the ramp
        rate = 2 * concurrency / (ramp / 2)
        live: list[Any] = []
        filed: set[str] = set()
        next_sample = started
        while (now := time.monotonic()) - started < duration:
            live = [c for c in live if not (c.done is not None and c.done.is_set())]
            if len(live) < concurrency:
                calls.append(await sim.place_call(Citizen(caller=f"139{rng.randrange(10**8):08d}", name="市民",
                                                          digits="2", digit_delay=1.0,
                                                          talk_time=LogNormal(talk, talk / 3).sample(rng),
                                                          patience=None)))
                live.append(calls[-1])
            if not rss_start and now - started >= ramp:
                rss_start = {group: rss_mb(proc.pid) for group, proc in procs.items()}
                cpu_start = (now, sum(cpu_seconds(proc.pid) for proc in procs.values()))
            if rss_start and not rss_mid and now - started >= (ramp + duration) / 2:
                rss_mid = {group: rss_mb(proc.pid) for group, proc in procs.items()}
            if now >= next_sample:
                live_samples.append(len(live))
                next_sample = now + 5.0
                # file the orders of the calls answered so far (what the agents would do after each call)
                for call in calls:
                    if call.answered_at and call.uniqueid not in filed and call.done.is_set():
                        filed.add(call.uniqueid)
                        orders_posted += 1
                        order_errors += not await file_order(client, headers, call)
            for group, proc in procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"hotline run --roles {group} died with {proc.returncode}: "
                                       f"see {workdir / 'hotline.log'}")
            await asyncio.sleep(rng.expovariate(rate))
        rss_end = {group: rss_mb(proc.pid) for group, proc in procs.items()}
        cpu_end = (time.monotonic(), sum(cpu_seconds(proc.pid) for proc in procs.values()))
        for call in calls:  # let every call finish (talk times are bounded by the log-normal's tail)
            with contextlib.suppress(TimeoutError):
                await call.wait(max(0.0, started + duration + 6 * talk - time.monotonic()))
        for call in calls:
            if call.answered_at and call.uniqueid not in filed:
                filed.add(call.uniqueid)
                orders_posted += 1
                order_errors += not await file_order(client, headers, call)
        drained = await drain(bus, db_url)  # lag, not loss: wait until the platform has caught up
        await client.aclose()
        figures = await count(bus, calls, db_url)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        await sim.stop()
        await bus.redis.aclose()
        if redis is not None:
            redis.stop()
    figures.update({
        "duration_s": duration, "target_concurrency": concurrency, "seats": len(seats),
        "calls_placed": len(calls), "answered": sum(1 for c in calls if c.answered_at),
        "concurrency_max": max(live_samples, default=0),
        "concurrency_mean_after_ramp": round(sum(live_samples[len(live_samples) // 4:]) /
                                             max(1, len(live_samples[len(live_samples) // 4:])), 1),
        "orders_posted": orders_posted, "order_post_errors": order_errors,
        "processes": len(procs), "drain_s": drained,
        "platform_cpu_percent": round(100 * (cpu_end[1] - cpu_start[1]) / max(1e-9, cpu_end[0] - cpu_start[0]), 1),
        "rss_start_mb": round(sum(rss_start.values()), 1), "rss_mid_mb": round(sum(rss_mid.values()), 1),
        "rss_end_mb": round(sum(rss_end.values()), 1),
        "rss_growth_pct": growth(sum(rss_start.values()), sum(rss_end.values())),
        **({f"rss_growth_pct_{group}": growth(rss_start.get(group, 0.0), rss_end.get(group, 0.0))
            for group in procs} if split else {}),
        "workdir": str(workdir),
        "unfinished_calls": sum(1 for c in calls if not c.done.is_set()),
        "unfinished_in_ivr": sum(1 for c in calls if not c.done.is_set() and not c.agi_status),
        **{f"outcome_{k or 'none'}": n for k, n in Counter(c.outcome for c in calls).items()},
    })
    return figures


async def drain(bus: EventBus, db_url: str, quiet: float = 10.0, limit: float = 600.0) -> float:
    """Seconds until the `calls` stream, the seats' pops and the calls table stop growing (quiet for
    `quiet` s): how far behind the platform was when the traffic stopped."""
    from sqlalchemy import func, select

    from hotline.calls.models import Call
    from hotline.db import make_engine

    engine = make_engine(db_url)
    started = time.monotonic()
    last: tuple[int, ...] = ()
    still_since = started
    try:
        while time.monotonic() - started < limit:
            agent_keys = [k async for k in bus.redis.scan_iter(match=bus.key("agent:*"), count=1000)]
            pops = sum([await bus.redis.xlen(k) for k in agent_keys])
            with engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(Call).where(Call.state == "ended")).scalar()
            now = (await bus.redis.xlen(bus.key("calls")), pops, int(stored or 0))
            if now != last:
                last, still_since = now, time.monotonic()
            elif time.monotonic() - still_since >= quiet:
                break
            await asyncio.sleep(1.0)
    finally:
        engine.dispose()
    return round(still_since - started, 1)


def growth(start: float, end: float) -> float | None:
    return round(100 * (end - start) / start, 1) if start else None


async def count(bus: EventBus, calls: list[Any], db_url: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from hotline.calls.models import Call
    from hotline.db import make_engine, make_session_factory
    from hotline.workorders.models import OrderCall

    by_call: dict[str, Counter[str]] = {}
    last = "0-0"
    while batch := await bus.read_since("calls", last, count=5000):
        for entry_id, event in batch:
            by_call.setdefault(event.get("call_id", ""), Counter())[event.get("type", "")] += 1
            last = entry_id
    events_lost = ended_twice = pops_lost = 0
    seat_pops: dict[str, set[tuple[str, str]]] = {}
    for call in calls:
        seen = by_call.get(call.uniqueid, Counter())
        expected = ["call.started", "call.ended"] + (["call.answered"] if call.answered_at else [])
        events_lost += sum(1 for kind in expected if not seen[kind])
        ended_twice += max(0, seen["call.ended"] - 1)
        if call.answered_at and call.member:
            seat = call.member.removeprefix("PJSIP/")
            if seat not in seat_pops:
                seat_pops[seat] = {(e.get("call_id"), e.get("type")) for _i, e in
                                   await bus.read_since(agent_stream(seat), count=100_000)}
            pops_lost += sum(1 for kind in ("pop.ringing", "pop.answered", "pop.hangup")
                             if (call.uniqueid, kind) not in seat_pops[seat])
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        stored = set(session.scalars(select(Call.call_id).where(Call.state == "ended")))
        per_call = session.execute(select(OrderCall.call_id, func.count()).group_by(OrderCall.call_id)).all()
        orders_linked = sum(n for _c, n in per_call)
    engine.dispose()
    return {"events_lost": events_lost, "call_ended_duplicated": ended_twice, "pops_lost": pops_lost,
            "orders_duplicated": sum(n - 1 for _c, n in per_call if n > 1), "orders_linked": orders_linked,
            "calls_not_stored": sum(1 for c in calls if c.uniqueid not in stored),
            "foreign_call_ids_on_bus": len(set(by_call) - {c.uniqueid for c in calls})}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--duration", type=float, default=float(os.environ.get("HOTLINE_SOAK_DURATION", 600)))
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--talk", type=float, default=45.0, help="mean talk seconds (log-normal)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--split", action="store_true", help="one process per role (RSS per role)")
    args = parser.parse_args(argv if argv is not None else [])
    figures = asyncio.run(soak(args.duration, args.concurrency, args.talk, args.seed, args.split))
    write_results("soak_split" if args.split else "soak", figures)  # the split run is a diagnosis
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
