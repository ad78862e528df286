"""The article life cycle and the 22-hour auto-accept of collected information (Foshan art. 51(3))."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from hotline.kb import services
from hotline.kb.runner import run_auto_accept_once
from hotline.kb.state import ArticleEvent, ArticleStatus, TransitionError, next_status
from hotline.sla.calendar import WorkCalendar
from hotline.sla.timeutil import TZ as BEIJING

FRIDAY_17 = datetime(2026, 11, 20, 17, 0, tzinfo=BEIJING)  # a Friday; the 21st and 22nd are the weekend


def collected(session, title: str = "地铁末班车时间", unit: str = "fs-metro") -> int:  # type: ignore[no-untyped-def]
    article = services.create_article(session, {
        "title": title, "body": "座席收集：佛山地铁末班车时间为23:00。", "category": "consult",
        "article_type": "collected", "owner_unit": unit}, created_by="agent-1001", now=FRIDAY_17)
    return article.id


def status_of(session_factory, article_id: int) -> str:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return services.get_article(session, article_id).status


def test_review_deadline_skips_weekends_and_holidays(db_session) -> None:  # type: ignore[no-untyped-def]
    assert services.review_deadline(db_session, FRIDAY_17) == datetime(2026, 11, 23, 15, 0, tzinfo=BEIJING)
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=BEIJING)  # the clock waits for Monday 00:00
    assert services.review_deadline(db_session, saturday) == datetime(2026, 11, 23, 22, 0, tzinfo=BEIJING)
    calendar = WorkCalendar()
    calendar.install_year(2026, {date(2026, 11, 23): "测试假日"}, {})  # an official schedule with Monday off
    assert services.review_deadline(db_session, FRIDAY_17, calendar) == datetime(2026, 11, 24, 15, 0, tzinfo=BEIJING)
    with pytest.raises(ValueError):
        services.review_deadline(db_session, datetime(2026, 11, 20, 17, 0))  # naive


def test_year_loaded_hook_moves_pending_deadlines(db_session) -> None:  # type: ignore[no-untyped-def]
    from hotline.sla.services import _resolve_hooks, build_engine

    article_id = collected(db_session)
    services.submit_article(db_session, article_id, "agent", now=FRIDAY_17)
    engine = build_engine(None, "foshan", "09:00-12:00,13:30-17:30")
    engine.calendar.install_year(2026, {date(2026, 11, 23): "测试假日"}, {})
    assert services.recompute_review_deadlines in _resolve_hooks().values()
    assert services.recompute_review_deadlines(db_session, engine) == 1
    db_session.commit()
    assert services.get_article(db_session, article_id).review_due_at == datetime(2026, 11, 24, 15, 0,
                                                                                    tzinfo=BEIJING)


def test_collected_information_is_auto_accepted_after_22_working_hours_over_a_weekend(
        db_session, db_session_factory, kb) -> None:  # type: ignore[no-untyped-def]
    article_id = collected(db_session)
    submitted = services.submit_article(db_session, article_id, "agent-1001", now=FRIDAY_17)
    assert submitted.review_due_at == datetime(2026, 11, 23, 15, 0, tzinfo=BEIJING)

    for moment in (FRIDAY_17 + timedelta(hours=22),          # Saturday 15:00: 22 clock hours, but weekend
                   datetime(2026, 11, 22, 23, 59, tzinfo=BEIJING),
                   datetime(2026, 11, 23, 14, 59, tzinfo=BEIJING)):
        assert services.auto_accept_due(db_session, now=moment) == []
    assert status_of(db_session_factory, article_id) == "pending_review"
    assert kb.search("地铁末班车") == []

    assert services.auto_accept_due(db_session, now=datetime(2026, 11, 23, 15, 0, tzinfo=BEIJING)) == [article_id]
    article = services.get_article(db_session, article_id)
    assert (article.status, article.reviewed_by) == ("published", services.AUTO_ACCEPT_REVIEWER)
    assert [h.article_id for h in kb.search("地铁末班车")] == [article_id]
    # A second run finds nothing more to do.
    assert services.auto_accept_due(db_session, now=datetime(2026, 11, 24, tzinfo=BEIJING)) == []


def test_reviewed_or_other_kinds_are_not_auto_accepted(db_session) -> None:  # type: ignore[no-untyped-def]
    rejected = collected(db_session, "错误的收集信息")
    services.submit_article(db_session, rejected, "agent", now=FRIDAY_17)
    services.review_article(db_session, rejected, False, "fs-metro-editor", "信息有误", now=FRIDAY_17)
    business = services.create_article(db_session, {
        "title": "业务信息", "body": "需要成员单位审核", "article_type": "business", "owner_unit": "fs-metro",
        "category": "consult"}, "editor", now=FRIDAY_17).id
    services.submit_article(db_session, business, "editor", now=FRIDAY_17)
    assert services.get_article(db_session, business).review_due_at is None
    assert services.auto_accept_due(db_session, now=FRIDAY_17 + timedelta(days=30)) == []
    assert services.get_article(db_session, rejected).status == "draft"
    assert services.get_article(db_session, business).status == "pending_review"


def test_runner_publishes_due_articles(db_session, db_session_factory) -> None:  # type: ignore[no-untyped-def]
    article_id = collected(db_session)
    services.submit_article(db_session, article_id, "agent", now=FRIDAY_17 - timedelta(days=7))
    assert run_auto_accept_once(db_session_factory) == [article_id]
    assert status_of(db_session_factory, article_id) == "published"


def test_state_machine_refuses_out_of_order_events(db_session) -> None:  # type: ignore[no-untyped-def]
    article_id = collected(db_session)
    with pytest.raises(TransitionError):
        services.review_article(db_session, article_id, True, "unit")  # not submitted yet
    with pytest.raises(services.InvalidArticle):
        services.import_article(db_session, article_id, "etl")  # only approval information is imported
    services.retire_article(db_session, article_id, "editor")
    with pytest.raises(TransitionError):
        services.update_article(db_session, article_id, {"title": "改"}, "editor")
    assert next_status(ArticleStatus.pending_review, ArticleEvent.auto_accepted) is ArticleStatus.published


def test_invalid_articles_are_refused_and_nothing_is_lost(db_session) -> None:  # type: ignore[no-untyped-def]
    base = {"title": "标题", "body": "正文", "category": "consult", "article_type": "business", "owner_unit": "u"}
    with pytest.raises(services.InvalidArticle):
        services.create_article(db_session, {**base, "category": "weather"}, "editor")
    db_session.rollback()
    with pytest.raises(services.InvalidArticle):
        services.create_article(db_session, {**base, "effective_from": FRIDAY_17,
                                             "effective_until": FRIDAY_17 - timedelta(days=1)}, "editor")
    db_session.rollback()
    good = services.create_article(db_session, base, "editor")
    with pytest.raises(services.InvalidArticle):
        services.update_article(db_session, good.id, {"title": "  "}, "editor")
    assert services.get_article(db_session, good.id).title == "标题"


def test_approval_information_is_imported_published(db_session, kb) -> None:  # type: ignore[no-untyped-def]
    article = services.create_article(db_session, {
        "title": "建设工程规划许可证核发", "body": "审批事项办事指南：申请材料、办理时限20个工作日。",
        "category": "consult", "article_type": "approval", "owner_unit": "fs-zrzy"}, "etl")
    services.import_article(db_session, article.id, "etl")
    assert [h.article_id for h in kb.search("规划许可证")] == [article.id]
