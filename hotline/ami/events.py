"""Typed AMI events: `parse_event(frame)` turns a `Frame` into a slots dataclass named after the event.

Field names are the AMI headers in snake_case (`CallerIDNum` -> `caller_id_num`, `Cause-txt` ->
`cause_txt`); numbers become `int`/`float` (`None` when the header is missing or not a number), yes/no and
0/1 flags become `bool`. Every event keeps its `frame`, so a header without a field is still reachable
(`event.frame.get("X")`, `event.frame.getall("ChanVariable")`). An event name without a class parses to
the generic `AmiEvent`.

Construction must stay cheap (the call tracker has to keep up with 30,000 events/s): each class gets a
constructor compiled once, at import, that reads its headers straight from the frame's dict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from hotline.ami.frames import Frame

__all__ = ["EVENT_TYPES", "AmiEvent", "parse_event"]

# Words whose AMI spelling is not plain TitleCase.
_SPECIAL_WORDS = {"id": "ID", "cid": "CID", "tv": "TV", "aor": "AOR", "uri": "URI", "dnid": "DNID", "dtmf": "DTMF",
                  "ssrc": "SSRC", "ntp": "NTP", "rtp": "RTP", "pt": "PT", "mes": "MES", "dlsr": "DLSR", "lsr": "LSR",
                  "ia": "IA"}
_TRUE = frozenset({"1", "yes", "Yes", "YES", "true", "True", "on", "On"})


def header(name: str, default: Any = None) -> Any:
    """A field whose AMI header is spelt irregularly (e.g. `Cause-txt`, `CommandId`)."""
    return field(default=default, metadata={"header": name})


def header_name(field_name: str) -> str:
    return "".join(_SPECIAL_WORDS.get(part, part.capitalize()) for part in field_name.split("_"))


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _bool(value: str | None) -> bool | None:
    return None if value is None else value in _TRUE


_CONVERTERS: dict[str, tuple[str, Any]] = {
    # annotation -> (converter name in the compiled constructor, default for a missing header)
    "str": ("", ""),
    "int | None": ("_int", None),
    "float | None": ("_float", None),
    "bool | None": ("_bool", None),
}


@dataclass(slots=True)
class AmiEvent:
    """Any event; the typed subclasses below add fields. `name` is the `Event` header."""

    frame: Frame

    @property
    def name(self) -> str:
        return self.frame.headers.get("Event", "")

    @property
    def action_id(self) -> str | None:
        """Set on events that answer an action (list items, OriginateResponse)."""
        return self.frame.headers.get("ActionID")


EVENT_TYPES: dict[str, type[AmiEvent]] = {}
_FACTORIES: dict[str, Callable[[Frame, dict[str, str]], AmiEvent]] = {}
E = TypeVar("E", bound=type[AmiEvent])


def _compile(cls: type[AmiEvent]) -> Callable[[Frame, dict[str, str]], AmiEvent]:
    args = []
    for f in fields(cls)[1:]:  # fields()[0] is `frame`
        if f.type not in _CONVERTERS:
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported annotation {f.type!r}")
        conv, default = _CONVERTERS[f.type]
        name = f.metadata.get("header") or header_name(f.name)
        args.append(f"{conv}(g({name!r}))" if conv else f"g({name!r}, {default!r})")
    source = f"def make(frame, h):\n    g = h.get\n    return cls(frame, {', '.join(args)})\n"
    namespace: dict[str, Any] = {"cls": cls, "_int": _int, "_float": _float, "_bool": _bool}
    exec(source, namespace)  # compiled once per class: a plain positional call is the cheapest constructor
    return namespace["make"]


def event(*names: str) -> Callable[[E], E]:
    """Register a dataclass for the event named like the class (or for the given names)."""

    def register(cls: E) -> E:
        factory = _compile(cls)
        for name in names or (cls.__name__,):
            EVENT_TYPES[name] = cls
            _FACTORIES[name] = factory
        return cls

    return register


def parse_event(frame: Frame) -> AmiEvent:
    headers = frame.headers
    factory = _FACTORIES.get(headers.get("Event", ""))
    return AmiEvent(frame) if factory is None else factory(frame, headers)


# --- shared header groups -------------------------------------------------------------------------------


@dataclass(slots=True)
class ChannelEvent(AmiEvent):
    """The channel snapshot Asterisk puts on every channel event."""

    channel: str = ""
    channel_state: int | None = None
    channel_state_desc: str = ""
    caller_id_num: str = ""
    caller_id_name: str = ""
    connected_line_num: str = ""
    connected_line_name: str = ""
    language: str = ""
    account_code: str = ""
    context: str = ""
    exten: str = ""
    priority: int | None = None
    uniqueid: str = ""
    linkedid: str = ""


@dataclass(slots=True)
class DestChannelEvent(ChannelEvent):
    """Events with a second channel: the queue events name the citizen `Channel`, the agent leg `DestChannel`."""

    dest_channel: str = ""
    dest_channel_state: int | None = None
    dest_channel_state_desc: str = ""
    dest_caller_id_num: str = ""
    dest_caller_id_name: str = ""
    dest_connected_line_num: str = ""
    dest_connected_line_name: str = ""
    dest_language: str = ""
    dest_account_code: str = ""
    dest_context: str = ""
    dest_exten: str = ""
    dest_priority: int | None = None
    dest_uniqueid: str = ""
    dest_linkedid: str = ""


@dataclass(slots=True)
class QueueAgentEvent(DestChannelEvent):
    queue: str = ""
    interface: str = ""
    member_name: str = ""


@dataclass(slots=True)
class BridgeEvent(AmiEvent):
    bridge_uniqueid: str = ""
    bridge_type: str = ""
    bridge_technology: str = ""
    bridge_creator: str = ""
    bridge_name: str = ""
    bridge_num_channels: int | None = None
    bridge_video_source_mode: str = ""


@dataclass(slots=True)
class BridgeChannelEvent(ChannelEvent):
    bridge_uniqueid: str = ""
    bridge_type: str = ""
    bridge_technology: str = ""
    bridge_creator: str = ""
    bridge_name: str = ""
    bridge_num_channels: int | None = None
    bridge_video_source_mode: str = ""


@dataclass(slots=True)
class QueueMemberEvent(AmiEvent):
    """QueueMemberAdded/Removed/Status/Pause/Penalty/Ringinuse: one member's full state."""

    queue: str = ""
    member_name: str = ""
    interface: str = ""
    state_interface: str = ""
    membership: str = ""
    penalty: int | None = None
    calls_taken: int | None = None
    last_call: int | None = None
    last_pause: int | None = None
    login_time: int | None = None
    in_call: bool | None = None
    status: int | None = None  # AST_DEVICE_*: 1 not in use, 2 in use, 5 unavailable, 6 ringing ...
    paused: bool | None = None
    paused_reason: str = ""
    ringinuse: bool | None = None
    wrapuptime: int | None = None


