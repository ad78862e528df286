"""Replaying the recorded AMI streams as many distinct calls (benchmarks, soak tests, demos).

A recording names its calls by Uniqueid (`1795264518.9`, also inside `3w-<uniqueid>` room names) and its
channels by a hex counter (`PJSIP/carrier-00000009`). `renumber` shifts both so that copy `n` of a
recording is a different call from copy `m`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hotline.traces import load_ami

UNIQUEID = re.compile(r"\b(1[0-9]{9})\.([0-9]+)\b")
CHANNEL_SEQ = re.compile(r"\b(PJSIP/[A-Za-z0-9_]+-)([0-9a-f]{8})\b")


def renumber(text: str, copy: int) -> str:
    """Shift every Uniqueid by `copy` * 100,000 s and tag channel counters with the copy number."""
    if copy == 0:
        return text
    text = UNIQUEID.sub(lambda m: f"{int(m.group(1)) + copy * 100_000}.{m.group(2)}", text)
    return CHANNEL_SEQ.sub(lambda m: f"{m.group(1)}{(copy << 12) + int(m.group(2), 16):08x}", text)


def scenario_frames(scenarios: Iterable[str]) -> list[str]:
    """The raw frames of the scenarios, in order (no banner)."""
    raws: list[str] = []
    for name in scenarios:
        _banner, frames = load_ami(name)
        raws.extend(f.raw for f in frames)
    return raws


def replay_bytes(scenarios: Iterable[str], copies: int, banner: str = "Asterisk Call Manager/11.0.0") -> bytes:
    """The scenarios played `copies` times one after the other, each copy with its own call ids."""
    block = "".join(scenario_frames(scenarios))
    parts = [banner + "\r\n"] + [renumber(block, n) for n in range(copies)]
    return "".join(parts).encode("utf-8")
