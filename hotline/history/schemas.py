"""Caller history as the screen pop and the console show it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class DeadlineView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    due_at: datetime
    provisional: bool
    rule: str
    met_at: datetime | None
    overdue: bool


class OrderView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    created_at: datetime
    status: str
    category: str
    urgency: str
    content: str
    location: str | None
    confidential: bool
    satisfaction: int | None
    repeat_of_id: int | None
    terminal_reply: str | None
    open: bool
    deadlines: list[DeadlineView]


class CallView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    call_id: str
    started_at: datetime | None
    ended_at: datetime | None
    queue: str | None
    agent_id: str | None
    outcome: str | None
    ivr_category: str | None
    satisfaction: int | None


class RepeatGroup(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    category: str
    order_numbers: list[str]
    count: int
    terminal_number: str | None
    terminal_reply: str | None


class CallerHistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    calls: list[CallView]
    orders: list[OrderView]
    open_orders: list[OrderView]
    repeats: list[RepeatGroup]
    terminal: list[OrderView]
    last_satisfaction: int | None
    repeat_caller: bool
