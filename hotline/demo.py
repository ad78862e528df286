"""`make demo`: the whole platform on its embedded defaults, against the PBX simulator.

One process runs every role (ivr, bridge, pops, acd, console, metrics, scheduler, calls) with SQLite under var/ and an
embedded redis-server; the simulator plays Asterisk (AMI and FastAGI) with a steady call load; simulated
seats log in through the ACD, answer, and turn their calls into work orders. Seat 1001 is left for you:
log in at http://127.0.0.1:8000 as agent1001 and press 签入 to take calls yourself.

`python -m hotline.demo --duration 60` stops by itself and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from acd.config import default_acd_config
from acd.services import AcdError, AgentService
from hotline.bus import EventBus
from hotline.db import upgrade_to_head
from hotline.demo_data import DEMO_USERS, seed
from hotline.domain import Category
from hotline.heap import install_heap_policy
from hotline.redis_server import EmbeddedRedis, free_port
from hotline.runtime import ALL_ROLES, RoleContext, run_roles
from hotline.settings import PROJECT_ROOT, Settings
from hotline.sla.services import build_engine
from hotline.tasks import cancel_and_wait
from hotline.workorders.models import WorkOrder
from hotline.workorders.services import NewOrder, create_order
from pbxsim import SeatBehaviour, SimConfig, Simulator, TrafficModel
from pbxsim.distributions import Exponential, LogNormal

log = logging.getLogger("hotline.demo")
HUMAN_SEAT = "1001"
CONTENT = {  # what a simulated agent writes down, by the caller's IVR choice
    Category.complaint: "反映小区夜间施工噪音扰民，请相关部门核查处理。",
    Category.consult: "咨询社保卡补办流程，已依据知识库答复。",
    Category.help: "反映片区停水，请求尽快恢复供水。",
}


@dataclass
class Tally:
    """The platform's own view of the run, read from the bus (not from the simulator)."""

    ended: dict[str, int] = field(default_factory=dict)
    orders_created: int = 0
    since: float = field(default_factory=time.time)

    def add(self, outcome: str) -> None:
        self.ended[outcome] = self.ended.get(outcome, 0) + 1


def sim_config(settings: Settings) -> SimConfig:
    """The simulated Asterisk, running the queues, penalty rules and queue dialplan that asterisk_config renders
    from acd/skills.yaml (the platform's one source of truth), where the settings say."""
    config = SimConfig.from_platform(**SimConfig.connection(settings))
    config.default_seat = SeatBehaviour(answer_delay=LogNormal(3.0, 1.5))
    config.conf_mark_citizen = True  # asterisk_config's ConfBridge profiles: the room closes with the citizen
    return config


async def log_in_simulated_seats(ctx: RoleContext) -> list[str]:
    acd = default_acd_config()
    service = AgentService(acd, await ctx.ami(), ctx.bus.redis)
    seats = [seat.id for seat in acd.seats if seat.id != HUMAN_SEAT]
    for seat in seats:
        await service.login(seat)  # added unpaused: ready (示闲) once the ACD sees QueueMemberAdded
    return seats


WRAP_UP_SECONDS = (4.0, 10.0)  # how long a simulated agent's 话后整理 takes, uniformly


async def finish_wrap_up(service: AgentService, agent_id: str, seconds: float) -> None:
    """Press 整理完成 once the order is written: the ACD paused the seat for 话后整理 on AgentComplete."""
    await asyncio.sleep(seconds)
    for _ in range(20):
        try:
            await service.wrap_up(agent_id)
            return
        except AcdError:  # not in 话后整理 yet: the ACD's pause may still be on its way
            await asyncio.sleep(0.5)


async def simulated_agents_write_orders(ctx: RoleContext, tally: Tally, seats: list[str]) -> None:
    """Each answered call of a simulated seat becomes a work order, as an agent would file it; then the agent
    ends 话后整理 and is ready for the next call."""
    with ctx.session_factory() as session:
        engine = build_engine(session, ctx.settings.city_policy, ctx.settings.office_hours)
    service = AgentService(default_acd_config(), await ctx.ami(), ctx.bus.redis)
    rng = random.Random(7)
    wrap_ups: set[asyncio.Task[None]] = set()

    def file_order(call: dict) -> None:
        category = Category((call.get("ivr") or {}).get("category") or "consult")
        answered_on_call = category is Category.consult
        with ctx.session_factory() as session:
            create_order(session, engine, f"agent{call['agent']}", NewOrder(
                category=category, content=CONTENT.get(category, CONTENT[Category.consult]),
                caller_number=call.get("caller_number"), call_ids=[call["call_id"]], agent_id=call["agent"],
                answer="已依据知识库当场答复" if answered_on_call else None))
            session.commit()

    try:
        async for _stream, _id, event in ctx.bus.subscribe({"calls": "$"}):
            if event.get("type") != "call.ended":
                continue
            call = event.get("call") or {}
            tally.add(call.get("outcome") or "unknown")
            if call.get("outcome") == "answered" and call.get("agent") in seats:
                try:
                    await asyncio.to_thread(file_order, call)
                    tally.orders_created += 1
                except Exception:
                    log.exception("a simulated agent could not file the order of call %s", call.get("call_id"))
                task = asyncio.create_task(finish_wrap_up(service, call["agent"], rng.uniform(*WRAP_UP_SECONDS)))
                wrap_ups.add(task)
                task.add_done_callback(wrap_ups.discard)
    finally:
        await cancel_and_wait(list(wrap_ups), timeout=2.0)


