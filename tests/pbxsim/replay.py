"""Drive the simulator like a recorded scenario: same members before it, same actions at the same moments
(over a real AMI socket), a citizen who calls, presses and hangs up when the recorded one did, softphones
that answer (or not) like the recorded ones, and an IVR that sends the recorded FastAGI commands."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from hotline.ami.frames import Frame
from hotline.traces import load_actions, load_agi_sessions, load_ami
from pbxsim.citizens import Citizen
from pbxsim.config import SeatBehaviour, SimConfig
from pbxsim.distributions import Constant
from pbxsim.simulator import Simulator
from tests.pbxsim.amitool import RawAmi
from tests.pbxsim.conformance import Normaliser, compare_reply, project, relevant, stream_of, streams
from tests.pbxsim.ivr_responder import ScriptedIvr

ANCHOR_MARGIN = 0.1
_TOKEN = re.compile(r"PJSIP/\w+-#\d+|\bU\d+\b|\bB\d+\b")


@dataclass
class Replay:
    name: str
    recorded: list[Frame]
    simulated: list[Frame]
    simulated_times: list[float] = field(default_factory=list)
    recorded_times: list[float] = field(default_factory=list)
    reply_problems: list[str] = field(default_factory=list)
    ivr: ScriptedIvr | None = None
    recorded_agi: dict[str, Any] | None = None
    sim: Simulator | None = None
    norm_rec: Normaliser = field(default_factory=Normaliser)
    norm_sim: Normaliser = field(default_factory=Normaliser)

    def expected_streams(self) -> dict[str, list]:  # type: ignore[type-arg]
        return streams(self.recorded, Normaliser())

    def actual_streams(self) -> dict[str, list]:  # type: ignore[type-arg]
        return streams(self.simulated, Normaliser())


def _synthesised_actions(frames: list[tuple[float, Frame]]) -> list[dict[str, Any]]:
    """basic has no actions file: rebuild its QueueAdd/QueuePause from the member events it recorded."""
    actions = []
    for t, f in frames:
        if f.event == "QueueMemberAdded":
            action = {"Action": "QueueAdd", "Queue": f["Queue"], "Interface": f["Interface"],
                      "MemberName": f["MemberName"], "Penalty": f["Penalty"]}
            if f["Paused"] == "1":
                action.update(Paused="true", Reason=f["PausedReason"])
            actions.append({"t": t, "action": action, "response": None})
        elif f.event == "QueueMemberPause":
            actions.append({"t": t, "action": {"Action": "QueuePause", "Queue": f["Queue"],
                                               "Interface": f["Interface"], "Paused": "true" if f["Paused"] == "1"
                                               else "false", "Reason": f["PausedReason"]}, "response": None})
    return actions


def _offset(frames: list[tuple[float, Frame]], actions: list[dict[str, Any]]) -> float:
    """Action times and AMI times come from two connections: align the first member change of each."""
    first_event = next((t for t, f in frames if f.event in ("QueueMemberAdded", "QueueMemberRemoved")), None)
    first_action = next((a["t"] for a in actions if a["action"]["Action"] in ("QueueAdd", "QueueRemove")
                         and a["response"] and a["response"][0].get("Response") == "Success"), None)
    if first_event is None or first_action is None:
        return 0.0
    return first_event - first_action


def _seats(frames: list[tuple[float, Frame]]) -> dict[str, SeatBehaviour]:
    rang: dict[str, float] = {}
    answered: dict[str, float] = {}
    endpoint_of: dict[str, str] = {}
    for t, f in frames:
        name = f.get("Channel", "")
        m = re.match(r"PJSIP/(\d{4})-", name)
        if not m:
            continue
        endpoint_of[name] = m.group(1)
        if f.event == "Newstate" and f["ChannelState"] == "5":
            rang[name] = t
        if f.event == "Newstate" and f["ChannelState"] == "6":
            answered[name] = t
    seats: dict[str, SeatBehaviour] = {}
    for name, endpoint in endpoint_of.items():
        if name not in rang:
            seats[endpoint] = SeatBehaviour(reachable=False)
        elif name not in answered:
            seats[endpoint] = SeatBehaviour(answer_probability=0.0)
        else:
            seats[endpoint] = SeatBehaviour(answer_delay=Constant(round(answered[name] - rang[name], 3)))
    return seats


def _citizen(frames: list[tuple[float, Frame]]) -> tuple[float, Citizen, str] | None:
    new = next(((t, f) for t, f in frames if f.event == "Newchannel" and "carrier" in f["Channel"]), None)
    if new is None:
        return None
    t0, f0 = new
    channel = f0["Channel"]
    digits = "".join(f["Digit"] for _, f in frames if f.event == "DTMFBegin" and f.get("Channel") == channel)
    hangup = next((t for t, f in frames if f.event == "HangupRequest" and f.get("Channel") == channel), None)
    citizen = Citizen(caller=f0["CallerIDNum"], name=f0["CallerIDName"], digits=digits, talk_time=None)
    # The hang-up is timed from the phase it happened in (talking, waiting, IVR), as a citizen would.
    connect = next((t for t, f in frames if f.event == "AgentConnect" and f.get("Channel") == channel), None)
    join = next((t for t, f in frames if f.event == "QueueCallerJoin" and f.get("Channel") == channel), None)
    if hangup is not None and connect is not None and hangup > connect:
        citizen.talk_time = round(hangup - connect, 3)
    elif hangup is not None and join is not None and hangup > join:
        citizen.patience = round(hangup - join, 3)
    elif hangup is not None:
        citizen.hangup_after = round(hangup - t0, 3)
    return t0, citizen, channel


def _agi_for(channel: str) -> dict[str, Any] | None:
    for source in ("agi_sessions", "agi_utf8"):
        for session in load_agi_sessions(source):
            if session["env"]["agi_channel"] == channel:
                return session
    return None


async def replay(name: str, scale: float = 25.0) -> Replay:
    _, traced = load_ami(name)
    frames = [(tf.t, tf.frame) for tf in traced]
    actions = load_actions(name) or _synthesised_actions(frames)
    offset = _offset(frames, actions)
    citizen_plan = _citizen(frames)
    recorded_agi = _agi_for(citizen_plan[2]) if citizen_plan else None
    ivr = ScriptedIvr([x["cmd"] for x in recorded_agi["exchange"]] if recorded_agi else [])
    await ivr.start()
    config = SimConfig(ami_port=0, agi_url=ivr.url, seats=_seats(frames))
    sim = Simulator(config, scale=scale)
    await sim.start()
    result = Replay(name, [f for _, f in frames], [], ivr=ivr, recorded_agi=recorded_agi, sim=sim,
                    recorded_times=[t for t, _ in frames])
    result.norm_rec.feed([])
    streams([f for _, f in frames], result.norm_rec)
    # Members that were there before the recording started: their QueueRemove succeeded.
    # Their settings are in the QueueMemberRemoved the recording shows for them.
    seen: set[str] = set()
    for a in actions:
        act = a["action"]
        interface = act.get("Interface", "")
        if act["Action"] == "QueueRemove" and interface not in seen and a["response"] \
                and a["response"][0]["Response"] == "Success":
            removed = next(f for _, f in frames if f.event == "QueueMemberRemoved" and f["Interface"] == interface)
            sim.add_member(interface, removed["MemberName"], act["Queue"], int(removed["Penalty"]),
                           removed["Paused"] == "1", removed["PausedReason"])
            sim.pbx.queues.queues[act["Queue"]].members[interface].calls_taken = int(removed["CallsTaken"])
        seen.add(interface)
    ami = RawAmi()
    await ami.connect(sim.ami_port)
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def at(t: float) -> None:
        await asyncio.sleep(max(0.0, start + t / scale - loop.time()))

    recorded_relevant = [(t, f) for t, f in frames if relevant(f)]

    async def after_anchor(t: float) -> None:
        """Wait until the simulator has produced the last key event the recording had before `t`, then the
        recorded gap: real FastAGI round-trips stretch simulated time, absolute times would drift."""
        # Action and event times come from two connections (aligned within a few ms): an event within
        # ANCHOR_MARGIN of the action may be its own consequence, so the anchor is taken before that.
        before = [f for ft, f in recorded_relevant if ft <= t - ANCHOR_MARGIN]
        if not before:
            await at(t)
            return
        anchor_t = max(ft for ft, f in recorded_relevant if ft <= t - ANCHOR_MARGIN)
        expected = streams(before, Normaliser())
        deadline = loop.time() + 10.0
        checked = -1
        reached = loop.time()
        while loop.time() < deadline:
            if len(ami.events) != checked:        # only look again when something new arrived
                checked = len(ami.events)
                actual = timed_streams(ami.events)
                if all([i for i, _ in actual.get(k, [])[:len(v)]] == v for k, v in expected.items()):
                    # the moment the simulator produced the last of them (loop time = time.monotonic)
                    reached = max(actual[k][len(v) - 1][1] for k, v in expected.items() if v)
                    break
            await asyncio.sleep(0.005)
        await asyncio.sleep(max(0.0, reached + (t - anchor_t) / scale - loop.time()))

    async def drive_actions() -> None:
        for a in actions:
            await after_anchor(a["t"] + offset)
            streams([f for _, f in ami.events], result.norm_sim)
            action = {k: _translate(v, result) for k, v in a["action"].items()}
            if a["response"] is not None:
                action.pop("ActionID", None)
                if a["response"][0].get("ActionID") == "orig-expert":
                    action["ActionID"] = "orig-expert"
            got = await ami.send(action)
            if a["response"] is not None:
                problems = compare_reply(a["response"], got, result.norm_rec, result.norm_sim)
                result.reply_problems += [f"{act_name(a)}: {p}" for p in problems]

    async def drive_citizen() -> None:
        if citizen_plan is None:
            return
        await at(citizen_plan[0])
        await sim.place_call(citizen_plan[1])

    last = max(t for t, f in frames if relevant(f))
    await asyncio.gather(drive_actions(), drive_citizen())
    await after_anchor(last + 1.5)
    result.simulated = [f for _, f in ami.events]
    result.simulated_times = [(t - start) * scale for t, _ in ami.events]
    await ami.close()
    await sim.stop()
    await ivr.stop()
    return result


def timed_streams(events: list[tuple[float, Frame]]) -> dict[str, list[tuple[Any, float]]]:
    """Like `conformance.streams`, with each item's arrival time."""
    norm = Normaliser()
    out: dict[str, list[tuple[Any, float]]] = {}
    for t, frame in events:
        if relevant(frame):
            for key in ("Uniqueid", "DestUniqueid"):
                if key in frame.headers:
                    norm(frame.headers[key])
            item = project(frame, norm)
            out.setdefault(stream_of(item), []).append((item, t))
    return out


def act_name(a: dict[str, Any]) -> str:
    return f"{a['action']['Action']}@{a['t']}"


def _translate(value: str, result: Replay) -> str:
    token = result.norm_rec(value)
    return _TOKEN.sub(lambda m: result.norm_sim.backward.get(m.group(0), m.group(0)), token)