# --- channel lifecycle ----------------------------------------------------------------------------------


@event()
@dataclass(slots=True)
class Newchannel(ChannelEvent):
    pass


@event()
@dataclass(slots=True)
class Newstate(ChannelEvent):
    pass


@event()
@dataclass(slots=True)
class NewCallerid(ChannelEvent):
    cid_calling_pres: str = header("CID-CallingPres", "")


@event()
@dataclass(slots=True)
class NewConnectedLine(ChannelEvent):
    pass


@event()
@dataclass(slots=True)
class Newexten(ChannelEvent):
    extension: str = ""
    application: str = ""
    app_data: str = ""


@event()
@dataclass(slots=True)
class VarSet(ChannelEvent):
    variable: str = ""
    value: str = ""


@event()
@dataclass(slots=True)
class Hangup(ChannelEvent):
    cause: int | None = None
    cause_txt: str = header("Cause-txt", "")


@event()
@dataclass(slots=True)
class HangupRequest(ChannelEvent):
    cause: int | None = None


@event()
@dataclass(slots=True)
class SoftHangupRequest(ChannelEvent):
    cause: int | None = None


@event()
@dataclass(slots=True)
class Hold(ChannelEvent):
    music_class: str = header("MusicClass", "")


@event()
@dataclass(slots=True)
class Unhold(ChannelEvent):
    pass


@event()
@dataclass(slots=True)
class MusicOnHoldStart(ChannelEvent):
    music_class: str = header("Class", "")


@event()
@dataclass(slots=True)
class MusicOnHoldStop(ChannelEvent):
    pass


@event()
@dataclass(slots=True)
class DTMFBegin(ChannelEvent):
    digit: str = ""
    direction: str = ""


@event()
@dataclass(slots=True)
class DTMFEnd(ChannelEvent):
    digit: str = ""
    direction: str = ""
    duration_ms: int | None = None


@event()
@dataclass(slots=True)
class AGIExecStart(ChannelEvent):
    command: str = ""
    command_id: str = header("CommandId", "")


@event()
@dataclass(slots=True)
class AGIExecEnd(ChannelEvent):
    command: str = ""
    command_id: str = header("CommandId", "")
    result_code: int | None = None
    result: str = ""


@event()
@dataclass(slots=True)
class RTCPSent(ChannelEvent):
    to: str = ""
    from_: str = header("From", "")
    ssrc: str = ""
    report_count: int | None = None


@event()
@dataclass(slots=True)
class RTCPReceived(ChannelEvent):
    to: str = ""
    from_: str = header("From", "")
    ssrc: str = ""
    report_count: int | None = None


