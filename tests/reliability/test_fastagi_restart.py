"""Fault (e): the FastAGI server (the `ivr` role of `hotline run`) is killed (-9) and restarted under calls.

Asterisk's side is the simulator's FastAGI client: a call whose AGI link breaks, or that finds nobody
listening, gets AGISTATUS=FAILURE and goes on to the queue, as real Asterisk does; nobody is cut off.
After the restart new calls are served by the IVR again."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pbxsim.config import SeatBehaviour, SimConfig
from pbxsim.distributions import Constant
from pbxsim.simulator import Simulator

from .servers import stable_port

ROOT = Path(__file__).resolve().parents[2]


def _start_ivr(port: int, redis_url: str, db_url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"REDIS_URL": redis_url, "DATABASE_URL": db_url, "HOTLINE_FASTAGI_PORT": str(port),
                "HOTLINE_AMI_SECRET": "unused-here", "HOTLINE_SESSION_KEY": "unused-here-too-0123456789"})
    proc = subprocess.Popen([sys.executable, "-m", "hotline.cli", "--log-level", "WARNING", "run", "--roles", "ivr"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("IVR did not listen")


async def test_fastagi_killed_and_restarted_under_calls(redis_url: str, db_url: str, redis_sync) -> None:  # type: ignore[no-untyped-def]
    port = stable_port()  # the simulator reconnects to it while it is down
    ivr = _start_ivr(port, redis_url, db_url)
    sim = Simulator(SimConfig(ami_port=0, agi_url=f"agi://127.0.0.1:{port}/ivr", agi_connect_timeout=1.0,
                              default_seat=SeatBehaviour(answer_delay=Constant(1.0))), scale=10.0)
    await sim.start()
    try:
        for seat in ("1001", "1002", "1003", "1004", "1005", "1006"):
            sim.add_member(f"PJSIP/{seat}", f"agent-{seat}")
        # two citizens think for 30 s over the menu: still in the IVR when it dies
        in_flight = [await sim.place_call(caller=f"1390000000{n}", digits="2", digit_delay=30, talk_time=2)
                     for n in range(2)]
        await _until(lambda: all(c.channel is not None and _in_agi(c) for c in in_flight))
        os.kill(ivr.pid, signal.SIGKILL)
        ivr.wait(timeout=5)
        down = [await sim.place_call(caller=f"1380000000{n}", digits="2", talk_time=2) for n in range(2)]
        for call in (*in_flight, *down):
            await call.wait(60)
        for call in in_flight:
            # the socket closed under AGI(): res_agi reads EOF as "script completed" (AGISTATUS=SUCCESS,
            # as Asterisk 22 does); the menu never finished, so the call goes to the queue uncategorised
            assert call.agi_status == "SUCCESS", (call.uniqueid, call.agi_status)
            assert "HOTLINE_CATEGORY" not in call.channel.variables
        for call in down:
            assert call.agi_status == "FAILURE", (call.uniqueid, call.agi_status)  # connection refused
        for call in (*in_flight, *down):
            assert call.outcome == "answered", (call.uniqueid, call.outcome)  # on to the queue, not cut off
        ivr = _start_ivr(port, redis_url, db_url)
        after = [await sim.place_call(caller=f"1370000000{n}", digits="2", digit_delay=0.5, talk_time=2)
                 for n in range(2)]
        for call in after:
            await call.wait(60)
            assert call.agi_status == "SUCCESS", call.agi_status
            assert call.outcome == "answered"
            assert call.channel.variables.get("HOTLINE_CATEGORY") == "complaint"  # the IVR's menu ran
    finally:
        await sim.stop()
        if ivr.poll() is None:
            ivr.terminate()
            ivr.wait(timeout=10)


def _in_agi(call) -> bool:  # type: ignore[no-untyped-def]
    return not call.agi_status and call.channel.variables.get("AGISTATUS") is None


async def _until(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # well into the menu
