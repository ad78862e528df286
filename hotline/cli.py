"""The `hotline` command: run roles, migrate the database, render the Asterisk configuration."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from hotline.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotline", description="12345 hotline platform")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run roles in this process")
    run.add_argument("--roles", default="all",
                     help="comma-separated: ivr,bridge,pops,acd,console,metrics,scheduler,calls (or all)")
    sub.add_parser("migrate", help="apply the database migrations")
    render = sub.add_parser("render-asterisk", help="render the Asterisk configuration")
    render.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    settings = get_settings()
    if args.command == "migrate":
        from hotline.db import upgrade_to_head

        upgrade_to_head(settings.database_url)
        return 0
    if args.command == "render-asterisk":
        from asterisk_config.__main__ import main as render_main

        return render_main(["render", "--out", args.out])
    from hotline.heap import install_heap_policy
    from hotline.runtime import parse_roles, run_roles

    settings.require_secrets()
    roles = parse_roles(args.roles)
    install_heap_policy()  # a long-running process: full collections walk only what is new (hotline.heap)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_until_signalled(run_roles(settings, roles)))
    return 0


async def _until_signalled(main: Coroutine[Any, Any, None]) -> None:
    """SIGTERM/SIGINT cancel the roles, so that their cleanup (embedded Redis, AMI, bus) runs."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    sys.exit(main())
