"""HTTP API: loading official year schedules (administrators) and reading the calendar and policy."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import Field, ValidationError
from sqlalchemy.orm import Session

from hotline.api_deps import get_db
from hotline.security import Principal, Role, require_roles
from hotline.settings import get_settings
from hotline.sla import services
from hotline.sla.engine import DeadlineEngine
from hotline.sla.schemas import CalendarOverview, YearLoaded, YearSchedule

router = APIRouter(prefix="/api/sla", tags=["sla"])
Db = Annotated[Session, Depends(get_db)]


def get_engine(request: Request, session: Db) -> DeadlineEngine:
    """The app's engine (`app.state.sla_engine`), built from settings and the stored years on first use."""
    engine = getattr(request.app.state, "sla_engine", None)
    if engine is None:
        settings = get_settings()
        engine = services.build_engine(session, settings.city_policy, settings.office_hours)
        request.app.state.sla_engine = engine
    return engine


Engine = Annotated[DeadlineEngine, Depends(get_engine)]
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
Overseer = Annotated[Principal, Depends(require_roles(Role.admin, Role.supervisor))]
Staff = Annotated[Principal, Depends(require_roles(Role.agent, Role.expert, Role.supervisor, Role.admin))]


async def _schedule_from_body(request: Request) -> YearSchedule:
    raw = await request.body()
    kind = request.headers.get("content-type", "")
    try:
        data: Any = yaml.safe_load(raw) if "yaml" in kind else json.loads(raw)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unreadable schedule: {exc}") from None
    try:
        return YearSchedule.model_validate(data)
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            json.loads(exc.json(include_url=False))) from None


# years a calendar can describe (datetime's range; anything else is a 422, not a crash in date arithmetic)
CalendarYear = Annotated[int, Field(ge=1900, le=2199)]


@router.get("/calendar", response_model=CalendarOverview)
def calendar_overview(session: Db, engine: Engine, _: Overseer,
                      years: Annotated[list[CalendarYear] | None, Query(max_length=50)] = None) -> CalendarOverview:
    """The loaded years, and where each year's days come from (default: last year to three years ahead)."""
    this_year = dt.date.today().year
    return CalendarOverview(loaded=services.list_years(session),
                            sources=engine.calendar.sources(years or range(this_year - 1, this_year + 4)))


@router.post("/calendar/years", response_model=YearLoaded, status_code=status.HTTP_201_CREATED)
async def load_year(request: Request, session: Db, engine: Engine, principal: Admin,
                    allow_example: bool = False) -> YearLoaded:
    """Load (or replace) a year's official schedule: JSON, or YAML with `Content-Type: application/yaml`."""
    schedule = await _schedule_from_body(request)
    try:
        stored, recomputed = services.load_year(session, engine, schedule, loaded_by=principal.username,
                                                allow_example=allow_example)
    except services.ExampleScheduleRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    bus = getattr(request.app.state, "bus", None)
    if bus is not None:  # other processes refresh their calendars (services.install_stored_years)
        await bus.publish("sla", {"type": "sla.calendar_year_loaded", "year": schedule.year,
                                  "ts": dt.datetime.now(dt.UTC).timestamp()})
    return YearLoaded(**stored.model_dump(), recomputed=recomputed)


@router.get("/policy")
def policy(engine: Engine, _: Staff) -> dict:
    """The rules in force, for the console's help pages."""
    p = engine.policy
    return {"city": p.city, "title": p.title, "rules": [
        {"kind": r.kind, "label": r.label, "categories": sorted(r.categories),
         "urgencies": sorted(r.urgencies) if r.urgencies else None, "within": r.within.text,
         "from": list(r.anchors), "article": r.article, "extendable": r.extension is not None}
        for r in p.rules]}
