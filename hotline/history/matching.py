"""'Same matter' for repeat-caller detection (Ziyang art. 15: 同一诉求人就同一事项多次反映).

Same category, and similar content or the same place. Chinese text has no spaces, so similarity is
the Jaccard index of character bigrams: cheap, needs no dictionary, and robust to rephrasing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


@lru_cache(maxsize=8192)  # the same texts are compared again and again within one history
def bigrams(text: str | None) -> frozenset[str]:
    cleaned = _NOISE.sub("", (text or "").lower())
    if len(cleaned) < 2:
        return frozenset({cleaned}) if cleaned else frozenset()
    return frozenset(cleaned[i:i + 2] for i in range(len(cleaned) - 1))


def similarity(a: str | None, b: str | None) -> float:
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    content_threshold: float = 0.35
    location_threshold: float = 0.6


DEFAULT_POLICY = MatchPolicy()


def same_matter(category_a: str, content_a: str, location_a: str | None, category_b: str, content_b: str,
                location_b: str | None, policy: MatchPolicy = DEFAULT_POLICY) -> bool:
    if category_a != category_b:
        return False
    if similarity(content_a, content_b) >= policy.content_threshold:
        return True
    return bool(location_a and location_b) and similarity(location_a, location_b) >= policy.location_threshold
