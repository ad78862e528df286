"""Agent state: the store (Redis), the tracker (AMI events → confirmed states) and the console actions
(login / ready / not_ready / wrap_up / logout / penalty → AMI QueueAdd, QueuePause, QueueRemove, QueuePenalty).

Console actions never set a state themselves: Asterisk's events confirm it (QueueMemberAdded, ...Pause,
AgentCalled, ...). Every transition is kept in Redis (survives a restart), added to the time spent per state,
logged to `acd_agent_state_log` and published on bus stream `acd`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.orm import sessionmaker

from acd import keys
from acd.config import AcdConfig, Seat
from acd.models import AgentStateLog
from acd.notifier import AcdNotifier
from acd.state import Agent, AgentState, InvalidTransition
from hotline.ami.client import AmiActionError, Resync
from hotline.ami.events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentRingNoAnswer,
    AmiEvent,
    ConfbridgeJoin,
    ConfbridgeLeave,
    QueueMemberAdded,
    QueueMemberPause,
    QueueMemberRemoved,
    QueueMemberStatus,
)

log = logging.getLogger(__name__)
S = AgentState
DEVICE_NOT_INUSE = 1
DEVICE_INUSE = 2
DIRECT = "direct"   # call_id of a call the dialplan put straight through to the last agent


class AcdError(ValueError):
    """A console action that cannot be done (unknown seat, bad reason, refused by Asterisk)."""


def agent_id_of(interface: str) -> str | None:
    """`PJSIP/1001` or a channel `PJSIP/1001-0000002a` → `1001`."""
    if not interface.upper().startswith("PJSIP/"):
        return None
    return interface.split("/", 1)[1].split("-", 1)[0].split("@", 1)[0] or None


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class AgentStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def get(self, agent_id: str) -> Agent:
        text = await self.redis.hget(keys.AGENT_STATES, agent_id)
        return Agent.from_json(text) if text else Agent(agent_id)

    async def save(self, agent: Agent, left: AgentState | None = None, spent: float = 0.0) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.AGENT_STATES, agent.agent_id, agent.to_json())
            if left is not None and spent > 0:
                pipe.hincrbyfloat(keys.agent_time(agent.agent_id), left.value, spent)
            await pipe.execute()

    async def ids(self) -> set[str]:
        return set(await self.redis.hkeys(keys.AGENT_STATES))

    async def all(self) -> list[Agent]:
        rows = await self.redis.hgetall(keys.AGENT_STATES)
        return [Agent.from_json(rows[agent_id]) for agent_id in sorted(rows)]

    async def times(self, agent_id: str, now: float | None = None) -> dict[str, float]:
        """Seconds per state, including the time so far in the current state."""
        raw = await self.redis.hgetall(keys.agent_time(agent_id))
        spent = {state: float(value) for state, value in raw.items()}
        agent = await self.get(agent_id)
        if agent.since:
            spent[agent.state.value] = spent.get(agent.state.value, 0.0) + max(0.0, (now or time.time()) - agent.since)
        return spent


class AgentTracker:
    """AMI events → agent state machines. One instance per ACD process; listener of the AmiClient."""

    def __init__(self, config: AcdConfig, redis: aioredis.Redis, notifier: AcdNotifier,
                 session_factory: sessionmaker | None = None, ami: Any = None,
                 clock: Any = time.time) -> None:
        self.config = config
        self.store = AgentStore(redis)
        self.redis = redis
        self.notifier = notifier
        self.session_factory = session_factory
        self.ami = ami
        self.clock = clock
        self.intent: dict[str, str] = {}    # agent id → console intent naming the next unpause
        self._lock = asyncio.Lock()
        self.resyncs = 0

    # --- entry point ---------------------------------------------------------------------------------------
    async def on_event(self, event: AmiEvent | Resync) -> None:
        async with self._lock:   # events of one agent must apply in wire order
            try:
                await self._dispatch(event)
            except Exception:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # redis-py may turn our cancellation into a TimeoutError: let the cancellation through
                    raise asyncio.CancelledError from None
                log.exception("ACD: could not apply %s", event.name)

    async def _dispatch(self, event: AmiEvent | Resync) -> None:
        if isinstance(event, Resync):
            await self.rebuild(event)
        elif isinstance(event, QueueMemberAdded):
            await self._member_added(event)
        elif isinstance(event, QueueMemberRemoved):
            await self._member_removed(event)
        elif isinstance(event, QueueMemberPause):
            await self._member_pause(event)
        elif isinstance(event, QueueMemberStatus):
            await self._member_status(event)
        elif isinstance(event, AgentCalled):
            await self._apply_interface(event.interface, "agent_called", call_id=event.uniqueid)
        elif isinstance(event, AgentRingNoAnswer):
            await self._apply_interface(event.interface, "ring_noanswer")
        elif isinstance(event, AgentConnect):
            await self._agent_connect(event)
        elif isinstance(event, AgentComplete):
            await self._agent_complete(event)
        elif isinstance(event, ConfbridgeJoin):
            await self._apply_interface(event.channel, "conference_joined")
        elif isinstance(event, ConfbridgeLeave):
            await self._apply_interface(event.channel, "conference_left")

    # --- transitions ---------------------------------------------------------------------------------------
    async def fire(self, agent: Agent, event: str, **extra: Any) -> bool:
        if not agent.can(event):
            return False
        now = self.clock()
        since, reason = agent.since, agent.reason
        try:
            left, spent = agent.fire(event, now)
        except InvalidTransition:
            return False
        for name, value in extra.items():
            setattr(agent, name, value)
        await self.store.save(agent, left, spent)
        await self._log(agent, left, reason, event, since or now, now, spent)
        await self.notifier.agent_changed({
            "type": f"agent.{event}", "agent_id": agent.agent_id, "state": agent.state.value,
            "label": agent.state.label, "previous": left.value, "reason": agent.reason, "ts": now,
            "seconds_in_previous": round(spent, 3), "call_id": agent.call_id, "flagged": agent.flagged})
        return True

    async def _log(self, agent: Agent, left: AgentState, reason: str, event: str, started: float, ended: float,
                   spent: float) -> None:
        if self.session_factory is None or left == agent.state:
            return
        row = AgentStateLog(agent_id=agent.agent_id, state=left.value,
                            reason=reason if left in (S.not_ready, S.wrap_up) else "",
                            event=event, new_state=agent.state.value, started_at=_dt(started), ended_at=_dt(ended),
                            seconds=spent)

        def write() -> None:
            with self.session_factory() as session:  # type: ignore[misc]
                session.add(row)
                session.commit()

        try:
            await asyncio.to_thread(write)
        except Exception:  # the log is a record: a database hiccup must not stop the ACD
            log.exception("ACD: state log write failed for agent %s", agent.agent_id)

    async def _apply_interface(self, interface: str, event: str, **extra: Any) -> Agent | None:
        agent_id = agent_id_of(interface)
        if agent_id is None:
            return None
        agent = await self.store.get(agent_id)
        await self.fire(agent, event, **extra)
        return agent

    async def _member_added(self, ev: QueueMemberAdded) -> None:
        agent_id = agent_id_of(ev.interface)
        if agent_id is None:
            return
        agent = await self.store.get(agent_id)
        if ev.queue not in agent.queues:
            agent.queues = [*agent.queues, ev.queue]
        paused = bool(ev.paused)
        if agent.state == S.logged_out:
            await self.fire(agent, "member_added_paused" if paused else "member_added",
                            paused=paused, reason=ev.paused_reason if paused else "", queues=agent.queues)
        else:
            await self.store.save(agent)

    async def _member_removed(self, ev: QueueMemberRemoved) -> None:
        agent_id = agent_id_of(ev.interface)
        if agent_id is None:
            return
        agent = await self.store.get(agent_id)
        agent.queues = [q for q in agent.queues if q != ev.queue]
        if not agent.queues:
            await self.fire(agent, "member_removed")
        else:
            await self.store.save(agent)

    async def _member_pause(self, ev: QueueMemberPause) -> None:
        agent_id = agent_id_of(ev.interface)
        if agent_id is None:
            return
        agent = await self.store.get(agent_id)
        paused, reason = bool(ev.paused), ev.paused_reason
        if paused == agent.paused and reason == agent.reason and agent.state in (S.not_ready, S.wrap_up):
            return   # the same pause reported for each of the agent's queues
        agent.paused = paused
        if paused:
            wrap = reason == self.config.acd.wrap_up_reason
            if agent.state in (S.ready, S.wrap_up):
                await self.fire(agent, "wrap_up_paused" if wrap else "member_paused", reason=reason)
            else:   # paused while on a call: remembered, applied when the call ends
                agent.reason = reason
                await self.store.save(agent)
        else:
            intent = self.intent.pop(agent_id, "")
            event = intent if intent and agent.state == S.wrap_up else "member_unpaused"
            if not await self.fire(agent, event, reason=""):
                await self.store.save(agent)

    async def _member_status(self, ev: QueueMemberStatus) -> None:
        agent_id = agent_id_of(ev.interface)
        if agent_id is None or ev.in_call:
            return
        agent = await self.store.get(agent_id)
        if ev.status == DEVICE_NOT_INUSE:
            if agent.state == S.ringing:
                # a caller who hangs up while the phone rings ends the ring without AgentRingNoAnswer
                await self.fire(agent, "ring_cancelled")
            elif agent.state == S.on_call and agent.call_id == DIRECT:
                await self.fire(agent, "direct_call_ended")
                await self._start_wrap_up(agent)
        elif ev.status == DEVICE_INUSE and agent.state == S.ready:
            # busy without AgentCalled: the dialplan dialled this (last) agent directly
            await self.fire(agent, "direct_call", call_id=DIRECT)

    async def _agent_connect(self, ev: AgentConnect) -> None:
        agent = await self._apply_interface(ev.interface, "agent_connect", call_id=ev.uniqueid)
        if agent is not None and ev.caller_id_num:
            await self.redis.set(keys.last_agent(ev.caller_id_num), agent.agent_id, ex=keys.LAST_AGENT_TTL)

    async def _agent_complete(self, ev: AgentComplete) -> None:
        agent_id = agent_id_of(ev.interface)
        if agent_id is None:
            return
        agent = await self.store.get(agent_id)
        if await self.fire(agent, "agent_complete"):
            await self._start_wrap_up(agent)

    async def _start_wrap_up(self, agent: Agent) -> None:
        # 话后整理 beyond the queue's wrapuptime is a pause, so app_queue does not ring the agent; an agent who
        # chose 示忙 during the call is already paused and wraps up inside that pause
        if agent.state == S.wrap_up and not agent.paused and self.ami is not None:
            await self._send({"Action": "QueuePause", "Interface": f"PJSIP/{agent.agent_id}", "Paused": "true",
                              "Reason": self.config.acd.wrap_up_reason})

    async def _send(self, action: dict[str, str]) -> None:
        try:
            await self.ami.send_action(action)
        except Exception:
            log.exception("ACD: %s failed", action.get("Action"))

    # --- restart: Redis + the Resync's QueueStatus ---------------------------------------------------------
    async def rebuild(self, resync: Resync) -> None:
        """Reconcile every stored agent with what Asterisk holds right now."""
        self.resyncs += 1
        members: dict[str, list[Any]] = {}
        for member in resync.members:
            agent_id = agent_id_of(member.interface)
            if agent_id:
                members.setdefault(agent_id, []).append(member)
        known = await self.store.ids() | set(members)
        for agent_id in sorted(known):
            agent = await self.store.get(agent_id)
            rows = members.get(agent_id, [])
            if not rows:
                await self.fire(agent, "member_removed")
                continue
            agent.queues = sorted({m.queue for m in rows})
            paused = any(bool(m.paused) for m in rows)
            reason = next((m.paused_reason for m in rows if m.paused), "")
            busy = any(m.in_call or (m.status not in (None, DEVICE_NOT_INUSE)) for m in rows)
            if agent.state == S.logged_out:
                await self.fire(agent, "member_added_paused" if paused else "member_added", paused=paused,
                                reason=reason)
                continue
            agent.paused = paused
            if agent.state in (S.on_call, S.ringing, S.three_way) and not busy:
                # the call ended while the ACD was away
                await self.fire(agent, "agent_complete" if agent.state == S.on_call else "ring_cancelled")
                if agent.state == S.three_way:
                    await self.fire(agent, "conference_left")
            if agent.state in (S.wrap_up, S.not_ready) and not paused:
                await self.fire(agent, "member_unpaused")
            elif agent.state == S.ready and paused:
                wrap = reason == self.config.acd.wrap_up_reason
                await self.fire(agent, "wrap_up_paused" if wrap else "member_paused", reason=reason)
            else:
                await self.store.save(agent)

    # --- wrap-up that lasts too long -----------------------------------------------------------------------
    async def check_wrap_up(self) -> list[str]:
        """Agents whose 话后整理 passed the maximum: flag them and (policy `ready`) make them ready."""
        policy = self.config.acd
        now = self.clock()
        acted = []
        for agent in await self.store.all():
            if agent.state != S.wrap_up or agent.flagged == "wrap_up_overdue":
                continue
            if now - agent.since < policy.wrap_up_max_seconds:
                continue
            agent.flagged = "wrap_up_overdue"
            await self.store.save(agent)
            acted.append(agent.agent_id)
            await self.notifier.supervisors({"type": "acd.wrap_up_overdue", "agent_id": agent.agent_id,
                                             "seconds": round(now - agent.since, 1), "action": policy.wrap_up_overdue,
                                             "ts": now})
            if policy.wrap_up_overdue == "ready" and self.ami is not None:
                self.intent[agent.agent_id] = "wrap_up_overdue"
                await self._send({"Action": "QueuePause", "Interface": f"PJSIP/{agent.agent_id}", "Paused": "false"})
        return acted


class AgentService:
    """Console actions. Each returns once Asterisk accepted the action; the state follows from its events."""

    def __init__(self, config: AcdConfig, ami: Any, redis: aioredis.Redis,
                 tracker: AgentTracker | None = None) -> None:
        self.config, self.ami, self.store, self.tracker = config, ami, AgentStore(redis), tracker

    def seat(self, agent_id: str) -> Seat:
        try:
            return self.config.seat(agent_id)
        except KeyError:
            raise AcdError(f"unknown seat {agent_id!r}") from None

    def reason_label(self, reason: str) -> str:
        reasons = self.config.acd.not_ready_reasons
        if reason in reasons:
            return reasons[reason]
        if reason in reasons.values():
            return reason
        raise AcdError(f"unknown not-ready reason {reason!r}; one of {', '.join(reasons)}")

    async def _send(self, action: dict[str, Any], tolerate: tuple[str, ...] = ()) -> None:
        try:
            await self.ami.send_action(action)
        except AmiActionError as exc:
            if any(t in str(exc) for t in tolerate):
                return
            raise AcdError(f"Asterisk refused {action['Action']}: {exc}") from exc

    async def login(self, agent_id: str, paused_reason: str | None = None) -> None:
        seat = self.seat(agent_id)
        label = self.reason_label(paused_reason) if paused_reason else ""
        for queue, penalty in self.config.queues_for(seat):
            action: dict[str, Any] = {"Action": "QueueAdd", "Queue": queue.name, "Interface": seat.interface,
                                      "MemberName": seat.member_name, "StateInterface": seat.interface,
                                      "Penalty": penalty}
            if label:
                action |= {"Paused": "true", "Reason": label}
            await self._send(action, tolerate=("Already there",))

    async def logout(self, agent_id: str) -> None:
        seat = self.seat(agent_id)
        agent = await self.store.get(agent_id)
        names = set(agent.queues) | {q.name for q, _ in self.config.queues_for(seat)}
        for name in sorted(names):
            await self._send({"Action": "QueueRemove", "Queue": name, "Interface": seat.interface},
                             tolerate=("Not there",))

    async def ready(self, agent_id: str) -> None:
        seat = self.seat(agent_id)
        await self._require_logged_in(agent_id)
        await self._send({"Action": "QueuePause", "Interface": seat.interface, "Paused": "false"})

    async def start_wrap_up(self, agent_id: str) -> None:
        """话后整理 on the agent's request (after each queue call the ACD starts it by itself): a pause with the
        wrap-up reason, which the tracker reads as wrap-up (during a call: once the call ends)."""
        seat = self.seat(agent_id)
        await self._require_logged_in(agent_id)
        await self._send({"Action": "QueuePause", "Interface": seat.interface, "Paused": "true",
                          "Reason": self.config.acd.wrap_up_reason})

    async def not_ready(self, agent_id: str, reason: str) -> None:
        seat = self.seat(agent_id)
        label = self.reason_label(reason)
        await self._require_logged_in(agent_id)
        await self._send({"Action": "QueuePause", "Interface": seat.interface, "Paused": "true", "Reason": label})

    async def wrap_up(self, agent_id: str) -> None:
        """话后整理 finished: ready for the next call."""
        seat = self.seat(agent_id)
        agent = await self.store.get(agent_id)
        if agent.state != S.wrap_up:
            raise AcdError(f"agent {agent_id} is not in wrap-up (state {agent.state.value})")
        if self.tracker is not None:
            self.tracker.intent[agent_id] = "wrap_up_done"
        await self._send({"Action": "QueuePause", "Interface": seat.interface, "Paused": "false"})

    async def set_penalty(self, agent_id: str, queue: str, penalty: int) -> None:
        seat = self.seat(agent_id)
        try:
            self.config.queue(queue)
        except KeyError:
            raise AcdError(f"unknown queue {queue!r}") from None
        if penalty < 0:
            raise AcdError("penalty must be ≥ 0")
        await self._send({"Action": "QueuePenalty", "Interface": seat.interface, "Penalty": penalty, "Queue": queue})

    async def _require_logged_in(self, agent_id: str) -> None:
        agent = await self.store.get(agent_id)
        if agent.state == S.logged_out:
            raise AcdError(f"请先签入 (agent {agent_id} is not logged in)")
