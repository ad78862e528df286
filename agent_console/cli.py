"""`python -m agent_console [serve]` runs the console; `python -m agent_console users ...` manages users.

The password of a new user is read from HOTLINE_NEW_PASSWORD or, failing that, from stdin (one line),
never from the command line where `ps` would show it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from sqlalchemy import inspect, select

from hotline.db import make_engine, make_session_factory
from hotline.security import Role
from hotline.settings import get_settings

from .models import ConsoleUser
from .users import NewUser, UserError, create_user


def _read_password() -> str:
    password = os.environ.get("HOTLINE_NEW_PASSWORD")
    if password:
        return password
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("密码 / password: ")
    return sys.stdin.readline().rstrip("\r\n")


def _users(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            if not inspect(session.connection()).has_table(ConsoleUser.__tablename__):
                print("error: the database is not migrated: run `hotline migrate` first", file=sys.stderr)
                return 2
            if args.action == "add":
                user = NewUser(args.name, Role(args.role), _read_password(), args.agent_id, args.display_name)
                try:
                    create_user(session, user)
                except UserError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                print(f"created {user.role.value} {user.username}" + (f" at seat {user.agent_id}"
                                                                      if user.agent_id else ""))
            else:
                for row in session.scalars(select(ConsoleUser).order_by(ConsoleUser.username)):
                    print(f"{row.username}\t{row.role}\t{row.agent_id or '-'}\t{'active' if row.active else 'off'}")
    finally:
        engine.dispose()
    return 0


def _serve() -> int:
    """The `console` role alone, through the platform runtime (migrations, embedded Redis when unset)."""
    from hotline.runtime import run_roles

    settings = get_settings()
    settings.require_secrets()

    async def until_signalled() -> None:
        # SIGTERM/SIGINT cancel the role, so that the runtime stops uvicorn and its embedded Redis cleanly
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        with contextlib.suppress(asyncio.CancelledError):
            await run_roles(settings, ["console"])

    asyncio.run(until_signalled())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent_console", description="12345 热线坐席控制台")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the console (uvicorn on HOTLINE_CONSOLE_HOST/PORT)")
    users = sub.add_parser("users", help="manage console users")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = users_sub.add_parser("add", help="create a user; password from HOTLINE_NEW_PASSWORD or stdin")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--agent-id", help="seat number, required for agent and expert")
    add.add_argument("--display-name")
    add.add_argument("name")
    users_sub.add_parser("list", help="list users")
    args = parser.parse_args(argv)
    if args.command == "users":
        return _users(args)
    return _serve()
