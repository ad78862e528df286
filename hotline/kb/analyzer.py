"""Chinese text analysis for the knowledge base: jieba search-mode segmentation, stop words, synonyms and
a gazetteer of the cities' districts and towns (places.txt).

The same analyzer feeds the index and the queries, so a synonym group collapses to one canonical term on
both sides (医疗保险 and 医保 are the same term). Synonym words are added to jieba's dictionary so that a
multi-word synonym such as 住房公积金 is cut as one word before it is mapped.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import jieba

jieba.setLogLevel(logging.WARNING)

SYNONYMS_FILE = Path(__file__).with_name("synonyms.txt")

# Function words and question words: frequent in both questions and articles, they only add noise.
STOP_WORDS = frozenset({
    "的", "了", "吗", "呢", "吧", "啊", "是", "在", "和", "与", "及", "或", "等", "我",
    "你", "他", "她", "我们", "你们", "要", "想", "请问", "请", "问", "一下", "怎么", "怎样",
    "如何", "什么", "哪里", "哪些", "哪个", "多少", "可以", "能", "能否", "需要", "有", "没有",
    "为什么", "谁", "该", "应该", "这", "那", "这个", "那个", "就", "都", "也", "还", "又",
    "被", "把", "给", "对", "从", "到", "呀", "哦", "嗯",
})
_WORD = re.compile(r"[^\W_]")  # at least one letter, digit or CJK character


PLACES_FILE = Path(__file__).with_name("places.txt")
_PLACE_SUFFIXES = ("街道", "镇", "区", "县", "市")


def _lines(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def load_places(path: Path = PLACES_FILE) -> list[str]:
    """Place names with their short forms (北滘镇 → 北滘, 石湾镇街道 → 石湾镇 → 石湾)."""
    names: dict[str, None] = {}
    for name in _lines(path):
        names[name] = None
        short = name
        while True:
            suffix = next((x for x in _PLACE_SUFFIXES if short.endswith(x) and len(short) - len(x) >= 2), None)
            if suffix is None:
                break
            short = short[: -len(suffix)]
            names[short] = None
    return list(names)


def load_synonyms(path: Path = SYNONYMS_FILE) -> list[list[str]]:
    return [words for line in _lines(path) if len(words := line.split()) > 1]


class QueryWord(NamedTuple):
    """One word of a query as the caller said it (precise mode), its index term, and the index terms of its
    parts (search mode: 外来务工人员 → 外来, 务工, 工人 …), used when no article holds the whole word."""

    surface: str
    term: str
    parts: tuple[str, ...]


QUERY_CACHE_SIZE = 4096  # distinct recent queries whose analysis is kept (callers repeat themselves)


class Analyzer:
    """Turns text into index terms. One instance per process: jieba's dictionary load costs ~1 s."""

    def __init__(self, synonym_groups: Iterable[list[str]] | None = None,
                 places: Iterable[str] | None = None) -> None:
        groups = load_synonyms() if synonym_groups is None else list(synonym_groups)
        self._tokenizer = jieba.Tokenizer()
        for place in load_places() if places is None else places:
            self._tokenizer.add_word(place, freq=2000)
        self._canonical: dict[str, str] = {}
        for words in groups:
            for word in words:
                # A word in two groups keeps its first group: the file is read top-down.
                self._canonical.setdefault(word.lower(), words[0].lower())
                self._tokenizer.add_word(word, freq=2000)
        self._tokenizer.initialize()
        # Identifies what this analyzer produces: stored terms made by another configuration are not reused.
        recipe = repr((sorted(self._canonical.items()), sorted(self._tokenizer.user_word_tag_tab),
                       sorted(STOP_WORDS), jieba.__version__))
        self.fingerprint = hashlib.sha1(recipe.encode("utf-8")).hexdigest()[:12]
        # The analysis depends only on the text and this analyzer's fixed configuration: safe to keep.
        self.query_words = functools.lru_cache(maxsize=QUERY_CACHE_SIZE)(self._query_words)

    def canonical(self, word: str) -> str:
        return self._canonical.get(word, word)

    def _term(self, token: str) -> str | None:
        """The index term of one token, or None for a stop word or punctuation."""
        token = token.strip().lower()
        if not token or token in STOP_WORDS or not _WORD.search(token):
            return None
        return self._canonical.get(token, token)

    def terms(self, text: str) -> list[str]:
        """Index terms in text order (with repeats, for term frequencies): search mode, so that an article
        holding 住房公积金 also holds 公积金."""
        return [term for token in self._tokenizer.cut_for_search(text or "") if (term := self._term(token))]

    def _grams(self, word: str) -> list[str]:
        """The dictionary words inside a word, as jieba's search mode finds them (its 2- and 3-grams that are
        in the dictionary), without cutting the word again."""
        freq = self._tokenizer.FREQ
        return [word[i:i + n] for n in (2, 3) if len(word) > n for i in range(len(word) - n + 1)
                if freq.get(word[i:i + n])]

    def _query_words(self, text: str) -> tuple[QueryWord, ...]:
        """The query's words in precise mode (one term per word the caller said: 外来务工人员 counts once, not
        as six overlapping terms), each with its search-mode parts. Cached per text (`query_words`)."""
        words: dict[str, QueryWord] = {}
        for token in self._tokenizer.cut(text or ""):
            term = self._term(token)
            if term is None or term in words:
                continue
            parts = dict.fromkeys(part for piece in self._grams(token.strip())
                                  if (part := self._term(piece)) and part != term)
            words[term] = QueryWord(token.strip(), term, tuple(parts))
        return tuple(words.values())

    def query_terms(self, text: str) -> list[str]:
        """Distinct search-mode terms of a text, in first-seen order (what a plain BM25 would query with)."""
        return list(dict.fromkeys(self.terms(text)))

    def surface_words(self, text: str) -> list[str]:
        """The query's own words (not canonicalised), longest first: used to place the snippet."""
        return sorted({w.surface for w in self.query_words(text)}, key=len, reverse=True)

    def encode(self, title: str, body: str) -> str:
        """The stored form of an article's terms (kb_articles.index_terms): fingerprint, title, body."""
        return "\t".join((self.fingerprint, " ".join(self.terms(title)), " ".join(self.terms(body))))

    def decode(self, stored: str | None) -> tuple[list[str], list[str]] | None:
        """Title and body terms from `encode`, or None when they were made by another configuration."""
        if not stored:
            return None
        parts = stored.split("\t")
        if len(parts) != 3 or parts[0] != self.fingerprint:
            return None
        # Interned: a full load decodes millions of terms but only thousands of distinct ones.
        return [sys.intern(t) for t in parts[1].split()], [sys.intern(t) for t in parts[2].split()]


_shared: Analyzer | None = None
_shared_lock = threading.Lock()


def shared_analyzer() -> Analyzer:
    """One analyzer per process (jieba's dictionary is large)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Analyzer()
        return _shared
