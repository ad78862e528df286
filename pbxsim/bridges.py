"""Bridges: the two-party `basic`/`simple_bridge` one app_queue and Dial() build, and the `base`/`softmix`
one of a ConfBridge room (which Asterisk counts with one extra, announcer, channel)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from pbxsim.channels import UNKNOWN, Channel


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = UNKNOWN
    name: str = UNKNOWN
    channels: list[Channel] = field(default_factory=list)
    hidden: int = 0                  # channels Asterisk counts but AMI never names (softmix announcer)
    session: Any = None              # who owns it: a QueueSession, a DialSession or a ConfRoom

    def headers(self, count: int | None = None) -> list[tuple[str, str]]:
        n = len(self.channels) + self.hidden if count is None else count
        return [("BridgeUniqueid", self.uniqueid), ("BridgeType", self.type),
                ("BridgeTechnology", self.technology), ("BridgeCreator", self.creator),
                ("BridgeName", self.name), ("BridgeNumChannels", str(n)), ("BridgeVideoSourceMode", "none")]

    def peer(self, channel: Channel) -> Channel | None:
        return next((c for c in self.channels if c is not channel), None)


def new_bridge_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
