"""The citizen's call through rig-config/extensions.conf `[from-carrier]`:

    exten => 12345,1,NoOp(citizen call)
     same => n,Answer()
     same => n,AGI(agi://127.0.0.1:4573/ivr)
     same => n,Set(QUEUE_PRIO=${IF($["${HOTLINE_PRIORITY}" != ""]?${HOTLINE_PRIORITY}:0)})
     same => n,Queue(hotline-general,t,,,120)
     same => n,Hangup()

`HOTLINE_QUEUE`, when the IVR sets it to a configured queue, routes the call to that skill group instead of the
default queue (the platform's skill routing; the rig has a single queue). With the platform's configuration
(`SimConfig.from_platform`) the call then runs asterisk_config's `[hotline-queue]` extension of that queue
instead of the bare Queue(): QUEUE_MAX_PENALTY, the last agent's Dial(), Queue() with the penalty rule."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pbxsim.channels import Channel
from pbxsim.citizens import Citizen, DtmfSource
from pbxsim.config import QueueEntry
from pbxsim.pbx import DialSession, Pbx
from pbxsim.queues import QueueSession


@dataclass(eq=False)
class CitizenCall:
    pbx: Pbx
    citizen: Citizen
    channel: Channel | None = None
    started_at: float = 0.0
    agi_status: str = ""
    queue: str | None = None
    outcome: str = ""                 # answered, abandoned, timeout, ivr_hangup, agent_hangup...
    answered_at: float | None = None
    ended_at: float | None = None
    member: str | None = None
    timers: list[Any] = field(default_factory=list)
    done: asyncio.Event | None = None
    agi_task: Any = None
    agi_session: Any = None
    redirected: bool = False          # an AMI Redirect took the channel out of the IVR

    @property
    def uniqueid(self) -> str:
        assert self.channel is not None
        return self.channel.uniqueid

    # --- dialplan ------------------------------------------------------------------------------------------
    def start(self) -> None:
        pbx, c = self.pbx, self.citizen
        if pbx.clock.realtime:
            self.done = asyncio.Event()
        self.started_at = pbx.clock.now()
        ch = pbx.channels.new("carrier", "citizen", self.started_at, caller_num=c.caller, caller_name=c.name,
                              context="from-carrier", exten="12345", priority=1, state=4, dnid="12345")
        pbx.register(ch)
        pbx.emit("Newchannel", ch.headers())
        self.channel = ch
        ch.call = self
        ch.dtmf = DtmfSource(c.digits)
        pbx.var_set(ch, "SIPDOMAIN", "127.0.0.1")
        pbx.newexten(ch, "NoOp", "citizen call", priority=1)
        pbx.newexten(ch, "Answer", "", priority=2)
        pbx.newstate(ch, 6)
        ch.on_hangup = self._gone_before_queue
        if c.hangup_after is not None:
            self.timers.append(pbx.clock.call_later(c.hangup_after, self.citizen_hangs_up))
        self.timers.append(pbx.clock.call_later(pbx.config.dial_delay, self._agi))
        pbx.calls.append(self)

    def citizen_hangs_up(self) -> None:
        if self.channel is not None and not self.channel.hungup:
            self.pbx.hangup(self.channel)

    def _gone_before_queue(self, channel: Channel, cause: int) -> None:
        self.outcome = self.outcome or "ivr_hangup"
        self.pbx.soft_hangup_request(channel, cause)
        self.pbx.destroy(channel, cause)
        self._finish()

    def _agi(self) -> None:
        pbx, ch = self.pbx, self.channel
        assert ch is not None
        if ch.hungup:
            return
        url = pbx.config.agi_url
        pbx.newexten(ch, "AGI", url or "agi://127.0.0.1:4573/ivr", priority=3)
        if url and pbx.clock.realtime:
            from pbxsim.agi import AgiSession

            session = AgiSession(self, url)
            self.agi_session = session
            self.agi_task = asyncio.ensure_future(session.run())
            return
        if self.citizen.ivr_vars:
            self.timers.append(pbx.clock.call_later(self.citizen.ivr_seconds, self._scripted_ivr))
            return
        self.after_agi("FAILURE")

    def _scripted_ivr(self) -> None:
        ch = self.channel
        if ch is None or ch.hungup or self.redirected:
            return
        for name, value in self.citizen.ivr_vars.items():
            self.pbx.var_set(ch, name, value)
        self.after_agi("SUCCESS")

    def after_agi(self, status: str) -> None:
        """AGI() returned; on with the dialplan unless the channel is gone."""
        pbx, ch = self.pbx, self.channel
        assert ch is not None
        self.agi_status = status
        if self.redirected:
            return                    # the channel runs the Redirect's dialplan now
        if status == "HANGUP" or ch.hungup:
            self.outcome = self.outcome or "ivr_hangup"
            if not ch.hungup:
                pbx.var_set(ch, "AGISTATUS", status)
                pbx.destroy(ch, 16)
            self._finish()
            return
        pbx.var_set(ch, "AGISTATUS", status)
        self._enqueue(ch.variables.get("HOTLINE_QUEUE", ""), 4)

    def start_callback(self, channel: Channel, queue: str) -> None:
        """asterisk_config's `[hotline-callback]`: the citizen answered an Originate of a callback and joins
        `queue` with HOTLINE_PRIORITY (set by the Originate's Variable headers), never via the last agent."""
        pbx = self.pbx
        if pbx.clock.realtime:
            self.done = asyncio.Event()
        self.started_at = pbx.clock.now()
        self.channel = channel
        channel.call = self
        channel.dtmf = DtmfSource(self.citizen.digits)
        pbx.calls.append(self)
        pbx.newexten(channel, "NoOp", f"callback {channel.variables.get('HOTLINE_CALLBACK_ID', '')}",
                     context="hotline-callback", exten=queue, priority=1)
        if self.citizen.hangup_after is not None:
            self.timers.append(pbx.clock.call_later(self.citizen.hangup_after, self.citizen_hangs_up))
        if queue in pbx.config.queue_entries and channel.variables.get("HOTLINE_LAST_AGENT"):
            pbx.var_set(channel, "HOTLINE_LAST_AGENT", "")    # Set(HOTLINE_LAST_AGENT=) of [hotline-callback]
        self._enqueue(queue, 2)

    def _enqueue(self, wanted: str, priority_step: int) -> None:
        """Set(QUEUE_PRIO=...), then the rig's Queue(<queue>,t,,,120), or with the platform's dialplan
        (SimConfig.from_platform) Goto(hotline-queue,<queue>,1) and its steps (`_run_entry`)."""
        pbx, ch = self.pbx, self.channel
        assert ch is not None
        raw = ch.variables.get("HOTLINE_PRIORITY", "")
        prio = raw if raw != "" else "0"
        pbx.newexten(ch, "Set", f"QUEUE_PRIO={prio}", priority=priority_step)
        pbx.var_set(ch, "QUEUE_PRIO", prio)
        try:
            priority = int(prio)
        except ValueError:
            priority = 0
        queue = wanted if wanted in pbx.queues.queues else pbx.config.default_queue
        self.queue = queue
        if self.citizen.patience is not None:      # waiting for a human starts now (the last agent's Dial or the queue)
            self.timers.append(pbx.clock.call_later(self.citizen.patience, self._patience_over))
        entry = pbx.config.queue_entries.get(queue)
        if entry is None:
            pbx.newexten(ch, "Queue", f"{queue},t,,,120", priority=priority_step + 1)
            self._join(queue, priority)
            return
        pbx.newexten(ch, "Goto", f"hotline-queue,{queue},1", priority=priority_step + 1)
        self._run_entry(entry, priority)

    def _run_entry(self, entry: QueueEntry, priority: int) -> None:
        """`[hotline-queue]` <queue>: Set(QUEUE_MAX_PENALTY=...), the last agent's Dial() when the ACD named one
        (HOTLINE_LAST_AGENT), then Queue(<queue>,tc,,,<max_wait>,,,<rule>)."""
        pbx, ch = self.pbx, self.channel
        assert ch is not None
        step = 1
        for name, value in entry.variables:
            pbx.newexten(ch, "Set", f"{name}={value}", context="hotline-queue", exten=entry.queue, priority=step)
            pbx.var_set(ch, name, value)
            step += 1
        agent = ch.variables.get(entry.last_agent_variable, "") if entry.last_agent_variable else ""
        if entry.last_agent_variable:
            pbx.newexten(ch, "GotoIf", f"{int(agent == '')}?queue", context="hotline-queue", exten=entry.queue,
                         priority=step)
        if agent:
            self._dial_last_agent(entry, agent, priority, step + 1)
            return
        self._queue(entry, priority, step + 3 if entry.last_agent_variable else step)

    def _queue(self, entry: QueueEntry, priority: int, step: int) -> None:
        pbx, ch = self.pbx, self.channel
        assert ch is not None
        pbx.newexten(ch, "Queue", entry.queue_data, context="hotline-queue", exten=entry.queue, priority=step)
        self._join(entry.queue, priority, entry.rule, entry.timeout or None)

    def _join(self, queue: str, priority: int, rule: str | None = None, timeout: float | None = None) -> None:
        assert self.channel is not None
        caller = self.pbx.queues.join(self.channel, queue, priority, self._after_queue, rule=rule, timeout=timeout)
        caller.on_connect = self._connected

    # --- the last agent first (Dial before Queue) --------------------------------------------------------------
    def _dial_last_agent(self, entry: QueueEntry, agent: str, priority: int, step: int) -> None:
        pbx, ch = self.pbx, self.channel
        assert ch is not None
        seat = pbx.config.seat(agent)
        data = f"PJSIP/{agent},{entry.last_agent_timeout:g}" + (f",{entry.last_agent_options}"
                                                                  if entry.last_agent_options else "")
        pbx.newexten(ch, "Dial", data, context="hotline-queue", exten=entry.queue, priority=step)
        answers = seat.reachable and pbx.rng.random() < seat.answer_probability
        pbx.dial(ch, agent, agent, f"PJSIP/{agent}", seat.answer_delay.sample(pbx.rng) if answers else None,
                 timeout=entry.last_agent_timeout, rings=seat.reachable, on_answer=self._direct_answered,
                 on_no_answer=lambda _ch: self._after_last_agent(entry, priority, step + 1),
                 on_end=lambda _ch: self._after_last_agent(entry, priority, step + 1))

    def _direct_answered(self, session: DialSession) -> None:
        self.answered_at = self.pbx.clock.now()
        self.member = session.dest.device
        self.outcome = "answered"
        if self.citizen.talk_time is not None:
            self.timers.append(self.pbx.clock.call_later(self.citizen.talk_time, self.citizen_hangs_up))
        talk = self.pbx.config.seat(session.dest.endpoint).talk_time
        if talk is not None:
            self.pbx.clock.call_later(talk.sample(self.pbx.rng), self._agent_hangs_up, session.dest)

    def _agent_hangs_up(self, leg: Channel) -> None:
        if not leg.hungup:
            self.pbx.hangup(leg)

    def _after_last_agent(self, entry: QueueEntry, priority: int, step: int) -> None:
        """Dial() returned: answered and over (option g) → hotline-after-queue (the survey is not modelled,
        the call ends); not answered → on to Queue()."""
        pbx, ch = self.pbx, self.channel
        assert ch is not None
        ch.on_hangup = None
        answered = self.answered_at is not None
        pbx.newexten(ch, "GotoIf", f"{int(answered)}?hotline-after-queue,CONTINUE,1", context="hotline-queue",
                     exten=entry.queue, priority=step)
        if answered:
            pbx.dialplan_hangup(ch)
            return
        ch.on_hangup = self._gone_before_queue
        self._queue(entry, priority, step + 1)

    def _patience_over(self) -> None:
        if self.channel is not None and not self.channel.hungup and self.answered_at is None:
            self.outcome = "abandoned"
            self.citizen_hangs_up()

    def _connected(self, session: QueueSession) -> None:
        self.answered_at = self.pbx.clock.now()
        self.member = session.member.interface
        self.outcome = "answered"
        if self.citizen.talk_time is not None:
            self.timers.append(self.pbx.clock.call_later(self.citizen.talk_time, self.citizen_hangs_up))

    def _after_queue(self, status: str) -> None:
        pbx, ch = self.pbx, self.channel
        assert ch is not None
        if status == "TIMEOUT":
            self.outcome = "timeout"
        pbx.newexten(ch, "Hangup", "", priority=ch.priority + 1)
        pbx.dialplan_hangup(ch)

    def on_destroyed(self) -> None:
        if self.ended_at is None:
            if not self.outcome:
                self.outcome = "abandoned"
            self._finish()

    def _finish(self) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = self.pbx.clock.now()
        for timer in self.timers:
            timer.cancel()
        if self.done is not None:
            self.done.set()

    async def wait(self, timeout: float | None = None) -> None:
        """Wait (wall seconds) until the citizen's channel is gone."""
        assert self.done is not None, "wait() needs the real-time clock"
        await asyncio.wait_for(self.done.wait(), timeout)
