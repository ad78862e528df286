"""Roles and the request principal. The console's session middleware puts a `Principal` on
`request.state.principal`; every API route declares the roles it admits with `require_roles`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import HTTPException, Request, status


class Role(StrEnum):
    agent = "agent"            # 话务员
    expert = "expert"          # 专家座席
    supervisor = "supervisor"  # 值班长
    admin = "admin"            # 管理员


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    role: Role
    agent_id: str | None = None  # the seat (e.g. "1001") an agent or expert works at

    @property
    def sees_full_numbers(self) -> bool:
        """Caller numbers are personal data: agents and experts handling the call see them in full,
        supervisors too; administrators manage the system and see them masked."""
        return self.role in (Role.agent, Role.expert, Role.supervisor)


def current_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "login required")
    return principal


def require_roles(*roles: Role) -> Callable[[Request], Principal]:
    allowed = frozenset(roles)

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this")
        return principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the role-matrix test
    return dependency


def mask_number(number: str | None) -> str | None:
    """Mobile numbers keep their first 3 and last 4 digits (139****5678); shorter numbers keep only
    their last 2, so that a masked number never gives most of itself away."""
    if not number:
        return number
    if len(number) >= 11:
        return number[:3] + "*" * (len(number) - 7) + number[-4:]
    return "*" * max(0, len(number) - 2) + number[-2:]
