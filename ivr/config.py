"""IVR settings, from the environment (prefix HOTLINE_IVR_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IvrConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_IVR_", extra="ignore")

    sound_prefix: str | None = Field(None, description="sound folder; default: the catalogue's (hotline)")
    welcome_wait_ms: int = Field(2000, description="after the greeting, how long a key is still taken")
    key_complaint: str = "2"
    key_order_status: str = "3"
    key_emergency: str = "9"
    digit_timeout_ms: int = Field(5000, description="silence allowed between keyed digits")
    order_tries: int = Field(3, description="attempts at a work-order number before a human takes over")
    order_min_digits: int = 8
    order_max_digits: int = 20
    queue: str = "hotline-general"
    announce_interval: int = Field(45, description="seconds the dialplan waits in Queue between announcements")
    callback_after_seconds: int = Field(120, description="expected wait from which a callback is offered")
    callback_wait_ms: int = 5000
    survey_wait_ms: int = 6000
    survey_tries: int = 2
