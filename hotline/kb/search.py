"""The process's live view of the knowledge base: an in-memory index kept in step with the database.

Freshness across processes is by version stamp, not by bus event: the one row `kb_state.version` is read (at
most every `check_interval` seconds) and, if it moved, only the articles whose `change_seq` is newer are
loaded. A stamp cannot be lost the way an event can (a worker that was restarting, a Redis hiccup), it is
ordered with the article's own commit, and it needs no Redis at all.

While the KB is in use a background thread does that check, so queries never wait for the database: they
only take the index's lock, which the thread holds just while applying already-loaded changes (a full
reload is built aside and swapped in). With `check_interval=0` every query checks first instead
(read-your-writes across processes, for tests and scripts).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.domain import IVR_CATEGORY, Category
from hotline.kb.analyzer import Analyzer, shared_analyzer
from hotline.kb.index import IndexedArticle, SearchIndex
from hotline.kb.models import KbArticle
from hotline.kb.services import current_version
from hotline.kb.state import ArticleStatus

log = logging.getLogger(__name__)

SNIPPET_CHARS = 80
__all__ = ["KbSearchHit", "KnowledgeBase", "shared_analyzer", "to_indexed"]

@dataclass(frozen=True, slots=True)
class KbSearchHit:
    article_id: int
    title: str
    snippet: str
    category: str
    owner_unit: str
    article_type: str
    score: float

    def as_pop(self) -> dict:
        """The form a screen pop's `kb_hits` list carries."""
        return asdict(self)


def _epoch(value: datetime | None, default: float) -> float:
    return value.timestamp() if value is not None else default


def to_indexed(article: KbArticle) -> IndexedArticle:
    return IndexedArticle(
        article_id=article.id, title=article.title, body=article.body, category=article.category,
        owner_unit=article.owner_unit, article_type=article.article_type,
        effective_from=_epoch(article.effective_from, -math.inf),
        effective_until=_epoch(article.effective_until, math.inf), popularity=article.use_count or 0,
    )


APPLY_CHUNK = 16  # changed articles applied per hold of the index's lock (~2 ms each): queries interleave


