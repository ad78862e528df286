"""Schemathesis against the console's own OpenAPI document (create_app(...).openapi()), served in-process
by uvicorn: every operation, for every role, with a logged-in session cookie and its CSRF header, answers
without a server error. A 503 with a reason is allowed: no PBX link and no metrics role run here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from hotline.security import Role
from tests.console.server import PASSWORD, ROLE_USER, ConsoleServer, running_console

SKIP = {("POST", "/logout")}  # would end the session the rest of the run uses
EXAMPLES = 3


@pytest.fixture(scope="module")
def console(redis_url: str, db_engine) -> Iterator[ConsoleServer]:  # type: ignore[no-untyped-def]
    with running_console(redis_url, db_engine) as server:
        yield server


def browser_session(console: ConsoleServer, username: str) -> requests.Session:
    with httpx.Client(base_url=console.url) as client:
        resp = client.post("/login", data={"username": username, "password": PASSWORD},
                           headers={"Origin": console.origin})
        assert resp.status_code == 303, resp.text
        page = client.get(resp.headers["location"], headers={"Accept": "text/html"})
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert token
        session = requests.Session()
        session.cookies.update(dict(client.cookies))
        session.headers.update({"X-CSRF-Token": token.group(1), "Origin": console.origin})
        return session


@pytest.mark.parametrize("role", list(ROLE_USER))
def test_no_operation_answers_a_server_error(console: ConsoleServer, role: Role, redis_sync,  # type: ignore[no-untyped-def]
                                             db_session_factory) -> None:
    console.create_users()
    session = browser_session(console, ROLE_USER[role])
    schema = schemathesis.openapi.from_dict(console.app.openapi())
    failures: list[str] = []
    exercised = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        exercised += 1

        # no shrinking: every failure is recorded below with its request, nothing is raised to shrink
        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case) -> None:  # type: ignore[no-untyped-def]
            try:
                response = case.call(base_url=console.url, session=session, timeout=10)
            except requests.RequestException as exc:  # no answer at all is as bad as a 5xx
                failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200} -> {exc!r}")
                return
            if response.status_code >= 500 and not _pbx_down(response):
                failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200} -> "
                                f"{response.status_code} {response.text[:200]}")

        check()
    assert exercised > 40
    assert failures == [], "\n".join(failures[:20])


def _pbx_down(response: requests.Response) -> bool:
    """A deliberate "not available" (no AMI link here, no metrics role running) with its reason, not a crash."""
    return response.status_code == 503 and "detail" in response.text
