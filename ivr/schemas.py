"""Pydantic shapes and small value types of the IVR."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from pydantic import BaseModel, Field, field_validator

from hotline.domain import OrderStatus


class SurveyRating(IntEnum):
    """回访测评 on the phone: the key the citizen presses."""
    very_satisfied = 1     # 非常满意
    satisfied = 2          # 满意
    basic = 3              # 基本满意 (also: no answer, Ziyang art. 14(1))
    dissatisfied = 4       # 不满意
    very_dissatisfied = 5  # 非常不满意

    @property
    def label(self) -> str:
        return SURVEY_LABELS[self]

    @property
    def score(self) -> int:
        """The stored scale of calls and work orders: 1 very dissatisfied .. 5 very satisfied."""
        return 6 - int(self)


SURVEY_LABELS = {SurveyRating.very_satisfied: "非常满意", SurveyRating.satisfied: "满意",
                 SurveyRating.basic: "基本满意", SurveyRating.dissatisfied: "不满意",
                 SurveyRating.very_dissatisfied: "非常不满意"}


class NoticeIn(BaseModel):
    text: str = Field(min_length=1, max_length=300, description="spoken after the greeting (Chinese)")
    sound: str | None = Field(None, max_length=200, pattern=r"^[A-Za-z0-9_/.-]+$",
                              description="a recorded file to play instead of the rendered text")
    expires_at: datetime | None = Field(None, description="aware time the notice stops; none = until removed")

    @field_validator("text")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("empty notice")
        return value

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expires_at needs a time zone")
        return value


class Notice(NoticeIn):
    set_by: str
    set_at: datetime
    prompt: str = Field(description="sound file name the IVR plays: `sound`, or the rendered text's name")


@dataclass(frozen=True, slots=True)
class CallerProfile:
    """What the history says about a number, reduced to what routing needs."""
    number: str
    repeat: bool = False              # called before about a matter still open / recently
    open_order: str | None = None     # readable number of the newest open work order
    terminal: bool = False            # an order of theirs was closed as 终结件 (Ziyang art. 15)
    special_urgent: bool = False      # an open order is 特殊紧急 (Ziyang art. 13(4))
    callback_pending: bool = False    # we owe them a call back (their turn was kept)


@dataclass(frozen=True, slots=True)
class OrderStatusInfo:
    number: str
    status: OrderStatus
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class QueueWait:
    position: int | None       # 1 = next; None when the ACD does not list the call
    expected_seconds: int | None
    queued_at: float | None    # epoch, from the ACD's waiting set
    offer_callback: bool = False  # the ACD's answer-rate guard asks for callback offers on this queue now
