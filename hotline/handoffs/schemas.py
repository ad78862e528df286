"""Hand-off (警单) schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from hotline.domain import EmergencyService
from hotline.text import Text


class HandoffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: EmergencyService = Field(description="110 police, 119 fire, 120 ambulance")
    summary: Text = Field(min_length=1, max_length=2000, description="what the caller reported")
    call_id: Text | None = Field(None, max_length=64)
    order_id: int | None = Field(None, ge=1, le=2_147_483_647)
    caller_number: str | None = Field(None, pattern=r"^\+?[0-9]{3,20}$")
    caller_name: Text | None = Field(None, max_length=100)
    location: Text | None = Field(None, max_length=255)


class HandoffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    service: str
    call_id: str | None
    order_id: int | None
    order_number: str | None
    caller_number: str | None
    caller_name: str | None
    location: str | None
    summary: str
    created_at: datetime
    created_by: str
