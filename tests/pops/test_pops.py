"""Screen pops over the simulator: real AMI socket, real Redis streams, real database."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bridge.pops.schemas import Pop
from hotline.audit.models import AuditEntry
from pbxsim.config import SeatBehaviour

from .harness import NUMBER, rig, seed_history, until

IVR = {"HOTLINE_CATEGORY": "complaint", "HOTLINE_PRIORITY": "5"}


async def test_ringing_answered_hangup_reach_only_the_agent_called(redis_async, db_session_factory) -> None:
    seeded = seed_history(db_session_factory)
    async with rig(redis_async, db_session_factory) as r:
        r.sim.add_member("PJSIP/1001", "agent-1001")
        r.sim.add_member("PJSIP/1002", "agent-1002", paused=True, reason="meal")
        call = await r.sim.place_call(caller=NUMBER, name="张三", ivr_vars=IVR, talk_time=3)
        ringing = Pop.model_validate(await r.wait_pop("1001", "pop.ringing"))
        assert ringing.caller_number == NUMBER and ringing.agent_id == "1001"
        assert ringing.call_id == call.uniqueid
        assert ringing.ivr["category"] == "complaint" and ringing.wait_seconds is not None
        history = ringing.history
        assert [o["number"] for o in history["orders"]] == seeded["orders"][::-1]
        assert history["repeat_caller"] is True and history["repeats"][0]["count"] == 2
        assert history["open_orders"] and all("provisional" in d for d in history["open_orders"][0]["deadlines"])
        assert history["open_orders"][0]["deadlines"], "open orders carry their deadlines"
        assert [h.article_id for h in ringing.kb_hits] == [seeded["article_id"]]
        answered = await r.wait_pop("1001", "pop.answered")
        assert answered["history"] == ringing.history  # the same content, without a second read
        await call.wait(10)
        hangup = await r.wait_pop("1001", "pop.hangup")
        assert hangup["reason"] == "ended" and hangup["call_id"] == call.uniqueid
        assert [p["type"] for p in await r.pops("1001")] == ["pop.ringing", "pop.answered", "pop.hangup"]
        assert await r.pops("1002") == []  # never the wrong agent
    with db_session_factory() as s:
        reads = s.scalars(select(AuditEntry).where(AuditEntry.subject_id == NUMBER)).all()
    assert [(a.actor, a.action, a.detail["call_id"]) for a in reads] == [("agent:1001", "screen_pop", call.uniqueid)]


async def test_ring_noanswer_clears_the_pop_and_the_next_agent_gets_it(redis_async, db_session_factory) -> None:
    async with rig(redis_async, db_session_factory) as r:
        r.sim.set_seat("1001", SeatBehaviour(answer_probability=0.0))
        r.sim.add_member("PJSIP/1001", "agent-1001")
        r.sim.add_member("PJSIP/1002", "agent-1002")
        call = await r.sim.place_call(caller="13800000001", ivr_vars=IVR, talk_time=2)
        await r.wait_pop("1001", "pop.ringing", timeout=15)
        missed = await r.wait_pop("1001", "pop.hangup", timeout=15)
        assert missed["reason"] == "ring_noanswer"
        await r.wait_pop("1002", "pop.answered", timeout=15)
        await call.wait(15)
        await r.wait_pop("1002", "pop.hangup")
        await asyncio.sleep(0.3)
        assert [p["type"] for p in await r.pops("1001")] == ["pop.ringing", "pop.hangup"]
        assert [p["history"]["calls"] for p in await r.pops("1002") if p["type"] == "pop.ringing"] == [[]]


async def test_a_restarted_consumer_gets_what_it_missed_exactly_once(redis_async, db_session_factory) -> None:
    seed_history(db_session_factory)
    async with rig(redis_async, db_session_factory) as r:
        r.sim.add_member("PJSIP/1001", "agent-1001")
        first = await r.sim.place_call(caller=NUMBER, ivr_vars=IVR, talk_time=1)
        await first.wait(10)
        await r.wait_pop("1001", "pop.hangup", call_id=first.uniqueid)
        await r.stop_consumer()
        # while the consumer is down a second call rings, is answered and ends
        second = await r.sim.place_call(caller=NUMBER, ivr_vars=IVR, talk_time=1)
        await second.wait(10)
        await r.wait_call_event(second.uniqueid, "call.ended")
        assert [p for p in await r.pops("1001") if p["call_id"] == second.uniqueid] == []
        await r.start_consumer()
        await r.wait_pop("1001", "pop.hangup", call_id=second.uniqueid)
        # a crash after reading but before acknowledging: the entry is pending and is handled on restart
        await r.stop_consumer()
        third = await r.sim.place_call(caller=NUMBER, ivr_vars=IVR, talk_time=1)
        await third.wait(10)
        await r.wait_call_event(third.uniqueid, "call.ended")
        key = r.bus.key("calls")
        taken = await redis_async.xreadgroup("pops", r.consumer_name, {key: ">"}, count=1000)
        assert taken and taken[0][1], "entries read and never acknowledged"
        await r.start_consumer()
        await r.wait_pop("1001", "pop.hangup", call_id=third.uniqueid)
        await r.stop_consumer()
        await r.start_consumer()  # one more restart: nothing is delivered twice
        await asyncio.sleep(0.5)
        pops = await r.pops("1001")
        for call in (first, second, third):
            assert [p["type"] for p in pops if p["call_id"] == call.uniqueid] == [
                "pop.ringing", "pop.answered", "pop.hangup"], call.uniqueid
        pending = await redis_async.xpending(key, "pops")
        assert pending["pending"] == 0


async def test_ringall_answer_elsewhere_and_bad_entries(redis_async, db_session_factory) -> None:
    async with rig(redis_async, db_session_factory) as r:
        # an entry that is not JSON must not stop the consumer (it is acknowledged and skipped)
        await redis_async.xadd(r.bus.key("calls"), {"data": "{not json"})
        await r.bus.publish("calls", {"type": "call.ringing", "call_id": "x.2", "agent": "1007",
                                      "call": {"call_id": "x.2", "caller_number": None, "ivr": None}})
        pop = await r.wait_pop("1007", "pop.ringing")
        assert pop["history"] is None and pop["caller_number"] is None  # withheld number: no history read
        await r.bus.publish("calls", {"type": "call.ringing", "call_id": "x.1", "agent": "1009",
                                      "call": {"call_id": "x.1", "caller_number": "13700000000", "ivr": None}})
        await r.wait_pop("1009", "pop.ringing")
        await r.bus.publish("calls", {"type": "call.ringing", "call_id": "x.1", "agent": "1008",
                                      "call": {"call_id": "x.1", "caller_number": "13700000000", "ivr": None}})
        await r.wait_pop("1008", "pop.ringing")
        await r.bus.publish("calls", {"type": "call.answered", "call_id": "x.1", "agent": "1008",
                                      "call": {"call_id": "x.1", "caller_number": "13700000000", "ivr": None}})
        elsewhere = await r.wait_pop("1009", "pop.hangup")
        assert elsewhere["reason"] == "answered_elsewhere"
        assert (await r.wait_pop("1008", "pop.answered"))["history"]["number"] == "13700000000"


async def test_pops_published_before_a_crash_are_not_sent_again(redis_async, db_session_factory, tmp_path) -> None:
    from hotline.db import make_engine, make_session_factory

    seed_history(db_session_factory)
    broken = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}"))
    async with rig(redis_async, db_session_factory) as r:
        await r.stop_consumer()
        # the audit database fails: the pops go out, the ringing entry stays unacknowledged
        consumer = await r.start_consumer(audit_session_factory=broken)
        r.sim.add_member("PJSIP/1001", "agent-1001")
        call = await r.sim.place_call(caller=NUMBER, ivr_vars=IVR, talk_time=1)
        await call.wait(10)
        await r.wait_pop("1001", "pop.hangup", call_id=call.uniqueid)
        pending = await redis_async.xpending(r.bus.key("calls"), "pops")
        assert pending["pending"] == 1 and consumer._audit.written == 0
        await r.stop_consumer()  # "crash": the audit never written
        await r.start_consumer()
        await until(lambda: _no_pending(redis_async, r.bus.key("calls")))
        assert [p["type"] for p in await r.pops("1001")] == ["pop.ringing", "pop.answered", "pop.hangup"]
    with db_session_factory() as s:
        reads = s.scalars(select(AuditEntry).where(AuditEntry.subject_id == NUMBER)).all()
    assert [(a.actor, a.detail["call_id"]) for a in reads] == [("agent:1001", call.uniqueid)]  # audited on replay


async def _no_pending(redis, key: str) -> bool:  # type: ignore[no-untyped-def]
    return (await redis.xpending(key, "pops"))["pending"] == 0
