"""The in-memory search index: BM25 over two fields (title, body, title boosted) with incremental updates.

Why our own index rather than rank-bm25: rank-bm25 scores every document for every query term (a pass over
the whole corpus per term) and cannot add or drop one document without rebuilding. Here postings are kept
per term; a query touches only the documents that contain its terms, with numpy doing the accumulation.
(bench/kb_search.py measures both.)

Filtering (category, unit, validity dates) happens at query time on per-document arrays, so an article
that expires needs no index change: it simply stops matching `effective_from <= now < effective_until`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from hotline.kb.analyzer import Analyzer

_NO_CODE = -1


@dataclass(frozen=True, slots=True)
class IndexedArticle:
    """What the index keeps of an article (only published articles are indexed)."""

    article_id: int
    title: str
    body: str
    category: str
    owner_unit: str
    article_type: str
    effective_from: float = -math.inf  # epoch seconds
    effective_until: float = math.inf
    popularity: int = 0  # times used to answer a call: orders the screen pop when there is no query text


class _Codes:
    """Interns strings (categories, units) as small integers for the numpy filter arrays."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, value: str) -> int:
        return self._codes.setdefault(value, len(self._codes))

    def lookup(self, value: str) -> int:
        return self._codes.get(value, _NO_CODE)


class _Postings:
    """One term's postings as growable numpy arrays: document slots and their precomputed impacts."""

    __slots__ = ("impacts", "n", "slots")

    def __init__(self) -> None:
        self.slots = np.empty(4, dtype=np.int32)
        self.impacts = np.empty(4, dtype=np.float32)
        self.n = 0

    def add(self, slot: int, impact: float) -> None:
        if self.n == len(self.slots):
            self.slots = np.resize(self.slots, 2 * self.n)
            self.impacts = np.resize(self.impacts, 2 * self.n)
        self.slots[self.n] = slot
        self.impacts[self.n] = impact
        self.n += 1

    def discard(self, slot: int) -> None:
        found = np.flatnonzero(self.slots[: self.n] == slot)
        if len(found):
            i, last = int(found[0]), self.n - 1
            self.slots[i], self.impacts[i] = self.slots[last], self.impacts[last]  # order does not matter
            self.n = last


