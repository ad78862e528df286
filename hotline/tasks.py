"""Running and stopping background tasks for sure.

`run_forever` keeps a consumer loop alive: a failure (Redis gone mid-way, a bug) is logged and the loop
started again, while a cancellation ends it.


A task blocked in a Redis read can swallow one cancellation (redis-py retries its read), so "cancel, then
await" may wait for ever and a role never stops. `cancel_and_wait` cancels again until the tasks are done,
for a bounded time, and names the ones that did not stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task | None], timeout: float = 5.0,
                          retry_every: float = 0.25) -> set[asyncio.Task]:
    """Cancel `tasks` and wait until they end or `timeout` passes; returns the ones still running."""
    pending = {task for task in tasks if task is not None and not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        for task in pending:
            task.cancel()
        done, pending = await asyncio.wait(pending, timeout=min(retry_every, remaining))
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("task %s ended with %r while stopping", task.get_name(), task.exception())
    for task in pending:
        log.error("task %s did not stop within %.1f s", task.get_name(), timeout)
    return pending


async def run_forever(run: Callable[[], Awaitable[None]], what: str, pause_s: float = 1.0) -> None:
    """Call `run` again each time it fails, `pause_s` after the failure, until cancelled."""
    while True:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed: restarting in %g s", what, pause_s)
            await asyncio.sleep(pause_s)
