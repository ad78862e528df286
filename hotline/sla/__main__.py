"""`python -m hotline.sla load-year FILE [--allow-example]` and `python -m hotline.sla years`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from hotline.db import make_engine, make_session_factory
from hotline.settings import get_settings
from hotline.sla import services
from hotline.sla.schemas import YearSchedule


def read_schedule(path: Path) -> YearSchedule:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return YearSchedule.model_validate(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotline.sla", description=__doc__)
    parser.add_argument("--database-url", help="default: DATABASE_URL / settings")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load-year", help="load a year's official holiday schedule (YAML/JSON)")
    load.add_argument("file", type=Path)
    load.add_argument("--allow-example", action="store_true", help="accept a file marked example: true")
    commands.add_parser("years", help="list the loaded years")
    args = parser.parse_args(argv)

    settings = get_settings()
    db = make_engine(args.database_url or settings.database_url)
    try:
        with make_session_factory(db)() as session:
            if args.command == "years":
                for year in services.list_years(session):
                    print(json.dumps(year.model_dump(mode="json"), ensure_ascii=False))
                return 0
            try:
                schedule = read_schedule(args.file)
            except (OSError, yaml.YAMLError, json.JSONDecodeError, ValidationError) as exc:
                print(f"cannot load {args.file}: {exc}", file=sys.stderr)
                return 2
            engine = services.build_engine(session, settings.city_policy, settings.office_hours)
            try:
                stored, recomputed = services.load_year(session, engine, schedule, loaded_by=getpass.getuser(),
                                                        allow_example=args.allow_example)
            except services.ExampleScheduleRefused as exc:
                print(str(exc), file=sys.stderr)
                return 2
            print(json.dumps({**stored.model_dump(mode="json"), "recomputed": recomputed}, ensure_ascii=False))
            return 0
    finally:
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
