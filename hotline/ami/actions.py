"""AMI actions: how each one is answered, and the errors a caller can get.

panoramisk 1.4 guesses the reply shape from the first reply's `Message` (anything ending "to queue" is
taken for the start of a list, so `QueueAdd` never completes) and reads `action['async']` on a
"successfully queued" reply, a KeyError that kills the connection when `Originate` has no `Async`
header. Here the shape is decided by the action's name (`SINGLE_ACTIONS`, `LIST_ACTIONS`); an action in
neither table is a list only when Asterisk says so (`EventList: start`).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Mapping

from hotline.ami.frames import Frame

# One reply frame, whatever its Message says.
SINGLE_ACTIONS = frozenset(name.lower() for name in (
    "Login", "Logoff", "Ping", "Events", "Filter", "Originate", "Hangup", "Redirect", "BlindTransfer", "Atxfer",
    "Setvar", "Getvar", "PlayDTMF", "SendText", "Command", "QueueAdd", "QueueRemove", "QueuePause",
    "QueuePenalty", "QueueLog", "QueueReload", "QueueReset", "QueueMemberRingInUse", "QueueChangePriorityCaller",
    "QueueWithdrawCaller", "ConfbridgeKick", "ConfbridgeMute", "ConfbridgeUnmute", "ConfbridgeLock",
    "ConfbridgeUnlock", "MixMonitor", "StopMixMonitor", "Bridge", "CoreSettings", "Reload", "AbsoluteTimeout",
    "MuteAudio", "UserEvent", "ExtensionState", "MailboxCount", "DBGet", "DBPut", "DBDel",
))
# A first reply (`EventList: start`), then events, then `<Name>Complete`.
LIST_ACTIONS = frozenset(name.lower() for name in (
    "QueueStatus", "QueueSummary", "CoreShowChannels", "Status", "ConfbridgeList", "ConfbridgeListRooms",
    "BridgeList", "BridgeInfo", "DeviceStateList", "ExtensionStateList", "PJSIPShowEndpoints",
    "PJSIPShowEndpoint", "PJSIPShowContacts", "PJSIPShowAors", "ShowDialPlan", "Agents", "QueueRule",
))
# Always sent asynchronously: the reply would otherwise wait for the far end (Originate) or the digits.
ASYNC_ACTIONS = frozenset({"originate", "playdtmf"})


class AmiError(Exception):
    """Base of every error the AMI client raises."""


def redacted(action: Mapping[str, object]) -> dict[str, object]:
    """The action as it may be logged or kept on an exception: never the Login secret."""
    return {k: ("***" if k.lower() == "secret" else v) for k, v in action.items()}


class AmiActionError(AmiError):
    """Asterisk answered `Response: Error` (or `Fail`/`Failure`); the frame is kept."""

    def __init__(self, action: Mapping[str, object], frame: Frame) -> None:
        self.action = redacted(action)
        self.frame = frame
        self.message = frame.get("Message", "") or ""
        super().__init__(f"AMI {action.get('Action')} failed: {self.message or frame.response}")


class AmiActionTimeout(AmiError, TimeoutError):
    """No complete reply within the action timeout (the connection may be dead)."""

    def __init__(self, action: Mapping[str, object], timeout: float, frames: list[Frame]) -> None:
        self.action = redacted(action)
        self.timeout = timeout
        self.frames = frames  # what did arrive (part of a list), for diagnosis
        super().__init__(f"AMI {action.get('Action')} got no complete reply within {timeout:g} s "
                         f"(ActionID {action.get('ActionID')}, {len(frames)} frame(s) received)")


class AmiLoginError(AmiActionError):
    """Asterisk refused the Login (wrong user or secret)."""


class AmiNotConnected(AmiError, ConnectionError):
    """The link to Asterisk is down (and did not come back within the action timeout)."""


class AmiConnectionLost(AmiError, ConnectionError):
    """The connection dropped while the action waited for its reply. It is not re-sent: it may have run."""


_ids = itertools.count(1)
_prefix = f"hl-{os.getpid()}-"


def next_action_id() -> str:
    return f"{_prefix}{next(_ids)}"


Headers = dict[str, "str | list[str]"]


def prepare(action: Mapping[str, object]) -> Headers:
    """The headers to send: `Action` first, an ActionID, `Async: true` where it must be.

    A list or tuple value is sent as the same header repeated (`Variable: A=1`, `Variable: B=2`).
    """
    if "Action" not in action:
        raise ValueError("an AMI action needs an 'Action' header")
    headers: Headers = {"Action": str(action["Action"])}
    for key, value in action.items():
        if not key or any(c in key for c in ": \r\n"):
            raise ValueError(f"not an AMI header name: {key!r}")
        if key != "Action":
            headers[key] = [_text(v) for v in value] if isinstance(value, list | tuple) else _text(value)
    name = str(headers["Action"]).lower()
    if name in ASYNC_ACTIONS:
        headers = {k: v for k, v in headers.items() if k.lower() != "async"} | {"Async": "true"}
    headers.setdefault("ActionID", next_action_id())
    return headers


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    return [(k, item) for k, v in headers.items() for item in (v if isinstance(v, list) else [v])]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def is_error(frame: Frame) -> bool:
    return frame.response in ("Error", "Fail", "Failure")


class PendingAction:
    """An action waiting for its reply frames; the future resolves to a `Frame` or a `list[Frame]`."""

    __slots__ = ("action", "frames", "future", "kind", "name")

    def __init__(self, action: Headers) -> None:
        self.action = action
        self.name = str(action["Action"]).lower()
        self.kind = "single" if self.name in SINGLE_ACTIONS else "list" if self.name in LIST_ACTIONS else "auto"
        self.frames: list[Frame] = []
        self.future: asyncio.Future[Frame | list[Frame]] = asyncio.get_running_loop().create_future()

    @property
    def action_id(self) -> str:
        return str(self.action["ActionID"])

    def add(self, frame: Frame) -> bool:
        """Take one frame carrying our ActionID; True when the reply is complete."""
        if self.future.done():
            return True
        if not self.frames and frame.response is None:
            return False  # an event with our ActionID before the reply (not seen in practice): not ours
        self.frames.append(frame)
        first = self.frames[0]
        if len(self.frames) == 1:
            if is_error(first) or self.kind == "single":
                self.future.set_result(first)
                return True
            if self.kind == "auto" and (first.get("EventList") or "").lower() != "start":
                self.future.set_result(first)
                return True
            return False
        if (frame.get("EventList") or "").lower() == "complete" or (frame.event or "").endswith("Complete"):
            self.future.set_result(list(self.frames))
            return True
        return False

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)
