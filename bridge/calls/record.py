"""What the tracker knows about one citizen call, and the snapshot it publishes (docs/CONTRACTS.md)."""

from __future__ import annotations

from typing import Any

from bridge.calls.state import CallMachine, CallState
from bridge.threeway.state import ThreeWayMachine
from bridge.transfers.state import TransferMachine

CITIZEN, AGENT, FAR_END, EXPERT = "citizen", "agent", "far_end", "expert"  # roles of channels in a call
QUEUE_CONTEXT = "hotline-queue"  # asterisk_config: one extension per queue, the last agent's Dial() then Queue()
MAX_IVR_PATH = 64  # AGI commands kept per call: a looping IVR must not grow a call without bound


def seat_of(channel_or_interface: str) -> str:
    """`PJSIP/1001-00000001` or `PJSIP/1001` -> `1001` (agents and experts are named by seat)."""
    name = channel_or_interface.split("/", 1)[-1]
    return name.rsplit("-", 1)[0] if "-" in name else name


class Call:
    __slots__ = (
        "abandoned", "agent", "agent_channel", "agent_left_at", "answered_at", "bridge", "call_id", "caller_name",
        "caller_number", "channel", "dialled_at", "direct_leg", "ended_at", "experts", "hangup_cause",
        "hangup_text", "ivr", "left_queue", "linkedid", "machine", "missed_by", "outcome", "position", "queue",
        "queued_at", "release_reason", "ringing", "started_at", "talk_seconds", "threeway", "transfer",
        "wait_seconds",
    )

    def __init__(self, call_id: str, linkedid: str, channel: str, number: str, name: str, ts: float) -> None:
        self.call_id = call_id
        self.linkedid = linkedid
        self.channel = channel
        self.caller_number = number
        self.caller_name = name
        self.started_at = ts
        self.machine = CallMachine(call_id)
        # path: the AGI scripts and commands run (AMI); steps: the IVR machine's states (HOTLINE_IVR_PATH)
        self.ivr: dict[str, Any] = {"category": None, "priority": None, "path": [], "steps": None}
        self.queue: str | None = None
        self.queued_at: float | None = None
        self.position: int | None = None
        self.ringing: dict[str, str] = {}   # agent id -> agent leg channel, while it rings
        self.missed_by: list[str] = []      # agents that rang without answering (AgentRingNoAnswer)
        self.direct_leg: str | None = None   # the last agent's leg while the dialplan's Dial() rings it
        self.dialled_at: float | None = None  # when that Dial() began: the caller's wait for a human starts
        self.agent: str | None = None
        self.agent_channel: str | None = None
        self.answered_at: float | None = None
        self.agent_left_at: float | None = None
        self.wait_seconds: float | None = None
        self.talk_seconds: float | None = None
        self.release_reason: str | None = None  # AgentComplete Reason: caller / agent / transfer
        self.abandoned = False
        self.left_queue = False
        self.bridge: str | None = None
        self.transfer: TransferMachine | None = None
        self.threeway: ThreeWayMachine | None = None
        self.experts: list[str] = []
        self.ended_at: float | None = None
        self.hangup_cause: int | None = None
        self.hangup_text: str | None = None
        self.outcome: str | None = None

    @property
    def state(self) -> str:
        return self.machine.state

    def decide_outcome(self) -> str:
        if self.transfer is not None and self.transfer.succeeded:
            return "transferred"
        if self.answered_at is not None:
            return "answered"
        if self.queued_at is None and self.dialled_at is None:
            return "ivr_only"
        if self.abandoned or (self.state in (CallState.QUEUED, CallState.RINGING) and not self.left_queue):
            return "abandoned"
        return "failed"  # left the queue unanswered (timeout, full queue) and was hung up by the dialplan

    def snapshot(self) -> dict[str, Any]:
        transfer = self.transfer
        return {
            "call_id": self.call_id,
            "linkedid": self.linkedid,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "channel": self.channel,
            "started_at": self.started_at,
            "ivr": {"category": self.ivr["category"], "priority": self.ivr["priority"],
                    "path": list(self.ivr["path"]), "steps": self.ivr["steps"]},
            "queue": self.queue,
            "queued_at": self.queued_at,
            "ringing": list(self.ringing),
            "missed_by": list(self.missed_by),
            "agent": self.agent,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "wait_seconds": self.wait_seconds,
            "talk_seconds": self.talk_seconds,
            "release_reason": self.release_reason,
            "outcome": self.outcome,
            "transfer_to": transfer.target if transfer is not None else None,
            "transfer": None if transfer is None else {"target": transfer.target, "kind": transfer.kind,
                                                       "state": transfer.state},
            "experts": list(self.experts),
            "conference": self.threeway.room if self.threeway is not None else None,
            "threeway_state": self.threeway.state if self.threeway is not None else None,
            "hangup_cause": self.hangup_cause,
            "hangup_text": self.hangup_text,
        }
