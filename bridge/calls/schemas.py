"""The call events on stream `calls` as pydantic models (docs/CONTRACTS.md "Call events").

The tracker builds plain dicts on its hot path; these models document the shape and let consumers and
tests validate what they read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Transition = Literal["started", "queued", "ringing", "ring_noanswer", "answered", "transferred",
                     "conference_joined", "conference_left", "ended"]
CallStateName = Literal["ivr", "queued", "ringing", "talking", "transferred", "in_conference", "ended"]
Outcome = Literal["answered", "abandoned", "transferred", "ivr_only", "failed"]


class IvrResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None
    priority: int | None
    path: list[str]
    steps: list[str] | None = None  # the IVR machine's states (HOTLINE_IVR_PATH), when the platform's IVR ran


class TransferInfo(BaseModel):
    target: str
    kind: Literal["blind", "redirect"]
    state: Literal["new", "requested", "dialing", "connected", "completed", "failed"]


class CallSnapshot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: str
    linkedid: str
    caller_number: str
    caller_name: str
    channel: str
    started_at: float
    ivr: IvrResult
    queue: str | None
    queued_at: float | None
    ringing: list[str]          # agents ringing right now
    missed_by: list[str]        # agents that rang without answering
    agent: str | None
    answered_at: float | None
    ended_at: float | None
    wait_seconds: float | None
    talk_seconds: float | None
    release_reason: str | None  # AgentComplete Reason: caller / agent / transfer
    outcome: Outcome | None     # set on call.ended
    transfer_to: str | None
    transfer: TransferInfo | None
    experts: list[str]
    conference: str | None
    threeway_state: str | None
    hangup_cause: int | None
    hangup_text: str | None


class Party(BaseModel):
    role: Literal["citizen", "agent", "expert"]
    seat: str | None


class CallEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    call_id: str
    ts: float
    state: CallStateName
    call: CallSnapshot
    agent: str | None = None        # ringing, ring_noanswer, answered
    transfer_to: str | None = None  # transferred
    party: Party | None = None      # conference_joined / conference_left
    resync: bool | None = None      # built from a resynchronisation after a reconnect

    @property
    def transition(self) -> Transition:
        return self.type.removeprefix("call.")  # type: ignore[return-value]
