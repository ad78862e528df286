"""The in-memory search index: BM25 over two fields (title, body, title boosted) with incremental updates.

Why our own index rather than rank-bm25: rank-bm25 scores every document for every query term (a pass over
the whole corpus per term) and cannot add or drop one document without rebuilding. Here postings are kept
per term; a query enumerates only the postings of its rarer terms and looks the frequent ones up for those
candidates (MaxScore), with numpy doing the work. (bench/kb_search.py measures both.)

Filtering (category, unit, validity dates) happens at query time on per-document arrays, so an article
that expires needs no index change: it simply stops matching `effective_from <= now < effective_until`.

Scores are exact and independent of the order they are summed in: impacts are stored on a grid of 2^-16
and term weights rounded to it, so every product is a multiple of 2^-32 well inside float64's precision and
sums are exact. Whatever the query plan (enumerated or looked up), equal scores are equal and ties go to the
lower article id every time.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter
from typing import NamedTuple

import numpy as np

from hotline.kb.analyzer import Analyzer

_NO_CODE = -1
# A term held by at least 1/DENSE_SHARE of the articles also keeps its impacts in a dense array over all
# slots (4 bytes per slot): a query looks such frequent terms up by index instead of enumerating them. Below
# half that share the dense copy is dropped again.
DENSE_SHARE = 16
# Bounds are compared with this margin (float rounding of the bound's own sum).
BOUND_MARGIN = 1 + 1e-9
# Enumerated postings are merged by sorting when they are fewer than 1/ACCUMULATE_SHARE of the slots, else by
# one linear pass over all slots.
ACCUMULATE_SHARE = 8
# A filter (unit, category) whose articles are fewer than 1/SCOPE_SHARE of the query terms' postings: those
# articles are scored directly instead of the postings being enumerated.
SCOPE_SHARE = 4
_GRID = 2.0**-16  # impacts and term weights are multiples of this (see the module's docstring)


def _on_grid(value: float) -> float:
    return max(_GRID, round(value / _GRID) * _GRID)


class IndexedArticle(NamedTuple):
    """What the index keeps of an article (only published articles are indexed). A named tuple of plain
    values, so that the garbage collector stops tracking the index's tens of thousands of them (a full
    collection's pause grows with every tracked object)."""

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
    """One term's postings: document slots in ascending order with their impacts, as growable numpy arrays;
    for a frequent term also a dense copy of the impacts indexed by slot (0 where the term is absent)."""

    __slots__ = ("dense", "impacts", "max_impact", "n", "slots")

    def __init__(self) -> None:
        self.slots = np.empty(4, dtype=np.int32)
        self.impacts = np.empty(4, dtype=np.float32)
        self.n = 0
        self.max_impact = 0.0  # the largest impact held: the term's share of a score is at most weight × this
        self.dense: np.ndarray | None = None

    def _reserve(self, extra: int) -> None:
        if self.n + extra > len(self.slots):
            size = max(2 * len(self.slots), self.n + extra)
            self.slots = np.resize(self.slots, size)
            self.impacts = np.resize(self.impacts, size)

    def add_many(self, slots: array, impacts: array) -> None:
        """Add postings of slots not already present (a bulk load's new slots come in ascending order)."""
        if len(slots) == 1:
            self.add(slots[0], impacts[0])
            return
        new_slots = np.frombuffer(slots, dtype=np.int32)
        new_impacts = np.frombuffer(impacts, dtype=np.float32)
        n, k = self.n, len(new_slots)
        self._reserve(k)
        self.slots[n:n + k], self.impacts[n:n + k] = new_slots, new_impacts
        self.n = n + k
        if bool(np.any(new_slots[1:] < new_slots[:-1])) or (n and new_slots[0] < self.slots[n - 1]):
            order = np.argsort(self.slots[: self.n], kind="stable")  # reused slots: restore the order
            self.slots[: self.n] = self.slots[: self.n][order]
            self.impacts[: self.n] = self.impacts[: self.n][order]
        if self.dense is not None:
            self.dense[new_slots] = new_impacts
        self.max_impact = max(self.max_impact, float(new_impacts.max()))

    def add(self, slot: int, impact: float) -> None:
        n = self.n
        self._reserve(1)
        i = n if n == 0 or slot > self.slots[n - 1] else int(np.searchsorted(self.slots[:n], slot))
        if i < n:  # a reused slot: shift the tail right by one
            self.slots[i + 1:n + 1] = self.slots[i:n]
            self.impacts[i + 1:n + 1] = self.impacts[i:n]
        self.slots[i], self.impacts[i] = slot, impact
        self.n = n + 1
        if self.dense is not None:
            self.dense[slot] = impact
        self.max_impact = max(self.max_impact, float(self.impacts[i]))

    def discard(self, slot: int) -> None:
        n = self.n
        i = int(np.searchsorted(self.slots[:n], slot))
        if i == n or self.slots[i] != slot:
            return
        removed = float(self.impacts[i])
        self.slots[i:n - 1] = self.slots[i + 1:n]
        self.impacts[i:n - 1] = self.impacts[i + 1:n]
        self.n = n - 1
        if self.dense is not None:
            self.dense[slot] = 0
        if removed >= self.max_impact:  # keep the bound tight: loose bounds prune less
            self.max_impact = float(self.impacts[: self.n].max()) if self.n else 0.0

    def set_dense(self, capacity: int | None) -> None:
        """Keep (capacity: the index's slot count) or drop (None) the dense copy of the impacts."""
        if capacity is None:
            self.dense = None
            return
        dense = np.zeros(capacity, dtype=np.float32)
        dense[self.slots[: self.n]] = self.impacts[: self.n]
        self.dense = dense

    def impacts_of(self, slots: np.ndarray) -> np.ndarray:
        """The impact of each given slot in this term (0 where the term is absent)."""
        if self.dense is not None:
            return self.dense[slots]
        held = self.slots[: self.n]
        at = np.searchsorted(held, slots)
        np.minimum(at, self.n - 1, out=at)
        return np.where(held[at] == slots, self.impacts[at], np.float32(0))


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
        self._dense_terms: set[str] = set()
        self._popular_order: np.ndarray | None = None  # slots, most used first; None: to compute on next use
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
        self._ids = grow(get("_ids"), np.int64, 0)
        self._cat = grow(get("_cat"), np.int32, _NO_CODE)
        self._unit = grow(get("_unit"), np.int32, _NO_CODE)
        self._from = grow(get("_from"), np.float64, -math.inf)
        self._until = grow(get("_until"), np.float64, math.inf)
        self._popularity = grow(get("_popularity"), np.float64, 0)
        self._title_len = grow(get("_title_len"), np.int32, 0)
        self._body_len = grow(get("_body_len"), np.int32, 0)
        self._capacity = capacity
        for term in self._dense_terms:
            self._postings[term].set_dense(capacity)

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
        latest = {doc.article_id: i for i, doc in enumerate(docs)}  # an article given twice: its last version
        if docs:
            self._popular_order = None
        analysed = []
        for i, doc in enumerate(docs):
            if latest[doc.article_id] != i:
                continue
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
        # Per term, appended in one go below; compact arrays: a bulk load adds millions of postings.
        added: dict[str, tuple[array, array]] = {}
        for doc, title, body in analysed:
            slot = self._take_slot()
            title_len, body_len = sum(title.values()), sum(body.values())
            norm_title = 1 - b + b * title_len / avg_title
            norm_body = 1 - b + b * body_len / avg_body
            # Interned: tens of thousands of articles share the same few thousand term strings.
            doc_terms = tuple(sys.intern(term) for term in title.keys() | body.keys())
            for term in doc_terms:
                tf_title, tf_body = title.get(term, 0) / norm_title, body.get(term, 0) / norm_body
                # Each field saturates on its own and the title's share is multiplied after saturation: a
                # word in the title outweighs any number of repeats in the body (BM25F's shared saturation
                # did not ensure that).
                impact = w * tf_title * (k1 + 1) / (k1 + tf_title) + tf_body * (k1 + 1) / (k1 + tf_body)
                pending = added.get(term)
                if pending is None:
                    pending = added[term] = (array("i"), array("f"))
                pending[0].append(slot)
                pending[1].append(_on_grid(impact))
            self._slot_of[doc.article_id] = slot
            self._docs[slot] = doc
            self._doc_terms[slot] = doc_terms
            self._alive[slot] = True
            self._ids[slot] = doc.article_id
            self._cat[slot] = self._categories.code(doc.category)
            self._unit[slot] = self._units.code(doc.owner_unit)
            self._from[slot] = doc.effective_from
            self._until[slot] = doc.effective_until
            self._popularity[slot] = doc.popularity
            self._title_len[slot] = title_len
            self._body_len[slot] = body_len
        for term, (slots, impacts) in added.items():
            postings = self._postings.get(term)
            if postings is None:
                postings = self._postings[term] = _Postings()
            postings.add_many(slots, impacts)
            if term not in self._dense_terms and postings.n * DENSE_SHARE >= len(self._slot_of):
                postings.set_dense(self._capacity)
                self._dense_terms.add(term)

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
        # (the cached popularity order may keep the slot: popular() skips slots that are not alive)
        for term in self._doc_terms[slot]:
            postings = self._postings[term]
            postings.discard(slot)
            if postings.n == 0:
                del self._postings[term]
                self._dense_terms.discard(term)
            elif term in self._dense_terms and postings.n * DENSE_SHARE * 2 < len(self._slot_of):
                postings.set_dense(None)
                self._dense_terms.discard(term)
        self._title_total -= int(self._title_len[slot])
        self._body_total -= int(self._body_len[slot])
        self._docs[slot] = None
        self._doc_terms[slot] = ()
        self._alive[slot] = False
        self._free.append(slot)
        return True

    # -- scoring -----------------------------------------------------------------------------------------

    def _weight(self, df: int) -> float:
        """idf, on the grid (see the module's docstring)."""
        n = len(self._slot_of)
        return _on_grid(math.log(1 + (n - df + 0.5) / (df + 0.5)))

    def _valid_mask(self, slots: np.ndarray, now: float, category: str | None, unit: str | None) -> np.ndarray:
        """Which of the given slots hold a live article, valid at `now`, of that category and unit."""
        ok = self._alive[slots] & (self._from[slots] <= now) & (now < self._until[slots])
        if category is not None:
            ok &= self._cat[slots] == self._categories.lookup(category)
        if unit is not None:
            ok &= self._unit[slots] == self._units.lookup(unit)
        return ok

    def _top(self, candidates: np.ndarray, values: np.ndarray, limit: int) -> list[tuple[IndexedArticle, float]]:
        """The best `limit`: highest value first, equal values by the lower article id (older, stable), also
        at the cut (an argpartition alone would pick arbitrary ones among equal values there)."""
        if len(candidates) == 0 or limit <= 0:
            return []
        if len(candidates) > limit:
            cut = np.partition(values, len(values) - limit)[len(values) - limit]
            keep = values >= cut
            candidates, values = candidates[keep], values[keep]
        order = np.lexsort((self._ids[candidates], -values))[:limit]
        return [(self._docs[candidates[i]], float(values[i])) for i in order]  # type: ignore[misc]

    def _query_postings(self, query: str) -> list[_Postings]:
        """The postings of the query's terms: each word's own term, or, when no article holds the whole word
        (a caller's 住院费 against articles saying 住院), its parts that some article holds."""
        postings = self._postings
        found: dict[str, _Postings] = {}
        for word in self.analyzer.query_words(query):
            if word.term in postings:
                found[word.term] = postings[word.term]
            else:
                found.update((part, postings[part]) for part in word.parts if part in postings)
        return list(found.values())

    def search(self, query: str, *, now: float, category: str | None = None, unit: str | None = None,
               limit: int = 10) -> list[tuple[IndexedArticle, float]]:
        """Best `limit` valid articles for the query, as (article, score), best first.

        The score of an article: Σ over the query's terms it holds of idf × impact, times the coordination
        factor (matched terms / query terms)^coord. Exact top `limit` by MaxScore: the rarer terms' postings
        are enumerated; the frequent terms (a district, an audience, 材料 …) are only looked up for those
        candidates, which is enough once no article holding frequent terms only could reach the k-th best."""
        if limit <= 0 or not self._slot_of:
            return []
        found = self._query_postings(query)
        if not found:
            return []
        # Terms in more than half of the articles (办理, 申请…) weigh little (idf ≤ ln 2, against 5–10 for
        # a town or a service) but cost the most; they count only when the query has nothing more specific.
        # The price: an article matching only such a term is not a candidate then.
        selective = [p for p in found if p.n <= len(self._slot_of) // 2]
        terms = [(self._weight(p.n), p) for p in selective or found]
        # A term's share of any score is at most weight × its largest impact: its bound.
        terms.sort(key=lambda t: t[0] * t[1].max_impact)
        if unit is not None or category is not None:
            # A narrow filter (one unit's articles): score the articles it leaves, not the terms' postings.
            scope = self._scope(category, unit)
            if len(scope) * SCOPE_SHARE < sum(p.n for _, p in terms):
                return self._search_scope(terms, scope, now, limit)
        looked_up = [t for t in terms if t[1].dense is not None]
        if len(looked_up) == len(terms):
            looked_up.pop()  # something must be enumerated: the most valuable term
        result, kth_best = self._search_plan(terms, looked_up, now, category, unit, limit)
        if looked_up and self._outside_bound(looked_up, len(terms)) >= kth_best:
            # An article holding looked-up terms only might still make the top: enumerate the most valuable
            # of them too, until the others cannot. The k-th best only rises with more candidates, so this
            # second plan is final.
            while looked_up and self._outside_bound(looked_up, len(terms)) >= kth_best:
                looked_up.pop()
            result, _ = self._search_plan(terms, looked_up, now, category, unit, limit, kth_best)
        return result

    def _scope(self, category: str | None, unit: str | None) -> np.ndarray:
        """The live slots of that category and unit."""
        size = len(self._docs)
        ok = self._alive[:size].copy()
        if category is not None:
            ok &= self._cat[:size] == self._categories.lookup(category)
        if unit is not None:
            ok &= self._unit[:size] == self._units.lookup(unit)
        return np.flatnonzero(ok)

    def _search_scope(self, terms: list[tuple[float, _Postings]], scope: np.ndarray, now: float,
                      limit: int) -> list[tuple[IndexedArticle, float]]:
        """Top `limit` of the given slots, every term looked up for each (exact: every candidate is scored)."""
        scope = scope[self._valid_mask(scope, now, None, None)]
        total, matched = np.zeros(len(scope)), np.zeros(len(scope))
        for weight, postings in terms:
            impacts = postings.impacts_of(scope)
            total += weight * impacts.astype(np.float64)
            matched += impacts > 0
        held = matched > 0
        scores = total[held] * (matched[held] / len(terms)) ** self.coord if self.coord else total[held]
        return self._top(scope[held], scores, limit)

    def _outside_bound(self, looked_up: list[tuple[float, _Postings]], n: int) -> float:
        """The best score of an article holding none of the enumerated terms: all looked-up terms at their
        largest impacts (the coordination factor too is largest with all of them)."""
        total = sum(weight * postings.max_impact for weight, postings in looked_up) * BOUND_MARGIN
        return total * (len(looked_up) / n) ** self.coord if self.coord else total

    def _search_plan(self, terms: list[tuple[float, _Postings]], looked_up: list[tuple[float, _Postings]],
                     now: float, category: str | None, unit: str | None, limit: int, floor: float = -math.inf
                     ) -> tuple[list[tuple[IndexedArticle, float]], float]:
        """Top `limit` among the valid articles holding a term not in `looked_up`, exactly scored, and the
        k-th best score among them (-inf if fewer). `floor`, a score the k-th best is known to reach, lets
        candidates that cannot reach it skip the lookups."""
        enumerated = [t for t in terms if all(t[1] is not p for _, p in looked_up)]
        candidates, total, matched = self._enumerate(enumerated)
        if looked_up and floor > -math.inf:
            extra = sum(weight * postings.max_impact for weight, postings in looked_up)
            upper = (total + extra) * ((matched + len(looked_up)) / len(terms)) ** self.coord if self.coord \
                else total + extra
            keep = upper * BOUND_MARGIN >= floor
            candidates, total, matched = candidates[keep], total[keep], matched[keep]
        keep = self._valid_mask(candidates, now, category, unit)
        candidates, total, matched = candidates[keep], total[keep], matched[keep]
        for weight, postings in looked_up:
            impacts = postings.impacts_of(candidates)
            total += weight * impacts.astype(np.float64)
            matched += impacts > 0
        # Coordination: an article that has all the caller's words beats one that repeats some of them.
        scores = total * (matched / len(terms)) ** self.coord if self.coord else total
        kth_best = -math.inf
        if len(scores) >= limit:
            kth_best = float(np.partition(scores, len(scores) - limit)[len(scores) - limit])
        return self._top(candidates, scores, limit), kth_best

    def _enumerate(self, terms: list[tuple[float, _Postings]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The slots holding any of the terms (ascending), with their summed weight × impact and how many of
        the terms each holds."""
        slots = np.concatenate([p.slots[: p.n] for _, p in terms])
        weights = np.concatenate([weight * p.impacts[: p.n].astype(np.float64) for weight, p in terms])
        if len(terms) == 1:
            return slots, weights, np.ones(len(slots))
        if len(slots) * ACCUMULATE_SHARE < len(self._docs):
            candidates, at = np.unique(slots, return_inverse=True)
            return (candidates, np.bincount(at, weights=weights, minlength=len(candidates)),
                    np.bincount(at, minlength=len(candidates)).astype(np.float64))
        totals = np.bincount(slots, weights=weights, minlength=len(self._docs))
        counts = np.bincount(slots, minlength=len(self._docs))
        candidates = np.flatnonzero(counts > 0)  # nonzero on booleans: several times faster than on ints
        return candidates, totals[candidates], counts[candidates].astype(np.float64)

    def prepare(self) -> None:
        """Compute now what the first query after a change would otherwise compute (the popularity order)."""
        self._popular_slots()

    def _popular_slots(self) -> np.ndarray:
        if self._popular_order is None:
            live = np.flatnonzero(self._alive[: len(self._docs)])
            self._popular_order = live[np.lexsort((self._ids[live], -self._popularity[live]))]
        return self._popular_order

    def popular(self, *, now: float, category: str | None = None, limit: int = 5) -> list[tuple[IndexedArticle, float]]:
        """The most used valid articles (a screen pop without query text), ties by the lower id: the live
        articles in popularity order, checked a growing stretch at a time until `limit` are valid."""
        order = self._popular_slots()
        found: list[np.ndarray] = []
        count, start, stretch = 0, 0, max(64, 4 * limit)
        while count < limit and start < len(order):
            part = order[start:start + stretch]
            part = part[self._valid_mask(part, now, category, None)]
            found.append(part)
            count += len(part)
            start, stretch = start + stretch, stretch * 4
        if not count:
            return []
        slots = np.concatenate(found)[:limit]
        return [(self._docs[slot], float(self._popularity[slot])) for slot in slots]  # type: ignore[misc]
