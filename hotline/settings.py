"""One settings object, read from the environment (prefix HOTLINE_, plus DATABASE_URL and REDIS_URL).

Secrets have no working default: outside the demo (HOTLINE_DEMO=1) a missing AMI secret or session key
is an error at start-up, never a silently shared value.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_AMI_SECRET = "demo-only-secret"
DEMO_SESSION_KEY = "demo-only-session-key-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    demo: bool = Field(False, description="embedded defaults: simulated PBX, SQLite, embedded Redis")

    # Asterisk Manager Interface
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "hotline"
    ami_secret: SecretStr | None = None
    ami_action_timeout: float = Field(5.0, description="seconds before an AMI action is abandoned")
    ami_ping_interval: float = Field(2.0, description="seconds between keep-alive pings")

    # FastAGI server the dialplan's AGI(agi://...) reaches
    fastagi_host: str = "127.0.0.1"
    fastagi_port: int = 4573

    # Storage
    database_url: str = Field(
        "sqlite:///var/hotline.db", validation_alias=AliasChoices("DATABASE_URL", "HOTLINE_DATABASE_URL")
    )
    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_URL", "HOTLINE_REDIS_URL"),
        description="unset: an embedded redis-server is started on loopback",
    )

    # Agent console / API
    console_host: str = "127.0.0.1"
    console_port: int = 8000
    session_key: SecretStr | None = None
    session_max_age: int = Field(8 * 3600, description="seconds a console session lives")
    session_idle_timeout: int = Field(30 * 60, description="seconds without a request before a session ends")

    # The city whose regulation is in force: selects the SLA policy file
    city_policy: Literal["ziyang", "foshan"] = "ziyang"
    office_hours: str = Field("09:00-12:00,13:30-17:30", description="working hours used for 工作小时")

    # Queue/answer-rate rules
    short_abandon_seconds: int = Field(5, description="abandons shorter than this are not counted as offered")
    service_level_seconds: int = Field(15, description="GB/T 33358: answered within 15 s")

    # Ziyang art. 20: orders pushed to the provincial 12345 platform; empty keeps them in the outbox
    provincial_endpoint: str = Field("", description="URL the outbox delivers provincial orders to")

    data_dir: Path = PROJECT_ROOT / "var"

    @model_validator(mode="after")
    def _secrets_only_from_environment(self) -> Settings:
        if self.demo:
            self.ami_secret = self.ami_secret or SecretStr(DEMO_AMI_SECRET)
            self.session_key = self.session_key or SecretStr(DEMO_SESSION_KEY)
        return self

    def require_secrets(self) -> None:
        """Called by every production entry point: refuse to run on missing secrets."""
        missing = [name for name in ("ami_secret", "session_key") if getattr(self, name) is None]
        if missing:
            names = ", ".join(f"HOTLINE_{m.upper()}" for m in missing)
            raise RuntimeError(f"missing secrets: set {names} in the environment (or HOTLINE_DEMO=1)")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
