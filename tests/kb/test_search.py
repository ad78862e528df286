"""Chinese search quality and freshness of the live index on a small fixture set."""

from __future__ import annotations

from datetime import timedelta

from hotline.kb import services
from hotline.kb.search import KnowledgeBase

from .conftest import NOW, add_article


def titles(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.title for h in hits]


def test_synonyms_find_articles_written_with_the_other_word(kb, fixture_ids) -> None:
    # The articles say 医保 / 公积金 / 停水; the callers say 医疗保险 / 住房公积金 / 断水.
    assert titles(kb.search("医疗保险异地怎么备案"))[0] == "医保异地就医备案办理指南"
    assert titles(kb.search("住房公积金能不能取出来"))[0] == "住房公积金提取条件"
    assert titles(kb.search("小区断水了去哪里查"))[0] == "停水通知查询方式"
    assert titles(kb.search("户籍迁移要带什么"))[0] == "户籍迁入办理材料"
    assert "社保卡补办流程" in titles(kb.search("社会保障卡丢了怎么补领", limit=3))


def test_title_match_ranks_first(kb, db_session, fixture_ids) -> None:
    # Both mention 社保; only one has it in the title.
    hits = kb.search("社保")
    assert hits[0].title == "社保卡补办流程"
    assert "禅城区行政服务中心网点信息" in titles(hits)
    # A body-only mention repeated does not beat a title mention.
    add_article(db_session, "办事大厅常见问题", "公积金 公积金 公积金 公积金 公积金 账户查询可以到各网点窗口。")
    assert kb.search("公积金")[0].title == "住房公积金提取条件"


def test_a_word_is_matched_whole_or_else_by_its_parts(kb, fixture_ids) -> None:
    # 社保卡 is a word some article holds: it is matched whole, not also as 社保 (which the outlet article
    # mentions in passing).
    assert titles(kb.search("社保卡")) == ["社保卡补办流程"]
    # No article says 社保局: its part 社保 is searched instead.
    assert titles(kb.search("社保局")) == ["社保卡补办流程", "禅城区行政服务中心网点信息"]


def test_expired_future_and_unpublished_are_not_returned(kb, db_session, fixture_ids) -> None:
    add_article(db_session, "燃气补贴申领（已过期）", "燃气补贴申领办法", effective_until=NOW - timedelta(days=1))
    add_article(db_session, "燃气补贴申领（明年生效）", "燃气补贴申领办法", effective_from=NOW + timedelta(days=30))
    add_article(db_session, "燃气补贴申领（草稿）", "燃气补贴申领办法", publish=False)
    current = add_article(db_session, "燃气补贴申领（现行）", "燃气补贴申领办法",
                          effective_from=NOW - timedelta(days=1), effective_until=NOW + timedelta(days=1))
    assert [h.article_id for h in kb.search("燃气补贴")] == [current]
    # Expiry needs no index change: the same index, a day later, no longer serves it.
    kb.clock = lambda: (NOW + timedelta(days=2)).timestamp()
    assert kb.search("燃气补贴") == []


def test_pending_review_is_not_served_and_retired_leaves(kb, db_session, fixture_ids) -> None:
    pending = add_article(db_session, "电动车上牌", "电动自行车上牌到交警车管所", publish=False)
    services.submit_article(db_session, pending, "agent")
    assert kb.search("电动车上牌") == []
    services.review_article(db_session, pending, True, "unit")
    assert titles(kb.search("电动车上牌")) == ["电动车上牌"]
    services.retire_article(db_session, pending, "unit", "政策调整")
    assert kb.search("电动车上牌") == []


def test_filters_by_category_and_unit(kb, fixture_ids) -> None:
    assert {h.owner_unit for h in kb.search("医保", unit="fs-ybj")} == {"fs-ybj"}
    assert kb.search("医保", unit="no-such-unit") == []
    assert titles(kb.search("物业投诉", category="complaint")) == ["小区物业服务投诉处理流程"]
    assert "小区物业服务投诉处理流程" not in titles(kb.search("物业投诉", category="consult"))


def test_another_process_sees_changes_by_version_stamp(db_session_factory, db_session, fixture_ids) -> None:
    worker_a = KnowledgeBase(db_session_factory, check_interval=0)
    worker_b = KnowledgeBase(db_session_factory, check_interval=0)
    assert worker_a.search("共享单车") == worker_b.search("共享单车") == []
    new = add_article(db_session, "共享单车乱停放投诉", "共享单车乱停放可向城管部门反映。", "complaint")
    assert [h.article_id for h in worker_b.search("共享单车")] == [new]
    services.update_article(db_session, new, {"title": "互联网租赁自行车停放管理"}, "editor")
    assert worker_a.search("共享单车")[0].title == "互联网租赁自行车停放管理"
    assert worker_a.refresh() == 0  # nothing new: only the version row was read


def test_index_starts_over_when_the_stamp_goes_back(db_session_factory, db_session, fixture_ids) -> None:
    kb = KnowledgeBase(db_session_factory, check_interval=0)
    assert kb.search("公积金")
    version = kb.version
    from hotline.kb.models import KbState

    db_session.get(KbState, 1).version = 1  # a restored database
    db_session.commit()
    kb.refresh()
    assert kb.version == 1 < version and kb.search("公积金")
    later = add_article(db_session, "公积金贷款额度", "公积金贷款最高额度按缴存年限计算。")  # stamp 2
    assert later in [h.article_id for h in kb.search("公积金")]


def test_screen_pop_hits_for_call(kb, db_session, fixture_ids) -> None:
    # Without text: the most used articles of the IVR category (HOTLINE_CATEGORY "complaint").
    hits = kb.hits_for_call("complaint", None, limit=3)
    assert titles(hits) == ["小区物业服务投诉处理流程"]
    services.record_hits(db_session, "call-1", [fixture_ids["社保卡补办流程"]], "used")
    kb.rebuild()  # popularity is read when articles are loaded
    assert kb.hits_for_call("consult", None, limit=1)[0].title == "社保卡补办流程"
    # The tracker's category wins over the IVR choice; text searches within it.
    top = kb.hits_for_call("complaint", "consult", limit=1, text="医疗保险")[0]
    assert "医保" in top.title and top.category == "consult"
    pop = kb.hits_for_call(None, None, limit=2, text="公积金")[0].as_pop()
    assert set(pop) == {"article_id", "title", "snippet", "category", "owner_unit", "article_type", "score"}
    assert "公积金" in pop["snippet"]
    # Unknown IVR value or category: no category filter rather than an error.
    assert kb.hits_for_call("not-a-category", None, limit=2)
    assert kb.hits_for_call(None, "weather", limit=2)


def test_query_without_terms_returns_nothing(kb, fixture_ids) -> None:
    assert kb.search("的了吗？！") == []
    assert kb.search("   ") == []
