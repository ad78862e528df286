"""The `scheduler` role: the platform's periodic jobs, one process for the whole hotline.

- deadline scans: near-due (yellow card) and overdue (red card) work orders to shift managers
  (Foshan art. 47(1)3), hotline.workorders.notifier;
- the provincial outbox: orders for the provincial 12345 platform, delivered with retries
  (Ziyang art. 20), hotline.outbox.worker — only when HOTLINE_PROVINCIAL_ENDPOINT is set;
- KB auto-acceptance: collected information not reviewed within 22 hours is published
  (Foshan art. 51(3)), hotline.kb.runner.
Each job survives its own failures (logged, retried next round); none blocks another.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from hotline.kb.runner import auto_accept_forever
from hotline.outbox.worker import OutboxWorker
from hotline.sla.services import build_engine
from hotline.workorders.notifier import run_scanner

if TYPE_CHECKING:
    from hotline.runtime import RoleContext

log = logging.getLogger(__name__)
DEADLINE_SCAN_SECONDS = 60.0
KB_AUTO_ACCEPT_SECONDS = 300.0


async def run_role(ctx: RoleContext) -> None:
    settings = ctx.settings
    with ctx.session_factory() as session:
        engine = build_engine(session, settings.city_policy, settings.office_hours)
    async with asyncio.TaskGroup() as jobs:
        jobs.create_task(run_scanner(ctx.bus, ctx.session_factory, engine, DEADLINE_SCAN_SECONDS),
                         name="scheduler:deadlines")
        jobs.create_task(auto_accept_forever(ctx.session_factory, KB_AUTO_ACCEPT_SECONDS), name="scheduler:kb")
        if settings.provincial_endpoint:
            jobs.create_task(OutboxWorker(ctx.session_factory, settings.provincial_endpoint).run(),
                             name="scheduler:outbox")
        else:
            log.info("HOTLINE_PROVINCIAL_ENDPOINT unset: provincial orders stay in the outbox until it is")
