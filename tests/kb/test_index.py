"""The in-memory index under incremental change, against a brute-force reference; and a change made by
another OS process reaching this one's index through the version stamp."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.kb.index import IndexedArticle, SearchIndex
from hotline.kb.search import KnowledgeBase, shared_analyzer

WORDS = ["社保", "医保", "医疗保险", "公积金", "停水", "断水", "物业", "户口", "户籍", "入学", "执照", "噪音"]


def doc(article_id: int, words: list[str], category: str = "consult", unit: str = "u1") -> IndexedArticle:
    title, body = "".join(words[:1]) or "无题", "，".join(words) or "空"
    return IndexedArticle(article_id, title, body, category, unit, "business")


operations = st.lists(
    st.tuples(st.sampled_from(["upsert", "remove"]), st.integers(1, 12),
              st.lists(st.sampled_from(WORDS), max_size=4), st.sampled_from(["consult", "help"])),
    max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, st.sampled_from(WORDS))
def test_incremental_index_matches_brute_force(ops, query_word) -> None:  # type: ignore[no-untyped-def]
    analyzer = shared_analyzer()
    index = SearchIndex(analyzer, capacity=2)  # tiny capacity: growth and slot reuse are exercised
    live: dict[int, IndexedArticle] = {}
    for op, article_id, words, category in ops:
        if op == "upsert":
            live[article_id] = doc(article_id, words, category)
            index.upsert(live[article_id])
        else:
            assert index.remove(article_id) == (article_id in live)
            live.pop(article_id, None)
    assert len(index) == len(live)
    wanted = set(analyzer.query_terms(query_word))
    terms_of = {a.article_id: set(analyzer.terms(a.title + " " + a.body)) for a in live.values()}
    df = {t: sum(t in terms for terms in terms_of.values()) for t in wanted}
    matched = {t for t in wanted if df[t]}
    # the index's documented rule: terms in more than half of the articles count only when the query has
    # nothing more specific (hotline/kb/index.py SearchIndex.search)
    used = {t for t in matched if df[t] <= len(live) // 2} or matched
    for category in (None, "consult"):
        expected = {a.article_id for a in live.values()
                    if used & terms_of[a.article_id] and category in (None, a.category)}
        found = index.search(query_word, now=0, category=category, limit=100)
        assert {d.article_id for d, _ in found} == expected
        assert all(score > 0 for _, score in found)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)


def test_validity_window_is_half_open() -> None:
    index = SearchIndex(shared_analyzer())
    index.upsert(IndexedArticle(1, "停水通知", "停水", "consult", "u", "business", effective_from=100.0,
                                effective_until=200.0))
    assert [index.search("停水", now=t) != [] for t in (99.9, 100.0, 199.9, 200.0)] == [False, True, True, False]
    index.upsert(IndexedArticle(2, "停电通知", "停电", "consult", "u", "business", -math.inf, math.inf))
    assert index.search("停电", now=1e12)


def test_change_from_another_process_is_seen(db_url, db_session_factory) -> None:  # type: ignore[no-untyped-def]
    kb = KnowledgeBase(db_session_factory, check_interval=0)
    assert kb.search("垃圾分类") == []
    script = textwrap.dedent(f"""
        from hotline.db import make_engine, make_session_factory
        from hotline.kb import services
        factory = make_session_factory(make_engine({db_url!r}))
        with factory() as s:
            a = services.create_article(s, {{"title": "垃圾分类投放时间", "body": "生活垃圾分类定时定点投放。",
                "category": "consult", "article_type": "business", "owner_unit": "fs-cgj"}}, "other-process")
            services.submit_article(s, a.id, "other-process")
            services.review_article(s, a.id, True, "other-process")
            print(a.id)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [h.article_id for h in kb.search("垃圾分类")] == [int(done.stdout.strip())]


def test_stored_terms_are_used_and_stale_ones_ignored(db_session, db_session_factory) -> None:  # type: ignore[no-untyped-def]
    from hotline.kb.models import KbArticle
    from hotline.kb.services import bump_version

    from .conftest import add_article

    article_id = add_article(db_session, "公交线路调整", "部分公交线路因道路施工临时调整。")
    analyzer = shared_analyzer()
    stored = db_session.get(KbArticle, article_id).index_terms
    body = "部分公交线路因道路施工临时调整。"
    assert analyzer.decode(stored) == (analyzer.terms("公交线路调整"), analyzer.terms(body))

    def restamp(index_terms: str) -> None:
        article = db_session.get(KbArticle, article_id)
        article.index_terms = index_terms
        article.change_seq = bump_version(db_session)
        db_session.commit()

    kb = KnowledgeBase(db_session_factory, check_interval=0)
    restamp(f"{analyzer.fingerprint}\t暗号\t")  # terms of this configuration are trusted as stored
    assert [h.article_id for h in kb.search("暗号")] == [article_id] and kb.search("公交") == []
    restamp("0123456789ab\t暗号\t")  # made by another configuration: analysed again from the text
    assert kb.search("暗号") == [] and [h.article_id for h in kb.search("公交")] == [article_id]

