"""Replaying a recorded scenario against the simulator and comparing what matters.

What matters: the events a client of AMI acts on (channels, queue, dial, bridge, conference, IVR and the
HOTLINE_* variables), with their key headers; channel names, uniqueids and bridge ids are replaced by
tokens in order of first appearance (`PJSIP/carrier-00000009` → `PJSIP/carrier-#1`), times and ids aside.
Events are compared per stream (the channel they concern, else the member interface, the device, the
conference, the bridge): Asterisk's threads interleave different channels' events differently from run to
run, but each channel's own sequence is fixed."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from hotline.ami.frames import Frame

NOISE_VARS = re.compile(r"^(RTPAUDIOQOS.*|RTCP.*)$")
KEY_EVENTS = {
    "Newchannel", "Newstate", "Hangup", "HangupRequest", "SoftHangupRequest", "Newexten", "VarSet",
    "AGIExecStart", "AGIExecEnd", "DTMFBegin", "DTMFEnd", "QueueCallerJoin", "QueueCallerLeave",
    "QueueCallerAbandon", "AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer",
    "QueueMemberAdded", "QueueMemberRemoved", "QueueMemberPause", "QueueMemberStatus", "QueueMemberPenalty",
    "DeviceStateChange", "DialBegin", "DialEnd", "BridgeCreate", "BridgeEnter", "BridgeLeave",
    "BridgeDestroy", "ConfbridgeStart", "ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd", "BlindTransfer",
    "OriginateResponse", "MusicOnHoldStart", "MusicOnHoldStop",
}
KEY_VARS = re.compile(r"^(HOTLINE_.*|AGISTATUS|QUEUE_PRIO)$")
KEY_HEADERS = (
    "Channel", "DestChannel", "ChannelState", "Queue", "Interface", "MemberName", "Position", "Count",
    "OriginalPosition", "Reason", "Cause", "Variable", "Value", "Application", "AppData", "Extension", "Command",
    "ResultCode", "Digit", "Direction", "DialStatus", "DialString", "Status", "Paused", "PausedReason", "Penalty",
    "CallsTaken", "Device", "State", "BridgeUniqueid", "BridgeType", "Conference", "Response", "Data",
    "TransfererChannel", "TransfereeChannel", "IsExternal", "Context",
)
_CHANNEL = re.compile(r"PJSIP/([A-Za-z0-9_]+)-[0-9a-f]{8}")
_UNIQUEID = re.compile(r"\b\d{10}\.\d+\b")
_BRIDGE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


class Normaliser:
    """Replaces channel names, uniqueids and bridge ids by stable tokens, remembering both directions."""

    def __init__(self) -> None:
        self.forward: dict[str, str] = {}
        self.backward: dict[str, str] = {}
        self._counts: dict[str, int] = defaultdict(int)

    def _token(self, raw: str, kind: str, template: str) -> str:
        if raw not in self.forward:
            self._counts[kind] += 1
            token = template.format(n=self._counts[kind])
            self.forward[raw] = token
            self.backward[token] = raw
        return self.forward[raw]

    def __call__(self, value: str) -> str:
        value = _CHANNEL.sub(lambda m: self._token(m.group(0), m.group(1), f"PJSIP/{m.group(1)}-#{{n}}"), value)
        value = _UNIQUEID.sub(lambda m: self._token(m.group(0), "uid", "U{n}"), value)
        return _BRIDGE.sub(lambda m: self._token(m.group(0), "bridge", "B{n}"), value)

    def feed(self, frames: Iterable[Frame]) -> None:
        for frame in frames:
            for _, value in frame.pairs:
                self(value)


def relevant(frame: Frame) -> bool:
    event = frame.event
    if event not in KEY_EVENTS:
        return False
    if event == "VarSet":
        return bool(KEY_VARS.match(frame.get("Variable", ""))) and not NOISE_VARS.match(frame.get("Variable", ""))
    if event == "DeviceStateChange":
        device = frame.get("Device", "")
        # app_queue's _avail/_pause_ hints depend on the state cached from earlier calls of the recording rig
        return not (device.startswith("Queue:") and ("_avail" in device or "_pause_" in device))
    return True


def project(frame: Frame, norm: Normaliser) -> tuple[tuple[str, str], ...]:
    headers = frame.headers
    items = [("Event", frame.event or "")]
    for key in KEY_HEADERS:
        if key in headers:
            if key == "Context" and frame.event != "BlindTransfer":
                continue
            if key == "ChannelState" and frame.event not in ("Newchannel", "Newstate"):
                continue
            value = norm(headers[key])
            if key == "AppData":
                value = re.sub(r"agi://[^/]+/", "agi://<ivr>/", value)   # the test IVR listens on a free port
            items.append((key, value))
    return tuple(items)


def stream_of(item: tuple[tuple[str, str], ...]) -> str:
    h = dict(item)
    if "Queue" in h and "Channel" in h:
        # app_queue reports through its own topic: its events keep their order among themselves only
        return f"Queue:{h['Queue']}:{h['Channel']}"
    for key in ("Channel", "Interface", "Device", "Conference", "TransfererChannel", "BridgeUniqueid"):
        if key in h:
            return f"{key}:{h[key]}"
    return "?"


def streams(frames: Iterable[Frame], norm: Normaliser) -> dict[str, list[tuple[tuple[str, str], ...]]]:
    out: dict[str, list[tuple[tuple[str, str], ...]]] = defaultdict(list)
    for frame in frames:
        if relevant(frame):
            for key in ("Uniqueid", "DestUniqueid"):
                if key in frame.headers:
                    norm(frame.headers[key])   # tokens follow the channels' creation order
            item = project(frame, norm)
            out[stream_of(item)].append(item)
    return dict(out)


def diff_streams(expected: dict[str, list], actual: dict[str, list]) -> list[str]:  # type: ignore[type-arg]
    problems = []
    for key in sorted(set(expected) | set(actual)):
        exp, act = expected.get(key, []), actual.get(key, [])
        if exp != act:
            lines = [f"stream {key}:"]
            for i in range(max(len(exp), len(act))):
                e = exp[i] if i < len(exp) else None
                a = act[i] if i < len(act) else None
                if e != a:
                    lines.append(f" #{i} expected {_short(e)}\n #{i} actual   {_short(a)}")
            problems.append("\n".join(lines))
    return problems


def _short(item: tuple[tuple[str, str], ...] | None) -> str:
    if item is None:
        return "<nothing>"
    return " ".join(f"{k}={v}" for k, v in item)


VOLATILE_REPLY_KEYS = {
    "ActionID", "content", "Uniqueid", "Linkedid", "BridgeId", "BridgeID", "Duration", "Seconds", "AnsweredTime",
    "LoginTime", "LastPause", "LastCall", "Holdtime", "HoldTime", "TalkTime", "Completed", "Abandoned",
    "ServicelevelPerf", "ServicelevelPerf2", "CallsTaken", "Timestamp",
}


def compare_reply(recorded: list[dict[str, str]], got: list[Frame], norm_rec: Normaliser,
                  norm_sim: Normaliser) -> list[str]:
    """Recorded reply frames vs the simulator's: same frames, same headers, same values (volatile ones aside)."""
    problems = []
    if len(recorded) != len(got):
        return [f"{len(got)} reply frames, recorded {len(recorded)}: {[f.headers for f in got]}"]
    for rec, frame in zip(recorded, got, strict=True):
        rec_keys = {k for k in rec if k != "content"}
        got_keys = set(frame.headers)
        if rec_keys != got_keys:
            problems.append(f"headers differ: missing {rec_keys - got_keys}, extra {got_keys - rec_keys}")
        for key in rec_keys & got_keys:
            if key in VOLATILE_REPLY_KEYS:
                continue
            if norm_rec(rec[key]) != norm_sim(frame.headers[key]):
                problems.append(f"{rec.get('Event') or rec.get('Response')}.{key}: recorded {rec[key]!r}, "
                                f"got {frame.headers[key]!r}")
    return problems
