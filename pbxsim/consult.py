"""Attended transfer (AMI Atxfer, features.conf `atxfer`): the agent consults a second party while the
citizen waits on hold, then hands the citizen over by hanging up.

    the agent leaves the queue call's bridge, the citizen hears music on hold; the target is dialled
    target answers        → the agent and the target talk in a second bridge
    agent hangs up        → AttendedTransfer: the target joins the citizen's bridge, AgentComplete Reason=transfer
    target does not answer (20 s) or hangs up → the agent returns to the citizen
    agent hangs up before the target answers → the dial is cancelled and the queue call ends (Reason=agent)
    citizen hangs up while on hold → AgentComplete Reason=caller; the consultation goes on until it ends
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pbxsim.bridges import Bridge
from pbxsim.channels import Channel
from pbxsim.pbx import EMERGENCY_NUMBERS, Pbx
from pbxsim.queues import QueueSession

DIAL_TIMEOUT = 20.0   # Dial(PJSIP/${EXTEN},20) of [from-agents]


class ConsultError(Exception):
    pass


@dataclass(eq=False)
class Consultation:
    pbx: Pbx
    agent: Channel
    citizen: Channel
    bridge: Bridge                     # the citizen's (queue call's) bridge
    session: QueueSession | None
    target: Channel | None = None
    consult_bridge: Bridge | None = None
    timer: Any = None
    over: bool = False

    # --- start ---------------------------------------------------------------------------------------------
    def start(self, context: str, exten: str) -> None:
        pbx = self.pbx
        pbx.set_bridgepeer(self.agent, None)
        pbx.bridge_leave(self.bridge, self.agent)
        pbx.emit("MusicOnHoldStart", self.citizen.headers(), [("Class", "default")])
        if exten in EMERGENCY_NUMBERS:
            endpoint, delay, rings = "emergency", pbx.config.gateway_answer_delay, True
        else:
            seat = pbx.config.seat(exten)
            answers = seat.reachable and pbx.rng.random() < seat.answer_probability
            endpoint, delay, rings = exten, seat.answer_delay.sample(pbx.rng) if answers else None, seat.reachable
        target = pbx.new_channel(endpoint, "gateway" if endpoint == "emergency" else "expert",
                                 linkedid=self.agent.linkedid, caller_num=self.agent.caller_num,
                                 caller_name=self.agent.caller_name, context=context, exten=exten)
        self.target = target
        pbx.newexten(target, "AppDial", "(Outgoing Line)")
        pbx.emit("DialBegin", self.agent.headers(), target.headers("Dest"),
                 [("DialString", f"{exten}@emergency" if endpoint == "emergency" else f"PJSIP/{exten}")])
        if rings:
            pbx.newstate(target, 5)
            pbx.emit("DialState", self.agent.headers(), target.headers("Dest"), [("DialStatus", "RINGING")])
        self.agent.on_hangup = self._agent_gone
        self.citizen.on_hangup = self._citizen_gone
        target.on_hangup = self._target_gone
        if delay is not None and delay < DIAL_TIMEOUT:
            self.timer = pbx.clock.call_later(delay, self._answered)
        else:
            self.timer = pbx.clock.call_later(DIAL_TIMEOUT, self._no_answer)

    # --- the target ----------------------------------------------------------------------------------------
    def _answered(self) -> None:
        pbx, target = self.pbx, self.target
        assert target is not None
        if self.over or target.hungup or self.agent.hungup:
            return
        pbx.newstate(target, 6)
        pbx.emit("DialEnd", self.agent.headers(), target.headers("Dest"), [("DialStatus", "ANSWER")])
        self.consult_bridge = pbx.bridge_pair(self, target, self.agent)

    def _no_answer(self) -> None:
        pbx, target = self.pbx, self.target
        assert target is not None
        if self.over or target.hungup:
            return
        pbx.emit("DialEnd", self.agent.headers(), target.headers("Dest"), [("DialStatus", "NOANSWER")])
        pbx.destroy(target, 0)
        self._back_to_citizen()

    def _target_gone(self, channel: Channel, cause: int) -> None:
        pbx = self.pbx
        if self.consult_bridge is not None:
            pbx.unbridge_pair(self.consult_bridge, channel)
            self.consult_bridge = None
        elif self.timer is not None:
            self.timer.cancel()
            pbx.emit("DialEnd", self.agent.headers(), channel.headers("Dest"), [("DialStatus", "BUSY")])
        pbx.destroy(channel, cause)
        self._back_to_citizen()

    def _back_to_citizen(self) -> None:
        """The consultation failed: the agent talks to the citizen again."""
        pbx = self.pbx
        self.over = True
        if self.agent.hungup:
            return
        if self.citizen.hungup:
            pbx.dialplan_hangup(self.agent)
            if self.session is not None:
                pbx.queues.release_member(self.session)
            return
        pbx.emit("MusicOnHoldStop", self.citizen.headers())
        pbx.bridge_enter(self.bridge, self.agent)
        pbx.set_bridgepeer(self.agent, self.citizen)
        pbx.set_bridgepeer(self.citizen, self.agent)
        if self.session is not None:
            queues = self.pbx.queues
            self.agent.on_hangup = lambda ch, cause: queues._session_hangup(self.session, ch, cause)  # type: ignore[arg-type]
            self.citizen.on_hangup = lambda ch, cause: queues._session_hangup(self.session, ch, cause)  # type: ignore[arg-type]

    # --- the agent and the citizen -------------------------------------------------------------------------
    def _agent_gone(self, channel: Channel, cause: int) -> None:
        pbx, target = self.pbx, self.target
        assert target is not None
        self.over = True
        if self.consult_bridge is None:
            # hung up before the target answered: the dial is cancelled, the queue call ends
            if self.timer is not None:
                self.timer.cancel()
            pbx.emit("DialEnd", channel.headers(), target.headers("Dest"), [("DialStatus", "CANCEL")])
            pbx.destroy(target, 0)
            if self.session is not None:
                pbx.queues.complete(self.session, "agent")
                pbx.queues.release_member(self.session)
            pbx.destroy(channel, cause)
            if not self.citizen.hungup:
                pbx.emit("MusicOnHoldStop", self.citizen.headers())
                pbx.bridge_leave(self.bridge, self.citizen)
                pbx.bridge_destroy(self.bridge)
                self.citizen.on_hangup = None
                if self.session is not None and self.session.caller.on_leave:
                    self.session.caller.on_leave("CONTINUE")
                else:
                    pbx.dialplan_hangup(self.citizen)
            return
        if self.citizen.hungup:
            # nobody to hand over: the target's call ends with the agent's
            pbx.unbridge_pair(self.consult_bridge, channel)
            if self.session is not None:
                pbx.queues.release_member(self.session)
            pbx.destroy(channel, cause)
            pbx.destroy(target, 16)
            return
        # the hand-over
        consult = self.consult_bridge
        pbx.emit("AttendedTransfer", [("Result", "Success")], channel.headers("OrigTransferer"),
                 channel.headers("SecondTransferer"), self.citizen.headers("Transferee"),
                 target.headers("TransferTarget"), [("DestType", "Bridge"),
                                                    ("DestBridgeUniqueid", self.bridge.uniqueid),
                                                    ("IsExternal", "No")])
        if self.session is not None:
            pbx.queues.complete(self.session, "transfer")
        pbx.unbridge_pair(consult, channel)
        if self.session is not None:
            pbx.queues.release_member(self.session)
        pbx.destroy(channel, cause)
        pbx.emit("MusicOnHoldStop", self.citizen.headers())
        pbx.bridge_enter(self.bridge, target)
        pbx.set_bridgepeer(target, self.citizen)
        pbx.set_bridgepeer(self.citizen, target)
        self.citizen.connected_num, self.citizen.connected_name = target.endpoint, "<unknown>"
        self.citizen.on_hangup = self._handed_over_citizen_gone
        target.on_hangup = self._handed_over_target_gone

    def _citizen_gone(self, channel: Channel, cause: int) -> None:
        """The citizen hung up while on hold."""
        pbx = self.pbx
        pbx.emit("MusicOnHoldStop", channel.headers())
        if self.session is not None:
            pbx.queues.complete(self.session, "caller")
        pbx.bridge_leave(self.bridge, channel)
        pbx.bridge_destroy(self.bridge)
        pbx.soft_hangup_request(channel, cause)
        pbx.destroy(channel, cause)

    # --- after the hand-over: a plain two-party call ---------------------------------------------------------
    def _handed_over_citizen_gone(self, channel: Channel, cause: int) -> None:
        pbx, target = self.pbx, self.target
        assert target is not None
        pbx.unbridge_pair(self.bridge, channel)
        pbx.destroy(target, 16)
        pbx.soft_hangup_request(channel, cause)
        pbx.destroy(channel, cause)

    def _handed_over_target_gone(self, channel: Channel, cause: int) -> None:
        pbx = self.pbx
        pbx.unbridge_pair(self.bridge, channel)
        pbx.destroy(channel, cause)
        self.citizen.on_hangup = None
        if self.session is not None and self.session.caller.on_leave:
            self.session.caller.on_leave("CONTINUE")
        else:
            pbx.dialplan_hangup(self.citizen)


def attended_transfer(pbx: Pbx, name: str, context: str, exten: str) -> Consultation:
    agent = pbx.channels.get(name)
    if agent is None:
        raise ConsultError("No such channel")
    bridge = agent.bridge
    if bridge is None or bridge.type != "basic" or bridge.peer(agent) is None:
        raise ConsultError("Atxfer failed: the channel is not in a two-party call")
    if not pbx.can_goto(context, exten):
        raise ConsultError(f"Atxfer failed: no extension {exten} in context {context}")
    citizen = bridge.peer(agent)
    assert citizen is not None
    session = agent.owner if isinstance(agent.owner, QueueSession) and not agent.owner.completed else None
    consultation = Consultation(pbx, agent, citizen, bridge, session)
    consultation.start(context, exten)
    return consultation
