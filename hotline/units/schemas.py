"""Handling-unit schemas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hotline.text import Text


class UnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name: Text = Field(min_length=1, max_length=200)
    parent_id: int | None = Field(None, ge=1, le=2_147_483_647)
    contact_phone: str | None = Field(None, pattern=r"^\+?[0-9-]{3,20}$")


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    parent_id: int | None
    contact_phone: str | None
    active: bool
