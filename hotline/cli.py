"""The `hotline` command: run roles, migrate the database, render the Asterisk configuration."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from hotline.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotline", description="12345 hotline platform")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run roles in this process")
    run.add_argument("--roles", default="all", help="comma-separated: ivr,bridge,acd,console,metrics,scheduler")
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
    from hotline.runtime import parse_roles, run_roles

    settings.require_secrets()
    roles = parse_roles(args.roles)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_roles(settings, roles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
