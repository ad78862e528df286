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

# 社保卡 and 社保局 are words with a part (社保): a query word is matched whole if an article holds it, else by parts
WORDS = ["社保", "医保", "医疗保险", "公积金", "停水", "断水", "物业", "户口", "户籍", "入学", "执照", "噪音", "社保卡",
         "社保局"]


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
    terms_of = {a.article_id: set(analyzer.terms(a.title + " " + a.body)) for a in live.values()}
    held = set().union(*terms_of.values())
    # each word of the query by its own term if an article holds it, else by its parts
    matched = {t for w in analyzer.query_words(query_word)
               for t in ([w.term] if w.term in held else [p for p in w.parts if p in held])}
    df = {t: sum(t in terms for terms in terms_of.values()) for t in matched}
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


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5), min_size=1, max_size=40),
       st.lists(st.sampled_from(WORDS), min_size=1, max_size=4), st.integers(1, 6))
def test_top_k_is_the_head_of_the_full_ranking(docs, query_words, limit) -> None:  # type: ignore[no-untyped-def]
    # A small limit lets the search prune (frequent terms only looked up); a limit above the corpus size
    # scores every candidate. Same articles, same scores, same order, ties by the lower id even at the cut.
    # A filter either narrows the candidates or, when its articles are few (the rare unit), replaces them.
    index = SearchIndex(shared_analyzer())
    index.upsert_many([doc(i, words, "consult" if i % 3 else "help", "rare" if i % 7 == 0 else "u1")
                       for i, words in enumerate(docs, 1)])
    query = "，".join(query_words)
    everything = index.search(query, now=0, limit=len(docs) + 1)
    assert [d.article_id for d, _ in everything] == [d.article_id for d, _ in
                                                     sorted(everything, key=lambda hit: (-hit[1], hit[0].article_id))]
    for category, unit in ((None, None), ("consult", None), (None, "rare"), ("help", "rare")):
        wanted = [(d, s) for d, s in everything if category in (None, d.category) and unit in (None, d.owner_unit)]
        assert index.search(query, now=0, category=category, unit=unit, limit=limit) == wanted[:limit]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["consult", "help"]), st.sampled_from([0.0, 50.0]),
                          st.sampled_from([100.0, math.inf])), min_size=1, max_size=300),
       st.lists(st.tuples(st.integers(1, 320), st.integers(0, 3)), max_size=20),
       st.sampled_from([None, "consult", "help"]), st.sampled_from([10.0, 75.0, 150.0]), st.integers(1, 8))
def test_popular_is_the_valid_articles_by_use_then_id(docs, changes, category, now, limit) -> None:  # type: ignore[no-untyped-def]
    index = SearchIndex(shared_analyzer())
    live = {i: IndexedArticle(i, "停水", "停水", cat, "u", "business", start, end, uses)
            for i, (uses, cat, start, end) in enumerate(docs, 1)}
    index.upsert_many(list(live.values()))
    index.popular(now=now, limit=1)  # the order is cached: the changes below must reach it
    for article_id, uses in changes:  # no use left: the article is retired; else (re)published with that use
        if uses == 0:
            index.remove(article_id)
            live.pop(article_id, None)
        else:
            live[article_id] = IndexedArticle(article_id, "停水", "停水", "consult", "u", "business", popularity=uses)
            index.upsert(live[article_id])
    expected = sorted((a for a in live.values() if category in (None, a.category)
                       and a.effective_from <= now < a.effective_until), key=lambda a: (-a.popularity, a.article_id))
    assert [d.article_id for d, _ in index.popular(now=now, category=category, limit=limit)] == \
        [a.article_id for a in expected[:limit]]


def test_validity_window_is_half_open() -> None:
    index = SearchIndex(shared_analyzer())
    index.upsert(IndexedArticle(1, "停水通知", "停水", "consult", "u", "business", effective_from=100.0,
                                effective_until=200.0))
    assert [index.search("停水", now=t) != [] for t in (99.9, 100.0, 199.9, 200.0)] == [False, True, True, False]
    index.upsert(IndexedArticle(2, "停电通知", "停电", "consult", "u", "business", -math.inf, math.inf))
    assert index.search("停电", now=1e12)
    # the same through a narrow filter (a unit with few articles is scored directly, not via the postings)
    index.upsert_many([IndexedArticle(i, "停水通知", "停水", "consult", "big", "business") for i in range(3, 30)])
    assert [[d.article_id for d, _ in index.search("停水", now=t, unit="u")] for t in (99.9, 100.0, 199.9, 200.0)] \
        == [[], [1], [1], []]


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

