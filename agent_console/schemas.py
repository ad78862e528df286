"""Request and response bodies of the console's own API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hotline.security import Role
from hotline.text import Text

AgentState = Literal["idle", "paused", "wrapup"]
PauseReason = Literal["meal", "meeting", "training", "other"]
PAUSE_REASON_LABELS = {"meal": "用餐", "meeting": "会议", "training": "培训", "other": "其他"}


class Me(BaseModel):
    username: str
    role: Role
    agent_id: str | None
    csrf_token: str
    sees_full_numbers: bool


class StateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: AgentState
    reason: PauseReason | None = Field(None, description="required with state=paused (示忙原因)")


class StateAccepted(BaseModel):
    agent_id: str
    state: AgentState
    reason: PauseReason | None
    event_id: str


class UserOut(BaseModel):
    username: str
    role: Role
    agent_id: str | None
    display_name: str | None
    active: bool


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Text = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Role
    agent_id: Text | None = None
    display_name: Text | None = Field(None, max_length=64)


class ConfirmedState(BaseModel):
    """The ACD's confirmed state of a seat (acd.state.AgentState values and labels)."""
    agent_id: str
    state: str
    label: str
    reason: str | None
    since: float | None
    call_id: str | None
