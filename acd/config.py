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


class AcdConfig(BaseModel):
    skill_groups: dict[str, str]
    queues: list[QueueConfig]
    seats: list[Seat]

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

    def queues_for(self, seat: Seat) -> list[tuple[QueueConfig, int]]:
        return [(queue, seat.skills[queue.skill]) for queue in self.queues if queue.skill in seat.skills]


def load_acd_config(path: Path | str | None = None) -> AcdConfig:
    path = Path(path or os.environ.get("HOTLINE_ACD_CONFIG") or DEFAULT_PATH)
    return AcdConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def default_acd_config() -> AcdConfig:
    return load_acd_config()
