"""Loads acd/skills.yaml: skill groups, queues and seats — the one source of truth that the ACD routes by
and that asterisk_config renders into queues.conf, queuerules.conf and pjsip.conf."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, model_validator

DEFAULT_PATH = Path(__file__).with_name("skills.yaml")


class WidenStep(BaseModel):
    after: int = Field(gt=0, description="seconds of waiting before the step applies")
    max_penalty: int = Field(ge=0)


class QueueConfig(BaseModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    skill: str
    strategy: Literal["leastrecent", "rrmemory", "ringall", "fewestcalls", "random", "linear"] = "leastrecent"
    timeout: int = Field(15, gt=0)
    retry: int = Field(1, ge=0)
    wrapuptime: int = Field(5, ge=0)
    servicelevel: int = Field(15, gt=0)
    max_wait: int = Field(120, gt=0)
    initial_max_penalty: int = Field(0, ge=0)
    widen: list[WidenStep] = []
    overflow_skill: str | None = Field(None, description="skill group the guard adds when this queue struggles")

    @property
    def rule_name(self) -> str:
        return f"widen-{self.name}"


class Seat(BaseModel):
    id: str = Field(pattern=r"^[0-9]{3,6}$")
    name: str
    role: Literal["agent", "expert"]
    softphone: Literal["sip", "webrtc"] = "sip"
    skills: dict[str, int]

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.id}"

    @property
    def member_name(self) -> str:
        return f"agent-{self.id}"


class GuardRule(BaseModel):
    """When `metric` crosses `threshold` over the window (with at least `min_offered` calls), do `actions`."""

    name: str
    metric: Literal["answer_rate", "service_level", "expected_wait"]
    below: float | None = None
    above: float | None = None
    min_offered: int = Field(10, ge=0)
    actions: list[Literal["alert", "overflow", "callback_offer"]]

    @model_validator(mode="after")
    def _one_bound(self) -> GuardRule:
        if (self.below is None) == (self.above is None):
            raise ValueError(f"guard rule {self.name}: give exactly one of below/above")
        return self


class AcdPolicy(BaseModel):
    """The ACD's own knobs (the `acd:` section of skills.yaml; asterisk_config ignores it)."""

    not_ready_reasons: dict[str, str] = {"meal": "用餐", "meeting": "会议", "training": "培训", "other": "其他"}
    wrap_up_reason: str = "话后整理"
    wrap_up_max_seconds: int = Field(120, gt=0, description="longest 话后整理 before the overdue action")
    wrap_up_overdue: Literal["ready", "flag"] = "ready"
    priority_special_urgent: int = 10
    priority_callback: int = 8
    priority_repeat: int = 5
    callback_trunk: str = "carrier"
    callback_context: str = "hotline-callback"
    callback_caller_id: str = "12345"
    callback_attempts: int = Field(2, ge=1)
    callback_retry_seconds: int = Field(300, ge=0)
    guard_window_seconds: int = Field(1800, gt=0)
    guard_service_level_seconds: int = Field(15, gt=0)
    overflow_penalty: int = Field(1, ge=0, description="penalty of overflow members added by the guard")
    guard_rules: list[GuardRule] = [
        GuardRule(name="answer-rate-low", metric="answer_rate", below=0.95, actions=["alert", "overflow"]),
        GuardRule(name="answer-rate-critical", metric="answer_rate", below=0.90, actions=["callback_offer"]),
        GuardRule(name="sl15-low", metric="service_level", below=0.80, actions=["alert"]),
        GuardRule(name="wait-long", metric="expected_wait", above=120, min_offered=0,
                  actions=["alert", "callback_offer"]),
    ]


class AcdConfig(BaseModel):
    skill_groups: dict[str, str]
    queues: list[QueueConfig]
    seats: list[Seat]
    acd: AcdPolicy = AcdPolicy()

    @model_validator(mode="after")
    def _references_resolve(self) -> AcdConfig:
        names = {q.name for q in self.queues}
        if len(names) != len(self.queues):
            raise ValueError("queue names must be unique")
        if len({s.id for s in self.seats}) != len(self.seats):
            raise ValueError("seat ids must be unique")
        for queue in self.queues:
            if queue.skill not in self.skill_groups:
                raise ValueError(f"queue {queue.name}: unknown skill {queue.skill!r}")
            if queue.overflow_skill and queue.overflow_skill not in self.skill_groups:
                raise ValueError(f"queue {queue.name}: unknown overflow skill {queue.overflow_skill!r}")
        for seat in self.seats:
            unknown = set(seat.skills) - set(self.skill_groups)
            if unknown:
                raise ValueError(f"seat {seat.id}: unknown skills {sorted(unknown)}")
        return self

    def queue(self, name: str) -> QueueConfig:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(name)

    def members(self, queue: QueueConfig) -> list[tuple[Seat, int]]:
        """Seats that serve a queue's skill, with their penalty in it."""
        return [(seat, seat.skills[queue.skill]) for seat in self.seats if queue.skill in seat.skills]

    def seats_with(self, skill: str) -> list[Seat]:
        return [seat for seat in self.seats if skill in seat.skills]

    def seat(self, seat_id: str) -> Seat:
        for seat in self.seats:
            if seat.id == seat_id:
                return seat
        raise KeyError(seat_id)

    def queue_for_skill(self, skill: str) -> QueueConfig | None:
        return next((queue for queue in self.queues if queue.skill == skill), None)

    def max_penalty_after(self, queue: QueueConfig, waited: float) -> int:
        """QUEUE_MAX_PENALTY in force after `waited` seconds (the queuerules.conf steps rendered from `widen`)."""
        penalty = queue.initial_max_penalty
        for step in sorted(queue.widen, key=lambda s: s.after):
            if waited >= step.after:
                penalty = step.max_penalty
        return penalty

    def queues_for(self, seat: Seat) -> list[tuple[QueueConfig, int]]:
        return [(queue, seat.skills[queue.skill]) for queue in self.queues if queue.skill in seat.skills]


def load_acd_config(path: Path | str | None = None) -> AcdConfig:
    path = Path(path or os.environ.get("HOTLINE_ACD_CONFIG") or DEFAULT_PATH)
    return AcdConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def default_acd_config() -> AcdConfig:
    return load_acd_config()
