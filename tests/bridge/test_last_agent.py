"""The caller's last agent rung before the queue (asterisk_config's `[hotline-queue]`: Dial(PJSIP/<seat>)
when the ACD set HOTLINE_LAST_AGENT, then Queue()): over pbxsim running the platform's dialplan, the
tracker follows that Dial as it follows app_queue, so the agent gets the pop and the figures count the call."""

from __future__ import annotations

from pbxsim.config import SeatBehaviour, SimConfig
from pbxsim.distributions import Constant
from tests.pops.harness import NUMBER, SCALE, rig, seed_history

IVR = {"HOTLINE_CATEGORY": "complaint", "HOTLINE_QUEUE": "hotline-general", "HOTLINE_LAST_AGENT": "1001"}


def platform(**seats: SeatBehaviour) -> SimConfig:
    config = SimConfig.from_platform(ami_port=0, agi_url=None)
    config.default_seat = SeatBehaviour(answer_delay=Constant(1.0))
    config.seats.update(seats)  # by seat ("1001")
    return config


async def test_the_last_agent_answering_gets_the_pops_and_the_call_counts(redis_async, db_session_factory) -> None:
    seed_history(db_session_factory)
    async with rig(redis_async, db_session_factory, config=platform()) as r:
        r.sim.add_member("PJSIP/1001", "agent-1001", queue="hotline-general")
        call = await r.sim.place_call(caller=NUMBER, ivr_vars=IVR, talk_time=1)
        await call.wait(10)
        ended = await r.wait_call_event(call.uniqueid, "call.ended")
        events = [e for e in await r.calls() if e["call_id"] == call.uniqueid]
        assert [(e["type"], e.get("agent")) for e in events] == [
            ("call.started", None), ("call.ringing", "1001"), ("call.answered", "1001"),
            ("call.ended", None)]  # no Queue(): the Dial was answered
        snapshot = ended["call"]
        assert (snapshot["outcome"], snapshot["agent"], snapshot["queue"]) == ("answered", "1001", "hotline-general")
        # the caller's wait for a human: from the Dial's start to its answer, which the seat gives after 1
        # simulated second (never sooner)
        rang, answered = events[1]["ts"], events[2]["ts"]
        assert snapshot["wait_seconds"] == round(answered - rang, 3) and snapshot["wait_seconds"] >= 1 / SCALE
        pops = await r.wait_pop("1001", "pop.hangup", call_id=call.uniqueid)
        assert pops["reason"] == "ended"
        ringing = await r.wait_pop("1001", "pop.ringing", call_id=call.uniqueid)
        assert ringing["history"]["repeat_caller"] is True and ringing["kb_hits"]


async def test_the_last_agent_not_answering_sends_the_call_to_the_queue(redis_async, db_session_factory) -> None:
    busy = SeatBehaviour(answer_delay=Constant(1.0), answer_probability=0.0)
    async with rig(redis_async, db_session_factory, config=platform(**{"1001": busy})) as r:
        r.sim.add_member("PJSIP/1002", "agent-1002", queue="hotline-general")
        call = await r.sim.place_call(caller="13700000009", ivr_vars=IVR, talk_time=1)
        await call.wait(40)
        await r.wait_call_event(call.uniqueid, "call.ended")
        kinds = [(e["type"], e.get("agent")) for e in await r.calls() if e["call_id"] == call.uniqueid]
        assert kinds == [("call.started", None), ("call.ringing", "1001"), ("call.ring_noanswer", "1001"),
                         ("call.queued", None), ("call.ringing", "1002"), ("call.answered", "1002"),
                         ("call.ended", None)]
        await r.wait_pop("1001", "pop.hangup", call_id=call.uniqueid)
        assert [(p["type"], p.get("reason")) for p in await r.pops("1001")] == [
            ("pop.ringing", None), ("pop.hangup", "ring_noanswer")]
        await r.wait_pop("1002", "pop.answered", call_id=call.uniqueid)


def test_only_the_queue_entrys_dial_of_a_seat_counts_as_the_last_agent_ringing() -> None:
    from bridge.calls.tracker import CallTracker
    from hotline.ami.frames import Frame

    tracker = CallTracker()
    uid, citizen = "1795300000.1", "PJSIP/carrier-00000001"
    tracker.feed(Frame.of({"Event": "Newchannel", "Channel": citizen, "Uniqueid": uid, "Linkedid": uid,
                           "CallerIDNum": NUMBER, "CallerIDName": ""}), 1.0)

    def dial(context: str, dest: str, exten: str = "hotline-general") -> list[dict]:
        return tracker.feed(Frame.of({"Event": "DialBegin", "Channel": citizen, "Uniqueid": uid, "Context": context,
                                      "Exten": exten, "DestChannel": dest, "DialString": dest}), 2.0)

    assert dial("transfer-emergency", "PJSIP/emergency-00000002", "110") == []  # the IVR's emergency hand-off
    assert dial("from-agents", "PJSIP/1001-00000003") == []  # a seat, but not the queue entry's Dial
    [ringing] = dial("hotline-queue", "PJSIP/1001-00000004")
    assert (ringing["type"], ringing["agent"], ringing["call"]["queue"]) == ("call.ringing", "1001", "hotline-general")


async def test_a_reconnect_rebuilds_a_call_with_its_last_agent(redis_async, db_session_factory) -> None:
    """After an AMI reconnect the snapshot shows the citizen in the queue entry's Dial(): ringing the last agent,
    or talking to them (not a transfer to 110, which is also a Dial)."""
    import time

    from bridge.calls.tracker import CallTracker

    slow = SeatBehaviour(answer_delay=Constant(600.0))  # 1002 lets it ring
    async with rig(redis_async, db_session_factory, config=platform(**{"1002": slow})) as r:
        talking = await r.sim.place_call(caller="13700000011", ivr_vars=IVR, talk_time=None)
        ringing = await r.sim.place_call(caller="13700000012", ivr_vars=IVR | {"HOTLINE_LAST_AGENT": "1002"},
                                         talk_time=None)
        await r.wait_call_event(talking.uniqueid, "call.answered")
        await r.wait_call_event(ringing.uniqueid, "call.ringing")
        assert r.ami is not None
        frames = await r.ami.send_action({"Action": "CoreShowChannels"}, check=False)
        fresh = CallTracker()  # a bridge that starts now, or lost its state
        events = fresh.resync(frames if isinstance(frames, list) else [frames], time.time())
        kinds = {(e["call_id"], e["type"], e.get("agent")) for e in events}
        assert kinds == {(talking.uniqueid, "call.started", None), (talking.uniqueid, "call.ringing", "1001"),
                         (talking.uniqueid, "call.answered", "1001"), (ringing.uniqueid, "call.started", None),
                         (ringing.uniqueid, "call.ringing", "1002")}
        assert fresh.active[talking.uniqueid].queue == "hotline-general"
        talking.citizen_hangs_up()
        ringing.citizen_hangs_up()
