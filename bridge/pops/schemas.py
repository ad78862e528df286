"""The screen pop as it is published on `agent:<agent_id>` (docs/CONTRACTS.md "Screen pops")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

PopType = Literal["pop.ringing", "pop.answered", "pop.hangup", "invite.threeway"]


class KbHit(BaseModel):
    article_id: int
    title: str
    snippet: str
    category: str
    owner_unit: str
    article_type: str
    score: float


class Pop(BaseModel):
    model_config = ConfigDict(extra="allow")  # controls add keys (from_agent, mode, room, ...)

    type: PopType
    call_id: str
    agent_id: str
    caller_number: str | None
    caller_name: str | None = None
    ivr: dict[str, Any] | None
    queue: str | None = None
    wait_seconds: float | None
    history: dict[str, Any] | None
    kb_hits: list[KbHit]
    reason: str | None = None   # pop.hangup: ended, answered_elsewhere, ring_noanswer
    ts: float                   # when the bridge received the AMI event that caused it (epoch s)
    source_id: str | None = None  # the `calls` entry it was made from
