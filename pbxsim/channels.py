"""Channels as Asterisk names and describes them: `PJSIP/<endpoint>-%08x`, Uniqueid `<epoch>.<n>` from one
counter, and the standard channel header block (optionally with a prefix such as `Dest`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
UNKNOWN = "<unknown>"


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    endpoint: str                     # carrier, 1001, 2001, emergency
    role: str                         # citizen, agent, expert, gateway
    created: float
    caller_num: str = UNKNOWN
    caller_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    context: str = ""
    exten: str = ""
    priority: int = 1
    state: int = 0
    app: str = ""
    appdata: str = ""
    dnid: str = ""
    answered_at: float | None = None
    variables: dict[str, str] = field(default_factory=dict)
    bridge: Any = None               # pbxsim.bridges.Bridge while in one
    hungup: bool = False
    soft_requested: bool = False
    # what the channel is doing now; called once when it hangs up (set by the activity that owns it)
    on_hangup: Callable[[Channel, int], None] | None = None
    owner: Any = None                # the Call / QueueSession this leg belongs to
    call: Any = None                 # the CitizenCall of the citizen's leg
    dtmf: Any = None                 # pbxsim.citizens.DtmfSource for the citizen's leg

    @property
    def device(self) -> str:
        return f"PJSIP/{self.endpoint}"

    def headers(self, prefix: str = "") -> ChannelHeaders:
        """The standard header block, read when the event is built (nothing is built when nobody listens)."""
        return ChannelHeaders(self, prefix)

    def header_pairs(self, prefix: str = "") -> list[tuple[str, str]]:
        p = prefix
        return [
            (f"{p}Channel", self.name), (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{p}CallerIDNum", self.caller_num), (f"{p}CallerIDName", self.caller_name),
            (f"{p}ConnectedLineNum", self.connected_num), (f"{p}ConnectedLineName", self.connected_name),
            (f"{p}Language", "en"), (f"{p}AccountCode", ""), (f"{p}Context", self.context),
            (f"{p}Exten", self.exten), (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid), (f"{p}Linkedid", self.linkedid),
        ]


class ChannelHeaders:
    """A channel's header block as an iterable of pairs, built when iterated: `EventHub.emit` iterates it at
    once when someone listens and never otherwise (virtual-time runs emit hundreds of thousands of events)."""

    __slots__ = ("channel", "prefix")

    def __init__(self, channel: Channel, prefix: str) -> None:
        self.channel, self.prefix = channel, prefix

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.channel.header_pairs(self.prefix))

    def __add__(self, other: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [*self, *other]

    def __radd__(self, other: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [*other, *self]


class ChannelRegistry:
    def __init__(self) -> None:
        self._seq = 0
        self.by_name: dict[str, Channel] = {}

    def new(self, endpoint: str, role: str, now: float, linkedid: str | None = None, **kw: Any) -> Channel:
        n = self._seq
        self._seq += 1
        uniqueid = f"{int(now)}.{n}"
        channel = Channel(name=f"PJSIP/{endpoint}-{n:08x}", uniqueid=uniqueid, linkedid=linkedid or uniqueid,
                          endpoint=endpoint, role=role, created=now, **kw)
        self.by_name[channel.name] = channel
        return channel

    def get(self, name: str) -> Channel | None:
        channel = self.by_name.get(name)
        return channel if channel is not None and not channel.hungup else None

    def remove(self, channel: Channel) -> None:
        self.by_name.pop(channel.name, None)

    def alive(self) -> list[Channel]:
        return [c for c in self.by_name.values() if not c.hungup]
