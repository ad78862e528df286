"""Request and response bodies of the ACD API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


class AgentOut(BaseModel):
    agent_id: str
    state: str
    label: str
    reason: str
    since: float
    paused: bool
    queues: list[str]
    flagged: str
    seconds_by_state: dict[str, float] = {}


class NotReadyIn(BaseModel):
    reason: str = Field(min_length=1, max_length=32, description="a key or label of acd.not_ready_reasons")


class PenaltyIn(BaseModel):
    queue: str = Field(min_length=1, max_length=64)
    penalty: int = Field(ge=0, le=100)


# A whole city's 12345 peaks at a few thousand calls an hour, and service levels are counted within 10-60 s;
# the bounds keep one request under a second and a day plan to a few seconds.
MAX_CALLS_PER_HOUR = 5_000
MAX_THRESHOLD_SECONDS = 60


class StaffingIn(BaseModel):
    calls_per_hour: float = Field(ge=0, le=MAX_CALLS_PER_HOUR)
    aht_seconds: float = Field(ge=1, le=7200)
    patience_seconds: float = Field(ge=1, le=7200)
    answer_rate: float = Field(0.95, gt=0, lt=1)
    service_level: float = Field(0.8, ge=0, lt=1)
    threshold_seconds: float = Field(15, gt=0, le=MAX_THRESHOLD_SECONDS)


class DayPlanIn(BaseModel):
    forecast: list[Annotated[float, Field(ge=0, le=MAX_CALLS_PER_HOUR)]] = Field(
        min_length=48, max_length=48, description="calls per hour for each half hour")
    aht_seconds: float = Field(ge=1, le=7200)
    patience_seconds: float = Field(ge=1, le=7200)
    answer_rate: float = Field(0.95, gt=0, lt=1)
    service_level: float = Field(0.8, ge=0, lt=1)
    threshold_seconds: float = Field(15, gt=0, le=MAX_THRESHOLD_SECONDS)
