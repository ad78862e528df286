"""Console users: creation and password checks (argon2id via argon2-cffi)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.security import Principal, Role

from .models import ConsoleUser

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
AGENT_ID_RE = re.compile(r"^[0-9]{2,16}$")
MIN_PASSWORD_LENGTH = 8
SEATED_ROLES = (Role.agent, Role.expert)  # roles that work at a seat and receive pops


class UserError(ValueError):
    """Refused user data, with a message fit for the operator."""


@dataclass(frozen=True)
class NewUser:
    username: str
    role: Role
    password: str
    agent_id: str | None = None
    display_name: str | None = None


def default_hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def validate(user: NewUser) -> None:
    if not USERNAME_RE.match(user.username):
        raise UserError("username: 1-64 characters among letters, digits, '_', '.', '-'")
    if len(user.password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if user.role in SEATED_ROLES:
        if not user.agent_id or not AGENT_ID_RE.match(user.agent_id):
            raise UserError(f"role {user.role} needs --agent-id (the seat number, digits only)")
    elif user.agent_id is not None:
        raise UserError(f"role {user.role} has no seat: omit --agent-id")


def create_user(session: Session, user: NewUser, hasher: PasswordHasher | None = None) -> ConsoleUser:
    validate(user)
    hasher = hasher or default_hasher()
    if session.scalar(select(ConsoleUser).where(ConsoleUser.username == user.username)) is not None:
        raise UserError(f"user {user.username!r} exists already")
    if user.agent_id and session.scalar(select(ConsoleUser).where(ConsoleUser.agent_id == user.agent_id,
                                                                  ConsoleUser.active.is_(True))):
        raise UserError(f"seat {user.agent_id} belongs to another active user")
    row = ConsoleUser(username=user.username, password_hash=hasher.hash(user.password), role=user.role.value,
                      agent_id=user.agent_id, display_name=user.display_name, active=True)
    session.add(row)
    session.commit()
    return row


def principal_of(row: ConsoleUser) -> Principal:
    return Principal(username=row.username, role=Role(row.role), agent_id=row.agent_id)


class Authenticator:
    """Checks a username/password pair; the same argon2 work is done for unknown users so that response
    time does not reveal which usernames exist."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or default_hasher()
        self._dummy_hash = self.hasher.hash("not-a-real-password")

    def authenticate(self, session: Session, username: str, password: str) -> Principal | None:
        row = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
        if row is None or not row.active:
            self._verify(self._dummy_hash, password)
            return None
        if not self._verify(row.password_hash, password):
            return None
        if self.hasher.check_needs_rehash(row.password_hash):
            row.password_hash = self.hasher.hash(password)
        row.last_login_at = datetime.now(UTC)
        session.commit()
        return principal_of(row)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
