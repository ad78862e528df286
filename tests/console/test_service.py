"""The `console` role of the platform runtime: serves until cancelled, then frees its port."""

from __future__ import annotations

import asyncio
import socket

import httpx
from pydantic import SecretStr

from agent_console.service import run_role
from hotline.redis_server import free_port
from hotline.runtime import RoleContext
from hotline.settings import Settings


async def test_console_role_serves_until_cancelled(redis_url: str, db_url: str) -> None:
    port = free_port()
    # no PBX listens on ami_port: the console starts anyway, its AMI client retrying in the background
    settings = Settings(session_key=SecretStr("role-test-key"), console_port=port, database_url=db_url,
                        redis_url=redis_url, ami_port=free_port(), ami_action_timeout=0.3)
    ctx = RoleContext(settings=settings, redis_url=redis_url)
    role = asyncio.create_task(run_role(ctx))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):  # bounded wait for the listener, not a timing assertion
                try:
                    resp = await client.get("/healthz")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert resp.status_code == 200 and resp.headers["x-frame-options"] == "DENY"
            assert role.get_name() and ctx._ami is not None  # the ACD routes have their (retrying) link
    finally:
        role.cancel()
        await asyncio.gather(role, return_exceptions=True)
        await ctx.close()
    assert role.cancelled()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # the listener is gone
