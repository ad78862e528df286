"""app_queue: members, waiting callers, strategies, penalties, ringing, connecting and the queue events.

Modelled on Asterisk 22's apps/app_queue.c with the rig's queues.conf (or the platform's rendered one, see
`pbxsim.platform_config`): strategies leastrecent / rrmemory / ringall; member penalties and the caller's
penalty bounds (QUEUE_MAX_PENALTY / QUEUE_MIN_PENALTY / QUEUE_RAISE_PENALTY, moved by queuerules.conf rules while
the caller waits, `pbxsim.rules`); only the lowest penalty among the members a caller may ring is rung, a higher
one only when no lower one is available (calc_metric ranks penalty × 1,000,000 above the strategy's metric);
whose turn it is (is_our_turn: a caller rings only while fewer callers ahead of it are not already ringing than
members are available; autofill=no: only the head caller); caller priority (QUEUE_PRIO: a higher priority joins
ahead of lower ones); ring timeout per attempt then `retry` seconds before the next attempt
(AgentRingNoAnswer); wrap-up time after a call; ringinuse=no; paused members never rung; the queue timeout of
Queue(...,120) (timeoutpriority app or conf); joinempty=yes; and shared_lastcall=yes (a member's last call
counts in every queue it is in)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pbxsim.channels import Channel
from pbxsim.config import QueueConfig
from pbxsim.pbx import DEVICE_CODES, DialSession, Pbx
from pbxsim.rules import PenaltyBounds, PenaltyChange, rules_due


class QueueError(Exception):
    """An AMI queue action that Asterisk would refuse; the message is Asterisk's."""


@dataclass(eq=False)
class Member:
    queue: str
    interface: str
    name: str
    state_interface: str
    penalty: int = 0
    paused: bool = False
    reason: str = ""
    calls_taken: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: bool = False
    wrapping_up: bool = False        # cleared by a timer, not by comparing clocks (timers may fire early)
    wrapup_timer: Any = None
    order: int = 0

    @property
    def endpoint(self) -> str:
        return self.interface.split("/", 1)[1]


@dataclass(eq=False)
class Attempt:
    caller: QueueCaller
    member: Member
    leg: Channel
    started: float
    timers: list[Any] = field(default_factory=list)
    ringing: bool = False


@dataclass(eq=False)
class QueueCaller:
    channel: Channel
    queue: str
    priority: int
    joined_at: float
    seq: int
    original_position: int
    attempts: list[Attempt] = field(default_factory=list)
    retrying: bool = False
    tried: set[str] = field(default_factory=set)
    timeout_timer: Any = None
    on_leave: Callable[[str], None] | None = None    # dialplan continues: TIMEOUT, or after the agent hangs up
    on_connect: Callable[[QueueSession], None] | None = None
    bounds: PenaltyBounds = field(default_factory=PenaltyBounds)
    rules: list[PenaltyChange] = field(default_factory=list)   # the queue rules still to come, in time order
    rule_timer: Any = None
    expired: bool = False      # timeoutpriority=conf: Queue()'s timeout passed while a member was ringing


@dataclass(eq=False)
class QueueSession:
    """A connected queue call: the citizen bridged to the member's leg until AgentComplete."""

    caller: QueueCaller
    member: Member
    leg: Channel
    holdtime: int
    connected_at: float
    bridge: Any = None
    completed: bool = False


@dataclass
class QueueStats:
    completed: int = 0
    abandoned: int = 0
    holdtime: float = 0.0
    talktime: float = 0.0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0


@dataclass(eq=False)
class Queue:
    config: QueueConfig
    members: dict[str, Member] = field(default_factory=dict)
    callers: list[QueueCaller] = field(default_factory=list)
    stats: QueueStats = field(default_factory=QueueStats)
    rr_last: str | None = None
    avail_state: str | None = None

    @property
    def name(self) -> str:
        return self.config.name


