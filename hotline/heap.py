"""The collector in long-running role processes: what survives a full collection is frozen, so the next full
collection walks only what has grown old since, not the whole heap again.

Why: a console serving 500 websockets holds ~50,000-100,000 collectable objects (sockets, sessions, tasks);
at 50 calls/s a full collection came about once a minute, walked them all and stalled every socket of the
process for 40-120 ms, the slowest screen pops of bench/screen_pop. With the survivors frozen, a full
collection walks the objects promoted since the last one (CPython still starts it when those reach a quarter
of the heap it found alive last time, so they come no more often than before).

The price: frozen objects are freed as usual when their last reference goes, but a garbage *cycle* that holds
a frozen object waits. Every `thaw_every_s` (an hour) everything is thawed, and the next full collection sees
the whole heap once: one long pause an hour instead of one a minute, and cycles never wait longer.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

THAW_EVERY_S = 3600.0


class SurvivorFreezer:
    def __init__(self, thaw_every_s: float = THAW_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.thaw_every_s = thaw_every_s
        self.clock = clock
        self.freezes = 0  # full collections whose survivors were frozen
        self.thaws = 0
        self._thawed_at = clock()

    def install(self) -> SurvivorFreezer:
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)
        return self

    def uninstall(self) -> None:
        """Stop, and give the collector back everything frozen (tests; a process that stops)."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        gc.unfreeze()

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] != 2:
            return
        if self.clock() - self._thawed_at >= self.thaw_every_s:
            gc.unfreeze()  # the next full collection sees everything, and reclaims cycles held by old objects
            self._thawed_at = self.clock()
            self.thaws += 1
        else:
            gc.freeze()
            self.freezes += 1


def freeze_long_lived() -> None:
    """Collect, then freeze what is left: what a process built to keep until it stops (its start-up, an index)
    is never walked again, without waiting for a full collection to find it."""
    gc.collect()
    gc.freeze()


_installed: SurvivorFreezer | None = None


def install_heap_policy() -> SurvivorFreezer:
    """Once per process (every role process calls it: hotline.runtime.run_roles)."""
    global _installed
    if _installed is None:
        _installed = SurvivorFreezer().install()
    return _installed
