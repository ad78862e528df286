"""What the controls tell the consoles: the expert's invitation (with the case's pop), the agent's status
of a control flow, and the withdrawal of an invitation (on `agent:<id>` streams, like the pops)."""

from __future__ import annotations

import time
from typing import Any

from bridge.controls.state import ControlMachine
from bridge.pops.notifier import PopNotifier
from hotline.bus import EventBus


class ControlNotifier:
    def __init__(self, bus: EventBus) -> None:
        self.pops = PopNotifier(bus)

    async def invite(self, pop: dict[str, Any]) -> str:
        """`invite.threeway` on the expert's stream (the pop is addressed by its `agent_id`)."""
        return await self.pops.publish(pop)

    async def withdraw(self, expert: str, call_id: str, reason: str) -> str:
        """The invitation no longer stands (citizen gone, declined): the expert page drops it on pop.hangup."""
        return await self.pops.publish({"type": "pop.hangup", "call_id": call_id, "agent_id": expert,
                                        "caller_number": None, "ivr": None, "wait_seconds": None, "history": None,
                                        "kb_hits": [], "reason": reason, "ts": time.time()})

    async def status(self, agent_id: str, control: ControlMachine, message: str | None = None) -> str:
        """`control.<kind>` on the agent's stream: how the control they started goes on."""
        event = {"type": f"control.{control.KIND}", "agent_id": agent_id, "ts": time.time(),
                 "message": message, **control.to_json()}
        return await self.pops.publish(event)
