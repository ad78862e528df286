"""AMI actions of the simulated Asterisk: each handler takes the action's headers and returns the reply
frames (the `Response` frame, then for list actions the events up to `...Complete`) with the exact headers
Asterisk 22.10.1 sends (see /work/shared/asterisk-traces/*.actions.jsonl). The server adds ActionID."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hotline.ami.frames import Frame
from pbxsim.channels import Channel
from pbxsim.consult import ConsultError, attended_transfer
from pbxsim.queues import QueueError
from pbxsim.transfers import TransferError, blind_transfer, originate, redirect

if TYPE_CHECKING:
    from pbxsim.pbx import Pbx

Pairs = list[tuple[str, str]]
Reply = list[Pairs]


class ActionError(Exception):
    pass


def ok(message: str | None = None, *extra: tuple[str, str]) -> Pairs:
    pairs = [("Response", "Success")]
    if message is not None:
        pairs.append(("Message", message))
    pairs.extend(extra)
    return pairs


def error(message: str) -> Reply:
    return [[("Response", "Error"), ("Message", message)]]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _list(start_message: str, events: list[Pairs], complete: str, *extra: tuple[str, str]) -> Reply:
    reply: Reply = [[("Response", "Success"), ("EventList", "start"), ("Message", start_message)]]
    reply.extend(events)
    reply.append([("Event", complete), ("EventList", "Complete"), ("ListItems", str(len(events))), *extra])
    return reply


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Actions:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self._frame: Frame | None = None
        self.handlers: dict[str, Callable[[dict[str, str], str | None], Reply]] = {
            name.lower(): getattr(self, f"do_{name.lower()}") for name in (
                "Ping", "QueueAdd", "QueueRemove", "QueuePause", "QueuePenalty", "QueueStatus", "QueueSummary",
                "CoreShowChannels", "Status", "Getvar", "Setvar", "Originate", "Redirect", "BlindTransfer",
                "Atxfer", "Hangup", "ConfbridgeList", "ConfbridgeListRooms", "ConfbridgeKick", "PlayDTMF")}

    def handle(self, headers: dict[str, str], action_id: str | None, frame: Frame | None = None) -> Reply:
        self._frame = frame
        name = headers.get("Action", "").lower()
        handler = self.handlers.get(name)
        if handler is None:
            return error("Invalid/unknown command")
        try:
            return handler(headers, action_id)
        except (ActionError, QueueError, TransferError) as exc:
            return error(str(exc))

    def _variables(self) -> dict[str, str]:
        """Originate's `Variable` headers: repeated, each `NAME=value` (or several joined by commas)."""
        values = self._frame.getall("Variable") if self._frame is not None else []
        out: dict[str, str] = {}
        for value in values:
            for item in value.split(","):
                key, sep, val = item.partition("=")
                if sep and key.strip():
                    out[key.strip()] = val
        return out

    def _channel(self, headers: dict[str, str], key: str = "Channel") -> Channel:
        name = headers.get(key, "")
        if not name:
            raise ActionError("No channel specified")
        channel = self.pbx.channels.get(name)
        if channel is None:
            raise ActionError("No such channel")
        return channel

    @staticmethod
    def _need(headers: dict[str, str], key: str) -> str:
        value = headers.get(key, "")
        if not value:
            raise ActionError(f"'{key}' not specified.")
        return value

    # --- basics ------------------------------------------------------------------------------------------
    def do_ping(self, h: dict[str, str], aid: str | None) -> Reply:
        return [ok(None, ("Ping", "Pong"), ("Timestamp", f"{self.pbx.clock.now():.6f}"))]

    # --- app_queue -----------------------------------------------------------------------------------------
    def do_queueadd(self, h: dict[str, str], aid: str | None) -> Reply:
        queue, interface = self._need(h, "Queue"), self._need(h, "Interface")
        try:
            penalty = int(h.get("Penalty") or 0)
        except ValueError:
            raise ActionError("Unable to add interface to queue: Invalid penalty") from None
        if queue not in self.pbx.queues.queues:
            raise ActionError("Unable to add interface to queue: No such queue")
        self.pbx.queues.add_member(queue, interface, h.get("MemberName") or None, penalty,
                                   _truthy(h.get("Paused")), h.get("Reason", ""), h.get("StateInterface") or None)
        return [ok("Added interface to queue")]

    def do_queueremove(self, h: dict[str, str], aid: str | None) -> Reply:
        queue, interface = self._need(h, "Queue"), self._need(h, "Interface")
        if queue not in self.pbx.queues.queues:
            raise ActionError("Unable to remove interface from queue: No such queue")
        self.pbx.queues.remove_member(queue, interface)
        return [ok("Removed interface from queue")]

    def do_queuepause(self, h: dict[str, str], aid: str | None) -> Reply:
        interface = self._need(h, "Interface")
        if "Paused" not in h:
            raise ActionError("Need 'Interface' and 'Paused' headers.")
        paused = _truthy(h.get("Paused"))
        self.pbx.queues.pause(interface, paused, h.get("Queue") or None, h.get("Reason", ""))
        return [ok("Interface paused successfully" if paused else "Interface unpaused successfully")]

    def do_queuepenalty(self, h: dict[str, str], aid: str | None) -> Reply:
        interface = self._need(h, "Interface")
        try:
            penalty = int(self._need(h, "Penalty"))
        except ValueError:
            raise ActionError("Invalid penalty") from None
        if penalty < 0:
            raise ActionError("Invalid penalty")
        self.pbx.queues.set_penalty(interface, penalty, h.get("Queue") or None)
        return [ok("Interface penalty set successfully")]

    def do_queuestatus(self, h: dict[str, str], aid: str | None) -> Reply:
        engine, now = self.pbx.queues, self.pbx.clock.now()
        wanted, member_filter = h.get("Queue"), h.get("Member")
        events: list[Pairs] = []
        for queue in engine.queues.values():
            if wanted and queue.name != wanted:
                continue
            st = queue.stats
            perf = 100.0 * st.completed_in_sl / st.completed if st.completed else 0.0
            total = st.completed + st.abandoned
            perf2 = 100.0 * (st.completed_in_sl + st.abandoned_in_sl) / total if total else 0.0
            events.append([("Event", "QueueParams"), ("Queue", queue.name), ("Max", "0"),
                           ("Strategy", queue.config.strategy), ("Calls", str(len(queue.callers))),
                           ("Holdtime", str(int(st.holdtime))), ("TalkTime", str(int(st.talktime))),
                           ("Completed", str(st.completed)), ("Abandoned", str(st.abandoned)),
                           ("ServiceLevel", str(queue.config.servicelevel)), ("ServicelevelPerf", f"{perf:.1f}"),
                           ("ServicelevelPerf2", f"{perf2:.1f}"), ("Weight", "0")])
            for member in queue.members.values():
                if member_filter and member_filter not in (member.interface, member.name):
                    continue
                mh = dict(engine.member_headers(member))
                events.append([("Event", "QueueMember"), ("Queue", queue.name), ("Name", member.name),
                               ("Location", member.interface)] +
                              [(k, mh[k]) for k in ("StateInterface", "Membership", "Penalty", "CallsTaken",
                                                    "LastCall", "LastPause", "LoginTime", "InCall", "Status",
                                                    "Paused", "PausedReason", "Wrapuptime")])
            for position, caller in enumerate(queue.callers, 1):
                ch = caller.channel
                events.append([("Event", "QueueEntry"), ("Queue", queue.name), ("Position", str(position)),
                               ("Channel", ch.name), ("Uniqueid", ch.uniqueid), ("CallerIDNum", ch.caller_num),
                               ("CallerIDName", ch.caller_name), ("ConnectedLineNum", ch.connected_num),
                               ("ConnectedLineName", ch.connected_name), ("Wait", str(int(now - caller.joined_at))),
                               ("Priority", str(caller.priority))])
        for event in events:
            event.append(("ActionID", aid or ""))
        return _list("Queue status will follow", [e if aid else e[:-1] for e in events], "QueueStatusComplete")

    def do_queuesummary(self, h: dict[str, str], aid: str | None) -> Reply:
        engine, now = self.pbx.queues, self.pbx.clock.now()
        events: list[Pairs] = []
        for queue in engine.queues.values():
            if h.get("Queue") and queue.name != h["Queue"]:
                continue
            available = sum(1 for m in queue.members.values() if engine.available(queue, m))
            longest = max((now - c.joined_at for c in queue.callers), default=0)
            event = [("Event", "QueueSummary"), ("Queue", queue.name), ("LoggedIn", str(len(queue.members))),
                     ("Available", str(available)), ("Callers", str(len(queue.callers))),
                     ("HoldTime", str(int(queue.stats.holdtime))), ("TalkTime", str(int(queue.stats.talktime))),
                     ("LongestHoldTime", str(int(longest)))]
            if aid:
                event.append(("ActionID", aid))
            events.append(event)
        return _list("Queue summary will follow", events, "QueueSummaryComplete")

    # --- channels ------------------------------------------------------------------------------------------
    def do_coreshowchannels(self, h: dict[str, str], aid: str | None) -> Reply:
        now = self.pbx.clock.now()
        events = []
        for ch in self.pbx.channels.alive():
            head = [("Event", "CoreShowChannel")] + ([("ActionID", aid)] if aid else [])
            events.append(head + ch.headers() + [
                ("Application", ch.app), ("ApplicationData", ch.appdata), ("Duration", _hms(now - ch.created)),
                ("BridgeId", ch.bridge.uniqueid if ch.bridge else "")])
        return _list("Channels will follow", events, "CoreShowChannelsComplete")

    def do_status(self, h: dict[str, str], aid: str | None) -> Reply:
        now = self.pbx.clock.now()
        channels = [self._channel(h)] if h.get("Channel") else self.pbx.channels.alive()
        events = []
        for ch in channels:
            events.append([("Event", "Status"), ("Privilege", "Call")] + ch.headers() + [
                ("Type", "PJSIP"), ("DNID", ch.dnid), ("EffectiveConnectedLineNum", ch.connected_num),
                ("EffectiveConnectedLineName", ch.connected_name), ("TimeToHangup", "0"),
                ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""), ("Application", ch.app),
                ("Data", ch.appdata), ("Nativeformats", "(ulaw)"), ("Readformat", "ulaw"), ("Readtrans", ""),
                ("Writeformat", "ulaw"), ("Writetrans", ""), ("Callgroup", "0"), ("Pickupgroup", "0"),
                ("Seconds", str(int(now - ch.created)))] + ([("ActionID", aid)] if aid else []))
        reply = _list("Channel status will follow", events, "StatusComplete")
        reply[-1].append(("Items", str(len(events))))
        return reply

    def do_getvar(self, h: dict[str, str], aid: str | None) -> Reply:
        variable = self._need(h, "Variable")
        if h.get("Channel"):
            ch = self._channel(h)
            builtin = {"CALLERID(num)": ch.caller_num, "CALLERID(name)": ch.caller_name, "UNIQUEID": ch.uniqueid,
                       "CHANNEL": ch.name, "LINKEDID": ch.linkedid}
            value = builtin.get(variable, ch.variables.get(variable, ""))
        else:
            value = self.pbx.globals.get(variable, "")
        return [ok(None, ("Variable", variable), ("Value", value))]

    def do_setvar(self, h: dict[str, str], aid: str | None) -> Reply:
        variable = self._need(h, "Variable")
        value = h.get("Value", "")
        if h.get("Channel"):
            self.pbx.var_set(self._channel(h), variable, value)
        else:
            self.pbx.globals[variable] = value
        return [ok("Variable Set")]

    def do_hangup(self, h: dict[str, str], aid: str | None) -> Reply:
        ch = self._channel(h)
        try:
            cause = int(h.get("Cause") or 16)
        except ValueError:
            cause = 16
        self.pbx.hangup(ch, cause, soft=True)
        return [ok("Channel Hungup")]

    def do_playdtmf(self, h: dict[str, str], aid: str | None) -> Reply:
        ch = self._channel(h)
        digit = self._need(h, "Digit")[:1]
        if digit not in "0123456789*#ABCD":
            raise ActionError("Invalid digit")
        self.pbx.emit("DTMFBegin", ch.headers(), [("Digit", digit), ("Direction", "Sent")])
        self.pbx.emit("DTMFEnd", ch.headers(), [("Digit", digit), ("DurationMs", h.get("Duration") or "250"),
                                                ("Direction", "Sent")])
        return [ok("DTMF successfully queued")]

    # --- transfers and origination -------------------------------------------------------------------------
    def do_originate(self, h: dict[str, str], aid: str | None) -> Reply:
        target = self._need(h, "Channel")
        if not target.upper().startswith("PJSIP/"):
            raise ActionError("Originate failed: unsupported channel technology")
        application = h.get("Application") or None
        if application is None and not h.get("Exten"):
            raise ActionError("Exten not specified")
        try:
            priority = int(h.get("Priority") or 1)
        except ValueError:
            raise ActionError("Invalid priority") from None
        try:
            timeout = float(h.get("Timeout") or 30000) / 1000
        except ValueError:
            raise ActionError("Invalid timeout") from None
        originate(self.pbx, target, h.get("CallerID", ""), aid, application, h.get("Data", ""),
                  h.get("Context"), h.get("Exten"), priority, self._variables(), timeout)
        return [ok("Originate successfully queued")]

    def do_redirect(self, h: dict[str, str], aid: str | None) -> Reply:
        name = self._need(h, "Channel")
        context, exten = self._need(h, "Context"), self._need(h, "Exten")
        extra = None
        if h.get("ExtraChannel"):
            extra = (h["ExtraChannel"], h.get("ExtraContext", ""), h.get("ExtraExten", ""),
                     int(h.get("ExtraPriority") or 1))
        return [ok(redirect(self.pbx, name, context, exten, int(h.get("Priority") or 1), extra))]

    def do_blindtransfer(self, h: dict[str, str], aid: str | None) -> Reply:
        name = self._need(h, "Channel")
        return [ok(blind_transfer(self.pbx, name, h.get("Context", "from-agents"), self._need(h, "Exten")))]

    def do_atxfer(self, h: dict[str, str], aid: str | None) -> Reply:
        self._channel(h)
        self._need(h, "Exten")
        if not self.pbx.config.atxfer_code:
            raise ActionError("No attended transfer feature code found")
        try:
            attended_transfer(self.pbx, h["Channel"], h.get("Context") or "from-agents", h["Exten"])
        except ConsultError as exc:
            raise ActionError(str(exc)) from None
        return [ok("Atxfer successfully queued")]

    # --- ConfBridge ----------------------------------------------------------------------------------------
    def do_confbridgelist(self, h: dict[str, str], aid: str | None) -> Reply:
        name = self._need(h, "Conference")
        room = self.pbx.confbridges.rooms.get(name)
        if room is None:
            raise ActionError("No Conference by that name found.")
        now = self.pbx.clock.now()
        events = []
        for user in room.users:
            ch = user.channel
            yes = lambda flag: "Yes" if flag else "No"  # noqa: E731
            events.append([("Event", "ConfbridgeList")] + ([("ActionID", aid)] if aid else []) + [
                ("Conference", name), ("Admin", "No"), ("MarkedUser", yes(user.marked)), ("WaitMarked", "No"),
                ("EndMarked", yes(user.end_marked)), ("EndMarkedAny", "No"), ("Waiting", "No"), ("Muted", "No"),
                ("Talking", "No"), ("AnsweredTime", str(int(now - (ch.answered_at or ch.created))))] + ch.headers())
        return _list("Confbridge user list will follow", events, "ConfbridgeListComplete")

    def do_confbridgelistrooms(self, h: dict[str, str], aid: str | None) -> Reply:
        rooms = self.pbx.confbridges.rooms
        if not rooms:
            raise ActionError("No active conferences.")
        events = []
        for room in rooms.values():
            events.append([("Event", "ConfbridgeListRooms")] + ([("ActionID", aid)] if aid else []) + [
                ("Conference", room.name), ("Parties", str(len(room.users))),
                ("Marked", str(sum(1 for u in room.users if u.marked))), ("Locked", "No"), ("Muted", "No")])
        return _list("Confbridge conferences will follow", events, "ConfbridgeListRoomsComplete")

    def do_confbridgekick(self, h: dict[str, str], aid: str | None) -> Reply:
        name, channel = self._need(h, "Conference"), self._need(h, "Channel")
        if name not in self.pbx.confbridges.rooms:
            raise ActionError("No Conference by that name found.")
        if not self.pbx.confbridges.kick(name, channel):
            raise ActionError("No Channel by that name found in Conference.")
        return [ok("User kicked")]
