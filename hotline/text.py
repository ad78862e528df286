"""Free text the API accepts: what every database the platform runs on can store.

PostgreSQL `text` cannot hold NUL (SQLite can): a NUL in any field that reaches the database is refused here
with a clear 422, the same on both, instead of a database error (500) on PostgreSQL only."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
