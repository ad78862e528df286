"""Reports from a real database filled by the platform's own paths (call events → calls table), the
metrics router behind the console's login and roles, and the wallboard websocket."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from hotline.bus import EventBus
from hotline.calls.services import apply_call_event, record_satisfaction
from hotline.kb.models import KbConsultation
from hotline.workorders.models import OrderDeadline, WorkOrder
from metrics.engine import MetricsEngine
from metrics.reports import build_report, hot_topics, period_bounds, report_csv
from metrics.service import MetricsService
from tests.console.conftest import Session
from tests.console.server import ConsoleServer
from tests.metrics.test_engine_traces import SKILLS, T0, call_events

DAY, MONTH = "2026-11-21", "2026-11"     # T0 is 2026-11-21 20:16 China Standard Time
AT = datetime.fromtimestamp(T0, UTC)


def fill(session_factory) -> None:  # type: ignore[no-untyped-def]
    events = call_events()
    with session_factory() as session:
        for event in events:
            apply_call_event(session, event)
        session.commit()
        ids = sorted({e["call_id"] for e in events})
        basic = next(e["call_id"] for e in events if e["type"] == "call.started")
        record_satisfaction(session, basic, 5)
        record_satisfaction(session, ids[-1], 3)
        contents = [("complaint", "小区夜间施工噪音扰民，严重影响休息"), ("complaint", "工地噪音扰民，凌晨还在施工"),
                    ("consult", "咨询社保卡补办需要的材料")]
        for n, (category, content) in enumerate(contents):
            session.add(WorkOrder(number=f"ZY2026112100{n:02d}", created_at=AT, updated_at=AT, channel="phone",
                                  category=category, urgency="normal", status="dispatched", content=content,
                                  created_by="agent1", satisfaction=4 if n == 0 else None))
        session.flush()
        orders = session.query(WorkOrder).order_by(WorkOrder.id).all()
        # one deadline missed (due at noon, not met), one met in time, one due tomorrow (another day)
        session.add_all([
            OrderDeadline(order_id=orders[0].id, kind="dispatch", anchor_at=AT - timedelta(hours=8),
                          due_at=AT - timedelta(hours=6), rule="r", met_at=None),
            OrderDeadline(order_id=orders[1].id, kind="dispatch", anchor_at=AT - timedelta(hours=8),
                          due_at=AT - timedelta(hours=6), rule="r", met_at=AT - timedelta(hours=7)),
            OrderDeadline(order_id=orders[2].id, kind="dispatch", anchor_at=AT, due_at=AT + timedelta(days=1),
                          rule="r", met_at=None)])
        for n, answered in enumerate((True, True, True, False)):
            session.add(KbConsultation(call_id=f"kb-{n}", category="consult", answered_on_call=answered,
                                       created_at=AT))
        session.commit()


def test_daily_and_monthly_report_figures(db_session_factory) -> None:  # type: ignore[no-untyped-def]
    fill(db_session_factory)
    with db_session_factory() as session:
        daily = build_report(session, "daily", DAY, now=AT + timedelta(hours=1))
        monthly = build_report(session, "monthly", MONTH, now=AT + timedelta(hours=1))
        other_day = build_report(session, "daily", "2026-11-20", now=AT)
    # Hand computation (see test_engine_traces): 8 queued calls, 7 answered, 1 abandoned after 7 s;
    # answered within 15 s: all but noanswer (17 s) = 6. Rates 7/8 = 87.5 %, 6/8 = 75 %.
    for report in (daily, monthly):
        c = report.calls
        assert (c.calls, c.ivr_only, c.offered, c.answered, c.abandoned, c.unanswered) == (8, 0, 8, 7, 1, 0)
        assert (c.answer_rate, c.service_level) == (7 / 8, 6 / 8)
        assert abs(c.average_speed_of_answer - 23 / 7) < 1e-9
        assert report.orders_by_category == {"complaint": 2, "consult": 1} and report.orders_total == 3
        assert report.hot_topics[0] == ("噪音", 2)       # in both complaints' keywords
        assert report.deadlines_missed == {"dispatch": 1}  # the one met in time and the one not yet due: no
        assert report.satisfaction == {3: 1, 4: 1, 5: 1}    # two calls' surveys + one order's revisit
        assert report.satisfied_rate == 2 / 3
        assert (report.kb_consultations, report.kb_answered_on_call, report.kb_rate) == (4, 3, 0.75)
    assert list(monthly.by_day) == [DAY]
    assert other_day.calls.calls == 0 and other_day.orders_total == 0
    text = report_csv(daily)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["12345热线日报", DAY]
    total = next(r for r in rows if r and r[0] == "全部")
    assert total[3:10] == ["8", "7", "1", "0", "0", "87.5%", "75.0%"]


def test_period_bounds_are_china_time() -> None:
    since, until = period_bounds("daily", DAY)
    assert (since.isoformat(), until.isoformat()) == ("2026-11-20T16:00:00+00:00", "2026-11-21T16:00:00+00:00")
    since, until = period_bounds("monthly", "2026-12")
    assert (since.isoformat(), until.isoformat()) == ("2026-11-30T16:00:00+00:00", "2026-12-31T16:00:00+00:00")
    for kind, bad in (("daily", "2026-13-01"), ("monthly", "2026-11-21"), ("weekly", DAY)):
        try:
            period_bounds(kind, bad)
        except ValueError:
            continue
        raise AssertionError(f"{kind} {bad} accepted")


def test_hot_topics_ignore_filler_words() -> None:
    topics = dict(hot_topics(["市民反映问题：小区路灯损坏", "反映路灯损坏问题", "咨询公积金提取"]))
    assert topics.get("路灯") == 2
    assert "反映" not in topics and "问题" not in topics


async def test_report_endpoints_and_roles(live: ConsoleServer, supervisor: Session, agent: Session,
                                          db_session_factory) -> None:  # type: ignore[no-untyped-def]
    fill(db_session_factory)
    url = f"/api/metrics/reports/daily?period={DAY}"
    denied = await agent.client.get(url, headers=agent.headers())
    assert denied.status_code == 403
    csv_resp = await supervisor.client.get(url + "&format=csv", headers=supervisor.headers())
    assert csv_resp.status_code == 200
    assert csv_resp.headers["content-type"].startswith("text/csv")
    assert f"hotline-daily-{DAY}.csv" in csv_resp.headers["content-disposition"]
    assert csv_resp.text.startswith("\ufeff12345热线日报")
    html = await supervisor.client.get(url, headers=supervisor.headers(Accept="text/html"))
    assert html.status_code == 200 and "<h1>12345 政务服务便民热线日报（2026-11-21）</h1>" in html.text
    assert "87.5%" in html.text and "噪音" in html.text
    data = (await supervisor.client.get(url + "&format=json", headers=supervisor.headers())).json()
    assert data["calls"]["answered"] == 7
    bad = await supervisor.client.get("/api/metrics/reports/monthly?period=2026-11-31", headers=supervisor.headers())
    assert bad.status_code == 422
    monthly = await supervisor.client.get(f"/api/metrics/reports/monthly?period={MONTH}&format=csv",
                                          headers=supervisor.headers())
    assert "逐日" in monthly.text
    current = await supervisor.client.get("/api/metrics/reports/daily?format=json", headers=supervisor.headers())
    assert current.status_code == 200 and len(current.json()["period"]) == 10   # today, China time


async def test_wallboard_page_snapshot_and_websocket(live: ConsoleServer, supervisor: Session, agent: Session,
                                                     redis_url: str) -> None:
    assert (await agent.client.get("/supervisor/wallboard", headers=agent.headers(Accept="text/html"))).status_code \
        == 403
    page = await supervisor.client.get("/supervisor/wallboard", headers=supervisor.headers(Accept="text/html"))
    assert page.status_code == 200 and "12345 热线实时看板" in page.text
    assert (await supervisor.client.get("/metrics-static/wallboard.js", headers=supervisor.headers())).status_code \
        == 200
    assert (await supervisor.client.get("/metrics-static/..%2Fservice.py", headers=supervisor.headers())).status_code \
        == 404

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    bus = EventBus(client, prefix=live.prefix)
    await client.delete(bus.prefix + "metrics:state", bus.prefix + "metrics:wallboard")
    assert (await supervisor.client.get("/api/metrics/wallboard", headers=supervisor.headers())).status_code == 503
    service = MetricsService(bus, MetricsEngine(5, 15, SKILLS), persist_interval=0.05, block_ms=50,
                             clock=lambda: T0 + 2000)
    try:
        ws = await connect(live.url.replace("http", "ws") + "/ws/wallboard", origin=live.origin,
                           additional_headers={"Cookie": supervisor.cookie}, open_timeout=5)
        for event in call_events():
            await bus.publish("calls", event)
        await service.start()
        async with asyncio.timeout(10):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "snapshot" and message["data"]["total"]["offered"] == 8:
                    break
        assert message["data"]["total"]["answer_rate"] == 0.875
        guard = {"type": "guard.overflow", "queue": "hotline-general", "value": 0.875, "ts": T0 + 2000}
        entry = await bus.publish("supervisors", guard)
        async with asyncio.timeout(10):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "alert":
                    break
        assert (message["id"], message["event"]["type"]) == (entry, "guard.overflow")
        await ws.close()
        snapshot = (await supervisor.client.get("/api/metrics/wallboard", headers=supervisor.headers())).json()
        assert snapshot["total"]["answered"] == 7
        try:
            await connect(live.url.replace("http", "ws") + "/ws/wallboard", origin=live.origin,
                          additional_headers={"Cookie": agent.cookie}, open_timeout=5)
            agent_ws_denied = False
        except Exception:
            agent_ws_denied = True
        assert agent_ws_denied
    finally:
        await service.stop()
        await client.aclose()
