"""The control flows as state machines: what the console asked for and what Asterisk answered.

What happens to the call afterwards is followed by the tracker's own machines and published on `calls`:
the transfer's dial by `bridge.transfers.state.TransferMachine`, the room by
`bridge.threeway.state.ThreeWayMachine`. These machines cover only the part the tracker cannot see: the
request, the invitation and the AMI action replies. Transitions are named after what causes them (an AMI
reply or event, or the expert's answer on the page).

Transfer (one key, 110/119/120): AMI Redirect of the citizen into `transfer-emergency`
    requested --redirect_response_success--> handed_over        (Asterisk hangs up the agent's leg)
    requested --redirect_response_error-->   failed             (e.g. "Channel does not exist")
    requested --hangup-->                    citizen_gone       (Hangup of the citizen's channel)

Three-way (expert by invitation, or 110 at once): Originate the member into room `3w-<call_id>`, then
Redirect the citizen (marked) with ExtraChannel = the agent into it
    inviting --expert_accepted--> originating      inviting --expert_declined--> declined
    originating --originate_response_success--> redirecting
    originating --originate_response_failure--> failed           (the member did not answer)
    redirecting --redirect_response_success--> joined
    redirecting --redirect_response_error--> citizen_gone        (the member's leg is hung up: room closed)
    inviting|originating|redirecting --hangup--> citizen_gone       (Hangup of the citizen's channel)
    joined --hangup--> closed                                       (the room closes with the citizen)

Consult (expert before transferring): AMI Atxfer of the agent's channel to the expert's seat; the citizen
waits on hold while the agent and the expert talk; the agent hanging up completes the transfer
    requested --atxfer_response_success--> consulting
    requested --atxfer_response_error--> failed
    requested|consulting --hangup--> citizen_gone
"""

from __future__ import annotations

from typing import Any, ClassVar

from bridge.machine import StateMachine

REQUESTED, HANDED_OVER, FAILED, CITIZEN_GONE = "requested", "handed_over", "failed", "citizen_gone"
INVITING, ORIGINATING, REDIRECTING, JOINED, DECLINED = "inviting", "originating", "redirecting", "joined", "declined"
CONSULTING, CLOSED = "consulting", "closed"


class ControlMachine(StateMachine):
    """Base: a persisted control flow for one call (JSON in Redis, see services.ControlStore)."""

    KIND: ClassVar[str] = ""
    __slots__ = ("data",)

    def __init__(self, call_id: str, state: str | None = None, data: dict[str, Any] | None = None) -> None:
        super().__init__(call_id, state)
        self.data: dict[str, Any] = data or {}

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.KIND, "call_id": self.key, "state": self.state, **self.data}


class TransferControl(ControlMachine):
    KIND = "transfer"
    INITIAL = REQUESTED
    FINAL = frozenset({HANDED_OVER, FAILED, CITIZEN_GONE})
    TRANSITIONS: ClassVar[dict[str, dict[str, tuple[str, ...]]]] = {
        "redirect_response_success": {REQUESTED: (HANDED_OVER,)},
        "redirect_response_error": {REQUESTED: (FAILED,)},
        "hangup": {REQUESTED: (CITIZEN_GONE,)},
    }


class ThreeWayControl(ControlMachine):
    KIND = "threeway"
    INITIAL = INVITING
    FINAL = frozenset({CLOSED, DECLINED, FAILED, CITIZEN_GONE})
    TRANSITIONS: ClassVar[dict[str, dict[str, tuple[str, ...]]]] = {
        "expert_accepted": {INVITING: (ORIGINATING,)},
        "expert_declined": {INVITING: (DECLINED,)},
        "originate_response_success": {ORIGINATING: (REDIRECTING,)},
        "originate_response_failure": {ORIGINATING: (FAILED,)},
        "redirect_response_success": {REDIRECTING: (JOINED,)},
        "redirect_response_error": {REDIRECTING: (CITIZEN_GONE,)},
        "hangup": {INVITING: (CITIZEN_GONE,), ORIGINATING: (CITIZEN_GONE,), REDIRECTING: (CITIZEN_GONE,),
                   JOINED: (CLOSED,)},
    }


class ConsultControl(ControlMachine):
    KIND = "consult"
    INITIAL = REQUESTED
    FINAL = frozenset({FAILED, CITIZEN_GONE})
    TRANSITIONS: ClassVar[dict[str, dict[str, tuple[str, ...]]]] = {
        "atxfer_response_success": {REQUESTED: (CONSULTING,)},
        "atxfer_response_error": {REQUESTED: (FAILED,)},
        "hangup": {REQUESTED: (CITIZEN_GONE,), CONSULTING: (CITIZEN_GONE,)},
    }


MACHINES: dict[str, type[ControlMachine]] = {m.KIND: m for m in (TransferControl, ThreeWayControl, ConsultControl)}


def from_json(data: dict[str, Any]) -> ControlMachine:
    data = dict(data)
    cls = MACHINES[data.pop("kind")]
    call_id, state = data.pop("call_id"), data.pop("state")
    return cls(call_id, state, data)