class QueueEngine:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.queues: dict[str, Queue] = {q.name: Queue(q) for q in pbx.config.queues}
        self.last_call: dict[str, float] = {}      # shared_lastcall=yes: per interface, over all queues
        self._seq = 0
        self._member_order = 0
        self._kick_pending = False
        self.ringing: dict[str, Attempt] = {}      # interface → the attempt ringing it
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []   # statistics
        pbx.device_listeners.append(self._device_changed)

    # --- helpers ---------------------------------------------------------------------------------------------
    def queue(self, name: str) -> Queue:
        try:
            return self.queues[name]
        except KeyError:
            raise QueueError("Unable to find queue") from None

    def _notify(self, what: str, **data: Any) -> None:
        for listener in self.listeners:
            listener(what, data)

    def member_status(self, member: Member) -> int:
        return DEVICE_CODES[self.pbx.device_state(member.state_interface)]

    def member_headers(self, member: Member) -> list[tuple[str, str]]:
        last = self.last_call.get(member.interface, 0)
        return [("Queue", member.queue), ("MemberName", member.name), ("Interface", member.interface),
                ("StateInterface", member.state_interface), ("Membership", "dynamic"),
                ("Penalty", str(member.penalty)), ("CallsTaken", str(member.calls_taken)),
                ("LastCall", str(int(last))), ("LastPause", str(member.last_pause)),
                ("LoginTime", str(member.login_time)), ("InCall", "1" if member.in_call else "0"),
                ("Status", str(self.member_status(member))), ("Paused", "1" if member.paused else "0"),
                ("PausedReason", member.reason), ("Ringinuse", "1" if self.queues[member.queue].config.ringinuse
                                                  else "0"), ("Wrapuptime", "0")]

    def _member_event(self, event: str, member: Member) -> None:
        if self.pbx.hub.listening:
            self.pbx.emit(event, self.member_headers(member))

    def _pause_device(self, member: Member) -> None:
        device = f"Queue:{member.queue}_pause_{member.interface}"
        self.pbx.device_states.setdefault(device, "UNKNOWN")   # the first state is always announced
        self.pbx.set_device_state(f"Queue:{member.queue}_pause_{member.interface}",
                                  "INUSE" if member.paused else "NOT_INUSE")

    def available(self, queue: Queue, member: Member) -> bool:
        if member.paused or member.wrapping_up or member.interface in self.ringing:
            return False
        state = self.pbx.device_state(member.state_interface)
        if queue.config.ringinuse:
            return state not in ("UNAVAILABLE", "INVALID")
        return state == "NOT_INUSE"

    def _refresh_avail(self, queue: Queue) -> None:
        if not self.pbx.hub.listening:
            return      # only a DeviceStateChange hint depends on it
        state = "NOT_INUSE" if any(self.available(queue, m) for m in queue.members.values()) else "INUSE"
        if queue.avail_state != state:
            queue.avail_state = state
            self.pbx.set_device_state(f"Queue:{queue.name}_avail", state)

    def _device_changed(self, device: str, state: str) -> None:
        for queue in self.queues.values() if self.pbx.hub.listening else ():   # QueueMemberStatus only
            for member in queue.members.values():
                if member.state_interface == device:
                    self._member_event("QueueMemberStatus", member)
        if state == "NOT_INUSE":
            self.kick()

    # --- member actions (QueueAdd / QueueRemove / QueuePause / QueuePenalty) ---------------------------------
    def add_member(self, queue_name: str, interface: str, name: str | None = None, penalty: int = 0,
                   paused: bool = False, reason: str = "", state_interface: str | None = None) -> Member:
        queue = self.queue(queue_name)
        if interface in queue.members:
            raise QueueError("Unable to add interface: Already there")
        now = int(self.pbx.clock.now())
        self._member_order += 1
        member = Member(queue_name, interface, name or interface, state_interface or interface, penalty,
                        paused, reason if paused else "", login_time=now, last_pause=now if paused else 0,
                        order=self._member_order)
        queue.members[interface] = member
        self._pause_device(member)
        self._member_event("QueueMemberAdded", member)
        self._refresh_avail(queue)
        self.kick()
        return member

    def remove_member(self, queue_name: str, interface: str) -> None:
        queue = self.queue(queue_name)
        member = queue.members.get(interface)
        if member is None:
            raise QueueError("Unable to remove interface: Not there")
        del queue.members[interface]
        self._member_event("QueueMemberRemoved", member)
        if member.paused:
            self.pbx.set_device_state(f"Queue:{queue_name}_pause_{interface}", "NOT_INUSE")
        self._refresh_avail(queue)

    def _members_for(self, interface: str, queue_name: str | None) -> list[Member]:
        if queue_name:
            member = self.queue(queue_name).members.get(interface)
            return [member] if member else []
        return [q.members[interface] for q in self.queues.values() if interface in q.members]

    def pause(self, interface: str, paused: bool, queue_name: str | None = None, reason: str = "") -> None:
        members = self._members_for(interface, queue_name)
        if not members:
            raise QueueError("Interface not found")
        for member in members:
            member.paused = paused
            member.reason = reason if paused else ""
            if paused:
                member.last_pause = int(self.pbx.clock.now())
            self._pause_device(member)
            self._member_event("QueueMemberPause", member)
            self._refresh_avail(self.queues[member.queue])
        self.kick()

    def set_penalty(self, interface: str, penalty: int, queue_name: str | None = None) -> None:
        members = self._members_for(interface, queue_name)
        if not members:
            raise QueueError("Invalid interface, queuename or penalty")
        for member in members:
            member.penalty = penalty
            self._member_event("QueueMemberPenalty", member)
        self.kick()

    # --- callers ---------------------------------------------------------------------------------------------
    def join(self, channel: Channel, queue_name: str, priority: int, on_leave: Callable[[str], None],
             rule: str | None = None, timeout: float | None = None) -> QueueCaller:
        """Queue(<queue_name>,...,<timeout>,,,<rule>): QUEUE_PRIO is `priority`; the penalty bounds are read from
        the channel's variables now, as queue_exec does; `rule` (or the queue's defaultrule) moves them later."""
        queue = self.queue(queue_name)
        pbx = self.pbx
        self._seq += 1
        position = sum(1 for c in queue.callers if c.priority >= priority) + 1
        caller = QueueCaller(channel, queue_name, priority, pbx.clock.now(), self._seq, position, on_leave=on_leave,
                             bounds=PenaltyBounds.from_variables(channel.variables),
                             rules=list(pbx.config.rules.get(rule or queue.config.defaultrule or "", ())))
        queue.callers.insert(position - 1, caller)
        for var in ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT", "QUEUEWAIT_MS"):
            pbx.var_set(channel, var, "")
        if len(queue.callers) == 1:
            pbx.set_device_state(f"Queue:{queue_name}", "RINGING")
        pbx.emit("QueueCallerJoin", channel.headers(),
                 [("Queue", queue_name), ("Position", str(position)), ("Count", str(len(queue.callers)))])
        pbx.emit("MusicOnHoldStart", channel.headers(), [("Class", "default")])
        channel.on_hangup = lambda ch, cause: self._abandon(caller, cause)
        caller.timeout_timer = pbx.clock.call_later(queue.config.max_wait if timeout is None else timeout,
                                                    self._timeout, caller)
        self._schedule_rule(caller)
        self._notify("join", queue=queue_name, caller=caller)
        self.kick()
        return caller

    # --- queue rules (queuerules.conf) -------------------------------------------------------------------------
    def _schedule_rule(self, caller: QueueCaller) -> None:
        if caller.rules:
            delay = caller.joined_at + caller.rules[0].time - self.pbx.clock.now()
            caller.rule_timer = self.pbx.clock.call_later(delay, self._rule_due, caller)

    def _rule_due(self, caller: QueueCaller) -> None:
        caller.rule_timer = None
        if caller.channel.hungup or caller not in self.queues[caller.queue].callers:
            return
        if caller.attempts:
            # ringing: the rule applies before the next attempt (_serve), or at the next once-a-second look
            # (wait_our_turn's RECHECK) if the caller is not the one whose turn it is when the ring ends
            caller.rule_timer = self.pbx.clock.call_later(1.0, self._rule_due, caller)
            return
        self._apply_rules(caller)
        self.kick()

    def _apply_rules(self, caller: QueueCaller) -> None:
        """update_qe_rule for every rule due: the bounds move, the channel variables follow (VarSet); the caller
        stays where they are in the queue."""
        waited = self.pbx.clock.now() - caller.joined_at
        for rule in rules_due(caller.rules, waited + 1e-9):
            for name, value in caller.bounds.apply(rule):
                self.pbx.var_set(caller.channel, name, value)
        if caller.rule_timer is None:
            self._schedule_rule(caller)

    def _position(self, caller: QueueCaller) -> int:
        return self.queues[caller.queue].callers.index(caller) + 1

    def _leave(self, caller: QueueCaller) -> None:
        queue = self.queues[caller.queue]
        position = self._position(caller)
        queue.callers.remove(caller)
        if caller.timeout_timer:
            caller.timeout_timer.cancel()
        if caller.rule_timer:
            caller.rule_timer.cancel()
            caller.rule_timer = None
        if not queue.callers:
            self.pbx.set_device_state(f"Queue:{queue.name}", "NOT_INUSE")
        self.pbx.emit("QueueCallerLeave", caller.channel.headers(), [("Queue", queue.name),
                      ("Position", str(position)), ("Count", str(len(queue.callers)))])

    def _abandon(self, caller: QueueCaller, cause: int) -> None:
        pbx, channel = self.pbx, caller.channel
        now = pbx.clock.now()
        self._cancel_attempts(caller)
        queue = self.queues[caller.queue]
        holdtime = int(now - caller.joined_at)
        pbx.emit("MusicOnHoldStop", channel.headers())
        pbx.emit("QueueCallerAbandon", channel.headers(), [
            ("Queue", caller.queue), ("Position", str(self._position(caller))),
            ("OriginalPosition", str(caller.original_position)), ("HoldTime", str(holdtime))])
        queue.stats.abandoned += 1
        if holdtime <= queue.config.servicelevel:
            queue.stats.abandoned_in_sl += 1
        self._leave(caller)
        self._notify("abandon", queue=caller.queue, caller=caller, wait=now - caller.joined_at)
        pbx.soft_hangup_request(channel, 16)
        pbx.destroy(channel, 0)
        self.kick()

    def _timeout(self, caller: QueueCaller) -> None:
        if caller.channel.hungup or caller not in self.queues[caller.queue].callers:
            return
        if caller.attempts and self.queues[caller.queue].config.timeoutpriority == "conf":
            # timeoutpriority=conf: try_calling rings for the queue's `timeout` whatever Queue()'s timeout says;
            # the caller leaves when this attempt ends unanswered (and is not rung again)
            caller.expired = True
            return
        self._leave_on_timeout(caller)

    def _leave_on_timeout(self, caller: QueueCaller) -> None:
        self._cancel_attempts(caller)
        self.pbx.emit("MusicOnHoldStop", caller.channel.headers())
        self._leave(caller)
        self.pbx.var_set(caller.channel, "QUEUESTATUS", "TIMEOUT")
        self._notify("timeout", queue=caller.queue, caller=caller, wait=self.pbx.clock.now() - caller.joined_at)
        caller.channel.on_hangup = None
        if caller.on_leave:
            caller.on_leave("TIMEOUT")
        self.kick()

    # --- distribution ------------------------------------------------------------------------------------------
    def kick(self) -> None:
        """Something changed: try to ring members for waiting callers (coalesced, after the current step)."""
        if not self._kick_pending:
            self._kick_pending = True
            self.pbx.clock.call_later(0, self._distribute)

    def _distribute(self) -> None:
        self._kick_pending = False
        for queue in self.queues.values():
            self._refresh_avail(queue)
            self._serve(queue)
            self._refresh_avail(queue)

    def _serve(self, queue: Queue) -> None:
        """Each caller whose turn it is (is_our_turn) tries the members (try_calling → ring_one). A caller's
        turn: fewer callers ahead of it that are not ringing anyone than members available to the queue (any
        penalty: num_available_members); with autofill=no only the head caller. A caller whose turn it is but
        whose penalty bounds exclude every free member rings nobody and still holds its place, so the callers
        behind it wait too (as in app_queue)."""
        if not queue.callers:
            return
        ahead = 0
        available = self._available_count(queue)
        for index, caller in enumerate(list(queue.callers)):
            if caller.attempts or caller.channel.hungup:
                continue            # ringing (qe->pending): not counted
            if ahead >= available or (index > 0 and not queue.config.autofill):
                break
            ahead += 1
            if caller.retrying or caller.expired:
                continue            # between attempts (wait_a_bit) or leaving on its timeout
            if caller.rules:
                self._apply_rules(caller)
            members = self._pick(queue, caller)
            for member in members:
                self._ring(caller, member)
            if caller.attempts:
                ahead -= 1          # now ringing: no longer counted ahead of the others
                available -= len(members)   # and the members it rings are no longer available

    def _available_count(self, queue: Queue) -> int:
        count = sum(1 for m in queue.members.values() if self.available(queue, m))
        return count if queue.config.autofill else min(count, 1)

    def _pick(self, queue: Queue, caller: QueueCaller) -> list[Member]:
        """The members to ring now: of the available ones this caller's bounds allow (calc_metric), the lowest
        penalty level; within it the strategy's choice, each member once per round (see docs: a simplification
        of app_queue re-ranking every attempt)."""
        use_penalty = len(queue.members) > queue.config.penaltymemberslimit
        level: list[Member] = []
        lowest: int | None = None
        for member in queue.members.values():
            if not self.available(queue, member):
                continue
            penalty = caller.bounds.effective(member.penalty) if use_penalty else 0
            if penalty is None:
                continue
            if lowest is None or penalty < lowest:
                lowest, level = penalty, [member]
            elif penalty == lowest:
                level.append(member)
        if not level:
            return []
        fresh = [m for m in level if m.interface not in caller.tried]
        if not fresh:
            caller.tried.difference_update(m.interface for m in level)   # every one of them tried: a new round
            fresh = level
        fresh.sort(key=lambda m: m.order)
        strategy = queue.config.strategy
        if strategy == "ringall":
            return fresh
        if strategy == "rrmemory":
            ordered = sorted(queue.members.values(), key=lambda m: m.order)
            names = [m.interface for m in ordered]
            start = names.index(queue.rr_last) + 1 if queue.rr_last in names else 0
            rotation = names[start:] + names[:start]
            chosen = next(m for i in rotation for m in fresh if m.interface == i)
            queue.rr_last = chosen.interface
            return [chosen]
        return [min(fresh, key=lambda m: (self.last_call.get(m.interface, 0.0), m.order))]

    def _ring(self, caller: QueueCaller, member: Member) -> None:
        pbx, citizen = self.pbx, caller.channel
        leg = pbx.new_channel(member.endpoint, "agent", linkedid=citizen.linkedid, caller_num="12345",
                              caller_name="<unknown>", context="from-agents", exten="s")
        attempt = Attempt(caller, member, leg, pbx.clock.now())
        caller.attempts.append(attempt)
        caller.tried.add(member.interface)
        self.ringing[member.interface] = attempt
        pbx.newexten(leg, "AppQueue", "(Outgoing Line)")
        leg.connected_num, leg.connected_name = citizen.caller_num, citizen.caller_name
        pbx.emit("AgentCalled", citizen.headers(), leg.headers("Dest"),
                 [("Queue", caller.queue), ("Interface", member.interface), ("MemberName", member.name)])
        pbx.emit("DialBegin", citizen.headers(), leg.headers("Dest"), [("DialString", member.interface)])
        leg.on_hangup = lambda ch, cause: self._leg_rejected(attempt, cause)
        seat = pbx.config.seat(member.endpoint)
        if seat.reachable:
            self._leg_ringing(attempt)
            if pbx.rng.random() < seat.answer_probability:
                attempt.timers.append(pbx.clock.call_later(seat.answer_delay.sample(pbx.rng), self._answer, attempt))
        timeout = self.queues[caller.queue].config.timeout
        attempt.timers.append(pbx.clock.call_later(timeout, self._no_answer, attempt))
        self._notify("ring", queue=caller.queue, caller=caller, member=member)

    def _leg_ringing(self, attempt: Attempt) -> None:
        pbx, citizen, leg = self.pbx, attempt.caller.channel, attempt.leg
        attempt.ringing = True
        pbx.emit("DialState", citizen.headers(), leg.headers("Dest"), [("DialStatus", "RINGING")])
        leg.exten = "12345"
        pbx.newstate(leg, 5)
        pbx.newexten(leg, "AppQueue", "(Outgoing Line)")

    def _end_attempt(self, attempt: Attempt) -> None:
        for timer in attempt.timers:
            timer.cancel()
        attempt.timers.clear()
        if attempt in attempt.caller.attempts:
            attempt.caller.attempts.remove(attempt)
        if self.ringing.get(attempt.member.interface) is attempt:
            del self.ringing[attempt.member.interface]

    def _cancel_attempts(self, caller: QueueCaller, keep: Attempt | None = None) -> None:
        for attempt in list(caller.attempts):
            if attempt is keep:
                continue
            self._end_attempt(attempt)
            self.pbx.emit("DialEnd", caller.channel.headers(), attempt.leg.headers("Dest"),
                          [("DialStatus", "CANCEL")])
            self.pbx.destroy(attempt.leg, 0)

    def _no_answer(self, attempt: Attempt) -> None:
        pbx, caller = self.pbx, attempt.caller
        if attempt not in caller.attempts:
            return
        ring_ms = round((pbx.clock.now() - attempt.started) * 1000)
        pbx.emit("AgentRingNoAnswer", caller.channel.headers(), attempt.leg.headers("Dest"), [
            ("Queue", caller.queue), ("Interface", attempt.member.interface),
            ("MemberName", attempt.member.name), ("RingTime", str(ring_ms))])
        pbx.emit("DialEnd", caller.channel.headers(), attempt.leg.headers("Dest"), [("DialStatus", "NOANSWER")])
        self._notify("noanswer", queue=caller.queue, caller=caller, member=attempt.member)
        self._cancel_attempts(caller)
        self._retry_later(caller)

    def _retry_later(self, caller: QueueCaller) -> None:
        if caller.expired:
            self._leave_on_timeout(caller)     # timeoutpriority=conf: the last attempt has rung out
            return
        caller.retrying = True

        def over() -> None:
            caller.retrying = False
            self.kick()

        self.pbx.clock.call_later(self.queues[caller.queue].config.retry, over)

    def _leg_rejected(self, attempt: Attempt, cause: int) -> None:
        """The softphone declined (or AMI hung the ringing leg up): on to the next member after `retry`."""
        pbx, caller = self.pbx, attempt.caller
        self._end_attempt(attempt)
        pbx.emit("DialEnd", caller.channel.headers(), attempt.leg.headers("Dest"), [("DialStatus", "BUSY")])
        pbx.destroy(attempt.leg, cause)
        if not caller.attempts:
            self._retry_later(caller)

    def _answer(self, attempt: Attempt) -> None:
        pbx, caller, member, leg = self.pbx, attempt.caller, attempt.member, attempt.leg
        citizen = caller.channel
        if attempt not in caller.attempts or citizen.hungup:
            return
        self._end_attempt(attempt)
        self._cancel_attempts(caller)
        now = pbx.clock.now()
        member.in_call = True
        pbx.newstate(leg, 6)
        pbx.emit("DialEnd", citizen.headers(), leg.headers("Dest"), [("DialStatus", "ANSWER")])
        pbx.emit("MusicOnHoldStop", citizen.headers())
        citizen.connected_num, citizen.connected_name = "12345", "<unknown>"
        position = self._position(caller)
        self._leave(caller)
        holdtime = int(now - caller.joined_at)
        pbx.var_set(citizen, "QUEUEPOSITION", str(position))
        pbx.var_set(citizen, "QUEUEWAIT", str(holdtime))
        pbx.var_set(citizen, "QUEUEWAIT_MS", str(int((now - caller.joined_at) * 1000)))
        pbx.emit("AgentConnect", citizen.headers(), leg.headers("Dest"), [
            ("Queue", caller.queue), ("Interface", member.interface), ("MemberName", member.name),
            ("HoldTime", str(holdtime)), ("RingTime", str(int(now - attempt.started)))])
        session = QueueSession(caller, member, leg, holdtime, now)
        session.bridge = pbx.bridge_pair(session, leg, citizen)
        citizen.owner = session
        leg.owner = session
        citizen.on_hangup = lambda ch, cause: self._session_hangup(session, ch, cause)
        leg.on_hangup = lambda ch, cause: self._session_hangup(session, ch, cause)
        queue = self.queues[caller.queue]
        queue.stats.holdtime = (queue.stats.holdtime * 3 + holdtime) / 4
        if holdtime <= queue.config.servicelevel:
            queue.stats.completed_in_sl += 1
        self._notify("connect", queue=caller.queue, caller=caller, member=member, wait=now - caller.joined_at,
                     session=session)
        if caller.on_connect:
            caller.on_connect(session)
        seat = pbx.config.seat(member.endpoint)
        if seat.talk_time is not None:
            pbx.clock.call_later(seat.talk_time.sample(pbx.rng), self._agent_hangs_up, leg)

    def _agent_hangs_up(self, leg: Channel) -> None:
        if not leg.hungup:
            self.pbx.hangup(leg)

    # --- the end of a connected call ------------------------------------------------------------------------
    def complete(self, session: QueueSession, reason: str, with_dest: bool = True) -> None:
        """AgentComplete, the queue's counters and the member's wrap-up."""
        if session.completed:
            return
        session.completed = True
        pbx, member, queue = self.pbx, session.member, self.queues[session.caller.queue]
        now = pbx.clock.now()
        talk = int(now - session.connected_at)
        dest = session.leg.headers("Dest") if with_dest else []
        pbx.emit("AgentComplete", session.caller.channel.headers(), dest, [
            ("Queue", queue.name), ("Interface", member.interface), ("MemberName", member.name),
            ("HoldTime", str(session.holdtime)), ("TalkTime", str(talk)), ("Reason", reason)])
        queue.stats.completed += 1
        queue.stats.talktime = (queue.stats.talktime * 3 + talk) / 4
        self._notify("complete", queue=queue.name, session=session, talk=now - session.connected_at, reason=reason)

    def release_member(self, session: QueueSession) -> None:
        """The member's leg is about to go: count the call and start wrap-up. Called just before the leg is
        destroyed, so the QueueMemberStatus that the device change raises carries the new CallsTaken."""
        member = session.member
        if not member.in_call:
            return
        member.in_call = False
        member.calls_taken += 1
        now = self.pbx.clock.now()
        self.last_call[member.interface] = now
        wrapup = self.queues[member.queue].config.wrapuptime
        if wrapup > 0:
            member.wrapping_up = True
            if member.wrapup_timer is not None:
                member.wrapup_timer.cancel()
            member.wrapup_timer = self.pbx.clock.call_later(wrapup, self._wrapup_over, member)
        self.kick()

    def _wrapup_over(self, member: Member) -> None:
        member.wrapping_up = False
        member.wrapup_timer = None
        self._refresh_avail(self.queues[member.queue])
        self.kick()

    def _session_hangup(self, session: QueueSession, channel: Channel, cause: int) -> None:
        pbx, citizen, leg = self.pbx, session.caller.channel, session.leg
        bridge = session.bridge
        if channel is citizen:
            self.complete(session, "caller")
            if bridge is not None:
                pbx.unbridge_pair(bridge, citizen)
            self.release_member(session)
            pbx.destroy(leg, 16)
            pbx.soft_hangup_request(citizen, cause)
            pbx.destroy(citizen, cause)
        else:
            self.complete(session, "agent")
            if bridge is not None:
                pbx.unbridge_pair(bridge, leg)
            self.release_member(session)
            pbx.destroy(leg, cause)
            citizen.on_hangup = None
            if session.caller.on_leave:
                session.caller.on_leave("CONTINUE")

    def detach_for_redirect(self, session: QueueSession, moved: list[Channel], target_exten: str) -> None:
        """Redirect/BlindTransfer took the bridged parties out of the queue call."""
        pbx, citizen, leg = self.pbx, session.caller.channel, session.leg
        first = moved[0]
        for channel in moved:
            channel.on_hangup = None
        for channel in (leg, citizen):
            if channel in moved:
                pbx.newexten(channel, channel.app, channel.appdata, exten=target_exten)
        if session.bridge is not None:
            pbx.unbridge_pair(session.bridge, first)
            session.bridge = None

    def dial_from_redirect(self, session: QueueSession, dial: DialSession) -> None:
        """After a Redirect of the citizen alone, AgentComplete waits for the citizen's hang-up (recorded)."""
        dial.pending_complete = lambda reason: self.complete(session, reason, with_dest=False)
