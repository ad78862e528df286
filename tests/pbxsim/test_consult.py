"""Attended transfer (Atxfer) on the virtual clock: consult, hand over, or come back to the citizen."""

from __future__ import annotations

from pbxsim.citizens import Citizen
from pbxsim.config import SeatBehaviour, SimConfig
from pbxsim.consult import attended_transfer
from pbxsim.distributions import Constant
from pbxsim.simulator import Simulator
from tests.pbxsim.helpers import Recorder

T0 = 1_795_263_400.0


def _connected(seats: dict[str, SeatBehaviour]) -> tuple[Simulator, Recorder, str, str]:
    sim = Simulator(SimConfig(agi_url=None, seats=seats), virtual=True, start_time=T0)
    rec = Recorder(sim)
    sim.add_member("PJSIP/1001", "agent-1001")
    sim.call(Citizen(talk_time=None, hangup_after=100))
    sim.run_until(T0 + 10)
    connect = rec.named("AgentConnect")[0]
    return sim, rec, connect["Channel"], connect["DestChannel"]


def test_consult_then_hand_over_when_the_agent_hangs_up() -> None:
    sim, rec, citizen, agent = _connected({"2001": SeatBehaviour(answer_delay=Constant(2))})
    attended_transfer(sim.pbx, agent, "from-agents", "2001")
    sim.run_until(T0 + 20)
    assert rec.named("MusicOnHoldStart", Channel=citizen)[-1]
    expert = rec.named("DialEnd", Channel=agent, DialStatus="ANSWER")[0]["DestChannel"]
    assert expert.startswith("PJSIP/2001-")
    sim.pbx.hangup(sim.pbx.channels.get(agent))           # the agent hands over
    sim.run_until(T0 + 30)
    (complete,) = rec.named("AgentComplete")
    assert complete["Reason"] == "transfer"
    (xfer,) = rec.named("AttendedTransfer")
    assert (xfer["TransfereeChannel"], xfer["TransferTargetChannel"]) == (citizen, expert)
    enters = [e["Channel"] for e in rec.named("BridgeEnter", BridgeUniqueid=xfer["DestBridgeUniqueid"])]
    assert enters[-1] == expert
    sim.run_until(T0 + 200)                                # the citizen hangs up at 100 s
    assert rec.named("Hangup", Channel=expert) and rec.named("Hangup", Channel=citizen)
    assert sim.pbx.channels.alive() == []
    assert rec.named("QueueMemberStatus", Interface="PJSIP/1001")[-1]["CallsTaken"] == "1"


def test_expert_does_not_answer_the_agent_comes_back() -> None:
    sim, rec, citizen, agent = _connected({"2001": SeatBehaviour(answer_probability=0.0)})
    attended_transfer(sim.pbx, agent, "from-agents", "2001")
    sim.run_until(T0 + 40)
    assert [e["DialStatus"] for e in rec.named("DialEnd", Channel=agent)] == ["NOANSWER"]
    assert rec.named("MusicOnHoldStop", Channel=citizen)
    assert rec.named("BridgeEnter", Channel=agent)[-1]
    sim.pbx.hangup(sim.pbx.channels.get(agent))
    sim.run_until(T0 + 60)
    assert [e["Reason"] for e in rec.named("AgentComplete")] == ["agent"]
    assert sim.pbx.channels.alive() == []