async def pops_delivered(bus: EventBus) -> int:
    total = 0
    async for key in bus.redis.scan_iter(match=bus.key("agent:*")):
        for _id, fields in await bus.redis.xrange(key):
            total += '"type":"pop.ringing"' in fields.get("data", "")
    return total


def summary(tally: Tally, sim: Simulator, pops: int, orders: int) -> str:
    stats = sim.stats
    offered = stats.offered
    rate = stats.answered / offered if offered else 0.0
    platform = ", ".join(f"{k} {v}" for k, v in sorted(tally.ended.items())) or "none"
    return "\n".join([
        "",
        "== 演示结束 / demo summary ==",
        f"  run time            {time.time() - tally.since:.0f} s",
        f"  calls offered       {offered}",
        f"  answered            {stats.answered}",
        f"  abandoned           {stats.abandoned + stats.timed_out}",
        f"  answer rate         {rate:.1%}",
        f"  pops delivered      {pops}",
        f"  work orders created {orders} ({tally.orders_created} filed by simulated seats this run)",
        f"  calls seen by the platform: {platform}",
    ])


async def run(args: argparse.Namespace) -> int:
    var = PROJECT_ROOT / "var"
    var.mkdir(exist_ok=True)
    database = Path(args.database or var / "demo.db")
    redis = EmbeddedRedis().start()
    settings = Settings(demo=True, database_url=f"sqlite:///{database}", redis_url=redis.url,
                        ami_port=free_port(), fastagi_port=free_port(), console_port=args.port)
    ctx = RoleContext(settings=settings, redis_url=redis.url)
    await asyncio.to_thread(upgrade_to_head, settings.database_url)
    with ctx.session_factory() as session:
        engine = build_engine(session, settings.city_policy, settings.office_hours)
    seed(ctx.session_factory, engine)

    sim = Simulator(sim_config(settings), scale=1.0)
    await sim.start()
    roles = asyncio.create_task(run_roles(settings, ALL_ROLES, ctx), name="roles")
    tally = Tally()
    tasks: list[asyncio.Task] = [roles]
    try:
        seats = await log_in_simulated_seats(ctx)
        tasks.append(asyncio.create_task(simulated_agents_write_orders(ctx, tally, seats)))
        sim.start_traffic(TrafficModel(rate=args.rate, talk_time=LogNormal(args.talk, args.talk / 2),
                                       patience=Exponential(args.patience), digits=(("", 0.7), ("2", 0.3)),
                                       names=("张三", "李四", "王五", "赵六")))
        print(f"坐席工作台 / console:  http://{settings.console_host}:{settings.console_port}")
        print("演示账号 / demo logins: " + ", ".join(f"{u.username} / {u.password}" for u in DEMO_USERS))
        print(f"seat {HUMAN_SEAT} is yours (agent1001); seats {', '.join(seats)} are simulated; "
              f"{args.rate * 60:.0f} calls a minute", flush=True)
        if args.duration:
            done, _ = await asyncio.wait([roles], timeout=args.duration)
            if done:
                roles.result()  # a role failed: show why
        else:
            await roles
    finally:
        # the simulated PBX goes away on purpose: the AMI client's reconnect attempts meanwhile are not news
        logging.getLogger("hotline.ami.client").setLevel(logging.ERROR)
        await sim.stop()
        await asyncio.sleep(0.5)  # let the last call events reach the bus
        pops = await pops_delivered(ctx.bus)
        with ctx.session_factory() as session:
            orders = session.scalar(select(func.count()).select_from(WorkOrder)) or 0
        await cancel_and_wait(tasks, timeout=10.0)
        redis.stop()
    print(summary(tally, sim, pops, orders), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotline.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run on)")
    # about 2 Erlangs on the four simulated general seats: the hotline meets its 95% (try --rate 0.2 to see
    # the answer-rate guard act)
    parser.add_argument("--rate", type=float, default=0.07, help="new calls per second")
    parser.add_argument("--talk", type=float, default=20.0, help="mean talk time in seconds")
    parser.add_argument("--patience", type=float, default=60.0, help="mean caller patience in seconds")
    parser.add_argument("--port", type=int, default=8000, help="console port")
    parser.add_argument("--database", help="SQLite file (default var/demo.db)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_heap_policy()  # as the roles' processes do (hotline.heap)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
