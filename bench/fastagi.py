"""FastAGI: how many IVR sessions one asyncio process holds and turns over, and what each command costs,
against the usual alternative, pyst2's classic AGI run as one process per call.

- The server (hotline.fastagi + the real welcome flow on a real embedded Redis) runs alone in a child
  process; this process plays Asterisk: sends the `agi_*` environment, answers each command.
- concurrency: 1,000 sessions at once, each holding its greeting (STREAM FILE answered after `HOLD` s), so
  all are open together; `peak_concurrent` is how many the server had in flight at the same moment.
- per-command overhead: from our reply leaving to the server's next command arriving (server work plus
  loopback), at moderate load (the headline) and at 1,000 concurrent sessions.
- session rate: sessions per second with immediate replies, ours vs pyst2 `asterisk.agi` spawned per call
  (`python -c`, stdin/stdout, the same commands), both in this same run.
Targets: 1,000 concurrent, p99 ≤ 2 ms, ≥ 20× the process-per-call rate.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench.common import percentile, write_results
from hotline.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
HOLD = 3.0
CONCURRENT = 1000
RATE_SESSIONS = 3000
RATE_CONCURRENCY = 100
LATENCY_SESSIONS = 1000
LATENCY_CONCURRENCY = 1
BASELINE_SESSIONS = 40
BASELINE_CONCURRENCY = 4

ENV = {
    "agi_network": "yes", "agi_network_script": "ivr", "agi_request": "agi://127.0.0.1:4573/ivr",
    "agi_channel": "PJSIP/carrier-00000000", "agi_language": "en", "agi_type": "PJSIP",
    "agi_uniqueid": "0", "agi_version": "22.10.1", "agi_callerid": "13900001", "agi_calleridname": "张三",
    "agi_callingpres": "0", "agi_callingani2": "0", "agi_callington": "0", "agi_callingtns": "0",
    "agi_dnid": "12345", "agi_rdnis": "unknown", "agi_context": "from-carrier", "agi_extension": "12345",
    "agi_priority": "3", "agi_enhanced": "0.0", "agi_accountcode": "", "agi_threadid": "1",
}

# the same commands the welcome flow sends when the caller stays silent, for the pyst2 baseline
PYST2_SCRIPT = """
import sys
from asterisk.agi import AGI
agi = AGI(stderr=open('/dev/null', 'w'))
agi.answer()
for name, value in (('HOTLINE_REPEAT', '0'), ('HOTLINE_OPEN_ORDER', ''), ('HOTLINE_TERMINAL', '0'),
                    ('HOTLINE_PRIORITY', '0')):
    agi.set_variable(name, value)
agi.stream_file('hotline/welcome', '239')
agi.wait_for_digit(2000)
agi.set_variable('HOTLINE_IVR_PATH', 'welcome>queue')
"""

SERVER_SCRIPT = """
import asyncio, json, sys, time
import logging
from hotline.fastagi import FastAgiServer, session as agi_session
from hotline.bus import redis_client
from ivr.app import build_routes
from ivr.services import HotlineIvrServices

# the server's own share of a command: from the reply line read off the socket, through parsing and the
# flow's step, to the next command written, on steps where the flow does no I/O of its own (after SET
# VARIABLE / WAIT FOR DIGIT); the client and the network are not in it
samples, marks = [], {}
original_command = agi_session.AgiSession.command
original_readline = agi_session.AgiSession._readline

async def readline(self):
    line = await original_readline(self)
    self.bench_read_at = time.perf_counter()
    return line

async def command(self, verb, *args, timeout=None):
    last = getattr(self, "bench_last", None)
    if last in ("SET VARIABLE", "WAIT FOR DIGIT"):
        write = self.writer.write
        def timed_write(data):
            samples.append(time.perf_counter() - self.bench_read_at)
            self.writer.write = write
            write(data)
        self.writer.write = timed_write
    reply = await original_command(self, verb, *args, timeout=timeout)
    self.bench_last = verb
    return reply

agi_session.AgiSession._readline = readline
agi_session.AgiSession.command = command

def control():
    for line in sys.stdin:  # "mark <phase>" lines from the parent, EOF = stop
        marks[line.split()[1]] = len(samples)

