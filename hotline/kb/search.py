"""The process's live view of the knowledge base: an in-memory index kept in step with the database.

Freshness across processes is by version stamp, not by bus event: before answering, the index reads the one
row `kb_state.version` (at most every `check_interval` seconds) and, if it moved, loads only the articles
whose `change_seq` is newer. A stamp cannot be lost the way an event can (a worker that was restarting, a
Redis hiccup), it is ordered with the article's own commit, and it needs no Redis at all.
"""

from __future__ import annotations

import math
import threading
import time
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


class KnowledgeBase:
    def __init__(self, session_factory: sessionmaker[Session], analyzer: Analyzer | None = None, *,
                 check_interval: float = 0.5, clock: Callable[[], float] = time.time) -> None:
        self.session_factory = session_factory
        self.index = SearchIndex(analyzer or shared_analyzer())
        self.check_interval = check_interval
        self.clock = clock
        self.version = -1  # nothing loaded yet
        self._checked_at = -math.inf
        self._lock = threading.RLock()  # sync API routes run in a thread pool

    # -- freshness -------------------------------------------------------------------------------------

    def refresh(self) -> int:
        """Load what changed since our version; returns how many articles were (re)applied."""
        with self._lock, self.session_factory() as session:
            self._checked_at = time.monotonic()
            version = current_version(session)
            if version == self.version:
                return 0
            if version < self.version:  # the stamp went back (database restored or emptied): start over
                self._reset()
            stmt = select(KbArticle)
            if self.version < 0:
                stmt = stmt.where(KbArticle.status == ArticleStatus.published.value)
            else:
                stmt = stmt.where(KbArticle.change_seq > self.version)
            published, analysed = [], []
            applied = 0
            for article in session.scalars(stmt.order_by(KbArticle.change_seq)).yield_per(1000):
                if article.status == ArticleStatus.published.value:
                    published.append(to_indexed(article))
                    # Terms stored at write time skip jieba here (most of a worker's start-up time).
                    analysed.append(self.index.analyzer.decode(article.index_terms))
                else:
                    self.index.remove(article.id)
                applied += 1
            self.index.upsert_many(published, analysed)
            # The stamp read above, not the newest row seen: rows committed meanwhile are applied again
            # next time (upserts are idempotent) rather than ever skipped.
            self.version = version
            return applied

    def rebuild(self) -> int:
        """Load everything again (also refreshes the popularity order, which plain refreshes do not track)."""
        with self._lock:
            self._reset()
            return self.refresh()

    def _reset(self) -> None:
        self.index = SearchIndex(self.index.analyzer, title_weight=self.index.title_weight)
        self.version = -1

    def _fresh(self) -> None:
        if time.monotonic() - self._checked_at >= self.check_interval:
            self.refresh()

    # -- queries ---------------------------------------------------------------------------------------

    def _hit(self, doc: IndexedArticle, score: float, query: str) -> KbSearchHit:
        body = doc.body
        start = 0
        for word in self.index.analyzer.surface_words(query):
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
            found = self.index.search(query, now=self.clock(), category=cat, unit=unit, limit=limit)
            return [self._hit(doc, score, query) for doc, score in found]

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
            return [self._hit(doc, score, "") for doc, score in
                    self.index.popular(now=self.clock(), category=cat, limit=limit)]