class KnowledgeBase:
    idle_after = 60.0  # seconds without a query after which the background check stops (restarted on use)

    def __init__(self, session_factory: sessionmaker[Session], analyzer: Analyzer | None = None, *,
                 check_interval: float = 0.5, clock: Callable[[], float] = time.time) -> None:
        self.session_factory = session_factory
        self.index = SearchIndex(analyzer or shared_analyzer())
        self.check_interval = check_interval
        self.clock = clock
        self.version = -1  # nothing loaded yet
        self._checked_at = -math.inf  # time.monotonic() of the last stamp read
        self._used_at = -math.inf
        self._lock = threading.RLock()  # the index: queries (sync API routes run in a thread pool), changes
        self._refresh_lock = threading.Lock()  # one refresh at a time: the background thread's or a caller's
        self._poller: tuple[threading.Thread, int] | None = None  # the thread and the pid that started it
        self._poller_lock = threading.Lock()
        self._closed = threading.Event()
        weakref.finalize(self, self._closed.set)  # a forgotten KB stops its thread

    # -- freshness -------------------------------------------------------------------------------------

    def refresh(self) -> int:
        """Load what changed since our version; returns how many articles were (re)applied."""
        return self._refresh(full=False)

    def rebuild(self) -> int:
        """Load everything again (also refreshes the popularity order, which plain refreshes do not track).
        Queries are answered from the current index until the new one is swapped in."""
        return self._refresh(full=True)

    def _refresh(self, *, full: bool) -> int:
        with self._refresh_lock:
            with self.session_factory() as session:
                version = current_version(session)
                self._checked_at = time.monotonic()
                if version == self.version and not full:
                    return 0
                # Nothing loaded yet, or the stamp went back (database restored or emptied): start over.
                full = full or self.version < 0 or version < self.version
                stmt = select(KbArticle)
                if full:
                    stmt = stmt.where(KbArticle.status == ArticleStatus.published.value)
                else:
                    stmt = stmt.where(KbArticle.change_seq > self.version)
                changes = [self._change(article)
                           for article in session.scalars(stmt.order_by(KbArticle.change_seq)).yield_per(1000)]
            # The session is closed: the index work below holds no database connection.
            if full:
                index = SearchIndex(self.index.analyzer, title_weight=self.index.title_weight, k1=self.index.k1,
                                    b=self.index.b, coord=self.index.coord)
                self._apply(index, changes)
                index.prepare()
                with self._lock:
                    self.index = index
                    self.version = version
            else:
                for start in range(0, len(changes), APPLY_CHUNK):
                    with self._lock:
                        self._apply(self.index, changes[start:start + APPLY_CHUNK])
                # The stamp read above, not the newest row seen: rows committed meanwhile are applied again
                # next time (upserts are idempotent) rather than ever skipped.
                with self._lock:
                    self.index.prepare()
                    self.version = version
            return len(changes)

    def _change(self, article: KbArticle) -> tuple[int, IndexedArticle | None, tuple[list[str], list[str]] | None]:
        """(id, what to index or None to remove, its stored terms if still valid)."""
        if article.status != ArticleStatus.published.value:
            return article.id, None, None
        # Terms stored at write time skip jieba here (most of a worker's start-up time).
        return article.id, to_indexed(article), self.index.analyzer.decode(article.index_terms)

    @staticmethod
    def _apply(index: SearchIndex, changes: list[tuple[int, IndexedArticle | None, tuple | None]]) -> None:
        for article_id, doc, _ in changes:
            if doc is None:
                index.remove(article_id)
        published = [(doc, terms) for _, doc, terms in changes if doc is not None]
        index.upsert_many([doc for doc, _ in published], [terms for _, terms in published])

    def close(self) -> None:
        """Stop the background check (it also stops by itself once this object is garbage)."""
        self._closed.set()

    def _fresh(self) -> None:
        now = time.monotonic()
        self._used_at = now
        if self.check_interval > 0 and self.version >= 0 and self._polling():
            return  # the background thread keeps the index fresh: no database on the query path
        if now - self._checked_at >= self.check_interval:
            self.refresh()
        if self.check_interval > 0:
            self._start_polling()

    def _polling(self) -> bool:
        poller = self._poller
        return poller is not None and poller[1] == os.getpid() and poller[0].is_alive()

    def _start_polling(self) -> None:
        with self._poller_lock:
            if self._polling() or self._closed.is_set():
                return
            thread = threading.Thread(target=_poll, args=(weakref.ref(self), self._closed, self.check_interval),
                                      name="kb-refresh", daemon=True)
            self._poller = (thread, os.getpid())  # a forked child has no thread: it starts its own
            thread.start()

    def _stop_if_idle(self) -> bool:
        """Called by the background thread: stop when nobody has searched for a while."""
        with self._poller_lock:
            if time.monotonic() - self._used_at < self.idle_after:
                return False
            self._poller = None
            return True

    # -- queries ---------------------------------------------------------------------------------------

    @staticmethod
    def _hit(doc: IndexedArticle, score: float, words: list[str]) -> KbSearchHit:
        body = doc.body
        start = 0
        for word in words:
            pos = body.find(word)
            if pos >= 0:
                start = max(0, pos - 20)
                break
        snippet = body[start:start + SNIPPET_CHARS]
        if start > 0:
            snippet = "…" + snippet
        if start + SNIPPET_CHARS < len(body):
            snippet += "…"
        return KbSearchHit(doc.article_id, doc.title, snippet, doc.category, doc.owner_unit, doc.article_type,
                           round(score, 4))

    def search(self, query: str, category: Category | str | None = None, unit: str | None = None,
               limit: int = 10) -> list[KbSearchHit]:
        """The agent's search box: published, currently valid articles, best first."""
        self._fresh()
        cat = Category(category).value if category is not None else None
        with self._lock:
            index = self.index
            found = index.search(query, now=self.clock(), category=cat, unit=unit, limit=limit)
        words = index.analyzer.surface_words(query) if found else []
        return [self._hit(doc, score, words) for doc, score in found]

    def hits_for_call(self, ivr_category: str | None, category: Category | str | None = None, limit: int = 5,
                      text: str | None = None) -> list[KbSearchHit]:
        """The screen pop's suggestions. The category is the tracker's (or work order's) if known, else the
        IVR choice (HOTLINE_CATEGORY, e.g. "complaint"). With `text` (say, the subject of the caller's last
        order) the articles are searched; without it, the most used articles of the category come first."""
        # A pop must never fail over a label: an unknown value means "no category filter".
        mapped = IVR_CATEGORY.get(str(category)) if category is not None else None
        mapped = mapped or IVR_CATEGORY.get((ivr_category or "").strip())
        cat = mapped.value if mapped else None
        if text and text.strip():
            hits = self.search(text, category=cat, limit=limit)
            if hits or cat is None:
                return hits
            return self.search(text, limit=limit)  # no article of that category: any category beats nothing
        self._fresh()
        with self._lock:
            found = self.index.popular(now=self.clock(), category=cat, limit=limit)
        return [self._hit(doc, score, []) for doc, score in found]


def _poll(ref: weakref.ref[KnowledgeBase], closed: threading.Event, interval: float) -> None:
    """The background check: refresh every `interval` seconds while the KB exists, is open and in use. Holds
    only a weak reference between rounds, so that the KB can be garbage collected."""
    failing = False
    while not closed.wait(interval):
        kb = ref()
        if kb is None or kb._stop_if_idle():
            return
        try:
            kb.refresh()
        except Exception:  # database unreachable: queries keep the last loaded articles; try again next round
            if not failing:
                log.warning("knowledge base refresh failed; searching the articles loaded before", exc_info=True)
            failing = True
        else:
            if failing:
                log.info("knowledge base refresh works again")
            failing = False
        del kb