async def main():
    logging.basicConfig(level=logging.WARNING)
    services = HotlineIvrServices(redis_client(sys.argv[1]))
    server = await FastAgiServer(build_routes(services), port=0, backlog=4096).start()
    print(server.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, control)
    await server.close()
    print(json.dumps({"stats": str(server.stats), "samples": samples, "marks": marks}), flush=True)

asyncio.run(main())
"""


# after these the welcome flow sends its next command straight away; after ANSWER it reads the caller's
# history and after the greeting the notice (Redis round trips)
NO_IO_AFTER = ("SET VARIABLE", "WAIT FOR DIGIT")


def reply_for(command: str) -> str:
    verb = command.split(" ", 2)
    head = " ".join(verb[:2])
    if head == "STREAM FILE":
        return "200 result=0 endpos=11234"
    if head == "WAIT FOR":
        return "200 result=0"
    if verb[0] == "ANSWER":
        return "200 result=0"
    return "200 result=1"


class Load:
    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.overheads: list[float] = []
        self.protocol_only: list[float] = []  # steps where the flow does no I/O of its own between commands
        self.failures = 0
        self.commands = 0


async def play_asterisk(reader: asyncio.StreamReader, writer, load: Load, uniqueid: str,  # type: ignore[no-untyped-def]
                        hold: float = 0.0) -> None:
    env = dict(ENV, agi_uniqueid=uniqueid)
    writer.write(("".join(f"{k}: {v}\n" for k, v in env.items()) + "\n").encode())
    await writer.drain()
    started = False
    sent_at: float | None = None
    previous = ""
    while True:
        raw = await reader.readline()
        now = time.perf_counter()
        if not raw:
            break
        if sent_at is not None:
            load.overheads.append(now - sent_at)
            if previous.startswith(NO_IO_AFTER):
                load.protocol_only.append(now - sent_at)
        if not started:
            started = True
            load.in_flight += 1
            load.peak = max(load.peak, load.in_flight)
        command = raw.decode().rstrip("\n")
        previous = command
        load.commands += 1
        if hold and command.startswith("STREAM FILE"):
            await asyncio.sleep(hold)  # the greeting playing
        writer.write((reply_for(command) + "\n").encode())
        await writer.drain()
        sent_at = time.perf_counter()
    if started:
        load.in_flight -= 1
    else:
        load.failures += 1


async def tcp_session(port: int, load: Load, uniqueid: str, hold: float = 0.0) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 16)
    except OSError:
        load.failures += 1
        return
    try:
        await play_asterisk(reader, writer, load, uniqueid, hold)
    finally:
        writer.close()


async def run_bounded(count: int, concurrency: int, make) -> float:  # type: ignore[no-untyped-def]
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await make(i)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - start


async def pyst2_session(load: Load, uniqueid: str) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", PYST2_SCRIPT, stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    assert proc.stdin is not None and proc.stdout is not None
    await play_asterisk(proc.stdout, proc.stdin, load, uniqueid)
    proc.stdin.close()
    if await proc.wait() != 0:
        load.failures += 1


def ms(samples: list[float], q: float) -> float:
    return percentile(samples, q) * 1000


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def measure(port: int, server_pid: int, mark) -> dict[str, float | int | str]:  # type: ignore[no-untyped-def]
    figures: dict[str, float | int | str] = {}
    # warm-up: imports, Redis pool, first-connection costs
    await run_bounded(200, 50, lambda i: tcp_session(port, Load(), f"w.{i}"))

    mark("latency")
    light = Load()
    await run_bounded(LATENCY_SESSIONS, LATENCY_CONCURRENCY, lambda i: tcp_session(port, light, f"l.{i}"))
    figures.update(latency_sessions=LATENCY_SESSIONS, latency_concurrency=LATENCY_CONCURRENCY,
                   commands_per_session=light.commands / LATENCY_SESSIONS,
                   command_overhead_p50_ms=ms(light.overheads, 50), command_overhead_p99_ms=ms(light.overheads, 99),
                   protocol_overhead_p50_ms=ms(light.protocol_only, 50),
                   protocol_overhead_p95_ms=ms(light.protocol_only, 95),
                   protocol_overhead_p99_ms=ms(light.protocol_only, 99), latency_failures=light.failures)

    mark("rate")
    busy = Load()
    cpu_before = cpu_seconds(server_pid)
    elapsed = await run_bounded(RATE_SESSIONS, RATE_CONCURRENCY, lambda i: tcp_session(port, busy, f"r.{i}"))
    cpu = cpu_seconds(server_pid) - cpu_before
    # CPU the server process spent, independent of how busy the shared machine was
    figures.update(server_cpu_per_session_ms=cpu / RATE_SESSIONS * 1000,
                   server_cpu_per_command_ms=cpu / busy.commands * 1000)
    figures.update(rate_sessions=RATE_SESSIONS, rate_concurrency=RATE_CONCURRENCY,
                   session_rate_per_s=RATE_SESSIONS / elapsed, command_overhead_p99_ms_saturated=ms(busy.overheads, 99),
                   rate_failures=busy.failures)

    heavy = Load()
    elapsed = await run_bounded(CONCURRENT, CONCURRENT, lambda i: tcp_session(port, heavy, f"c.{i}", HOLD))
    figures.update(concurrent_target=CONCURRENT, peak_concurrent=heavy.peak, concurrent_failures=heavy.failures,
                   concurrent_wall_s=elapsed, hold_s=HOLD,
                   command_overhead_p99_ms_at_1000=ms(heavy.overheads, 99))

    # peers that leave before the blank line: panoramisk 1.4 spins at 100% CPU from then on; we must idle
    for _ in range(100):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network: yes\nagi_request: agi://127.0.0.1/ivr\n")
        await writer.drain()
        writer.close()
    await asyncio.sleep(0.5)
    cpu_before = cpu_seconds(server_pid)
    await asyncio.sleep(2.0)
    figures["server_cpu_ms_in_2s_after_100_early_disconnects"] = (cpu_seconds(server_pid) - cpu_before) * 1000

    base = Load()
    elapsed = await run_bounded(BASELINE_SESSIONS, BASELINE_CONCURRENCY, lambda i: pyst2_session(base, f"p.{i}"))
    figures.update(pyst2_sessions=BASELINE_SESSIONS, pyst2_concurrency=BASELINE_CONCURRENCY,
                   pyst2_session_rate_per_s=BASELINE_SESSIONS / elapsed, pyst2_failures=base.failures,
                   pyst2_command_overhead_p99_ms=ms(base.overheads, 99))
    figures["speedup_vs_process_per_call"] = figures["session_rate_per_s"] / figures["pyst2_session_rate_per_s"]
    return figures


def main() -> dict:
    with EmbeddedRedis() as redis:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        server = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, redis.url], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        try:
            assert server.stdout is not None and server.stdin is not None
            port = int(server.stdout.readline())
            def mark(phase: str) -> None:
                assert server.stdin is not None
                server.stdin.write(f"mark {phase}\n")
                server.stdin.flush()

            figures = asyncio.run(measure(port, server.pid, mark))
            server.stdin.close()
            report = json.loads(server.stdout.read().strip())
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
    figures["server_stats"] = report["stats"]
    inside = report["samples"][report["marks"]["latency"]:report["marks"]["rate"]]
    figures["server_side_overhead_p50_ms"] = ms(inside, 50)
    figures["server_side_overhead_p99_ms"] = ms(inside, 99)
    figures["load_average_1m"] = os.getloadavg()[0]  # the machine is shared: tails depend on it
    figures["services"] = "welcome flow, Redis-backed services (no database), caller silent"
    both = figures["peak_concurrent"] >= CONCURRENT and figures["speedup_vs_process_per_call"] >= 20
    # end to end crosses two processes and the loopback on a shared machine; server side is our own code
    figures["meets_targets_end_to_end"] = bool(both and figures["protocol_overhead_p99_ms"] <= 2.0)
    figures["meets_targets_server_side"] = bool(both and figures["server_side_overhead_p99_ms"] <= 2.0)
    write_results("fastagi", figures)
    return figures


if __name__ == "__main__":
    main()
