"""Publishes what the ACD does: agent state changes on bus stream `acd`, guard actions and alerts on
`supervisors`."""

from __future__ import annotations

from typing import Any

from hotline.bus import EventBus

ACD_STREAM = "acd"
SUPERVISORS_STREAM = "supervisors"


class AcdNotifier:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def agent_changed(self, event: dict[str, Any]) -> None:
        await self.bus.publish(ACD_STREAM, event)

    async def supervisors(self, event: dict[str, Any]) -> None:
        await self.bus.publish(SUPERVISORS_STREAM, event)
