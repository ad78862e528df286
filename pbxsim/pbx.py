"""The simulated Asterisk core: channels, device states, bridges, Dial(), hang-ups, Redirect and
BlindTransfer. app_queue (`queues.py`), ConfBridge (`confbridge.py`) and the citizen's dialplan
(`calls.py`) build on it. Every method runs synchronously on the clock's callbacks and emits the AMI events
Asterisk 22 emits for the same step, in the same order as the recordings."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pbxsim.bridges import Bridge, new_bridge_id
from pbxsim.channels import UNKNOWN, Channel, ChannelRegistry
from pbxsim.clock import Clock
from pbxsim.config import SimConfig
from pbxsim.events import EventHub

if TYPE_CHECKING:
    from pbxsim.confbridge import ConfBridges
    from pbxsim.queues import QueueEngine

CAUSE_TEXT = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "No user responding",
              21: "Call Rejected", 127: "Interworking, unspecified"}
EMERGENCY_NUMBERS = ("110", "119", "120")
# Contexts whose extensions are ConfBridge rooms, with the user profile they join with: the rig's
# `[conference]` (default profiles) and asterisk_config's three-way contexts (marked citizen, end_marked rest).
CONFERENCE_CONTEXTS = {"conference": "", "threeway-citizen": "hotline_citizen", "threeway-member": "hotline_member"}
DEVICE_CODES = {"UNKNOWN": 0, "NOT_INUSE": 1, "INUSE": 2, "BUSY": 3, "INVALID": 4, "UNAVAILABLE": 5,
                "RINGING": 6, "RINGINUSE": 7, "ONHOLD": 8}


@dataclass(eq=False)
class DialSession:
    """Dial() from `caller` to `dest`: ringing, then a basic bridge until one side hangs up."""

    caller: Channel
    dest: Channel
    dialstring: str
    answer_timer: Any = None
    bridge: Bridge | None = None
    # app_queue's pending AgentComplete when the caller was redirected out of a queue call
    pending_complete: Any = None
    done: bool = False
    on_answer: Callable[[DialSession], None] | None = None
    on_no_answer: Callable[[Channel], None] | None = None


@dataclass
class PbxStats:
    channels_created: int = 0
    events: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class Pbx:
    def __init__(self, config: SimConfig, clock: Clock, hub: EventHub | None = None) -> None:
        self.config = config
        self.clock = clock
        self.hub = hub or EventHub()
        self.rng = random.Random(config.seed)
        self.channels = ChannelRegistry()
        self.device_states: dict[str, str] = {}
        self.device_listeners: list[Callable[[str, str], None]] = []
        self.stats = PbxStats()
        self.calls: list[Any] = []      # every CitizenCall, for statistics
        self.dial_sessions: list[DialSession] = []
        self.globals: dict[str, str] = {}
        self.callback_citizens: dict[str, Any] = {}   # number → the Citizen who answers a callback
        self.queues: QueueEngine
        self.confbridges: ConfBridges
        self._device_legs: dict[str, set[Channel]] = {}

    # --- events -------------------------------------------------------------------------------------------
    def emit(self, event: str, *parts: Any) -> None:
        self.hub.emit(event, *parts)

    def var_set(self, channel: Channel, name: str, value: str) -> None:
        channel.variables[name] = value
        if self.hub.listening:      # the hot steps build no headers when nobody listens (virtual-time runs)
            self.emit("VarSet", channel.headers(), [("Variable", name), ("Value", value)])

    def newexten(self, channel: Channel, app: str, data: str, exten: str | None = None,
                 context: str | None = None, priority: int | None = None) -> None:
        if context is not None:
            channel.context = context
        if exten is not None:
            channel.exten = exten
        if priority is not None:
            channel.priority = priority
        channel.app, channel.appdata = app, data
        if self.hub.listening:
            self.emit("Newexten", channel.headers(),
                      [("Extension", channel.exten), ("Application", app), ("AppData", data)])

    def newstate(self, channel: Channel, state: int) -> None:
        channel.state = state
        if state == 6 and channel.answered_at is None:
            channel.answered_at = self.clock.now()
        if self.hub.listening:
            self.emit("Newstate", channel.headers())
        self.refresh_device(channel.device)

    # --- channels and devices -------------------------------------------------------------------------------
    def new_channel(self, endpoint: str, role: str, linkedid: str | None = None, **kw: Any) -> Channel:
        channel = self.channels.new(endpoint, role, self.clock.now(), linkedid, **kw)
        self.register(channel)
        self.emit("Newchannel", channel.headers())
        return channel

    def register(self, channel: Channel) -> None:
        self.stats.channels_created += 1
        self._device_legs.setdefault(channel.device, set()).add(channel)

    def device_state(self, device: str) -> str:
        state = self.device_states.get(device)
        return self._idle_state(device) if state is None else state

    @staticmethod
    def _idle_state(device: str) -> str:
        # the carrier trunk has no registered contact: Asterisk reports it UNAVAILABLE when idle
        return "UNAVAILABLE" if device == "PJSIP/carrier" else "NOT_INUSE"

    def set_device_state(self, device: str, state: str) -> None:
        if self.device_state(device) == state:
            return
        self.device_states[device] = state
        self.emit("DeviceStateChange", [("Device", device), ("State", state)])
        for listener in list(self.device_listeners):
            listener(device, state)

    def refresh_device(self, device: str) -> None:
        if not device.startswith("PJSIP/"):
            return
        legs = self._device_legs.get(device, ())
        if any(c.state == 6 for c in legs):
            state = "INUSE"
        elif any(c.state == 5 for c in legs):
            state = "RINGING"
        else:
            state = self._idle_state(device)
        self.set_device_state(device, state)

    def destroy(self, channel: Channel, cause: int = 16) -> None:
        """The channel is gone: `Hangup` and the device state that follows."""
        if channel.hungup:
            return
        channel.hungup = True
        channel.on_hangup = None
        self.emit("Hangup", channel.headers(), [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, ""))])
        self.channels.remove(channel)
        self._device_legs.get(channel.device, set()).discard(channel)
        self.refresh_device(channel.device)
        if channel.call is not None:
            channel.call.on_destroyed()

    def hangup(self, channel: Channel, cause: int = 16, soft: bool = False) -> None:
        """Something asks the channel to hang up: the far end (HangupRequest) or AMI (SoftHangupRequest).
        What happens next depends on what the channel is doing (`on_hangup`)."""
        if channel.hungup:
            return
        if channel.bridge is not None and channel.bridge.type == "base":
            self.confbridges.hangup(channel, cause, soft)   # ConfbridgeLeave comes first
            return
        if soft:
            self.soft_hangup_request(channel, cause)
        elif channel.app in ("Dial", "ConfBridge", "AppDial", "AppDial2"):
            # the recordings carry the cause when the far end hangs up out of Dial()/ConfBridge()
            self.emit("HangupRequest", channel.headers(), [("Cause", str(cause))])
        else:
            self.emit("HangupRequest", channel.headers())
        handler = channel.on_hangup
        if handler is not None:
            channel.on_hangup = None
            handler(channel, cause)
        else:
            self.destroy(channel, cause)

    def soft_hangup_request(self, channel: Channel, cause: int = 16) -> None:
        """SoftHangupRequest, once per channel (an AMI Hangup already raised it)."""
        if not channel.soft_requested:
            channel.soft_requested = True
            self.emit("SoftHangupRequest", channel.headers(), [("Cause", str(cause))])

    def dialplan_hangup(self, channel: Channel) -> None:
        """The channel reached `Hangup()` (or fell off the end of its dialplan)."""
        if channel.hungup:
            return
        self.soft_hangup_request(channel, 16)
        self.destroy(channel, 16)

    # --- bridges ---------------------------------------------------------------------------------------------
    def create_bridge(self, session: Any, kind: str = "basic", name: str | None = None) -> Bridge:
        if kind == "basic":
            bridge = Bridge(new_bridge_id(self.rng), session=session)
        else:
            bridge = Bridge(new_bridge_id(self.rng), type="base", technology="softmix", creator="ConfBridge",
                            name=name or UNKNOWN, hidden=1, session=session)
        self.emit("BridgeCreate", bridge.headers(0))
        return bridge

    def bridge_enter(self, bridge: Bridge, channel: Channel) -> None:
        bridge.channels.append(channel)
        channel.bridge = bridge
        self.emit("BridgeEnter", bridge.headers(), channel.headers())

    def bridge_leave(self, bridge: Bridge, channel: Channel) -> None:
        if channel in bridge.channels:
            bridge.channels.remove(channel)
        channel.bridge = None
        self.emit("BridgeLeave", bridge.headers(), channel.headers())

    def bridge_destroy(self, bridge: Bridge) -> None:
        self.emit("BridgeDestroy", bridge.headers(0))

    def set_bridgepeer(self, a: Channel, b: Channel | None) -> None:
        self.var_set(a, "BRIDGEPEER", b.name if b else "")

    def bridge_pair(self, session: Any, first: Channel, second: Channel) -> Bridge:
        """A basic bridge of two answered channels (the called leg enters first, as Asterisk does)."""
        bridge = self.create_bridge(session)
        self.bridge_enter(bridge, first)
        self.bridge_enter(bridge, second)
        self.set_bridgepeer(first, second)
        self.set_bridgepeer(second, first)
        return bridge

    def unbridge_pair(self, bridge: Bridge, first: Channel) -> Channel | None:
        """Both parties leave a two-party bridge (`first` first) and it is destroyed; returns the other."""
        other = bridge.peer(first)
        self.set_bridgepeer(first, None)
        if other is not None:
            self.set_bridgepeer(other, None)
        self.bridge_leave(bridge, first)
        if other is not None:
            self.bridge_leave(bridge, other)
        self.bridge_destroy(bridge)
        return other

    # --- Dial() ----------------------------------------------------------------------------------------------
    def dial(self, caller: Channel, endpoint: str, exten: str, dialstring: str, answer_delay: float | None,
             on_end: Callable[[Channel], None] | None = None, timeout: float = 30.0,
             rings: bool = True, on_answer: Callable[[DialSession], None] | None = None,
             on_no_answer: Callable[[Channel], None] | None = None) -> DialSession:
        """Dial(PJSIP/...) from the caller's dialplan; the far end answers after `answer_delay` (None: never,
        then DialEnd NOANSWER after `timeout` and the dialplan goes on: `on_no_answer`, else Hangup()).
        `on_answer` runs once both are bridged; `on_end` when the far end hangs up (Dial() returns)."""
        dest = self.new_channel(endpoint, "gateway" if endpoint == "emergency" else "agent",
                                linkedid=caller.linkedid, caller_num=caller.caller_num,
                                caller_name=caller.caller_name, connected_num=caller.caller_num,
                                connected_name=caller.caller_name, context="from-agents", exten=exten)
        session = DialSession(caller, dest, dialstring, on_answer=on_answer, on_no_answer=on_no_answer)
        session.on_end = on_end  # type: ignore[attr-defined]
        self.newexten(dest, "AppDial", "(Outgoing Line)")
        self.emit("DialBegin", caller.headers(), dest.headers("Dest"), [("DialString", dialstring)])
        if rings:
            self.newstate(dest, 5)
            self.emit("DialState", caller.headers(), dest.headers("Dest"), [("DialStatus", "RINGING")])
        caller.on_hangup = lambda ch, cause: self._dial_caller_gone(session, cause)
        dest.on_hangup = lambda ch, cause: self._dial_dest_gone(session, cause)
        if answer_delay is not None and answer_delay < timeout:
            session.answer_timer = self.clock.call_later(answer_delay, self._dial_answered, session)
        else:
            session.answer_timer = self.clock.call_later(timeout, self._dial_no_answer, session)
        self.dial_sessions.append(session)
        return session

    def _dial_over(self, session: DialSession) -> None:
        session.done = True
        if session in self.dial_sessions:
            self.dial_sessions.remove(session)

    def _dial_answered(self, session: DialSession) -> None:
        caller, dest = session.caller, session.dest
        if caller.hungup or dest.hungup:
            return
        self.newstate(dest, 6)
        self.var_set(caller, "DIALSTATUS", "ANSWER")
        self.emit("DialEnd", caller.headers(), dest.headers("Dest"), [("DialStatus", "ANSWER")])
        self.newexten(dest, "AppDial", "(Outgoing Line)", exten="")
        session.bridge = self.bridge_pair(session, dest, caller)
        if session.on_answer is not None:
            session.on_answer(session)

    def _dial_no_answer(self, session: DialSession) -> None:
        caller, dest = session.caller, session.dest
        if caller.hungup or dest.hungup or session.bridge is not None:
            return
        self._dial_over(session)
        self.var_set(caller, "DIALSTATUS", "NOANSWER")
        self.emit("DialEnd", caller.headers(), dest.headers("Dest"), [("DialStatus", "NOANSWER")])
        self.destroy(dest, 0)
        if session.pending_complete is not None:
            session.pending_complete("caller")
        caller.on_hangup = None
        if session.on_no_answer is not None:
            session.on_no_answer(caller)
            return
        self.dialplan_hangup(caller)

    def _dial_caller_gone(self, session: DialSession, cause: int) -> None:
        caller, dest = session.caller, session.dest
        self._dial_over(session)
        if session.pending_complete is not None:
            session.pending_complete("caller")
        if session.bridge is None:
            if session.answer_timer:
                session.answer_timer.cancel()
            self.emit("DialEnd", caller.headers(), dest.headers("Dest"), [("DialStatus", "CANCEL")])
            self.destroy(dest, 0)
        else:
            self.unbridge_pair(session.bridge, caller)
            self.destroy(dest, 16)
        self.soft_hangup_request(caller, cause)
        self.destroy(caller, cause)

    def _dial_dest_gone(self, session: DialSession, cause: int) -> None:
        caller, dest = session.caller, session.dest
        self._dial_over(session)
        if session.bridge is not None:
            self.unbridge_pair(session.bridge, dest)
        self.destroy(dest, cause)
        on_end = getattr(session, "on_end", None)
        if on_end is not None:
            on_end(caller)
        else:
            # Dial() returns and the dialplan ends: Hangup()
            if session.pending_complete is not None:
                session.pending_complete("caller")
            self.dialplan_hangup(caller)

    # --- dialplan targets of Redirect / BlindTransfer -------------------------------------------------------
    def goto(self, channel: Channel, context: str, exten: str, priority: int = 1) -> bool:
        """Run `context,exten,priority` of rig-config/extensions.conf on a channel that left its bridge."""
        if context in CONFERENCE_CONTEXTS:
            channel.context, channel.exten, channel.priority = context, exten, priority
            self.confbridges.join(channel, exten, user_profile=CONFERENCE_CONTEXTS[context])
            return True
        if context in ("transfer-emergency", "from-agents") and exten in EMERGENCY_NUMBERS:
            channel.context, channel.exten, channel.priority = context, exten, priority
            self.var_set(channel, "DIALSTATUS", "")
            channel.app, channel.appdata = "Dial", f"PJSIP/{exten}@emergency,30"
            self.dial(channel, "emergency", exten, f"{exten}@emergency", self.config.gateway_answer_delay)
            return True
        if context == "from-agents" and len(exten) == 4 and exten[0] in "12" and exten.isdigit():
            channel.context, channel.exten, channel.priority = context, exten, priority
            seat = self.config.seat(exten)
            channel.app, channel.appdata = "Dial", f"PJSIP/{exten},20"
            answers = seat.reachable and self.rng.random() < seat.answer_probability
            self.dial(channel, exten, exten, f"PJSIP/{exten}", seat.answer_delay.sample(self.rng) if answers else None,
                      timeout=20.0, rings=seat.reachable)
            return True
        return False

    @staticmethod
    def can_goto(context: str, exten: str) -> bool:
        if context in CONFERENCE_CONTEXTS:
            return bool(exten)
        if context in ("transfer-emergency", "from-agents") and exten in EMERGENCY_NUMBERS:
            return True
        return context == "from-agents" and len(exten) == 4 and exten[0] in "12" and exten.isdigit()
