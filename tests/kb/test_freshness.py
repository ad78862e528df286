"""The background check of a live KB: once loaded, queries do not wait for the database, changes made elsewhere
still arrive, the thread stops when the KB is idle or gone, and an unreachable database leaves the last loaded
articles searchable."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from typing import Any

from hotline.db import make_engine, make_session_factory, upgrade_to_head
from hotline.kb import services
from hotline.kb.search import KnowledgeBase

from .conftest import add_article


def eventually(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """The predicate's first truthy value within the timeout (a condition to reach, not a speed to meet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not reached")


class RecordingFactory:
    """The real session factory, noting which thread opened each session."""

    def __init__(self, factory) -> None:  # type: ignore[no-untyped-def]
        self.factory = factory
        self.threads: list[str] = []

    def __call__(self):  # type: ignore[no-untyped-def]
        self.threads.append(threading.current_thread().name)
        return self.factory()


def poller_of(kb: KnowledgeBase) -> threading.Thread:
    assert kb._poller is not None
    return kb._poller[0]


def test_queries_do_not_open_sessions_once_loaded(db_session_factory, db_session, fixture_ids) -> None:  # type: ignore[no-untyped-def]
    factory = RecordingFactory(db_session_factory)
    kb = KnowledgeBase(factory, check_interval=0.05)
    try:
        assert kb.search("公积金")  # the first query loads the KB itself
        assert factory.threads == [threading.current_thread().name]
        factory.threads.clear()
        new = add_article(db_session, "共享单车乱停放投诉", "共享单车乱停放可向城管部门反映。", "complaint")
        assert eventually(lambda: [h.article_id for h in kb.search("共享单车")]) == [new]
        services.retire_article(db_session, new, "unit", "并入其他条目")
        eventually(lambda: kb.search("共享单车") == [])
        assert kb.hits_for_call("complaint", limit=1)
        assert set(factory.threads) == {"kb-refresh"}  # only the background thread went to the database
    finally:
        kb.close()


def test_after_an_idle_spell_the_first_query_checks_itself(db_session_factory, db_session, fixture_ids) -> None:  # type: ignore[no-untyped-def]
    kb = KnowledgeBase(db_session_factory, check_interval=0.05)
    kb.idle_after = 0.2
    try:
        assert kb.search("公积金")
        thread = poller_of(kb)
        thread.join(timeout=10)
        assert not thread.is_alive()  # nobody searched: the background check stopped
        new = add_article(db_session, "垃圾分类投放时间", "生活垃圾分类定时定点投放。")
        assert [h.article_id for h in kb.search("垃圾分类")] == [new]  # seen at once, not a round later
        assert poller_of(kb).is_alive()  # and the check runs again while the KB is used
    finally:
        kb.close()


def test_the_thread_ends_with_its_knowledge_base(db_session_factory, fixture_ids) -> None:  # type: ignore[no-untyped-def]
    kb = KnowledgeBase(db_session_factory, check_interval=0.05)
    assert kb.search("公积金")
    thread = poller_of(kb)
    del kb
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_unreachable_database_leaves_the_loaded_articles_searchable(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "kb.db"
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        article_id = add_article(session, "停水通知查询方式", "计划停水提前24小时发布通知。")
    kb = KnowledgeBase(factory, check_interval=0.05)
    try:
        assert [h.article_id for h in kb.search("停水")] == [article_id]
        path.unlink()  # the database is gone: a new connection finds no tables
        engine.dispose()
        eventually(lambda: any("refresh failed" in r.getMessage() for r in caplog.records))
        assert [h.article_id for h in kb.search("停水")] == [article_id]
        assert poller_of(kb).is_alive()  # it keeps trying
    finally:
        kb.close()
        engine.dispose()
