"""cancel_and_wait: a task that swallows a cancellation is cancelled again; one that never stops is named."""

from __future__ import annotations

import asyncio

from hotline.tasks import cancel_and_wait


async def swallows_first_cancel(log: list[str]) -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        log.append("swallowed")  # as redis-py's retrying read does
    await asyncio.sleep(3600)


async def never_stops(released: asyncio.Event) -> None:
    while not released.is_set():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            continue


async def test_a_swallowed_cancellation_is_repeated_until_the_task_ends() -> None:
    log: list[str] = []
    task = asyncio.create_task(swallows_first_cancel(log))
    await asyncio.sleep(0)
    assert await cancel_and_wait([task, None], timeout=2.0) == set()
    assert task.cancelled() and log == ["swallowed"]


async def test_a_task_that_never_stops_is_returned_after_the_timeout() -> None:
    released = asyncio.Event()
    stubborn = asyncio.create_task(never_stops(released), name="stubborn")
    await asyncio.sleep(0)
    assert await cancel_and_wait([stubborn], timeout=0.3) == {stubborn}
    assert not stubborn.done()
    released.set()  # let it go, so the test leaves nothing running
    assert await cancel_and_wait([stubborn], timeout=1.0) == set()
