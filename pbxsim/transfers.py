"""Moving bridged channels elsewhere: AMI Redirect (single or dual), BlindTransfer and Atxfer, and
Originate. What each does to the queue call, the bridge and the other party follows the recordings:

- Redirect of one party of a two-party bridge hangs the other party up (unless it is the ExtraChannel);
  after a Redirect of the citizen out of a queue call, AgentComplete waits for the citizen's hang-up.
- Dual Redirect of citizen and agent into `conference` keeps the queue call open until one of them leaves.
- BlindTransfer of the agent's leg sends the citizen to the target: AgentComplete with Reason=transfer.
"""

from __future__ import annotations

from pbxsim.channels import Channel
from pbxsim.citizens import Citizen
from pbxsim.config import SeatBehaviour
from pbxsim.distributions import Constant
from pbxsim.pbx import EMERGENCY_NUMBERS, DialSession, Pbx
from pbxsim.queues import QueueCaller, QueueSession


class TransferError(Exception):
    pass


def _queue_session(channel: Channel) -> QueueSession | None:
    session = channel.owner
    if isinstance(session, QueueSession) and not session.completed and session.bridge is not None \
            and channel.bridge is session.bridge:
        return session
    return None


def _waiting(pbx: Pbx, channel: Channel) -> QueueCaller | None:
    for queue in pbx.queues.queues.values():
        for caller in queue.callers:
            if caller.channel is channel:
                return caller
    return None


def _leave_current(pbx: Pbx, channel: Channel, keep: set[Channel]) -> None:
    """Take a channel out of whatever it is in (other than a queue call, handled by the caller)."""
    bridge = channel.bridge
    if bridge is not None and bridge.type == "base":
        room = pbx.confbridges.room_of(channel)
        assert room is not None
        pbx.emit("ConfbridgeLeave", [("Conference", room.name)], bridge.headers(), channel.headers(),
                 [("Admin", "No")])
        user = room.user(channel)
        if user is not None:
            room.users.remove(user)
        pbx.bridge_leave(bridge, channel)
        channel.on_hangup = None
        return
    if bridge is not None:
        session = bridge.session
        other = pbx.unbridge_pair(bridge, channel)
        channel.on_hangup = None
        if isinstance(session, DialSession):
            pbx._dial_over(session)
        if other is not None and other not in keep:
            other.on_hangup = None
            pbx.destroy(other, 16)
        return
    call = channel.call
    if call is not None and call.agi_session is not None and channel.app == "AGI" and not call.agi_task.done():
        call.agi_session.leave()
        return
    if call is not None and channel.app == "AGI":
        call.redirected = True      # scripted IVR or no IVR: nothing more to run after it
        return
    caller = _waiting(pbx, channel)
    if caller is not None:
        queues = pbx.queues
        queues._cancel_attempts(caller)
        pbx.emit("MusicOnHoldStop", channel.headers())
        queues._leave(caller)
        channel.on_hangup = None


def redirect(pbx: Pbx, name: str, context: str, exten: str, priority: int = 1,
             extra: tuple[str, str, str, int] | None = None) -> str:
    """AMI Redirect; returns Asterisk's success message or raises TransferError with its error message."""
    channel = pbx.channels.get(name)
    if channel is None:
        raise TransferError(f"Channel does not exist: {name}")
    other = None
    if extra is not None:
        other = pbx.channels.get(extra[0])
        if other is None:
            raise TransferError(f"Channel does not exist: {extra[0]}")
    moves = [(channel, context, exten, priority)]
    if other is not None and extra is not None:
        # the recording shows the ExtraChannel arriving first
        moves.insert(0, (other, extra[1] or context, extra[2] or exten, extra[3]))
    moved = {m[0] for m in moves}
    session = _queue_session(channel)
    if session is not None:
        citizen, leg = session.caller.channel, session.leg
        order = [c for c in (leg, citizen) if c in moved]
        pbx.queues.detach_for_redirect(session, order, exten)
        if citizen in moved and leg not in moved:
            pbx.queues.release_member(session)
            pbx.destroy(leg, 16)
        elif leg in moved and citizen not in moved:
            pbx.queues.complete(session, "agent")
            pbx.queues.release_member(session)
            pbx.dialplan_hangup(citizen)
    else:
        for ch in moved:
            _leave_current(pbx, ch, moved)
    for ch, ctx, ext, prio in moves:
        if ch.hungup:
            continue
        if not pbx.goto(ch, ctx, ext, prio):
            pbx.dialplan_hangup(ch)
            continue
        if session is not None and ch is session.caller.channel and session.leg not in moved:
            _attach_pending_complete(pbx, session, ch)
    return "Dual Redirect successful" if other is not None else "Redirect successful"


def _attach_pending_complete(pbx: Pbx, session: QueueSession, citizen: Channel) -> None:
    """The citizen now dials the target: AgentComplete (Reason=caller, no DestChannel) when the citizen ends."""
    for candidate in pbx.dial_sessions:
        if candidate.caller is citizen and not candidate.done:
            pbx.queues.dial_from_redirect(session, candidate)


