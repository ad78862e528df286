"""Call controls: AMI actions on the citizen's, the agent's and the expert's channels.

- one-key transfer (一键呼转, Ziyang art. 34; 110/119/120 matters are not the hotline's, art. 9(3), Foshan
  art. 55): the 警单 is recorded first (kept whatever happens next), then AMI Redirect of the citizen's
  channel into `transfer-emergency,<110|119|120>,1`; Asterisk hangs up the agent's leg (redirect110).
- three-way call (三方通话, Ziyang art. 12, 34): a free expert seat is invited (its page gets
  `invite.threeway` with the case's pop); on acceptance the seat is originated into room `3w-<call_id>`
  (end_marked), then the citizen is redirected into it (marked) with ExtraChannel = the agent (end_marked).
  The agent may leave; the room closes when the citizen hangs up. With 110 there is no invitation.
- consult (咨询专家): AMI Atxfer of the agent's channel to a free expert's seat; the citizen waits on hold
  while agent and expert talk and is handed to the expert when the agent hangs up.
- hang up: AMI Hangup of the caller's own leg of the call.

Each flow is a machine of state.py kept in Redis (any console process can take the next step) and every
step first checks that the citizen is still there: a citizen gone half-way gives a clear error, keeps the
hand-off record, hangs up a member already put in the room and leaves no flow open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.calls.record import seat_of
from bridge.controls.notifier import ControlNotifier
from bridge.controls.state import INVITING, ConsultControl, ControlMachine, ThreeWayControl, TransferControl, from_json
from bridge.pops.services import PopBuilder, make_pop, pop_actor
from bridge.threeway.state import room_for
from hotline.ami.client import AmiError
from hotline.ami.frames import Frame
from hotline.bus import EventBus, agent_stream
from hotline.handoffs.services import record_handoff
from hotline.security import Principal

log = logging.getLogger(__name__)

CONTROL_TTL = 4 * 3600       # a control record outlives any call
RESERVATION_TTL = 120        # an invited expert is not offered to another call for this long
ORIGINATE_TIMEOUT = 40.0     # Asterisk gives up ringing after 30 s (OriginateResponse Failure, Reason 3)


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def citizen_gone() -> ControlError:
    return ControlError(409, "citizen_gone", "市民已挂机，操作未完成")


@dataclass(frozen=True)
class ControlDialplan:
    """Where the actions send channels (asterisk_config/templates/extensions.conf.j2)."""

    emergency_context: str = "transfer-emergency"
    citizen_context: str = "threeway-citizen"   # ConfBridge(..., hotline_citizen): marked
    member_context: str = "threeway-member"     # ConfBridge(..., hotline_member): end_marked
    consult_context: str = "from-agents"
    emergency_endpoint: str = "Local/{number}@transfer-emergency"  # 110 as a room member
    expert_endpoint: str = "PJSIP/{seat}"
    # True: Originate with Application=ConfBridge, Data=<room>,hotline_threeway,hotline_member (pbxsim models
    # no threeway-* contexts); False: Originate into member_context,<room>,1 as the rig's dialplan has it
    originate_into_app: bool = False

    @classmethod
    def simulator(cls) -> ControlDialplan:
        """pbxsim: rooms in its `conference` context (citizen marked with SimConfig.conf_mark_citizen)."""
        return cls(citizen_context="conference", member_context="conference",
                   emergency_endpoint="PJSIP/{number}", originate_into_app=True)


@dataclass
class Legs:
    """The live channels of one call, from CoreShowChannels."""

    citizen: dict[str, str] | None = None
    members: dict[str, str] = field(default_factory=dict)  # seat → channel (agent legs and room members)

    def channel_of(self, seat: str | None) -> str | None:
        return self.members.get(seat) if seat else None


class ControlStore:
    def __init__(self, bus: EventBus) -> None:
        self.redis = bus.redis
        self.prefix = bus.prefix

    def key(self, call_id: str) -> str:
        return f"{self.prefix}controls:{call_id}"

    async def load(self, call_id: str) -> ControlMachine | None:
        raw = await self.redis.get(self.key(call_id))
        return from_json(json.loads(raw)) if raw else None

    async def save(self, control: ControlMachine) -> None:
        await self.redis.set(self.key(control.key), json.dumps(control.to_json(), ensure_ascii=False),
                             ex=CONTROL_TTL)

    async def reserve_expert(self, seat: str, call_id: str) -> bool:
        return bool(await self.redis.set(f"{self.prefix}controls:expert:{seat}", call_id, nx=True,
                                         ex=RESERVATION_TTL))

    async def release_expert(self, seat: str) -> None:
        await self.redis.delete(f"{self.prefix}controls:expert:{seat}")


class ControlService:
    def __init__(self, ami: Any, bus: EventBus, session_factory: sessionmaker[Session], *,
                 dialplan: ControlDialplan | None = None, experts: list[str] | None = None,
                 builder: PopBuilder | None = None, originate_timeout: float = ORIGINATE_TIMEOUT) -> None:
        self.ami = ami
        self.bus = bus
        self.session_factory = session_factory
        self.dialplan = dialplan or ControlDialplan()
        self._experts = experts
        self.builder = builder or PopBuilder(session_factory)
        self.store = ControlStore(bus)
        self.notify = ControlNotifier(bus)
        self.originate_timeout = originate_timeout
        self._originates: dict[str, asyncio.Future[Frame]] = {}
        self._hangups: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        ami.add_listener(self.on_ami, events=("OriginateResponse", "Hangup"), typed=False)

    # --- AMI events -----------------------------------------------------------------------------------

    def on_ami(self, item: Any) -> None:
        if not isinstance(item, Frame):
            return  # Resync
        h = item.headers
        if h.get("Event") == "OriginateResponse":
            future = self._originates.get(h.get("ActionID", ""))
            if future is not None and not future.done():
                future.set_result(item)
        elif h.get("Event") == "Hangup":
            gone = self._hangups.get(h.get("Uniqueid", ""))
            if gone is not None:
                gone.set()

    # --- helpers --------------------------------------------------------------------------------------

    async def legs(self, call_id: str) -> Legs:
        try:
            frames = await self.ami.send_action({"Action": "CoreShowChannels"})
        except AmiError as exc:
            raise ControlError(502, "ami_failed", f"交换机操作失败：{exc}") from exc
        legs = Legs()
        room = room_for(call_id)
        for frame in frames if isinstance(frames, list) else [frames]:
            h = frame.headers
            if h.get("Event") != "CoreShowChannel":
                continue
            if h.get("Uniqueid") == call_id:
                legs.citizen = h
            elif h.get("Linkedid") == call_id or (h.get("ApplicationData") or "").startswith(room):
                legs.members[seat_of(h["Channel"])] = h["Channel"]
        return legs

    async def _live(self, call_id: str, principal: Principal) -> Legs:
        legs = await self.legs(call_id)
        if legs.citizen is None:
            raise citizen_gone()
        if principal.agent_id is None or principal.agent_id not in legs.members:
            raise ControlError(403, "not_your_call", "这不是您正在处理的通话")
        return legs

    async def _action(self, action: dict[str, str]) -> Frame:
        try:
            reply = await self.ami.send_action(action, check=False)
        except AmiError as exc:
            raise ControlError(502, "ami_failed", f"交换机操作失败：{exc}") from exc
        return reply[0] if isinstance(reply, list) else reply

    async def _save(self, control: ControlMachine, agent: str | None, message: str) -> dict[str, Any]:
        await self.store.save(control)
        if agent:
            await self.notify.status(agent, control, message)
        return {**control.to_json(), "message": message}

    def experts(self) -> list[str]:
        if self._experts is None:
            from acd.config import default_acd_config

            config = default_acd_config()
            seats = [s for s in config.seats_with("expert") if s.role == "expert"]
            self._experts = [s.id for s in sorted(seats, key=lambda s: s.skills["expert"])]
        return self._experts

    async def free_expert(self, call_id: str) -> str:
        """The first expert seat (by penalty) the ACD shows ready and no other invitation holds."""
        from acd.services import AgentStore
        from acd.state import AgentState

        store = AgentStore(self.bus.redis)
        for seat in self.experts():
            if (await store.get(seat)).state == AgentState.ready and await self.store.reserve_expert(seat, call_id):
                return seat
        raise ControlError(409, "no_free_expert", "暂无空闲专家座席")

    async def _case_pop(self, call_id: str, agent: str, reader: str, legs: Legs, **extra: Any) -> dict[str, Any]:
        """The case as the agent's pop shows it, read again (and audited) on behalf of `reader`."""
        call: dict[str, Any] | None = None
        for _id, event in await self.bus.redis.xrevrange(self.bus.key(agent_stream(agent)), count=200) or []:
            pop = json.loads(event["data"])
            if pop.get("call_id") == call_id and pop.get("type", "").startswith("pop."):
                call = {k: pop.get(k) for k in ("call_id", "caller_number", "caller_name", "ivr", "queue",
                                                "wait_seconds")}
                break
        if call is None:
            citizen = legs.citizen or {}
            call = {"call_id": call_id, "caller_number": citizen.get("CallerIDNum"),
                    "caller_name": citizen.get("CallerIDName"), "ivr": None, "wait_seconds": None}
        history, hits = await asyncio.to_thread(self.builder.lookup, call, pop_actor(reader))
        return make_pop("invite.threeway", call, reader, time.time(), history, hits, **extra)

    def _handoff(self, principal: Principal, call_id: str, target: str, legs: Legs, summary: str | None,
                 location: str | None, order_id: int | None) -> int:
        citizen = legs.citizen or {}
        with self.session_factory() as session:
            handoff = record_handoff(session, principal, target,
                                     summary or f"坐席一键呼转{target}，待补充警情摘要", call_id=call_id,
                                     order_id=order_id, caller_number=citizen.get("CallerIDNum"),
                                     caller_name=citizen.get("CallerIDName"), location=location)
            session.commit()
            return handoff.id

    # --- one-key transfer -----------------------------------------------------------------------------

    async def transfer(self, principal: Principal, call_id: str, target: str, *, summary: str | None = None,
                       location: str | None = None, order_id: int | None = None) -> dict[str, Any]:
        legs = await self._live(call_id, principal)
        try:
            handoff_id = await asyncio.to_thread(self._handoff, principal, call_id, target, legs, summary,
                                                 location, order_id)
        except ValueError as exc:
            raise ControlError(422, "bad_handoff", str(exc)) from exc
        control = TransferControl(call_id, data={"target": target, "agent": principal.agent_id,
                                                 "handoff_id": handoff_id})
        reply = await self._action({"Action": "Redirect", "Channel": legs.citizen["Channel"],
                                    "Context": self.dialplan.emergency_context, "Exten": target, "Priority": "1"})
        if reply.headers.get("Response") == "Success":
            control.fire("redirect_response_success")
            return await self._save(control, principal.agent_id, f"已转接{target}，警单已记录")
        gone = (await self.legs(call_id)).citizen is None
        control.fire("hangup" if gone else "redirect_response_error")
        await self._save(control, principal.agent_id, reply.headers.get("Message", ""))
        if gone:
            raise ControlError(409, "citizen_gone", "市民已挂机，转接未完成（警单已保留）")
        raise ControlError(502, "ami_failed", f"转接失败：{reply.headers.get('Message', '')}")

    # --- three-way ------------------------------------------------------------------------------------

    async def threeway(self, principal: Principal, call_id: str, target: str, *, summary: str | None = None,
                       location: str | None = None) -> dict[str, Any]:
        legs = await self._live(call_id, principal)
        current = await self.store.load(call_id)
        if isinstance(current, ThreeWayControl) and not current.finished:
            raise ControlError(409, "in_progress", "该通话已有进行中的三方通话")
        room = room_for(call_id)
        if target == "110":
            handoff_id = await asyncio.to_thread(self._handoff, principal, call_id, "110", legs, summary,
                                                 location, None)
            control = ThreeWayControl(call_id, data={"target": "110", "agent": principal.agent_id, "room": room,
                                                     "handoff_id": handoff_id})
            control.fire("expert_accepted")  # no invitation: the line is dialled at once
            endpoint = self.dialplan.emergency_endpoint.format(number="110")
            return await self._join(control, endpoint)
        expert = await self.free_expert(call_id)
        control = ThreeWayControl(call_id, data={"target": "expert", "agent": principal.agent_id, "expert": expert,
                                                 "room": room})
        await self.store.save(control)
        self._watch(call_id)
        pop = await self._case_pop(call_id, principal.agent_id or "", expert, legs, from_agent=principal.agent_id,
                                   mode="threeway", room=room)
        await self.notify.invite(pop)
        return await self._save(control, principal.agent_id, f"已邀请专家{expert}，等待接受")

    async def _invitation(self, principal: Principal, call_id: str) -> ThreeWayControl:
        control = await self.store.load(call_id)
        if not isinstance(control, ThreeWayControl) or control.data.get("expert") != principal.agent_id:
            raise ControlError(404, "no_invitation", "没有该通话的会商邀请")
        if control.state != INVITING:
            raise ControlError(409, "not_inviting", f"邀请已处理（{control.state}）")
        return control

    async def accept(self, principal: Principal, call_id: str) -> dict[str, Any]:
        control = await self._invitation(principal, call_id)
        agent = control.data.get("agent")
        if (await self.legs(call_id)).citizen is None:
            control.fire("hangup")
            await self.store.release_expert(principal.agent_id or "")
            await self._save(control, agent, "市民已挂机，会商邀请取消")
            raise ControlError(409, "citizen_gone", "市民已挂机，会商邀请已取消")
        control.fire("expert_accepted")
        await self.store.save(control)
        endpoint = self.dialplan.expert_endpoint.format(seat=principal.agent_id)
        try:
            return await self._join(control, endpoint)
        finally:
            await self.store.release_expert(principal.agent_id or "")

    async def decline(self, principal: Principal, call_id: str) -> dict[str, Any]:
        control = await self._invitation(principal, call_id)
        control.fire("expert_declined")
        await self.store.release_expert(principal.agent_id or "")
        return await self._save(control, control.data.get("agent"), f"专家{principal.agent_id}拒绝了会商邀请")

    async def _join(self, control: ThreeWayControl, endpoint: str) -> dict[str, Any]:
        """originating → Originate the member into the room; then Redirect citizen (+ agent) into it."""
        call_id, room, agent = control.key, control.data["room"], control.data.get("agent")
        action_id = f"3w-{uuid.uuid4().hex}"
        originate = {"Action": "Originate", "Channel": endpoint, "CallerID": "12345热线 <12345>", "Async": "true",
                     "ActionID": action_id}
        if self.dialplan.originate_into_app:
            originate |= {"Application": "ConfBridge", "Data": f"{room},hotline_threeway,hotline_member"}
        else:
            originate |= {"Context": self.dialplan.member_context, "Exten": room, "Priority": "1"}
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._originates[action_id] = future
        await self.store.save(control)
        try:
            reply = await self._action(originate)
            if reply.headers.get("Response") != "Success":
                control.fire("originate_response_failure")
                await self._save(control, agent, reply.headers.get("Message", ""))
                raise ControlError(502, "ami_failed", f"呼叫失败：{reply.headers.get('Message', '')}")
            try:
                response = await asyncio.wait_for(future, self.originate_timeout)
            except TimeoutError:
                response = None
        finally:
            self._originates.pop(action_id, None)
        if response is None or response.headers.get("Response") != "Success":
            control.fire("originate_response_failure")
            await self._save(control, agent, "被邀请方未接听")
            raise ControlError(409, "no_answer", "被邀请方未接听，三方通话未建立")
        member = response.headers.get("Channel", "")
        control.data["member_channel"] = member
        control.fire("originate_response_success")
        await self.store.save(control)
        legs = await self.legs(call_id)
        if legs.citizen is None:
            return await self._abort(control, member, agent)
        redirect = {"Action": "Redirect", "Channel": legs.citizen["Channel"], "Context": self.dialplan.citizen_context,
                    "Exten": room, "Priority": "1"}
        agent_channel = legs.channel_of(agent)
        if agent_channel:
            redirect |= {"ExtraChannel": agent_channel, "ExtraContext": self.dialplan.member_context,
                         "ExtraExten": room, "ExtraPriority": "1"}
        reply = await self._action(redirect)
        if reply.headers.get("Response") != "Success":
            return await self._abort(control, member, agent)
        control.fire("redirect_response_success")
        return await self._save(control, agent, "三方通话已建立")

    async def _abort(self, control: ThreeWayControl, member: str, agent: str | None) -> dict[str, Any]:
        """The citizen left while the member was being brought in: hang the member up (the room closes)."""
        control.fire("redirect_response_error")
        with contextlib.suppress(ControlError):
            await self._action({"Action": "Hangup", "Channel": member})
        await self._save(control, agent, "市民已挂机，三方通话已取消")
        raise ControlError(409, "citizen_gone", "市民已挂机，三方通话已取消")

    def _watch(self, call_id: str) -> None:
        """Withdraw an invitation as soon as the citizen hangs up (this process saw the invitation made)."""
        gone = self._hangups.setdefault(call_id, asyncio.Event())

        async def wait() -> None:
            try:
                await asyncio.wait_for(gone.wait(), RESERVATION_TTL)
            except TimeoutError:
                return
            finally:
                self._hangups.pop(call_id, None)
            await close_on_hangup(self.store, self.notify, call_id)

        task = asyncio.get_running_loop().create_task(wait())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- consult --------------------------------------------------------------------------------------

    async def consult(self, principal: Principal, call_id: str) -> dict[str, Any]:
        legs = await self._live(call_id, principal)
        expert = await self.free_expert(call_id)
        control = ConsultControl(call_id, data={"target": "expert", "agent": principal.agent_id, "expert": expert})
        try:
            pop = await self._case_pop(call_id, principal.agent_id or "", expert, legs,
                                       from_agent=principal.agent_id, mode="consult")
            await self.notify.invite(pop)
            reply = await self._action({"Action": "Atxfer", "Channel": legs.members[principal.agent_id or ""],
                                        "Context": self.dialplan.consult_context, "Exten": expert})
        finally:
            await self.store.release_expert(expert)
        if reply.headers.get("Response") == "Success":
            control.fire("atxfer_response_success")
            return await self._save(control, principal.agent_id, f"正在咨询专家{expert}，市民等待中")
        message = reply.headers.get("Message", "")
        if (await self.legs(call_id)).citizen is None:
            control.fire("hangup")
            await self._save(control, principal.agent_id, message)
            await self.notify.withdraw(expert, call_id, "citizen_gone")
            raise citizen_gone()
        control.fire("atxfer_response_error")
        await self._save(control, principal.agent_id, message)
        await self.notify.withdraw(expert, call_id, "consult_failed")
        raise ControlError(409, "consult_unavailable", f"无法咨询专家：{message}")

    # --- hang up --------------------------------------------------------------------------------------

    async def hangup(self, principal: Principal, call_id: str) -> dict[str, Any]:
        legs = await self.legs(call_id)
        channel = legs.channel_of(principal.agent_id)
        if channel is None:
            if legs.citizen is None:
                raise ControlError(409, "call_ended", "通话已结束")
            raise ControlError(403, "not_your_call", "这不是您正在处理的通话")
        reply = await self._action({"Action": "Hangup", "Channel": channel})
        if reply.headers.get("Response") != "Success":
            raise ControlError(409, "call_ended", "通话已结束")
        return {"call_id": call_id, "kind": "hangup", "state": "hung_up", "message": "已挂断"}


async def close_on_hangup(store: ControlStore, notify: ControlNotifier, call_id: str) -> ControlMachine | None:
    """The citizen's channel is gone: close the call's control flow if still open, free and tell the invited
    expert, tell the agent. Idempotent (the console that made the invitation and the bus consumer may both
    see the hang-up)."""
    control = await store.load(call_id)
    if control is None or control.finished or not control.can("hangup"):
        return control
    was = control.state
    control.fire("hangup")
    await store.save(control)
    agent, expert = control.data.get("agent"), control.data.get("expert")
    if agent:
        await notify.status(agent, control, "市民已挂机")
    if expert and was == INVITING:
        await store.release_expert(expert)
        await notify.withdraw(expert, call_id, "citizen_gone")
    return control