class SearchIndex:
    def __init__(self, analyzer: Analyzer, *, title_weight: float = 2.0, k1: float = 1.2, b: float = 0.75,
                 coord: float = 2.0, capacity: int = 1024) -> None:
        self.analyzer = analyzer
        self.coord = coord
        self.title_weight = title_weight
        self.k1 = k1
        self.b = b
        self._categories = _Codes()
        self._units = _Codes()
        self._slot_of: dict[int, int] = {}
        self._docs: list[IndexedArticle | None] = []
        self._doc_terms: list[tuple[str, ...]] = []
        self._free: list[int] = []
        self._postings: dict[str, _Postings] = {}
        self._title_total = 0
        self._body_total = 0
        self._alloc(capacity)

    # -- storage -----------------------------------------------------------------------------------------

    def _alloc(self, capacity: int) -> None:
        def grow(old: np.ndarray | None, dtype: type, fill: float) -> np.ndarray:
            new = np.full(capacity, fill, dtype=dtype)
            if old is not None:
                new[: len(old)] = old
            return new

        get = self.__dict__.get
        self._alive = grow(get("_alive"), np.bool_, False)
        self._cat = grow(get("_cat"), np.int32, _NO_CODE)
        self._unit = grow(get("_unit"), np.int32, _NO_CODE)
        self._from = grow(get("_from"), np.float64, -math.inf)
        self._until = grow(get("_until"), np.float64, math.inf)
        self._popularity = grow(get("_popularity"), np.float64, 0)
        self._title_len = grow(get("_title_len"), np.int32, 0)
        self._body_len = grow(get("_body_len"), np.int32, 0)
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, article_id: int) -> bool:
        return article_id in self._slot_of

    def get(self, article_id: int) -> IndexedArticle | None:
        slot = self._slot_of.get(article_id)
        return None if slot is None else self._docs[slot]

    def upsert(self, doc: IndexedArticle) -> None:
        self.upsert_many([doc])

    def upsert_many(self, docs: list[IndexedArticle],
                    terms: list[tuple[list[str], list[str]] | None] | None = None) -> None:
        """Add or replace articles. `terms`, parallel to `docs`, may give each one's (title, body) terms
        already analysed (None: analyse here). Term impacts use the average field lengths after the whole
        batch, so a bulk load weighs its first and last documents alike; single changes use the current ones."""
        analysed = []
        for i, doc in enumerate(docs):
            self.remove(doc.article_id)
            given = terms[i] if terms is not None else None
            if given is None:
                given = self.analyzer.terms(doc.title), self.analyzer.terms(doc.body)
            title, body = Counter(given[0]), Counter(given[1])
            self._title_total += sum(title.values())
            self._body_total += sum(body.values())
            analysed.append((doc, title, body))
        n = max(1, len(self._slot_of) + len(analysed))
        avg_title, avg_body = max(1.0, self._title_total / n), max(1.0, self._body_total / n)
        k1, b, w = self.k1, self.b, self.title_weight
        for doc, title, body in analysed:
            slot = self._take_slot()
            title_len, body_len = sum(title.values()), sum(body.values())
            norm_title = 1 - b + b * title_len / avg_title
            norm_body = 1 - b + b * body_len / avg_body
            terms = tuple(title.keys() | body.keys())
            for term in terms:
                tf_title, tf_body = title.get(term, 0) / norm_title, body.get(term, 0) / norm_body
                # Each field saturates on its own and the title's share is multiplied after saturation: a
                # word in the title outweighs any number of repeats in the body (BM25F's shared saturation
                # did not ensure that).
                impact = w * tf_title * (k1 + 1) / (k1 + tf_title) + tf_body * (k1 + 1) / (k1 + tf_body)
                postings = self._postings.get(term)
                if postings is None:
                    postings = self._postings[term] = _Postings()
                postings.add(slot, impact)
            self._slot_of[doc.article_id] = slot
            self._docs[slot] = doc
            self._doc_terms[slot] = terms
            self._alive[slot] = True
            self._cat[slot] = self._categories.code(doc.category)
            self._unit[slot] = self._units.code(doc.owner_unit)
            self._from[slot] = doc.effective_from
            self._until[slot] = doc.effective_until
            self._popularity[slot] = doc.popularity
            self._title_len[slot] = title_len
            self._body_len[slot] = body_len

    def _take_slot(self) -> int:
        if self._free:
            return self._free.pop()
        slot = len(self._docs)
        if slot >= self._capacity:
            self._alloc(self._capacity * 2)
        self._docs.append(None)
        self._doc_terms.append(())
        return slot

    def remove(self, article_id: int) -> bool:
        slot = self._slot_of.pop(article_id, None)
        if slot is None:
            return False
        for term in self._doc_terms[slot]:
            postings = self._postings[term]
            postings.discard(slot)
            if postings.n == 0:
                del self._postings[term]
        self._title_total -= int(self._title_len[slot])
        self._body_total -= int(self._body_len[slot])
        self._docs[slot] = None
        self._doc_terms[slot] = ()
        self._alive[slot] = False
        self._free.append(slot)
        return True

    # -- scoring -----------------------------------------------------------------------------------------

    def _idf(self, df: int) -> float:
        n = len(self._slot_of)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def _valid(self, slots: np.ndarray, now: float, category: str | None, unit: str | None) -> np.ndarray:
        """The given slots that hold a live article, valid at `now`, of that category and unit."""
        ok = self._alive[slots] & (self._from[slots] <= now) & (now < self._until[slots])
        if category is not None:
            ok &= self._cat[slots] == self._categories.lookup(category)
        if unit is not None:
            ok &= self._unit[slots] == self._units.lookup(unit)
        return slots[ok]

    def _top(self, candidates: np.ndarray, values: np.ndarray, limit: int) -> list[tuple[IndexedArticle, float]]:
        if len(candidates) == 0 or limit <= 0:
            return []
        if len(candidates) > limit:
            part = np.argpartition(-values, limit - 1)[:limit]
            candidates, values = candidates[part], values[part]
        # Best score first; equal scores: the lower article id (older, stable) first.
        order = sorted(range(len(candidates)),
                       key=lambda i: (-values[i], self._docs[candidates[i]].article_id))  # type: ignore[union-attr]
        return [(self._docs[candidates[i]], float(values[i])) for i in order]  # type: ignore[misc]

    def search(self, query: str, *, now: float, category: str | None = None, unit: str | None = None,
               limit: int = 10) -> list[tuple[IndexedArticle, float]]:
        """Best `limit` valid articles for the query, as (article, score), best first."""
        size = len(self._docs)
        found = [p for t in self.analyzer.query_terms(query) if (p := self._postings.get(t)) is not None]
        if not found or size == 0:
            return []
        # Terms in more than half of the articles (办理, 申请…) weigh little (idf ≤ ln 2, against 5–10 for
        # a town or a service) but cost the most; they count only when the query has nothing more specific.
        # The price: an article matching only such a term is not a candidate then.
        selective = [p for p in found if p.n <= len(self._slot_of) // 2]
        used = selective or found
        slots = np.concatenate([p.slots[: p.n] for p in used])
        scores = np.bincount(slots, weights=np.concatenate([self._idf(p.n) * p.impacts[: p.n] for p in used]),
                             minlength=size)
        candidates = np.flatnonzero(scores)
        if self.coord:
            # Coordination: an article that has all the caller's words beats one that repeats some of them.
            matched = np.bincount(slots, minlength=size)[candidates]
            scores[candidates] *= (matched / len(used)) ** self.coord
        candidates = self._valid(candidates, now, category, unit)
        return self._top(candidates, scores[candidates], limit)

    def popular(self, *, now: float, category: str | None = None, limit: int = 5) -> list[tuple[IndexedArticle, float]]:
        """The most used valid articles (a screen pop without query text)."""
        candidates = self._valid(np.arange(len(self._docs)), now, category, None)
        return self._top(candidates, self._popularity[candidates], limit)
