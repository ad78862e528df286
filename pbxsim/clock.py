"""Time for the simulator: one interface, two clocks.

The model never sleeps; it only asks a clock to call it back later. `VirtualClock` is a discrete-event
scheduler (a heap of timers run in time order, no sockets, a simulated day in seconds); `RealClock` maps the
same timers onto the asyncio loop, optionally faster than real time by `scale` (10 = ten times faster).
Times are simulated epoch seconds in both cases.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any, Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    realtime: bool

    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer: ...


class _VirtualTimer:
    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when, self.callback, self.args, self.cancelled = when, callback, args, False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Discrete-event clock: `run_until(t)` executes every timer due up to `t` in (time, insertion) order."""

    realtime = False

    def __init__(self, start: float = 1_795_263_400.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, _VirtualTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> _VirtualTimer:
        timer = _VirtualTimer(self._now + max(0.0, delay), callback, args)
        heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
        return timer

    def pending(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)

    def run_until(self, until: float) -> None:
        while self._heap and self._heap[0][0] <= until:
            when, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback(*timer.args)
        self._now = max(self._now, until)

    def run(self, limit: float = 10 * 86400.0) -> None:
        """Run until nothing is scheduled (or `limit` simulated seconds have passed)."""
        self.run_until_idle(self._now + limit)

    def run_until_idle(self, until: float) -> None:
        while self._heap and self._heap[0][0] <= until:
            self.run_until(self._heap[0][0])


class RealClock:
    """asyncio time, `scale` times faster than the wall clock; `now()` starts at the wall clock's epoch."""

    realtime = True

    def __init__(self, scale: float = 1.0, start: float | None = None) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self._start = time.time() if start is None else start
        self._t0: float | None = None

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        return loop

    def now(self) -> float:
        loop = self._loop()
        assert self._t0 is not None
        return self._start + (loop.time() - self._t0) * self.scale

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        return self._loop().call_later(max(0.0, delay) / self.scale, callback, *args)

    def wall(self, simulated_seconds: float) -> float:
        """Wall-clock seconds that `simulated_seconds` take."""
        return simulated_seconds / self.scale

    async def sleep(self, simulated_seconds: float) -> None:
        await asyncio.sleep(self.wall(simulated_seconds))
