"""Stopping background tasks for sure.

A task blocked in a Redis read can swallow one cancellation (redis-py retries its read), so "cancel, then
await" may wait for ever and a role never stops. `cancel_and_wait` cancels again until the tasks are done,
for a bounded time, and names the ones that did not stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

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
