"""Users: the CLI (`python -m agent_console users add`), argon2 hashes, validation, the admin API."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from agent_console.cli import main
from agent_console.models import ConsoleUser
from agent_console.users import Authenticator, NewUser, UserError, create_user, validate
from hotline.security import Role
from hotline.settings import PROJECT_ROOT, get_settings

from .conftest import login
from .server import CHEAP_HASHER, ConsoleServer


def cli(db_url: str, *args: str, password_env: str | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url}
    env.pop("HOTLINE_NEW_PASSWORD", None)
    if password_env is not None:
        env["HOTLINE_NEW_PASSWORD"] = password_env
    return subprocess.run([sys.executable, "-m", "agent_console", "users", *args], input=stdin, text=True,
                          capture_output=True, env=env, cwd=PROJECT_ROOT, timeout=60)


def test_cli_adds_users_with_argon2id_hashes(db_url: str, db_session_factory) -> None:  # type: ignore[no-untyped-def]
    added = cli(db_url, "add", "--role", "agent", "--agent-id", "1001", "zhang.san", password_env="s3cret-pass")
    assert added.returncode == 0, added.stderr
    from_stdin = cli(db_url, "add", "--role", "supervisor", "li.si", stdin="another-pass\n")
    assert from_stdin.returncode == 0, from_stdin.stderr
    with db_session_factory() as session:
        rows = {r.username: r for r in session.scalars(select(ConsoleUser))}
        assert rows["zhang.san"].password_hash.startswith("$argon2id$")
        assert "s3cret-pass" not in rows["zhang.san"].password_hash
        assert (rows["zhang.san"].role, rows["zhang.san"].agent_id) == ("agent", "1001")
        auth = Authenticator(CHEAP_HASHER)
        principal = auth.authenticate(session, "li.si", "another-pass")
        assert principal is not None and principal.role == Role.supervisor and principal.agent_id is None
        assert auth.authenticate(session, "li.si", "wrong-pass") is None
    listed = cli(db_url, "list")
    assert "zhang.san\tagent\t1001\tactive" in listed.stdout


def test_cli_refuses_bad_users_clearly(db_url: str, db_session_factory, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    # in-process (the subprocess path is covered above): same entry point, faster
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("HOTLINE_NEW_PASSWORD", "long-enough")
    get_settings.cache_clear()
    try:
        assert main(["users", "add", "--role", "agent", "wang.wu"]) == 2
        assert "--agent-id" in capsys.readouterr().err
        monkeypatch.setenv("HOTLINE_NEW_PASSWORD", "short")
        assert main(["users", "add", "--role", "admin", "root"]) == 2
        assert "at least 8" in capsys.readouterr().err
        with pytest.raises(SystemExit) as bad_role:
            main(["users", "add", "--role", "boss", "x"])
        assert bad_role.value.code == 2 and "invalid choice" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
    with db_session_factory() as session:
        assert session.scalars(select(ConsoleUser)).all() == []


def test_validation_and_uniqueness(db_session) -> None:  # type: ignore[no-untyped-def]
    for bad in (NewUser("has space", Role.admin, "long-enough"), NewUser("ok", Role.admin, "long-enough", "1001"),
                NewUser("ok", Role.expert, "long-enough", "12a"), NewUser("ok", Role.agent, "short", "1001")):
        with pytest.raises(UserError):
            validate(bad)
    create_user(db_session, NewUser("a", Role.agent, "long-enough", "1001"), CHEAP_HASHER)
    with pytest.raises(UserError, match="exists"):
        create_user(db_session, NewUser("a", Role.agent, "long-enough", "1002"), CHEAP_HASHER)
    with pytest.raises(UserError, match="seat 1001"):
        create_user(db_session, NewUser("b", Role.agent, "long-enough", "1001"), CHEAP_HASHER)


def test_old_hashes_are_upgraded_at_login(db_session) -> None:  # type: ignore[no-untyped-def]
    create_user(db_session, NewUser("a", Role.agent, "long-enough", "1001"), CHEAP_HASHER)
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert Authenticator(stronger).authenticate(db_session, "a", "long-enough") is not None
    row = db_session.scalar(select(ConsoleUser).where(ConsoleUser.username == "a"))
    assert not stronger.check_needs_rehash(row.password_hash) and row.last_login_at is not None


async def test_admin_api_creates_and_lists_users(live: ConsoleServer) -> None:
    admin = await login(live, "admin1")
    created = await admin.client.post("/api/console/users", headers=admin.headers(), json={
        "username": "zhao.liu", "password": "initial-pass", "role": "expert", "agent_id": "2002",
        "display_name": "赵六"})
    assert created.status_code == 201, created.text
    assert created.json() == {"username": "zhao.liu", "role": "expert", "agent_id": "2002", "display_name": "赵六",
                              "active": True}
    assert "password" not in created.text
    refused = await admin.client.post("/api/console/users", headers=admin.headers(), json={
        "username": "zhou.qi", "password": "initial-pass", "role": "agent"})
    assert refused.status_code == 422 and "--agent-id" in refused.json()["detail"]
    users = (await admin.client.get("/api/console/users")).json()
    assert "zhao.liu" in {u["username"] for u in users} and "zhou.qi" not in {u["username"] for u in users}
    expert = await login(live, "zhao.liu", "initial-pass")
    assert (await expert.client.get("/api/console/me")).json()["agent_id"] == "2002"
    await admin.client.aclose()
    await expert.client.aclose()
