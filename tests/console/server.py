"""A real console: uvicorn serving create_app() on a free loopback port, in a thread of its own."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from agent_console.app import create_app
from agent_console.ratelimit import LoginLimits
from agent_console.users import NewUser, create_user
from hotline.bus import EventBus
from hotline.db import make_session_factory
from hotline.redis_server import free_port
from hotline.security import Role
from hotline.settings import Settings

# cheap argon2 parameters: the tests exercise the logic, not the cost
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "correct horse battery"
USERS = {  # username -> (role, seat)
    "agent1": (Role.agent, "1001"),
    "agent2": (Role.agent, "1002"),
    "expert1": (Role.expert, "2001"),
    "super1": (Role.supervisor, None),
    "admin1": (Role.admin, None),
}
ROLE_USER = {Role.agent: "agent1", Role.expert: "expert1", Role.supervisor: "super1", Role.admin: "admin1"}


class FakeClock:
    """Wall time plus an offset the test moves forward to expire sessions without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class ConsoleServer:
    app: FastAPI
    url: str
    prefix: str
    session_factory: sessionmaker
    clock: FakeClock
    thread: threading.Thread | None = None
    server: uvicorn.Server | None = None
    extra: dict = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return self.url

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http"):] + "/ws"

    def create_users(self) -> None:
        with self.session_factory() as session:
            for name, (role, seat) in USERS.items():
                create_user(session, NewUser(name, role, PASSWORD, seat), CHEAP_HASHER)


@contextmanager
def running_console(redis_url: str, engine: Engine, prefix: str | None = None, session_key: str | None = None,
                    **options: object) -> Iterator[ConsoleServer]:
    """Two consoles given the same prefix and session key serve the same sessions and streams."""
    settings = Settings(session_key=SecretStr(session_key or "test-session-key-" + uuid.uuid4().hex),
                        session_max_age=3600, redis_url=redis_url)
    prefix = prefix or f"t{uuid.uuid4().hex[:8]}:"
    bus = EventBus.from_url(redis_url, prefix=prefix)
    clock = FakeClock()
    factory = make_session_factory(engine)
    kwargs: dict = {"password_hasher": CHEAP_HASHER, "secure_cookies": False, "heartbeat_seconds": 0.3,
                    "ws_block_ms": 100, "clock": clock, "login_limits": LoginLimits(per_user=5, per_ip=8),
                    "idle_timeout": 600}
    kwargs.update(options)
    app = create_app(settings, factory, bus, **kwargs)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                            ws_max_size=64 * 1024, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("console server did not start")
        time.sleep(0.01)
    try:
        yield ConsoleServer(app, f"http://127.0.0.1:{port}", prefix, factory, clock, thread, server,
                            {"session_key": settings.session_key.get_secret_value()})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
