"""Fault (a): Asterisk restarts / the AMI link drops under calls.

The simulator's AMI listener is closed and every client socket cut (what an Asterisk restart looks like from
the manager side: connection refused, then a fresh banner on the same port); calls keep going inside the
PBX. The bridge must log in again, rebuild the live calls from CoreShowChannels/QueueStatus, and every call
placed after the reconnect must pop; no call is stored twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from sqlalchemy import func, select

from hotline.calls.bus_consumer import CallsConsumer
from hotline.calls.models import Call
from pbxsim.config import SeatBehaviour, SimConfig
from pbxsim.distributions import Constant
from tests.pops.harness import rig, until

from .servers import stable_port

IVR = {"HOTLINE_CATEGORY": "consult", "HOTLINE_PRIORITY": "0"}


async def _restart_ami(sim, down_seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Close the listening socket and every session, stay down, then listen again on the same port."""
    server = sim.ami
    server._server.close()
    await server._server.wait_closed()
    server.disconnect_all()
    await asyncio.sleep(down_seconds)
    await server.start()


async def test_ami_restart_under_calls_reconnects_resyncs_and_loses_no_pop(redis_async, db_session_factory) -> None:
    # the AMI port below the ephemeral range: the client reconnects to it while it is closed
    config = SimConfig(ami_port=stable_port(), agi_url=None, conf_mark_citizen=True,
                       default_seat=SeatBehaviour(answer_delay=Constant(1.0)), gateway_answer_delay=1.0)
    async with rig(redis_async, db_session_factory, config=config) as r:
        for seat in ("1001", "1002", "1003"):
            r.sim.add_member(f"PJSIP/{seat}", f"agent-{seat}")
        # calls in progress when the link goes: one talking, and long ones that keep the seats busy
        before = [await r.sim.place_call(caller=f"1390000000{n}", ivr_vars=IVR, talk_time=40) for n in range(2)]
        for call in before:
            await r.wait_call_event(call.uniqueid, "call.answered")
        logins = r.ami.logins
        down_at = time.monotonic()
        await _restart_ami(r.sim, down_seconds=0.5)
        await until(lambda: r.ami.logins > logins and r.bridge.resyncs >= 2, timeout=5)
        reconnect_seconds = time.monotonic() - down_at - 0.5
        assert reconnect_seconds < 2.0, f"bridge took {reconnect_seconds:.2f} s to log in again"
        # the tracker rebuilt the two live calls from the snapshot
        assert {c.uniqueid for c in before} <= set(r.bridge.tracker.active)
        after = [await r.sim.place_call(caller=f"1380000000{n}", ivr_vars=IVR, talk_time=1) for n in range(3)]
        for call in after:
            await call.wait(30)
        for call in after:
            await r.wait_call_event(call.uniqueid, "call.ended", timeout=15)
            agent = call.member.removeprefix("PJSIP/") if call.member else None
            assert agent, f"{call.uniqueid} was answered by a seat"
            for kind in ("pop.ringing", "pop.answered", "pop.hangup"):
                await r.wait_pop(agent, kind, call_id=call.uniqueid, timeout=15)
        for call in before:
            await call.wait(60)
            await r.wait_call_event(call.uniqueid, "call.ended", timeout=15)
        # each call ends exactly once on the bus, and is stored as one row
        ended = Counter(e["call_id"] for e in await r.calls() if e["type"] == "call.ended")
        assert set(ended) == {c.uniqueid for c in (*before, *after)}
        assert set(ended.values()) == {1}, ended
        pops = Counter()
        for seat in ("1001", "1002", "1003"):
            pops.update((p["call_id"], p["type"]) for p in await r.pops(seat))
        assert all(n == 1 for (call_id, kind), n in pops.items() if call_id in {c.uniqueid for c in after}), pops
        consumer = CallsConsumer(r.bus, db_session_factory, name="rel-ami")
        await consumer.drain()
    with db_session_factory() as s:
        rows = s.execute(select(Call.call_id, func.count()).group_by(Call.call_id)).all()
    assert {cid for cid, _ in rows} == set(ended) and all(n == 1 for _, n in rows)
