"""The Transfer machine: one hand-off of the citizen to another number (110/119/120 and the like).

Two ways in, as the recordings show:
- AMI `BlindTransfer` on the agent's channel: Asterisk sends a `BlindTransfer` event naming the citizen
  as `TransfereeChannel` and the target as `Extension` (blindxfer119);
- AMI `Redirect` of the citizen's channel into the transfer context: no event names it, the first sign
  is the citizen's `DialBegin` with `DialString: 110@emergency` (redirect110).

    requested --dial_begin--> dialing --dial_answered--> connected --hangup--> completed
    (new) --blind_transfer--> requested        (new) --dial_begin--> dialing
    dialing --dial_failed--> failed            requested|dialing --hangup--> failed
"""

from __future__ import annotations

from typing import ClassVar

from bridge.machine import StateMachine

NEW, REQUESTED, DIALING, CONNECTED, COMPLETED, FAILED = (
    "new", "requested", "dialing", "connected", "completed", "failed")

TRANSFER_TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "blind_transfer": {NEW: (REQUESTED,)},                 # BlindTransfer event
    "dial_begin": {NEW: (DIALING,), REQUESTED: (DIALING,)},  # DialBegin from the citizen's channel
    "dial_answered": {DIALING: (CONNECTED,)},              # DialEnd DialStatus=ANSWER
    "dial_failed": {DIALING: (FAILED,)},                   # DialEnd with any other DialStatus
    "hangup": {CONNECTED: (COMPLETED,), REQUESTED: (FAILED,), DIALING: (FAILED,)},  # citizen's Hangup
}


class TransferMachine(StateMachine):
    TRANSITIONS: ClassVar[dict[str, dict[str, tuple[str, ...]]]] = TRANSFER_TRANSITIONS
    INITIAL: ClassVar[str] = NEW
    FINAL: ClassVar[frozenset[str]] = frozenset({COMPLETED, FAILED})

    __slots__ = ("channel", "kind", "target")

    def __init__(self, key: str, target: str, kind: str) -> None:
        super().__init__(key)
        self.target = target  # the number dialled: "110", "119", "120", or an extension
        self.kind = kind      # "blind" (BlindTransfer) or "redirect" (Redirect then Dial)
        self.channel: str | None = None  # the far end's channel once dialled

    @property
    def succeeded(self) -> bool:
        return self.state in (CONNECTED, COMPLETED)


def dial_target(dial_string: str) -> str:
    """`110@emergency` -> `110`; `PJSIP/110@emergency` -> `110`; `PJSIP/1002` -> `1002`."""
    target = dial_string.rsplit("/", 1)[-1]
    return target.split("@", 1)[0].split(",", 1)[0]
