"""身份鉴别: passwords are stored with argon2id at no less than the OWASP/RFC 9106 parameters, never in
clear; a hash made with weaker parameters is upgraded at the next successful login."""

from __future__ import annotations

import re

import httpx
from argon2 import PasswordHasher
from sqlalchemy import select

from agent_console.models import ConsoleUser
from agent_console.users import NewUser, create_user, default_hasher
from hotline.security import Role
from tests.console.server import CHEAP_HASHER, running_console

ARGON2 = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")


def params(hash_: str) -> tuple[int, int, int]:
    match = ARGON2.match(hash_)
    assert match, f"not an argon2id v1.3 hash: {hash_[:20]}"
    m, t, p = (int(g) for g in match.groups())
    return m, t, p


def test_default_hasher_is_argon2id_with_strong_parameters(db_session) -> None:  # type: ignore[no-untyped-def]
    user = create_user(db_session, NewUser("pw-check", Role.agent, "长城长城 correct horse", "1099"))
    m, t, p = params(user.password_hash)
    # OWASP (2023): m ≥ 19 MiB with t ≥ 2; RFC 9106 low-memory profile: m = 64 MiB, t = 3
    assert (m >= 19 * 1024 and t >= 2) or (m >= 64 * 1024 and t >= 1), (m, t, p)
    assert "长城" not in user.password_hash and "correct horse" not in user.password_hash
    assert default_hasher().verify(user.password_hash, "长城长城 correct horse")


def test_a_weak_hash_is_upgraded_at_login(redis_url, db_engine, db_session_factory, redis_sync) -> None:  # type: ignore[no-untyped-def]
    with db_session_factory() as session:
        create_user(session, NewUser("legacy", Role.agent, "old but long enough", "1098"), CHEAP_HASHER)
    strong = PasswordHasher()
    with running_console(redis_url, db_engine, password_hasher=strong) as console:
        resp = httpx.post(console.url + "/login", data={"username": "legacy", "password": "old but long enough"},
                          headers={"Origin": console.origin})
        assert resp.status_code == 303, resp.text
    with db_session_factory() as session:
        stored = session.scalar(select(ConsoleUser.password_hash).where(ConsoleUser.username == "legacy"))
    assert params(stored) == (strong.memory_cost, strong.time_cost, strong.parallelism)
