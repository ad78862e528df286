"""Bodies and replies of the call-control routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hotline.text import Text


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Literal["110", "119", "120"]
    summary: Text | None = Field(None, max_length=2000, description="警情摘要 for the hand-off record")
    location: Text | None = Field(None, max_length=255)
    order_id: int | None = None


class ThreeWayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Literal["expert", "110"]
    summary: Text | None = Field(None, max_length=2000)
    location: Text | None = Field(None, max_length=255)


class ConsultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Literal["expert"] = "expert"


class Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ControlOut(BaseModel):
    call_id: str
    kind: str
    state: str
    target: str | None = None
    expert: str | None = None
    room: str | None = None
    handoff_id: int | None = None
    message: str
