"""ConfBridge marked/end_marked semantics and the traffic model, on the virtual clock."""

from __future__ import annotations

import pytest

from pbxsim.citizens import Citizen
from pbxsim.config import SimConfig
from pbxsim.distributions import Constant, Exponential, LogNormal, parse
from pbxsim.simulator import Simulator
from pbxsim.traffic import TrafficModel
from pbxsim.transfers import originate, redirect
from tests.pbxsim.helpers import Recorder

T0 = 1_795_263_400.0


def _threeway(mark_citizen: bool) -> tuple[Simulator, Recorder, str]:
    sim = Simulator(SimConfig(agi_url=None, conf_mark_citizen=mark_citizen), virtual=True, start_time=T0)
    rec = Recorder(sim)
    sim.add_member("PJSIP/1001", "agent-1001")
    call = sim.call(Citizen(talk_time=None, hangup_after=60))
    sim.run_until(T0 + 10)
    connect = rec.named("AgentConnect")[0]
    room = f"3w-{call.uniqueid}"
    originate(sim.pbx, "PJSIP/2001", "Hotline <12345>", "o-1", "ConfBridge", room, None, None, 1)
    sim.run_until(T0 + 15)
    redirect(sim.pbx, connect["Channel"], "conference", room, 1,
             (connect["DestChannel"], "conference", room, 1))
    sim.run_until(T0 + 20)
    sim.pbx.hangup(sim.pbx.channels.get(connect["DestChannel"]), soft=True)   # the agent leaves
    sim.run_until(T0 + 120)                                                   # the citizen hangs up at 60 s
    return sim, rec, room


def test_default_profiles_keep_the_room_while_anyone_is_in_it() -> None:
    sim, rec, room = _threeway(mark_citizen=False)
    assert [e["Reason"] for e in rec.named("AgentComplete")] == ["agent"]
    assert room in sim.pbx.confbridges.rooms
    assert [u.channel.endpoint for u in sim.pbx.confbridges.rooms[room].users] == ["2001"]
    assert rec.named("ConfbridgeEnd") == []


def test_marked_citizen_and_end_marked_others_close_the_room_with_the_citizen() -> None:
    sim, rec, room = _threeway(mark_citizen=True)
    assert room not in sim.pbx.confbridges.rooms
    (end,) = rec.named("ConfbridgeEnd")
    assert end["Conference"] == room
    leaves = [e["Channel"].split("-")[0] for e in rec.named("ConfbridgeLeave")]
    assert leaves == ["PJSIP/1001", "PJSIP/carrier", "PJSIP/2001"]
    assert rec.named("DeviceStateChange", Device=f"confbridge:{room}")[-1]["State"] == "NOT_INUSE"


def test_poisson_arrivals_follow_the_rate_and_the_seed() -> None:
    model = TrafficModel(rate=0.05, seed=7)
    times, t = [], T0
    for _ in range(2000):
        t = model.next_arrival(t)
        times.append(t)
    mean_gap = (times[-1] - T0) / len(times)
    assert mean_gap == pytest.approx(20.0, rel=0.1)
    again = TrafficModel(rate=0.05, seed=7)
    assert again.next_arrival(T0) == times[0]


def test_daily_profile_has_no_calls_in_empty_half_hours() -> None:
    profile = [0.0] * 48
    profile[20] = 120.0                        # 10:00–10:30 China time only
    model = TrafficModel(profile=profile, seed=3)
    day_start = T0 - ((T0 + 8 * 3600) % 86400)   # local midnight
    t, seen = day_start, []
    while True:
        t = model.next_arrival(t)
        if t is None or t > day_start + 86400:
            break
        seen.append(t)
    assert len(seen) == pytest.approx(60, abs=25)
    assert all(10 * 3600 <= (s - day_start) < 10.5 * 3600 for s in seen)
    with pytest.raises(ValueError):
        TrafficModel(profile=[1.0] * 47)


def test_a_virtual_day_more_agents_fewer_abandons_and_same_seed_same_day() -> None:
    def day(agents: int, seed: int = 11) -> dict[str, float]:
        sim = Simulator(SimConfig(agi_url=None, seed=seed), virtual=True, start_time=T0)
        for n in range(agents):
            sim.add_member(f"PJSIP/{1001 + n}", f"agent-{1001 + n}")
        model = TrafficModel(rate=1 / 30, talk_time=LogNormal(180, 60), patience=Exponential(60), seed=seed)
        return sim.run_day(model, hours=4).summary()

    few, many = day(3), day(12)
    assert few["offered"] == many["offered"] > 300
    assert many["abandon_rate"] < few["abandon_rate"]
    assert many["service_level_15s"] > few["service_level_15s"]
    assert few["answered"] + few["abandoned"] + few["timed_out"] == few["offered"]
    assert day(3) == few


def test_distribution_notation() -> None:
    assert parse("12") == Constant(12.0)
    assert parse("exp:30") == Exponential(30.0)
    assert parse("lognormal:240,120") == LogNormal(240.0, 120.0)
    with pytest.raises(ValueError):
        parse("gamma:1")


def test_asterisk_config_threeway_contexts_close_the_room_with_the_citizen() -> None:
    sim = Simulator(SimConfig(agi_url=None), virtual=True, start_time=T0)
    rec = Recorder(sim)
    sim.add_member("PJSIP/1001", "agent-1001")
    call = sim.call(Citizen(talk_time=None, hangup_after=60))
    sim.run_until(T0 + 10)
    connect = rec.named("AgentConnect")[0]
    room = f"3w-{call.uniqueid}"
    originate(sim.pbx, "PJSIP/2001", "Hotline <12345>", "o-1", None, "", "threeway-member", room, 1)
    sim.run_until(T0 + 15)
    redirect(sim.pbx, connect["Channel"], "threeway-citizen", room, 1,
             (connect["DestChannel"], "threeway-member", room, 1))
    sim.run_until(T0 + 120)
    users = sim.pbx.confbridges
    assert room not in users.rooms
    assert rec.named("ConfbridgeEnd", Conference=room)
    assert sim.pbx.channels.alive() == []
