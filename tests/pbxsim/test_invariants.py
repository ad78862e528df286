"""Properties of the app_queue model under random traffic, pauses and softphone behaviour (virtual clock):
every offered call ends exactly once, no member is in two calls at once, nothing is left over."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbxsim.citizens import Citizen
from pbxsim.config import QueueConfig, SeatBehaviour, SimConfig
from pbxsim.distributions import Constant
from pbxsim.simulator import Simulator
from tests.pbxsim.helpers import Recorder

T0 = 1_795_263_400.0

seat = st.builds(SeatBehaviour, answer_delay=st.builds(Constant, st.floats(0.1, 20)),
                 answer_probability=st.sampled_from([0.0, 0.5, 1.0]), reachable=st.booleans(),
                 talk_time=st.one_of(st.none(), st.builds(Constant, st.floats(1, 200))))
citizen = st.tuples(st.floats(0, 600), st.one_of(st.none(), st.floats(1, 200)), st.floats(1, 300),
                    st.integers(0, 9))
pause = st.tuples(st.floats(0, 600), st.integers(0, 3), st.booleans())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategy=st.sampled_from(["leastrecent", "rrmemory", "ringall"]),
       seats=st.lists(seat, min_size=1, max_size=4), penalties=st.lists(st.integers(0, 2), min_size=4, max_size=4),
       citizens=st.lists(citizen, max_size=12), pauses=st.lists(pause, max_size=6))
def test_every_call_ends_once_and_members_take_one_call_at_a_time(strategy, seats, penalties, citizens,
                                                                  pauses) -> None:  # type: ignore[no-untyped-def]
    config = SimConfig(agi_url=None, queues=[QueueConfig(strategy=strategy)],
                       seats={str(1001 + i): s for i, s in enumerate(seats)})
    sim = Simulator(config, virtual=True, start_time=T0)
    rec = Recorder(sim)
    interfaces = [f"PJSIP/{1001 + i}" for i in range(len(seats))]
    for i, interface in enumerate(interfaces):
        sim.add_member(interface, f"agent-{1001 + i}", penalty=penalties[i])
    calls = []
    for at, patience, talk, prio in citizens:
        c = Citizen(patience=patience, talk_time=talk, ivr_vars={"HOTLINE_PRIORITY": str(prio)}, ivr_seconds=0.5)
        sim.clock.call_later(at, lambda c=c: calls.append(sim.call(c)))
    for at, which, paused in pauses:
        if which < len(interfaces):
            sim.clock.call_later(at, sim.pbx.queues.pause, interfaces[which], paused)
    sim.run_until(T0 + 600)
    for interface in interfaces:        # everyone back, so that nothing waits forever
        sim.pbx.queues.pause(interface, False)
    sim.run_until(T0 + 600 + 4000)

    assert len(calls) == len(citizens)
    assert all(c.ended_at is not None for c in calls)
    assert sim.pbx.channels.alive() == [] or all(ch.role == "expert" for ch in sim.pbx.channels.alive())
    stats = sim.stats
    assert stats.offered == len(citizens)
    assert stats.answered + stats.abandoned + stats.timed_out == stats.offered
    assert len(rec.named("AgentComplete")) == stats.answered
    # one call at a time per member: AgentConnect / AgentComplete alternate for each interface
    busy: dict[str, bool] = {}
    for _, e in rec.events:
        if e["Event"] == "AgentConnect":
            assert not busy.get(e["Interface"]), f"{e['Interface']} connected twice"
            busy[e["Interface"]] = True
        elif e["Event"] == "AgentComplete":
            busy[e["Interface"]] = False
    # positions: every join's Position is within 1..Count
    for e in rec.named("QueueCallerJoin"):
        assert 1 <= int(e["Position"]) <= int(e["Count"])
    # paused or unreachable-and-never-answering members never connect
    for e in rec.named("AgentConnect"):
        s = seats[interfaces.index(e["Interface"])]
        assert s.reachable and s.answer_probability > 0
