"""The call tracker: turns the AMI event stream into calls and call events.

It reads `Frame` objects straight from the decoder. The hot path stays cheap: the event name is read
from the frame's first line, events the tracker has no use for (RTCPSent, DeviceStateChange,
Newstate, most VarSet and Newexten...) are dropped on that name, and a handler reads only the few headers
it needs (`frame.get`, found in the frame's text; no dictionary of every header is built).
`wanted_events` names the events it handles, for a reader's `EventFilter`.

Calls are keyed by the Uniqueid of the citizen's channel (the channel that came in on the carrier trunk,
whose Uniqueid is also the Linkedid of every leg derived from it). Agent legs, transfer legs and expert
seats are found through a channel-name index filled as the queue/dial/conference events name them.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from bridge.calls.record import AGENT, CITIZEN, EXPERT, FAR_END, MAX_IVR_PATH, QUEUE_CONTEXT, Call, seat_of
from bridge.calls.resync import rebuild
from bridge.calls.state import CallState
from bridge.threeway.state import ThreeWayMachine, call_id_of_room
from bridge.transfers.state import TransferMachine, dial_target
from hotline.ami.frames import Frame

log = logging.getLogger(__name__)

# the IVR's outcome, as the platform's FastAGI flows set it: ivr.steps is the states its machine went through
IVR_VARIABLES = {"HOTLINE_CATEGORY": "category", "HOTLINE_PRIORITY": "priority", "HOTLINE_IVR_PATH": "steps"}
IVR_APPLICATIONS = frozenset({"AGI"})
TRANSFERABLE = (CallState.TALKING, CallState.IN_CONFERENCE)

Event = dict[str, Any]


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None  # NaN/inf are not JSON


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text and text.isascii() else None
    except ValueError:
        return None


class CallTracker:
    """`feed(frame, ts)` returns the call events (`call.<transition>`) the frame caused."""

    def __init__(self, trunk_prefixes: Iterable[str] = ("PJSIP/carrier-",),
                 expert_prefixes: Iterable[str] = ("PJSIP/2",), completed_max: int = 10_000) -> None:
        self.trunk_prefixes = tuple(trunk_prefixes)
        self.expert_prefixes = tuple(expert_prefixes)
        self.active: dict[str, Call] = {}
        self.completed: deque[Call] = deque(maxlen=completed_max)
        self._channels: dict[str, tuple[Call, str]] = {}
        self.ignored_transitions = 0
        self.errors = 0
        self._handlers: dict[str, Callable[[Frame, float], list[Event]]] = {
            "Newchannel": self._on_newchannel,
            "VarSet": self._on_varset,
            "Newexten": self._on_newexten,
            "AGIExecEnd": self._on_agi_end,
            "QueueCallerJoin": self._on_queue_join,
            "QueueCallerAbandon": self._on_queue_abandon,
            "QueueCallerLeave": self._on_queue_leave,
            "AgentCalled": self._on_agent_called,
            "AgentRingNoAnswer": self._on_ring_noanswer,
            "AgentConnect": self._on_agent_connect,
            "AgentComplete": self._on_agent_complete,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "DialBegin": self._on_dial_begin,
            "DialEnd": self._on_dial_end,
            "BlindTransfer": self._on_blind_transfer,
            "ConfbridgeStart": self._on_confbridge_start,
            "ConfbridgeJoin": self._on_confbridge_join,
            "ConfbridgeLeave": self._on_confbridge_leave,
            "ConfbridgeEnd": self._on_confbridge_end,
            "Hangup": self._on_hangup,
        }
        self.wanted_events: frozenset[str] = frozenset(self._handlers)  # what a reader need not skip

    # ---- entry points ------------------------------------------------------------------------------

    def feed(self, frame: Frame, ts: float) -> list[Event]:
        handler = self._handlers.get(frame.event)  # type: ignore[arg-type]  # None: a response, not an event
        if handler is None:
            return []
        try:
            return handler(frame, ts)
        except Exception:  # a malformed or unforeseen event loses itself, never the tracker
            self.errors += 1
            log.exception("AMI %s event ignored", frame.event)
            return []

    def resync(self, frames: Iterable[Frame], ts: float) -> list[Event]:
        """Rebuild the live calls from a snapshot taken after a (re)connect.

        `frames` are the `CoreShowChannel` events of `CoreShowChannels` and the `QueueEntry` events of
        `QueueStatus` (other frames are skipped). Calls missing from the tracker are created and brought to
        the state the channel shows; tracked calls whose channel is gone ended while we were away.
        """
        channels, waits = [], {}
        for frame in frames:
            name = frame.event
            if name == "CoreShowChannel":
                channels.append(frame.headers)
            elif name == "QueueEntry":
                waits[frame.headers.get("Uniqueid") or frame.headers.get("Channel", "")] = frame.headers
        try:
            return rebuild(self, channels, waits, ts)
        except Exception:  # a broken snapshot must not take the live calls down with it
            self.errors += 1
            log.exception("AMI resync ignored")
            return []

    def call(self, call_id: str) -> Call | None:
        if call_id in self.active:
            return self.active[call_id]
        return next((c for c in self.completed if c.call_id == call_id), None)

    # ---- helpers -----------------------------------------------------------------------------------

    def _fire(self, call: Call, transition: str, ts: float, target: str | None = None,
              extra: Event | None = None) -> list[Event]:
        if not call.machine.fire(transition, target):
            self.ignored_transitions += 1
            return []
        event = {"type": "call." + transition, "call_id": call.call_id, "ts": ts, "state": call.machine.state,
                 "call": call.snapshot()}
        if extra:
            event.update(extra)
        return [event]

    def _citizen_call(self, frame: Frame) -> Call | None:
        return self.active.get(frame.get("Uniqueid", ""))

    def _is_trunk(self, channel: str) -> bool:
        return channel.startswith(self.trunk_prefixes)

    # ---- the IVR -----------------------------------------------------------------------------------

    def _on_newchannel(self, frame: Frame, ts: float) -> list[Event]:
        channel = frame.get("Channel", "")
        uid = frame.get("Uniqueid", "")
        if not self._is_trunk(channel) or not uid or uid in self.active:
            return []
        call = Call(uid, frame.get("Linkedid") or uid, channel, frame.get("CallerIDNum", ""),
                    frame.get("CallerIDName", ""), ts)
        self.active[uid] = call
        self._channels[channel] = (call, CITIZEN)
        return self._fire(call, "started", ts)

    def _on_varset(self, frame: Frame, ts: float) -> list[Event]:
        field = IVR_VARIABLES.get(frame.get("Variable") or "")
        if field is None:
            return []
        call = self._citizen_call(frame)
        if call is not None:
            value: Any = frame.get("Value", "")
            if field == "priority":
                value = _int(value)
            elif field == "steps":  # "welcome>complaint>queue"
                value = [step for step in value.split(">") if step][:MAX_IVR_PATH]
            call.ivr[field] = value or None
        return []

    def _on_newexten(self, frame: Frame, ts: float) -> list[Event]:
        if frame.get("Application") not in IVR_APPLICATIONS:
            return []
        call = self._citizen_call(frame)
        if call is not None and len(call.ivr["path"]) < MAX_IVR_PATH:
            call.ivr["path"].append("AGI " + frame.get("AppData", ""))
        return []

    def _on_agi_end(self, frame: Frame, ts: float) -> list[Event]:
        call = self._citizen_call(frame)
        if call is not None and len(call.ivr["path"]) < MAX_IVR_PATH:
            call.ivr["path"].append(frame.get("Command", ""))
        return []

    # ---- the queue ---------------------------------------------------------------------------------

    def _on_queue_join(self, frame: Frame, ts: float) -> list[Event]:
        call = self._citizen_call(frame)
        if call is None:
            return []
        call.queue = frame.get("Queue")
        call.queued_at = ts
        call.left_queue = False
        call.position = _int(frame.get("Position"))
        return self._fire(call, "queued", ts)

    def _on_queue_abandon(self, frame: Frame, ts: float) -> list[Event]:
        call = self._citizen_call(frame)
        if call is not None:
            call.abandoned = True
            call.wait_seconds = _number(frame.get("HoldTime"))
        return []

    def _on_queue_leave(self, frame: Frame, ts: float) -> list[Event]:
        call = self._citizen_call(frame)
        if call is not None:
            call.left_queue = True
            if call.wait_seconds is None and call.queued_at is not None and call.answered_at is None:
                call.wait_seconds = round(ts - call.queued_at, 3)
        return []

    def _on_agent_called(self, frame: Frame, ts: float) -> list[Event]:
        call = self._citizen_call(frame)
        if call is None:
            return []
        agent = seat_of(frame.get("Interface") or frame.get("DestChannel", ""))
        leg = frame.get("DestChannel", "")
        call.ringing[agent] = leg
        if leg:
            self._channels[leg] = (call, AGENT)
        if call.queued_at is not None:
            call.wait_seconds = round(ts - call.queued_at, 3)  # so far: the pop shows how long they waited
        return self._fire(call, "ringing", ts, extra={"agent": agent})

    def _on_ring_noanswer(self, frame: Frame, ts: float) -> list[Event]:
        call = self._citizen_call(frame)
        if call is None:
            return []
        agent = seat_of(frame.get("Interface") or frame.get("DestChannel", ""))
        leg = call.ringing.pop(agent, None)
        if leg:
            self._channels.pop(leg, None)
        call.missed_by.append(agent)
        target = CallState.RINGING if call.ringing else CallState.QUEUED
        return self._fire(call, "ring_noanswer", ts, target, extra={"agent": agent})

    def _on_agent_connect(self, frame: Frame, ts: float) -> list[Event]:
        call = self._citizen_call(frame)
        if call is None:
            return []
        call.agent = seat_of(frame.get("Interface") or frame.get("DestChannel", ""))
        call.agent_channel = frame.get("DestChannel")
        for leg in call.ringing.values():
            if leg != call.agent_channel:
                self._channels.pop(leg, None)
        call.ringing.clear()
        if call.agent_channel:
            self._channels[call.agent_channel] = (call, AGENT)
        call.answered_at = ts
        hold = _number(frame.get("HoldTime"))
        if hold is not None:
            call.wait_seconds = hold
        return self._fire(call, "answered", ts, extra={"agent": call.agent})

    def _on_agent_complete(self, frame: Frame, ts: float) -> list[Event]:
        call = self._citizen_call(frame)
        if call is None:
            return []
        reason = frame.get("Reason")
        call.release_reason = reason
        # After a Redirect app_queue keeps counting until the citizen hangs up (redirect110: TalkTime 28 s
        # of which 26 s with 110), so its TalkTime only counts when the call never left the agent that way.
        redirected = call.transfer is not None and call.transfer.kind == "redirect"
        if not redirected:
            talk = _number(frame.get("TalkTime"))
            if talk is not None:
                call.talk_seconds = talk
        return []

    # ---- bridges, dials and transfers --------------------------------------------------------------

    def _on_bridge_enter(self, frame: Frame, ts: float) -> list[Event]:
        entry = self._channels.get(frame.get("Channel", ""))
        if entry is not None and entry[1] == CITIZEN:
            entry[0].bridge = frame.get("BridgeUniqueid")
        return []

    def _on_bridge_leave(self, frame: Frame, ts: float) -> list[Event]:
        entry = self._channels.get(frame.get("Channel", ""))
        if entry is not None and entry[1] == CITIZEN and entry[0].bridge == frame.get("BridgeUniqueid"):
            entry[0].bridge = None
        return []

    def _on_dial_begin(self, frame: Frame, ts: float) -> list[Event]:
        entry = self._channels.get(frame.get("Channel", ""))
        if entry is None or entry[1] != CITIZEN:
            return []
        call = entry[0]
        transfer = call.transfer
        if transfer is None and call.state == CallState.IVR:
            return self._last_agent_dialled(call, frame, ts)
        if transfer is None:
            if call.machine.state not in TRANSFERABLE:
                return []  # the queue ringing its members: not a transfer
            # A Redirect of the citizen into the transfer context: its Dial is the first sign of it.
            target = dial_target(frame.get("DialString") or frame.get("DestExten") or "")
            transfer = call.transfer = TransferMachine(call.call_id, target, "redirect")
        if not transfer.fire("dial_begin"):
            return []
        transfer.channel = frame.get("DestChannel")
        if transfer.channel:
            self._channels[transfer.channel] = (call, FAR_END)
        if transfer.kind == "redirect":
            return self._fire(call, "transferred", ts, extra={"transfer_to": transfer.target})
        return []

    def _on_dial_end(self, frame: Frame, ts: float) -> list[Event]:
        leg = frame.get("DestChannel", "")
        entry = self._channels.get(leg)
        if entry is not None and entry[1] == AGENT and leg == entry[0].direct_leg:
            return self._last_agent_dial_ended(entry[0], leg, frame, ts)
        if entry is None or entry[1] != FAR_END:
            return []
        transfer = entry[0].transfer
        if transfer is not None:
            transfer.fire("dial_answered" if frame.get("DialStatus") == "ANSWER" else "dial_failed")
        return []

    def _last_agent_dialled(self, call: Call, frame: Frame, ts: float) -> list[Event]:
        """Before the queue, the dialplan rings the agent who last answered this caller, when the ACD found
        them ready (HOTLINE_LAST_AGENT, acd/routing.py): the pop and the figures follow it as a queue call."""
        leg = frame.get("DestChannel", "")
        if frame.get("Context") != QUEUE_CONTEXT or not leg or not seat_of(leg).isdigit():
            return []  # not the queue entry's Dial of a seat (the IVR's emergency transfer dials 110@emergency)
        return self._ring_last_agent(call, leg, frame.get("Exten"), ts)

    def _last_agent_dial_ended(self, call: Call, leg: str, frame: Frame, ts: float) -> list[Event]:
        if frame.get("DialStatus") == "ANSWER":
            return self._last_agent_answered(call, leg, ts)
        call.direct_leg = None
        agent = seat_of(leg)
        call.ringing.pop(agent, None)
        self._channels.pop(leg, None)
        call.missed_by.append(agent)
        # NOANSWER, BUSY, CHANUNAVAIL: the dialplan goes on to Queue() (QueueCallerJoin: call.queued)
        return self._fire(call, "ring_noanswer", ts, CallState.IVR, extra={"agent": agent})

    # (also called by resync.rebuild, from what a reconnect's snapshot shows)
    def _ring_last_agent(self, call: Call, leg: str, queue: str | None, ts: float, **extra: Any) -> list[Event]:
        agent = seat_of(leg)
        call.queue = call.queue or queue or None
        call.direct_leg, call.dialled_at, call.wait_seconds = leg, ts, 0.0
        call.ringing[agent] = leg
        self._channels[leg] = (call, AGENT)
        return self._fire(call, "ringing", ts, extra={"agent": agent, **extra})

    def _last_agent_answered(self, call: Call, leg: str, ts: float, **extra: Any) -> list[Event]:
        call.direct_leg = None
        agent = seat_of(leg)
        call.ringing.pop(agent, None)
        call.agent, call.agent_channel, call.answered_at = agent, leg, ts
        call.wait_seconds = round(ts - (call.dialled_at or ts), 3)
        return self._fire(call, "answered", ts, extra={"agent": agent, **extra})

    def _on_blind_transfer(self, frame: Frame, ts: float) -> list[Event]:
        entry = self._channels.get(frame.get("TransfereeChannel", ""))
        if entry is None or frame.get("Result", "Success") != "Success":
            return []
        call = entry[0]
        if entry[1] != CITIZEN or call.transfer is not None:
            return []
        call.transfer = TransferMachine(call.call_id, frame.get("Extension", ""), "blind")
        call.transfer.fire("blind_transfer")
        return self._fire(call, "transferred", ts, extra={"transfer_to": call.transfer.target})

    # ---- three-way conferences ---------------------------------------------------------------------

    def _room_call(self, frame: Frame) -> Call | None:
        call_id = call_id_of_room(frame.get("Conference", ""))
        return self.active.get(call_id) if call_id else None

    def _on_confbridge_start(self, frame: Frame, ts: float) -> list[Event]:
        call = self._room_call(frame)
        if call is not None and call.threeway is None:
            call.threeway = ThreeWayMachine(frame["Conference"])
        return []

    def _role_in_room(self, call: Call, channel: str) -> str:
        if channel == call.channel:
            return CITIZEN
        if channel == call.agent_channel:
            return AGENT
        if channel.startswith(self.expert_prefixes):
            return EXPERT
        return AGENT  # another agent pulled into the room

    def _on_confbridge_join(self, frame: Frame, ts: float) -> list[Event]:
        call = self._room_call(frame)
        if call is None:
            return []
        channel = frame.get("Channel", "")
        if call.threeway is None:
            call.threeway = ThreeWayMachine(frame["Conference"])
        role = self._role_in_room(call, channel)
        seat = seat_of(channel)
        if role == EXPERT:
            self._channels[channel] = (call, EXPERT)
        call.threeway.join(role, channel, seat)
        call.experts = list(call.threeway.experts)
        party = {"role": role, "seat": None if role == CITIZEN else seat}
        return self._fire(call, "conference_joined", ts, extra={"party": party})

    def _on_confbridge_leave(self, frame: Frame, ts: float) -> list[Event]:
        call = self._room_call(frame)
        if call is None or call.threeway is None:
            return []
        channel = frame.get("Channel", "")
        role = self._role_in_room(call, channel)
        call.threeway.leave(role, channel)
        if role == AGENT and channel == call.agent_channel and call.agent_left_at is None:
            call.agent_left_at = ts
        return self._fire(call, "conference_left", ts, CallState.IN_CONFERENCE,
                          extra={"party": {"role": role, "seat": None if role == CITIZEN else seat_of(channel)}})

    def _on_confbridge_end(self, frame: Frame, ts: float) -> list[Event]:
        call = self._room_call(frame)
        if call is not None and call.threeway is not None:
            call.threeway.fire("conference_ended")
        return []

    # ---- hang-ups ----------------------------------------------------------------------------------

    def _on_hangup(self, frame: Frame, ts: float) -> list[Event]:
        channel = frame.get("Channel", "")
        entry = self._channels.pop(channel, None)
        if entry is None:
            return []
        call, role = entry
        if role == AGENT:
            if channel == call.agent_channel and call.agent_left_at is None:
                call.agent_left_at = ts
            return []
        if role != CITIZEN:
            return []
        call.hangup_cause = _int(frame.get("Cause"))
        call.hangup_text = frame.get("Cause-txt")
        return self._end(call, ts)

    def _end(self, call: Call, ts: float) -> list[Event]:
        call.ended_at = ts
        if call.transfer is not None and not call.transfer.finished:
            call.transfer.fire("hangup")
        if call.threeway is not None and not call.threeway.finished:
            call.threeway.fire("citizen_left")
        if call.talk_seconds is None and call.answered_at is not None:
            call.talk_seconds = round((call.agent_left_at or ts) - call.answered_at, 3)
        call.outcome = call.decide_outcome()
        events = self._fire(call, "ended", ts)
        self.active.pop(call.call_id, None)
        for leg in (call.channel, call.agent_channel, *call.ringing.values(),
                    call.transfer.channel if call.transfer else None):
            if leg and self._channels.get(leg, (None,))[0] is call:
                del self._channels[leg]
        if call.threeway is not None:  # expert seats that stay in the room no longer belong to a live call
            for leg in [ch for ch, (c, role) in self._channels.items() if c is call]:
                del self._channels[leg]
        self.completed.append(call)
        return events
