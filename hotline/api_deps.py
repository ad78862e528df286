"""FastAPI dependencies shared by every domain's HTTP resources."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session


def get_db(request: Request) -> Iterator[Session]:
    """A database session from the app's session factory (`app.state.session_factory`)."""
    with request.app.state.session_factory() as session:
        yield session