# --- dialing --------------------------------------------------------------------------------------------


@event()
@dataclass(slots=True)
class DialBegin(DestChannelEvent):
    dial_string: str = ""


@event()
@dataclass(slots=True)
class DialState(DestChannelEvent):
    dial_status: str = ""


@event()
@dataclass(slots=True)
class DialEnd(DestChannelEvent):
    dial_status: str = ""
    forward: str = ""


@event()
@dataclass(slots=True)
class OriginateResponse(AmiEvent):
    response: str = ""  # Success / Failure
    channel: str = ""
    context: str = ""
    exten: str = ""
    application: str = ""
    data: str = ""
    reason: int | None = None  # AST_CONTROL_*: 4 answered, 3 no answer, 5 busy, 1 hung up, 0 failure
    uniqueid: str = ""
    caller_id_num: str = ""
    caller_id_name: str = ""


# --- queues ---------------------------------------------------------------------------------------------


@event()
@dataclass(slots=True)
class QueueCallerJoin(ChannelEvent):
    queue: str = ""
    position: int | None = None
    count: int | None = None


@event()
@dataclass(slots=True)
class QueueCallerLeave(ChannelEvent):
    queue: str = ""
    position: int | None = None
    count: int | None = None


@event()
@dataclass(slots=True)
class QueueCallerAbandon(ChannelEvent):
    queue: str = ""
    position: int | None = None
    original_position: int | None = None
    hold_time: int | None = None  # seconds


@event()
@dataclass(slots=True)
class AgentCalled(QueueAgentEvent):
    pass


@event()
@dataclass(slots=True)
class AgentConnect(QueueAgentEvent):
    hold_time: int | None = None
    ring_time: int | None = None


@event()
@dataclass(slots=True)
class AgentComplete(QueueAgentEvent):
    hold_time: int | None = None
    talk_time: int | None = None
    reason: str = ""  # caller, agent, transfer


@event()
@dataclass(slots=True)
class AgentRingNoAnswer(QueueAgentEvent):
    ring_time: int | None = None  # milliseconds


@event()
@dataclass(slots=True)
class AgentDump(QueueAgentEvent):
    pass


@event()
@dataclass(slots=True)
class QueueMemberAdded(QueueMemberEvent):
    pass


@event()
@dataclass(slots=True)
class QueueMemberRemoved(QueueMemberEvent):
    pass


@event()
@dataclass(slots=True)
class QueueMemberStatus(QueueMemberEvent):
    pass


@event()
@dataclass(slots=True)
class QueueMemberPause(QueueMemberEvent):
    pass


@event()
@dataclass(slots=True)
class QueueMemberPenalty(QueueMemberEvent):
    pass


@event()
@dataclass(slots=True)
class QueueMemberRinginuse(QueueMemberEvent):
    pass


# --- bridges, transfers, conferences ---------------------------------------------------------------------


@event()
@dataclass(slots=True)
class BridgeCreate(BridgeEvent):
    pass


@event()
@dataclass(slots=True)
class BridgeDestroy(BridgeEvent):
    pass


@event()
@dataclass(slots=True)
class BridgeEnter(BridgeChannelEvent):
    swap_uniqueid: str = ""


@event()
@dataclass(slots=True)
class BridgeLeave(BridgeChannelEvent):
    pass


@event()
@dataclass(slots=True)
class BlindTransfer(BridgeEvent):
    result: str = ""
    is_external: bool | None = None
    context: str = ""
    extension: str = ""
    transferer_channel: str = ""
    transferer_uniqueid: str = ""
    transferer_linkedid: str = ""
    transferer_caller_id_num: str = ""
    transferee_channel: str = ""
    transferee_uniqueid: str = ""
    transferee_linkedid: str = ""
    transferee_caller_id_num: str = ""
    transferee_caller_id_name: str = ""


@event()
@dataclass(slots=True)
class AttendedTransfer(AmiEvent):
    result: str = ""
    dest_type: str = ""
    orig_transferer_channel: str = ""
    orig_transferer_uniqueid: str = ""
    second_transferer_channel: str = ""
    second_transferer_uniqueid: str = ""
    transferee_channel: str = ""
    transferee_uniqueid: str = ""
    transfer_target_channel: str = ""
    transfer_target_uniqueid: str = ""


@event()
@dataclass(slots=True)
class ConfbridgeStart(BridgeEvent):
    conference: str = ""


@event()
@dataclass(slots=True)
class ConfbridgeEnd(BridgeEvent):
    conference: str = ""


@event()
@dataclass(slots=True)
class ConfbridgeJoin(BridgeChannelEvent):
    conference: str = ""
    admin: bool | None = None
    muted: bool | None = None


@event()
@dataclass(slots=True)
class ConfbridgeLeave(BridgeChannelEvent):
    conference: str = ""
    admin: bool | None = None