def blind_transfer(pbx: Pbx, name: str, context: str, exten: str) -> str:
    channel = pbx.channels.get(name)
    if channel is None:
        raise TransferError("No such channel")
    bridge = channel.bridge
    if bridge is None or bridge.type != "basic":
        raise TransferError("Transfer failed")
    peer = bridge.peer(channel)
    if peer is None:
        raise TransferError("Transfer failed")
    if not pbx.can_goto(context, exten):
        raise TransferError("Transfer failed")
    pbx.emit("Unhold", channel.headers())
    pbx.set_bridgepeer(channel, None)
    pbx.emit("BlindTransfer", [("Result", "Success")], channel.headers("Transferer"), peer.headers("Transferee"),
             bridge.headers(), [("IsExternal", "Yes"), ("Context", context), ("Extension", exten)])
    pbx.set_bridgepeer(peer, None)
    session = _queue_session(channel)
    peer.on_hangup = None
    channel.on_hangup = None
    pbx.newexten(peer, peer.app, peer.appdata, exten=exten)
    if session is not None:
        pbx.queues.complete(session, "transfer")
    pbx.bridge_leave(bridge, peer)
    pbx.bridge_leave(bridge, channel)
    pbx.bridge_destroy(bridge)
    if isinstance(bridge.session, DialSession):
        pbx._dial_over(bridge.session)
    if session is not None:
        pbx.queues.release_member(session)
    pbx.destroy(channel, 16)
    if not pbx.goto(peer, context, exten):
        pbx.dialplan_hangup(peer)
    return "Transfer succeeded"


def originate(pbx: Pbx, target: str, caller_id: str, action_id: str | None, application: str | None,
              data: str, context: str | None, exten: str | None, priority: int,
              variables: dict[str, str] | None = None, timeout: float = 30.0) -> None:
    """Originate towards a seat (`PJSIP/NNNN`: its softphone answers as it answers queue calls), the emergency
    gateway (`PJSIP/110`) or a citizen through the carrier (`PJSIP/<number>@carrier`: a callback, answered as
    `SimConfig.callback_behaviour` says, with the citizen registered by `Simulator.expect_callback`)."""
    resource = target.split("/", 1)[1] if "/" in target else target
    number, _, trunk = resource.partition("@")
    name, num = "", caller_id
    if "<" in caller_id and caller_id.endswith(">"):
        name, _, num = caller_id[:-1].partition("<")
        name = name.strip().strip('"')
    if trunk == "carrier":
        endpoint, role, seat = "carrier", "citizen", pbx.config.callback_behaviour
        citizen = pbx.callback_citizens.pop(number, None)
        leg = pbx.new_channel(endpoint, role, caller_num=number, caller_name=citizen.name if citizen else "<unknown>",
                              connected_num=num or "<unknown>", connected_name=name or "<unknown>",
                              context="from-carrier", exten="s")
    else:
        endpoint = "emergency" if number in EMERGENCY_NUMBERS else number
        role = "gateway" if endpoint == "emergency" else "expert"
        seat = pbx.config.seat(endpoint) if role == "expert" else SeatBehaviour(
            answer_delay=Constant(pbx.config.gateway_answer_delay))
        citizen = None
        leg = pbx.new_channel(endpoint, role, caller_num=num or "<unknown>", caller_name=name or "<unknown>",
                              connected_num=num or "<unknown>", connected_name=name or "<unknown>",
                              context="from-agents", exten="s")
    for key, value in (variables or {}).items():
        pbx.var_set(leg, key, value)
    pbx.newexten(leg, "AppDial2", "(Outgoing Line)")
    pbx.emit("DialBegin", leg.headers("Dest"), [("DialString", resource)])

    def respond(ok: bool, reason: str) -> None:
        pairs = [("ActionID", action_id)] if action_id else []
        pbx.emit("OriginateResponse", pairs, [
            ("Response", "Success" if ok else "Failure"), ("Channel", leg.name if ok else target),
            ("Application" if application else "Context", application or context or ""),
            ("Data" if application else "Exten", data if application else exten or ""),
            ("Reason", reason), ("Uniqueid", leg.uniqueid if ok else "<null>"),
            ("CallerIDNum", num or "<unknown>"), ("CallerIDName", name or "<unknown>")])

    def answered() -> None:
        if leg.hungup:
            return
        no_answer.cancel()
        pbx.newstate(leg, 6)
        pbx.emit("DialEnd", leg.headers("Dest"), [("DialStatus", "ANSWER")])
        respond(True, "4")
        if role == "citizen":
            from pbxsim.calls import CitizenCall

            CitizenCall(pbx, citizen or Citizen(caller=number)).start_callback(leg, exten or "")
            return
        if application and application.lower() == "confbridge":
            room, _, profiles = data.partition(",")
            pbx.confbridges.join(leg, room, user_profile=profiles.partition(",")[2])
        elif context and exten and pbx.goto(leg, context, exten, priority):
            pass
        else:
            pbx.dialplan_hangup(leg)
            return
        if seat.talk_time is not None:
            pbx.clock.call_later(seat.talk_time.sample(pbx.rng), lambda: pbx.hangup(leg))

    def ring_out() -> None:
        if leg.hungup or leg.state == 6:
            return
        answer.cancel()
        pbx.emit("DialEnd", leg.headers("Dest"), [("DialStatus", "NOANSWER")])
        pbx.destroy(leg, 0)
        respond(False, "3")

    answer = no_answer = None
    if seat.reachable:
        pbx.newstate(leg, 5)
        pbx.emit("DialState", leg.headers("Dest"), [("DialStatus", "RINGING")])
    if seat.reachable and pbx.rng.random() < seat.answer_probability:
        answer = pbx.clock.call_later(seat.answer_delay.sample(pbx.rng), answered)
    else:
        answer = pbx.clock.call_later(1e9, lambda: None)
    no_answer = pbx.clock.call_later(timeout, ring_out)
