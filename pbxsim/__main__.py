"""`python -m pbxsim`: run the simulated Asterisk with AMI on a TCP port, FastAGI towards the IVR and
Poisson traffic.

    python -m pbxsim --ami-port 5038 --agi agi://127.0.0.1:4573/ivr --rate 0.5 \\
        --agents 1001,1002,1003 --talk lognormal:240,120 --patience exp:90 --scale 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from pbxsim.config import QueueConfig, SeatBehaviour, SimConfig
from pbxsim.distributions import parse
from pbxsim.simulator import Simulator
from pbxsim.traffic import TrafficModel


def build_parser(defaults: SimConfig | None = None) -> argparse.ArgumentParser:
    """Defaults come from the platform's settings (HOTLINE_AMI_*, HOTLINE_FASTAGI_*), so that the demo's
    AMI client and IVR find the simulator without flags."""
    d = defaults or SimConfig()
    p = argparse.ArgumentParser(prog="python -m pbxsim", description="Simulated Asterisk 22 for the hotline")
    p.add_argument("--ami-host", default=d.ami_host)
    p.add_argument("--ami-port", type=int, default=d.ami_port, help="0 picks a free port (printed)")
    p.add_argument("--ami-user", default=d.ami_username)
    p.add_argument("--ami-secret", default=d.ami_secret)
    p.add_argument("--agi", default=d.agi_url or "none", help="FastAGI URL of the IVR; 'none' for no IVR")
    p.add_argument("--rate", type=float, default=0.0, help="calls per second (Poisson)")
    p.add_argument("--profile", help="48 comma-separated calls-per-hour figures, one per half hour")
    p.add_argument("--scale", type=float, default=1.0, help="time runs this many times faster")
    p.add_argument("--agents", default="", help="interfaces added to the queue at start, e.g. 1001,1002")
    p.add_argument("--queue", action="append", default=[], metavar="NAME[:STRATEGY]",
                   help="a queue (repeatable); default hotline-general:leastrecent")
    p.add_argument("--talk", default="lognormal:240,120", help="citizens' talk time distribution")
    p.add_argument("--patience", default="exp:90", help="citizens' patience distribution, or 'none'")
    p.add_argument("--answer-delay", default="2", help="softphones' answer delay distribution")
    p.add_argument("--digits", default="2", help="what citizens press in the IVR")
    p.add_argument("--seed", type=int, default=1)
    return p


def config_from(args: argparse.Namespace) -> SimConfig:
    queues = []
    for spec in args.queue or ["hotline-general:leastrecent"]:
        name, _, strategy = spec.partition(":")
        queues.append(QueueConfig(name=name, strategy=strategy or "leastrecent"))
    return SimConfig(ami_host=args.ami_host, ami_port=args.ami_port, ami_username=args.ami_user,
                     ami_secret=args.ami_secret, agi_url=None if args.agi.lower() == "none" else args.agi,
                     queues=queues, default_queue=queues[0].name, seed=args.seed,
                     default_seat=SeatBehaviour(answer_delay=parse(args.answer_delay)))


def _defaults() -> SimConfig:
    try:
        return SimConfig.from_settings()
    except Exception:       # unreadable settings must not stop a simulator: the rig's values then
        return SimConfig()


async def main(argv: list[str] | None = None) -> int:
    args = build_parser(_defaults()).parse_args(argv)
    try:
        config = config_from(args)
        profile = [float(x) for x in args.profile.split(",")] if args.profile else None
        traffic = TrafficModel(rate=args.rate, profile=profile, talk_time=parse(args.talk),
                               patience=None if args.patience == "none" else parse(args.patience),
                               digits=((args.digits, 1.0),), seed=args.seed)
    except ValueError as exc:
        print(f"pbxsim: {exc}", file=sys.stderr)
        return 2
    sim = Simulator(config, scale=args.scale)
    await sim.start()
    for agent in filter(None, (a.strip() for a in args.agents.split(","))):
        sim.add_member(f"PJSIP/{agent}", f"agent-{agent}")
    sim.start_traffic(traffic)
    print(f"pbxsim: AMI on {config.ami_host}:{sim.ami_port}, FastAGI {config.agi_url or 'off'}, "
          f"rate {args.rate}/s, scale {args.scale}x", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()
    print(f"pbxsim: {sim.stats.summary()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
