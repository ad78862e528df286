"""Rebuilding live calls after an AMI reconnect, from `CoreShowChannels` and `QueueStatus` results.

What a channel shows (recorded in status.actions.jsonl): the citizen's channel runs `Application: Queue`
while waiting *and* while talking to the agent (then it has a `BridgeId` shared with the agent's leg,
whose `Linkedid` is the citizen's Uniqueid); `AGI` while in the IVR; `ConfBridge` in a three-way room;
`Dial` after a Redirect to 110/119/120, and `Dial` in the queue entry's context while the caller's last
agent rings or talks (before any queue; its leg shares the `BridgeId` once answered). The machines are
driven through their ordinary transitions so consumers see the same event sequence as live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.calls.record import AGENT, CITIZEN, FAR_END, QUEUE_CONTEXT, Call, seat_of
from bridge.calls.state import CallState
from bridge.threeway.state import ThreeWayMachine, call_id_of_room
from bridge.transfers.state import TransferMachine, dial_target

if TYPE_CHECKING:
    from bridge.calls.tracker import CallTracker

Headers = dict[str, str]


def duration_seconds(text: str | None) -> float:
    """`00:01:05` -> 65.0 (CoreShowChannel Duration)."""
    try:
        h, m, s = (int(x) for x in (text or "").split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)


def rebuild(tracker: CallTracker, channels: list[Headers], waits: dict[str, Headers], ts: float) -> list[dict]:
    events: list[dict[str, Any]] = []
    citizens = {c["Uniqueid"]: c for c in channels if tracker._is_trunk(c.get("Channel", "")) and c.get("Uniqueid")}
    legs: dict[str, list[Headers]] = {}
    for c in channels:
        if c.get("Uniqueid") not in citizens and c.get("Linkedid") in citizens:
            legs.setdefault(c["Linkedid"], []).append(c)

    finished = {c.call_id for c in tracker.completed}
    for uid, info in citizens.items():
        call = tracker.active.get(uid)
        if call is None and uid in finished:
            continue  # hung up between the snapshot request and its reply: not a live call
        if call is None:
            call = Call(uid, info.get("Linkedid") or uid, info["Channel"], info.get("CallerIDNum", ""),
                        info.get("CallerIDName", ""), ts - duration_seconds(info.get("Duration")))
            tracker.active[uid] = call
            tracker._channels[call.channel] = (call, CITIZEN)
            events += tracker._fire(call, "started", ts, extra={"resync": True})
        app = info.get("Application", "")
        data = info.get("ApplicationData", "")
        bridge = info.get("BridgeId") or None
        state = call.machine.state
        if app == "Queue" and state == CallState.IVR:
            call.queue = data.split(",", 1)[0] or None
            wait = waits.get(uid) or waits.get(call.channel)
            seconds = float(wait["Wait"]) if wait and wait.get("Wait", "").isascii() and wait["Wait"].isdigit() else 0.0
            call.queued_at = ts - seconds
            events += tracker._fire(call, "queued", ts, extra={"resync": True})
        if app == "Queue" and bridge and call.machine.state in (CallState.QUEUED, CallState.RINGING):
            agent_leg = next((leg for leg in legs.get(uid, []) if leg.get("BridgeId") == bridge), None)
            if agent_leg is not None:
                call.agent_channel = agent_leg["Channel"]
                call.agent = seat_of(call.agent_channel)
                call.answered_at = ts
                call.ringing.clear()
                tracker._channels[call.agent_channel] = (call, AGENT)
                events += tracker._fire(call, "answered", ts, extra={"agent": call.agent, "resync": True})
        last_agent = app == "Dial" and info.get("Context") == QUEUE_CONTEXT
        if last_agent and call.machine.state == CallState.IVR:
            events += _last_agent_dial(tracker, call, info, legs.get(uid, []), bridge, ts)
        if app == "Dial" and not last_agent and call.machine.state in (CallState.TALKING, CallState.IN_CONFERENCE):
            call.transfer = TransferMachine(uid, dial_target(data.split(",", 1)[0]), "redirect")
            call.transfer.fire("dial_begin")
            far = next((leg for leg in legs.get(uid, []) if bridge and leg.get("BridgeId") == bridge), None)
            if far is not None:
                call.transfer.channel = far["Channel"]
                call.transfer.fire("dial_answered")
                tracker._channels[far["Channel"]] = (call, FAR_END)
            events += tracker._fire(call, "transferred", ts, extra={"transfer_to": call.transfer.target,
                                                                    "resync": True})
        if app == "ConfBridge" and call_id_of_room(data.split(",", 1)[0]) == uid and call.threeway is None:
            call.threeway = ThreeWayMachine(data.split(",", 1)[0])
            call.threeway.join(CITIZEN, call.channel)
            events += tracker._fire(call, "conference_joined", ts,
                                    extra={"party": {"role": CITIZEN, "seat": None}, "resync": True})

    for uid in [uid for uid in tracker.active if uid not in citizens]:
        events += [dict(e, resync=True) for e in tracker._end(tracker.active[uid], ts)]
    return events


def _last_agent_dial(tracker: CallTracker, call: Call, info: Headers, legs: list[Headers], bridge: str | None,
                     ts: float) -> list[dict]:
    """The queue entry's Dial() of the caller's last agent, ringing or answered (its leg in the bridge)."""
    seats = [leg for leg in legs if seat_of(leg.get("Channel", "")).isdigit()]
    leg = next((s for s in seats if bridge and s.get("BridgeId") == bridge), None) or next(iter(seats), None)
    if leg is None:
        return []
    events = tracker._ring_last_agent(call, leg["Channel"], info.get("Exten"), ts, resync=True)
    if bridge and leg.get("BridgeId") == bridge:  # answered before the reconnect
        events += tracker._last_agent_answered(call, leg["Channel"], ts, resync=True)
    return events
