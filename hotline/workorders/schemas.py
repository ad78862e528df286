"""Pydantic schemas of the work-order API (OpenAPI-documented)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from hotline.domain import Category, Channel, OrderStatus, Urgency
from hotline.text import Text  # str without NUL (PostgreSQL text cannot hold it): 422, not 500
from hotline.workorders.state import OrderEvent

PHONE = r"^\+?[0-9]{3,20}$"
MAX_ID = 2_147_483_647  # INTEGER columns on PostgreSQL: a larger id is a 422, not a database error
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    content: Text = Field(min_length=1, max_length=4000, description="the citizen's request in their words")
    channel: Channel = Channel.phone
    urgency: Urgency = Urgency.normal
    caller_name: Text | None = Field(None, max_length=100)
    caller_number: str | None = Field(None, pattern=PHONE, description="digits only, e.g. 13912345678")
    caller_personal: dict[Text, Text] | None = Field(None, description="other personal data (ID number, address)")
    confidential: bool = Field(False, description="保密件 (Foshan art. 60): caller data shown only to supervisors")
    location: Text | None = Field(None, max_length=255)
    lead_unit_id: DbId | None = None
    co_unit_ids: list[DbId] = Field(default_factory=list, max_length=20)
    call_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=20)
    kb_article_ids: list[DbId] = Field(default_factory=list, max_length=20)
    answer: Text | None = Field(None, min_length=1, max_length=4000,
                               description="set when a consultation was answered from the KB on the call: "
                                           "the order is closed on the spot (即时办结, Ziyang art. 12)")


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: OrderEvent
    note: Text | None = Field(None, max_length=4000, description="reasons, answer or special circumstances")
    unit_id: DbId | None = Field(None, description="dispatch: the lead handling unit")
    co_unit_ids: list[DbId] = Field(default_factory=list, max_length=20)
    satisfaction: int | None = Field(None, ge=1, le=5, description="revisit: 1 very dissatisfied .. 5 very satisfied")
    expected_version: DbId | None = Field(None, description="refuse if the order changed since it was read")


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    urgency: Urgency = Urgency.normal
    at: datetime | None = Field(None, description="acceptance time (aware); default now")


class DeadlineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    due_at: datetime
    provisional: bool
    rule: str
    label: str | None = None
    met_at: datetime | None = None
    extensions: int = 0


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event: str
    from_status: str | None
    to_status: str
    actor: str
    at: datetime
    note: str | None
    unit_id: int | None


class UnitRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    unit_id: int
    role: str


class OrderOut(BaseModel):
    id: int
    number: str
    created_at: datetime
    updated_at: datetime
    status: OrderStatus
    status_label: str
    channel: str
    category: str
    urgency: str
    caller_name: str | None
    caller_number: str | None
    caller_personal: dict[str, Any] | None
    confidential: bool
    masked: bool = Field(description="caller data were masked for this reader")
    content: str
    location: str | None
    units: list[UnitRef]
    call_ids: list[str]
    kb_article_ids: list[int]
    deadlines: list[DeadlineOut]
    answer: str | None
    terminal_reply: str | None
    repeat_of_id: int | None
    repeat_of_terminal_reply: str | None = Field(None, description="终结件 reply to give instead of dispatching")
    extensions: int
    satisfaction: int | None
    version: int
    allowed_events: list[str]
    transitions: list[TransitionOut] | None = None


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_before_id: int | None
