"""Free text the API accepts: what every database the platform runs on can store.

PostgreSQL `text` cannot hold NUL (SQLite can): a NUL in any field that reaches the database is refused here
with a clear 422, the same on both, instead of a database error (500) on PostgreSQL only. Bodies use `Text`;
URLs (query strings and path parameters, which filter on text columns) pass `RefuseNulInUrls` first."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import AfterValidator
from starlette.types import ASGIApp, Receive, Scope, Send

NUL_MESSAGE = "text must not contain NUL characters"


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


class RefuseNulInUrls:
    """ASGI middleware: an HTTP request whose path or query string holds a NUL (`%00`) gets the same 422 a
    body field would, for every route at once (a fuzzed `GET /api/handoffs?call_id=%00` was a 500 on
    PostgreSQL)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = None
        if scope["type"] == "http":
            where = "path" if "\x00" in scope["path"] else "query" if b"%00" in scope.get("query_string", b"") else None
        if where is not None:
            body = json.dumps({"detail": [{"type": "value_error", "loc": [where], "msg": NUL_MESSAGE}]})
            await send({"type": "http.response.start", "status": 422,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await self.app(scope, receive, send)
