"""Queue announcements and the callback offer (script `queue-announce`, argument: the queue name).

The dialplan runs it between spells in app_queue: `Queue(q,t,,,${HOTLINE_ANNOUNCE_INTERVAL})`, then this
script, then back into the queue at `${HOTLINE_QUEUE_POSITION}` unless `${HOTLINE_CALLBACK}` is 1. Position
and expected wait come from the Redis keys acd/ maintains (ivr/keys.py). When the wait is long the caller
may ask to be called back keeping their turn: the request is stored with their original queue time."""

from __future__ import annotations

from hotline.fastagi import AgiHangup
from ivr.flows.base import FlowContext
from ivr.schemas import QueueWait
from ivr.speech import minutes_pieces, number_pieces
from ivr.state import Machine, check_table, run_machine

TRANSITIONS = {
    "announce": {"long_wait": "offer_callback", "short_wait": "keep_waiting", "position_unknown": "keep_waiting"},
    "offer_callback": {"key_accept": "callback_booked", "wrong_key": "keep_waiting", "silence": "keep_waiting"},
}
FINALS = frozenset({"keep_waiting", "callback_booked"})
check_table(TRANSITIONS, FINALS)


class QueueAnnounceFlow:
    def __init__(self, ctx: FlowContext, queue: str) -> None:
        self.ctx = ctx
        self.queue = queue
        self.machine = Machine("queue_announce", TRANSITIONS, "announce", FINALS)
        self.wait = QueueWait(None, None, None)

    async def run(self) -> str:
        outcome = "error"  # until the machine ends or the caller hangs up
        try:
            await self.ctx.set("HOTLINE_ANNOUNCE_INTERVAL", self.ctx.config.announce_interval)
            outcome = await run_machine(self.machine, {"announce": self.on_announce,
                                                       "offer_callback": self.on_offer_callback,
                                                       "callback_booked": self.on_callback_booked})
            return outcome
        except AgiHangup:
            outcome = "hangup"
            raise
        finally:
            self.ctx.log_path(self.machine, outcome)

    async def on_announce(self) -> str:
        self.wait = await self.ctx.services.expected_wait(self.queue, self.ctx.call_id)
        if self.wait.position is None:
            await self.ctx.say(["queue_hold"])
            return "position_unknown"
        await self.ctx.set("HOTLINE_QUEUE_POSITION", self.wait.position)
        ahead = self.wait.position - 1
        pieces = ["queue_ahead", *number_pieces(ahead), "queue_people"]
        if self.wait.expected_seconds:
            pieces += ["queue_expected", *minutes_pieces(self.wait.expected_seconds)]
        await self.ctx.say(pieces)
        long = (self.wait.expected_seconds or 0) >= self.ctx.config.callback_after_seconds
        # the answer-rate guard (acd/guard.py) may ask for offers on any wait while the queue is falling behind
        return "long_wait" if long or self.wait.offer_callback else "short_wait"

    async def on_offer_callback(self) -> str:
        return await offer_callback(self.ctx)

    async def on_callback_booked(self) -> str:
        await book_callback(self.ctx, self.queue, self.wait)
        return ""


async def offer_callback(ctx: FlowContext) -> str:
    """Ask whether the caller wants to be called back, keeping their turn: 1 accepts; silence or any other
    key keeps them waiting for a human. Events: key_accept, wrong_key, silence."""
    digit = await ctx.say(["callback_offer"], "0123456789*#")
    if digit is None:
        digit = await ctx.session.wait_for_digit(ctx.config.callback_wait_ms)
    if digit is None:
        return "silence"
    return "key_accept" if digit == "1" else "wrong_key"


async def book_callback(ctx: FlowContext, queue: str, wait: QueueWait) -> str:
    """Record the request (with the caller's original queue time), tell the dialplan, tell the caller."""
    callback_id = await ctx.services.request_callback(call_id=ctx.call_id, number=ctx.session.caller_number,
                                                      queue=queue, wait=wait)
    await ctx.set("HOTLINE_CALLBACK", 1)
    await ctx.set("HOTLINE_CALLBACK_ID", callback_id)
    await ctx.say(["callback_booked"])
    return callback_id


async def queue_announce_route(ctx: FlowContext) -> None:
    queue = ctx.session.args[0] if ctx.session.args and ctx.session.args[0] else ctx.config.queue
    await QueueAnnounceFlow(ctx, queue).run()
