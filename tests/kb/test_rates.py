"""Hit tracking and the one-time answer rate (一次性解答率, Ziyang art. 12, 17)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.kb import services
from hotline.kb.models import KbHit

from .conftest import NOW


def answer(session, call_id: str, article_id: int | None, *, dispatched: bool = False,  # type: ignore[no-untyped-def]
           unit: str | None = None, category: str = "consult"):
    if article_id is not None:
        services.record_hits(session, call_id, [article_id], "shown", "pop", agent_id="1001")
        services.record_hits(session, call_id, [article_id], "used", "search", agent_id="1001")
    return services.record_consultation(session, call_id, category, unit, dispatched, agent_id="1001")


def test_hits_are_recorded_per_call(db_session, fixture_ids) -> None:  # type: ignore[no-untyped-def]
    shown = [fixture_ids["社保卡补办流程"], fixture_ids["住房公积金提取条件"]]
    assert services.record_hits(db_session, "call-7", shown + shown[:1], "shown", "pop", "1001") == 2
    services.record_hits(db_session, "call-7", shown[:1], "used", "search", "1001")
    rows = db_session.execute(select(KbHit.article_id, KbHit.kind, KbHit.source)
                              .where(KbHit.call_id == "call-7").order_by(KbHit.id)).all()
    assert [tuple(r) for r in rows] == [(shown[0], "shown", "pop"), (shown[1], "shown", "pop"),
                                        (shown[0], "used", "search")]
    assert services.get_article(db_session, shown[0]).use_count == 1
    with pytest.raises(services.ArticleNotFound):
        services.record_hits(db_session, "call-7", [999_999], "used")
    with pytest.raises(services.InvalidArticle):
        services.record_hits(db_session, "call-7", shown, "clicked")


def test_consultation_answered_from_the_kb_counts_as_one_time(db_session, fixture_ids) -> None:  # type: ignore[no-untyped-def]
    ybj = fixture_ids["医保异地就医备案办理指南"]
    row = answer(db_session, "c1", ybj)
    assert (row.answered_on_call, row.unit_code, row.article_id) == (True, "fs-ybj", ybj)
    # Shown but not used, and a work order dispatched: not answered on the call.
    services.record_hits(db_session, "c2", [ybj], "shown", "pop")
    row = services.record_consultation(db_session, "c2", "consult", "fs-ybj", dispatched=True)
    assert row.answered_on_call is False
    # Used, yet a work order still had to go out: the KB did not answer it completely.
    assert answer(db_session, "c3", ybj, dispatched=True).answered_on_call is False
    # Recording the same call again replaces, never doubles, the consultation.
    answer(db_session, "c1", ybj)
    report = services.answer_rate_report(db_session)
    assert [(r.category, r.consultations, r.answered_on_call) for r in report.by_category] == [("consult", 3, 1)]


def test_rate_per_category_and_unit_flags_under_90_percent(db_session, fixture_ids) -> None:  # type: ignore[no-untyped-def]
    gjj, ybj = fixture_ids["住房公积金提取条件"], fixture_ids["医保异地就医备案办理指南"]
    for i in range(10):  # 公积金: 10 of 10 answered on the call
        answer(db_session, f"g{i}", gjj)
    for i in range(9):   # 医保: 8 of 9 answered (88.9%)
        answer(db_session, f"y{i}", ybj if i < 8 else None, dispatched=i >= 8, unit="fs-ybj")
    answer(db_session, "h1", None, dispatched=True, unit="fs-zjj", category="help")  # 求助: 0 of 1

    report = services.answer_rate_report(db_session)
    units = {r.unit_code: r for r in report.by_unit}
    assert (units["fs-gjj"].rate, units["fs-gjj"].below_target) == (1.0, False)
    assert units["fs-ybj"].consultations == 9 and units["fs-ybj"].answered_on_call == 8
    assert units["fs-ybj"].below_target and round(units["fs-ybj"].rate, 3) == 0.889
    categories = {r.category: r for r in report.by_category}
    assert categories["consult"].rate == 18 / 19 and not categories["consult"].below_target
    assert categories["help"].below_target
    both = {(r.category, r.unit_code): r.below_target for r in report.by_category_and_unit}
    assert both == {("consult", "fs-gjj"): False, ("consult", "fs-ybj"): True, ("help", "fs-zjj"): True}


def test_report_period(db_session, fixture_ids) -> None:  # type: ignore[no-untyped-def]
    gjj = fixture_ids["住房公积金提取条件"]
    services.record_hits(db_session, "old", [gjj], "used")
    services.record_consultation(db_session, "old", now=NOW - timedelta(days=40))
    answer(db_session, "new", None, unit="fs-gjj")
    recent = services.answer_rate_report(db_session, since=NOW - timedelta(days=30))
    assert [(r.unit_code, r.consultations, r.answered_on_call) for r in recent.by_unit] == [("fs-gjj", 1, 0)]
    everything = services.answer_rate_report(db_session)
    assert sum(r.consultations for r in everything.by_unit) == 2
