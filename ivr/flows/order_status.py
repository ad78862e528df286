"""Order status by phone: the caller keys a work-order number and hears its status and due date.
Numbers are checked (digits only, length within bounds) and three tries are allowed; then a human takes
over. Runs on its own (script `order-status`) or inside the welcome flow."""

from __future__ import annotations

from ivr.flows.base import FlowContext
from ivr.schemas import OrderStatusInfo
from ivr.speech import date_pieces, digit_pieces, status_pieces
from ivr.state import Machine, check_table, run_machine

TRANSITIONS = {
    "ask": {"number_entered": "lookup", "bad_number": "ask", "silence": "ask", "tries_exhausted": "give_up"},
    "lookup": {"order_found": "tell", "order_unknown": "ask"},
    "tell": {"told": "done"},
}
FINALS = frozenset({"done", "give_up"})
check_table(TRANSITIONS, FINALS)


class OrderStatusFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.machine = Machine("order_status", TRANSITIONS, "ask", FINALS)
        self.tries = 0
        self.error_prompt: str | None = None
        self.number = ""
        self.info: OrderStatusInfo | None = None

    async def run(self) -> str:
        """'done' when a status was told, 'give_up' after the tries ran out."""
        try:
            return await run_machine(self.machine, {"ask": self.on_ask, "lookup": self.on_lookup,
                                                    "tell": self.on_tell, "give_up": self.on_give_up})
        finally:
            self.ctx.log_path(self.machine, self.machine.state)

    async def on_ask(self) -> str:
        config = self.ctx.config
        if self.tries >= config.order_tries:
            return "tries_exhausted"
        self.tries += 1
        if self.error_prompt:
            await self.ctx.say([self.error_prompt])
        entered = await self.ctx.session.get_data(self.ctx.sound("order_ask"), config.digit_timeout_ms,
                                                  config.order_max_digits)
        digits = entered.digits
        if not digits:
            self.error_prompt = "order_invalid" if not entered.timed_out else None
            return "silence" if entered.timed_out else "bad_number"
        if not digits.isdigit() or not config.order_min_digits <= len(digits) <= config.order_max_digits:
            self.error_prompt = "order_invalid"
            return "bad_number"
        self.number = digits
        return "number_entered"

    async def on_lookup(self) -> str:
        self.info = await self.ctx.services.order_status(self.number)
        if self.info is None:
            self.error_prompt = "order_not_found"
            return "order_unknown"
        return "order_found"

    async def on_tell(self) -> str:
        assert self.info is not None
        pieces = ["order_is", *digit_pieces(self.number), "order_status_is", *status_pieces(self.info.status)]
        if self.info.due_at is not None:
            pieces += ["order_due_is", *date_pieces(self.info.due_at)]
        await self.ctx.say([*pieces, "order_end"])
        return "told"

    async def on_give_up(self) -> str:
        await self.ctx.say(["order_give_up"])
        return ""


async def order_status_route(ctx: FlowContext) -> None:
    await ctx.session.answer()
    flow = OrderStatusFlow(ctx)
    await flow.run()
    await ctx.set("HOTLINE_IVR_PATH", flow.machine.path_text())