# --- system ---------------------------------------------------------------------------------------------


@event()
@dataclass(slots=True)
class FullyBooted(AmiEvent):
    status: str = ""
    uptime: int | None = None
    last_reload: int | None = None


@event()
@dataclass(slots=True)
class Shutdown(AmiEvent):
    shutdown: str = ""
    restart: bool | None = None


@event()
@dataclass(slots=True)
class Reload(AmiEvent):
    module: str = ""
    status: int | None = None


@event()
@dataclass(slots=True)
class DeviceStateChange(AmiEvent):
    device: str = ""
    state: str = ""  # NOT_INUSE, INUSE, RINGING, UNAVAILABLE ...


@event()
@dataclass(slots=True)
class ContactStatus(AmiEvent):
    uri: str = ""
    contact_status: str = ""
    aor: str = ""
    endpoint_name: str = ""
    roundtrip_usec: int | None = None


@event()
@dataclass(slots=True)
class UserEvent(AmiEvent):
    """`UserEvent(name,key: value...)` from the dialplan; its own headers stay on `.frame`."""

    user_event: str = ""
    channel: str = ""
    uniqueid: str = ""
    linkedid: str = ""


@event()
@dataclass(slots=True)
class SuccessfulAuth(AmiEvent):
    service: str = ""
    account_id: str = ""
    session_id: str = ""
    remote_address: str = ""
    local_address: str = ""
    using_password: bool | None = None


# --- list-action items (QueueStatus, QueueSummary, CoreShowChannels, Status, ConfbridgeList*) ------------


@event()
@dataclass(slots=True)
class QueueParams(AmiEvent):
    queue: str = ""
    max: int | None = None
    strategy: str = ""
    calls: int | None = None
    holdtime: int | None = None
    talk_time: int | None = None
    completed: int | None = None
    abandoned: int | None = None
    service_level: int | None = None
    servicelevel_perf: float | None = None
    servicelevel_perf2: float | None = None
    weight: int | None = None


@event()
@dataclass(slots=True)
class QueueMember(AmiEvent):
    """A member in a QueueStatus reply (its interface is `Location`, its member name `Name`)."""

    queue: str = ""
    name_: str = header("Name", "")
    location: str = ""
    state_interface: str = ""
    membership: str = ""
    penalty: int | None = None
    calls_taken: int | None = None
    last_call: int | None = None
    last_pause: int | None = None
    login_time: int | None = None
    in_call: bool | None = None
    status: int | None = None
    paused: bool | None = None
    paused_reason: str = ""
    wrapuptime: int | None = None

    @property
    def interface(self) -> str:
        return self.location

    @property
    def member_name(self) -> str:
        return self.name_


@event()
@dataclass(slots=True)
class QueueEntry(AmiEvent):
    """A caller waiting in a queue, in a QueueStatus reply."""

    queue: str = ""
    position: int | None = None
    channel: str = ""
    uniqueid: str = ""
    caller_id_num: str = ""
    caller_id_name: str = ""
    connected_line_num: str = ""
    connected_line_name: str = ""
    wait: int | None = None  # seconds in the queue so far
    priority: int | None = None


@event()
@dataclass(slots=True)
class QueueSummary(AmiEvent):
    queue: str = ""
    logged_in: int | None = None
    available: int | None = None
    callers: int | None = None
    hold_time: int | None = None
    talk_time: int | None = None
    longest_hold_time: int | None = None


@event()
@dataclass(slots=True)
class CoreShowChannel(ChannelEvent):
    application: str = ""
    application_data: str = ""
    duration: str = ""  # HH:MM:SS
    bridge_id: str = header("BridgeId", "")


@event()
@dataclass(slots=True)
class Status(ChannelEvent):
    type: str = ""
    dnid: str = ""
    bridge_id: str = header("BridgeID", "")
    application: str = ""
    data: str = ""
    seconds: int | None = None


@event()
@dataclass(slots=True)
class ConfbridgeList(ChannelEvent):
    conference: str = ""
    admin: bool | None = None
    marked_user: bool | None = None
    wait_marked: bool | None = None
    end_marked: bool | None = None
    waiting: bool | None = None
    muted: bool | None = None
    talking: bool | None = None
    answered_time: int | None = None


@event()
@dataclass(slots=True)
class ConfbridgeListRooms(AmiEvent):
    conference: str = ""
    parties: int | None = None
    marked: int | None = None
    locked: bool | None = None
    muted: bool | None = None


@event("QueueStatusComplete", "QueueSummaryComplete", "CoreShowChannelsComplete", "StatusComplete",
       "ConfbridgeListComplete", "ConfbridgeListRoomsComplete")
@dataclass(slots=True)
class ListComplete(AmiEvent):
    event_list: str = ""
    list_items: int | None = None
