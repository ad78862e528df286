"""The callback request (script `callback`), reached when the caller leaves the queue: by pressing 1
while waiting (queues.conf `context`, the dialplan's `hotline-queue-exit`, extension `1`) or when the
queue's maximum wait ran out. A caller who pressed 1 has asked already and is booked at once; otherwise
the callback is offered first. The request keeps the caller's original queue time (their turn)."""

from __future__ import annotations

from hotline.fastagi import AgiHangup
from ivr.flows.base import FlowContext
from ivr.flows.queue_announce import book_callback, offer_callback
from ivr.schemas import QueueWait
from ivr.state import Machine, check_table, run_machine

TRANSITIONS = {
    "offer": {"key_accept": "callback_booked", "wrong_key": "declined", "silence": "declined"},
    "asked": {"caller_asked": "callback_booked"},
}
FINALS = frozenset({"callback_booked", "declined"})
check_table(TRANSITIONS, FINALS)
ASKED_EXTENSION = "1"  # the key that left the queue (hotline-queue-exit)


class CallbackFlow:
    def __init__(self, ctx: FlowContext, queue: str) -> None:
        self.ctx = ctx
        self.queue = queue
        asked = ctx.session.env.get("agi_extension") == ASKED_EXTENSION
        self.machine = Machine("callback", TRANSITIONS, "asked" if asked else "offer", FINALS)
        self.wait = QueueWait(None, None, None)

    async def run(self) -> str:
        outcome = "error"  # until the machine ends or the caller hangs up
        try:
            self.wait = await self.ctx.services.expected_wait(self.queue, self.ctx.call_id)
            outcome = await run_machine(self.machine, {"offer": self.on_offer, "asked": self.on_asked,
                                                       "callback_booked": self.on_callback_booked,
                                                       "declined": self.on_declined})
            await self.ctx.set("HOTLINE_IVR_PATH", self.machine.path_text())
            return outcome
        except AgiHangup:
            outcome = "hangup"
            raise
        finally:
            self.ctx.log_path(self.machine, outcome)

    async def on_asked(self) -> str:
        return "caller_asked"

    async def on_offer(self) -> str:
        return await offer_callback(self.ctx)

    async def on_callback_booked(self) -> str:
        await book_callback(self.ctx, self.queue, self.wait)
        return ""

    async def on_declined(self) -> str:
        await self.ctx.say(["goodbye"])
        return ""


async def callback_route(ctx: FlowContext) -> None:
    queue = ctx.session.args[0] if ctx.session.args and ctx.session.args[0] else None
    queue = queue or await ctx.session.get_variable("HOTLINE_QUEUE") or ctx.config.queue
    await CallbackFlow(ctx, queue).run()
