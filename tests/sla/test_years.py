"""Loading official year schedules: format, storage (SQLite and PostgreSQL), recomputation, API, CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from hotline.security import Principal, Role
from hotline.sla import Deadline, DeadlineEngine, WorkCalendar, load_policy, services
from hotline.sla.__main__ import main as cli
from hotline.sla.resources import router
from hotline.sla.schemas import YearSchedule
from hotline.sla.timeutil import at

EXAMPLE = Path(services.__file__).parent / "schedules" / "2027.example.yaml"

# A test schedule for 2027 (not the official one): New Year off until Monday 4 January, Saturday 9 worked.
TEST_2027 = {
    "year": 2027, "source": "test schedule", "example": False,
    "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-04"},
                 {"name": "春节", "start": "2027-02-05", "end": "2027-02-11"}],
    "workdays": [{"name": "元旦", "date": "2027-01-09"}],
}


@pytest.fixture(autouse=True)
def only_test_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    # the work-order module's real hook is exercised by its own tests
    monkeypatch.setattr(services, "DEFAULT_HOOKS", ())


@pytest.fixture
def engine() -> DeadlineEngine:
    return DeadlineEngine(load_policy("ziyang"), WorkCalendar())


class FakeOrders:
    """Stands in for hotline.workorders: open deadlines it stores, recomputed by the year-loaded hook."""

    def __init__(self, engine: DeadlineEngine) -> None:
        self.rows: list[tuple[str, str, Deadline]] = []
        self.engine = engine

    def create(self, category: str, dispatched: str) -> None:
        for deadline in self.engine.compute(category, "normal", accepted_at=at(dispatched),
                                            dispatched_at=at(dispatched)).values():
            self.rows.append((category, "normal", deadline))

    def recompute_provisional(self, session: Session, engine: DeadlineEngine) -> int:
        changed = 0
        for i, (category, urgency, old) in enumerate(self.rows):
            if old.provisional:
                new = engine.recompute(old.kind, category, urgency, old.anchor_at, old.extensions)
                assert new is not None
                self.rows[i] = (category, urgency, new)
                changed += 1
        return changed


def test_schedule_format_and_its_checks() -> None:
    schedule = YearSchedule.model_validate(TEST_2027)
    assert schedule.holiday_days()[dt.date(2027, 1, 4)] == "元旦"
    assert len(schedule.holiday_days()) == 11
    bad = [
        ({**TEST_2027, "workdays": [{"name": "x", "date": "2027-01-05"}]}, "调休 only turns weekend days"),
        ({**TEST_2027, "workdays": [{"name": "x", "date": "2027-01-02"}]}, "both a holiday and a make-up"),
        ({**TEST_2027, "holidays": [{"name": "x", "start": "2026-12-31"}]}, "is not in 2027"),
        ({**TEST_2027, "holidays": [{"name": "x", "start": "2027-01-03", "end": "2027-01-01"}]}, "before start"),
        ({**TEST_2027, "holidays": TEST_2027["holidays"] * 2}, "listed twice"),
        ({**TEST_2027, "holidays": []}, "at least 1"),
        ({**TEST_2027, "year": 2200}, "less than or equal to 2100"),
        ({**TEST_2027, "colour": "red"}, "Extra inputs"),
    ]
    for data, message in bad:
        with pytest.raises(ValidationError, match=message):
            YearSchedule.model_validate(data)


def test_the_example_file_is_valid_and_marked_example() -> None:
    schedule = YearSchedule.model_validate(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    assert schedule.year == 2027 and schedule.example


def test_store_and_reinstall_years(db_session: Session) -> None:
    services.store_year(db_session, YearSchedule.model_validate(TEST_2027), loaded_by="admin")
    db_session.commit()
    calendar = WorkCalendar()
    assert services.install_stored_years(db_session, calendar) == {2027}
    assert not calendar.is_workday(dt.date(2027, 1, 4)) and calendar.is_workday(dt.date(2027, 1, 9))
    assert calendar.day(dt.date(2027, 1, 4)).source == "loaded"
    [stored] = services.list_years(db_session)
    assert (stored.year, stored.holidays, stored.workdays, stored.loaded_by) == (2027, 11, 1, "admin")
    assert stored.loaded_at.tzinfo is not None
    # loading the year again replaces it
    services.store_year(db_session, YearSchedule.model_validate({**TEST_2027, "workdays": []}), loaded_by="b")
    db_session.commit()
    [stored] = services.list_years(db_session)
    assert (stored.workdays, stored.loaded_by) == (0, "b")


def test_example_schedules_need_an_explicit_yes(db_session: Session, engine: DeadlineEngine) -> None:
    schedule = YearSchedule.model_validate(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    with pytest.raises(services.ExampleScheduleRefused, match="marked example"):
        services.load_year(db_session, engine, schedule, loaded_by="admin")
    assert services.list_years(db_session) == []
    services.load_year(db_session, engine, schedule, loaded_by="admin", allow_example=True)
    assert [y.year for y in services.list_years(db_session)] == [2027]


def test_deadline_into_2027_is_provisional_then_recomputed(db_session: Session, engine: DeadlineEngine) -> None:
    orders = FakeOrders(engine)
    orders.create("complaint", "2026-12-28 10:00")   # 7 working days: into January 2027
    orders.create("complaint", "2026-11-16 10:00")   # all in 2026
    complete = {r[2].anchor_at: r[2] for r in orders.rows if r[2].kind == "complete"}
    into_2027 = complete[at("2026-12-28 10:00")]
    # rule-based holidays: Jan 1 off, Mon Jan 4 worked → Thu 7 Jan, provisional
    assert into_2027.due_at == at("2027-01-07 10:00") and into_2027.provisional
    assert not complete[at("2026-11-16 10:00")].provisional

    services.on_year_loaded(orders.recompute_provisional)
    try:
        _, results = services.load_year(db_session, engine, YearSchedule.model_validate(TEST_2027),
                                        loaded_by="admin")
    finally:
        services.remove_year_loaded_hook(orders.recompute_provisional)
    # only the provisional deadline was touched; the other hooks (KB review deadlines) had nothing to move
    touched = {name: n for name, n in results.items() if "recompute_provisional" in name and "FakeOrders" in name}
    assert list(touched.values()) == [1]
    assert all(n == 0 for name, n in results.items() if name not in touched)
    complete = {r[2].anchor_at: r[2] for r in orders.rows if r[2].kind == "complete"}
    after = complete[at("2026-12-28 10:00")]
    # official: Jan 1–4 off, Sat Jan 9 worked → Dec 28–31, Jan 5, 6, 7: Fri 8 Jan 10:00
    assert after.due_at == at("2027-01-08 10:00") and not after.provisional
    # and a fresh engine built from the database agrees
    fresh = services.build_engine(db_session, "ziyang", "09:00-12:00,13:30-17:30")
    again = fresh.compute("complaint", "normal", accepted_at=at("2026-12-28 10:00"),
                          dispatched_at=at("2026-12-28 10:00"))["complete"]
    assert again == after


def test_a_failing_hook_does_not_lose_the_year(db_session: Session, engine: DeadlineEngine,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "DEFAULT_HOOKS", ("hotline.no_such_module:recompute_provisional",))

    def broken(session: Session, engine: DeadlineEngine) -> int:
        raise RuntimeError("boom")

    services.on_year_loaded(broken)
    try:
        _, results = services.load_year(db_session, engine, YearSchedule.model_validate(TEST_2027), loaded_by="a")
    finally:
        services.remove_year_loaded_hook(broken)
    assert results["hotline.no_such_module:recompute_provisional"].startswith("not available")
    # other modules' hooks (e.g. the KB's, registered on import) report counts; the broken one its failure
    assert any(isinstance(v, str) and v.startswith("failed: RuntimeError('boom')") for v in results.values())
    assert [y.year for y in services.list_years(db_session)] == [2027]
    assert engine.calendar.loaded_years == {2027}


def make_app(db_session_factory) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(router)
    app.state.session_factory = db_session_factory

    @app.middleware("http")
    async def principal_from_header(request: Request, call_next):  # type: ignore[no-untyped-def]
        role = request.headers.get("x-test-role")
        if role:
            request.state.principal = Principal(username=f"{role}-user", role=Role(role))
        return await call_next(request)

    return app


def test_api_loads_a_year_as_admin_only(db_session_factory) -> None:  # type: ignore[no-untyped-def]
    app = make_app(db_session_factory)
    with TestClient(app) as client:
        body = yaml.safe_dump(TEST_2027, allow_unicode=True)
        yaml_type = {"content-type": "application/yaml"}
        assert client.post("/api/sla/calendar/years", content=body, headers=yaml_type).status_code == 401
        refused = client.post("/api/sla/calendar/years", content=body,
                              headers={**yaml_type, "x-test-role": "supervisor"})
        assert refused.status_code == 403
        loaded = client.post("/api/sla/calendar/years", content=body, headers={**yaml_type, "x-test-role": "admin"})
        assert loaded.status_code == 201, loaded.text
        assert loaded.json()["year"] == 2027 and loaded.json()["loaded_by"] == "admin-user"
        assert app.state.sla_engine.calendar.day(dt.date(2027, 1, 4)).source == "loaded"
        overview = client.get("/api/sla/calendar?years=2026&years=2027&years=2101",
                              headers={"x-test-role": "supervisor"}).json()
        assert [y["year"] for y in overview["loaded"]] == [2027]
        assert overview["sources"] == {"2026": "chinesecalendar", "2027": "loaded", "2101": "unavailable"}

        admin = {"x-test-role": "admin"}
        bad = client.post("/api/sla/calendar/years", json={**TEST_2027, "year": "soon"}, headers=admin)
        assert bad.status_code == 422 and "year" in json.dumps(bad.json())
        garbled = client.post("/api/sla/calendar/years", content=b"{not json", headers=admin)
        assert garbled.status_code == 400
        example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
        example_json = json.loads(json.dumps(example, default=str))
        assert client.post("/api/sla/calendar/years", json=example_json, headers=admin).status_code == 409
        assert client.post("/api/sla/calendar/years?allow_example=true", json=example_json,
                           headers=admin).status_code == 201
        rules = client.get("/api/sla/policy", headers={"x-test-role": "agent"}).json()["rules"]
        assert any(r["kind"] == "sign" and "第十三条" in r["article"] for r in rules)


def test_cli_load_year(db_url: str, db_session_factory, tmp_path: Path,  # type: ignore[no-untyped-def]
                       capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--database-url", db_url, "load-year", str(EXAMPLE)]) == 2
    assert "marked example" in capsys.readouterr().err
    broken = tmp_path / "2027.yaml"
    broken.write_text("year: 2027\nsource: x\nholidays: []\n", encoding="utf-8")
    assert cli(["--database-url", db_url, "load-year", str(broken)]) == 2
    assert "at least 1" in capsys.readouterr().err
    as_json = tmp_path / "2027.json"
    as_json.write_text(json.dumps(TEST_2027), encoding="utf-8")
    assert cli(["--database-url", db_url, "load-year", str(as_json)]) == 0
    assert json.loads(capsys.readouterr().out)["year"] == 2027
    assert cli(["--database-url", db_url, "years"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "test schedule"
