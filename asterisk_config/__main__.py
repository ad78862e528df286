"""`python -m asterisk_config render --out DIR [--config acd/skills.yaml]`"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asterisk_config.render import MissingSecret, render_from_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asterisk_config")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="write the Asterisk configuration files")
    render.add_argument("--out", type=Path, required=True)
    render.add_argument("--config", type=Path, default=None, help="skills/queues/seats file (acd/skills.yaml)")
    check = sub.add_parser("check", help="cross-check a rendered configuration directory")
    check.add_argument("dir", type=Path)
    check.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "check":
        return run_checks(args.dir, args.config)
    try:
        paths = render_from_env(args.out, args.config)
    except MissingSecret as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def ivr_flows() -> tuple[str, ...]:
    from ivr.app import FLOWS

    return tuple(FLOWS)


def run_checks(conf_dir: Path, config_path: Path | None) -> int:
    import os

    from acd.config import load_acd_config
    from asterisk_config import checks
    from asterisk_config.render import Deployment
    from hotline.settings import PROJECT_ROOT

    config = load_acd_config(config_path)
    deployment = Deployment.from_env(os.environ)
    problems = (checks.check_queues(conf_dir, config) + checks.check_contexts(conf_dir)
                + checks.check_agi(conf_dir, deployment.agi_host, deployment.agi_port, ivr_flows())
                + checks.check_endpoints_and_rooms(conf_dir, config) + checks.check_modules(conf_dir)
                + checks.check_manager(conf_dir, deployment.ami_user, checks.actions_used_by(
                    PROJECT_ROOT, checks.PLATFORM_PACKAGES)))
    for problem in problems:
        print(problem)
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
