"""The welcome flow (script `ivr`): a short 7×24 greeting, then straight to the queue unless the caller
presses a key that was offered. GB/T 33358 asks that phone intake not put an interactive menu in front of
a human: silence or any other key goes to the queue, and nothing else is asked.

Offered keys: complaint (tags HOTLINE_CATEGORY=complaint, as in the recordings), work-order status, and
emergency (110/119/120 after a confirmation; Foshan art. 2 and art. 55: emergencies are not 12345's to
handle, the citizen is put through to the right service)."""

from __future__ import annotations

import logging

from hotline.domain import Category, EmergencyService
from hotline.fastagi import AgiHangup
from ivr.flows.base import FlowContext, key_event
from ivr.flows.order_status import OrderStatusFlow
from ivr.flows.tagging import tag_caller
from ivr.schemas import CallerProfile, Notice
from ivr.state import Machine, check_table, run_machine

_KEYS = {"key_complaint": "complaint", "key_order_status": "order_status", "key_emergency": "emergency"}
TRANSITIONS = {
    "welcome": {**_KEYS, "notice_current": "notice", "silence": "queue", "wrong_key": "queue"},
    "notice": {**_KEYS, "silence": "queue", "wrong_key": "queue"},
    "complaint": {"tagged": "queue"},
    "order_status": {"status_told": "queue", "tries_exhausted": "queue"},
    "emergency": {"service_chosen": "emergency_confirm", "back_to_agent": "queue", "silence": "queue",
                  "wrong_key": "queue"},
    "emergency_confirm": {"confirmed": "emergency_transfer", "declined": "queue", "silence": "queue"},
}
FINALS = frozenset({"queue", "emergency_transfer"})
check_table(TRANSITIONS, FINALS)

log = logging.getLogger(__name__)
SERVICE_KEYS = {"1": EmergencyService.police, "2": EmergencyService.fire, "3": EmergencyService.ambulance}


class WelcomeFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.machine = Machine("welcome", TRANSITIONS, "welcome", FINALS)
        config = ctx.config
        self.offered = {config.key_complaint: "key_complaint", config.key_order_status: "key_order_status",
                        config.key_emergency: "key_emergency"}
        self.escape = "".join(sorted(self.offered))
        self.category: Category | None = None
        self.service: EmergencyService | None = None
        self.notice: Notice | None = None
        self.profile: CallerProfile | None = None

    async def run(self) -> str:
        session = self.ctx.session
        outcome = "error"  # until the machine ends or the caller hangs up
        try:
            await session.answer()
            self.profile = await tag_caller(self.ctx)
            outcome = await run_machine(self.machine, {
                "welcome": self.on_welcome, "notice": self.on_notice, "complaint": self.on_complaint,
                "order_status": self.on_order_status, "emergency": self.on_emergency,
                "emergency_confirm": self.on_emergency_confirm, "queue": self.on_queue,
                "emergency_transfer": self.on_emergency_transfer})
            return outcome
        except AgiHangup:
            outcome = "hangup"
            raise
        finally:
            self.ctx.log_path(self.machine, outcome)

    async def on_welcome(self) -> str:
        digit = await self.ctx.say(["welcome"], self.escape)
        if digit:
            return key_event(digit, self.offered)
        try:
            self.notice = await self.ctx.services.current_notice()
        except Exception:  # a notice we cannot read is not worth delaying the caller for
            self.notice = None
        if self.notice is not None:
            return "notice_current"
        digit = await self.ctx.session.wait_for_digit(self.ctx.config.welcome_wait_ms)
        return key_event(digit, self.offered)

    async def on_notice(self) -> str:
        digit = await self.ctx.say(["notice_intro"], self.escape)
        if digit:
            return key_event(digit, self.offered)
        assert self.notice is not None
        digit = await self.ctx.session.stream_file(self.notice.prompt, self.escape)
        if digit:
            return key_event(digit, self.offered)
        digit = await self.ctx.session.wait_for_digit(self.ctx.config.welcome_wait_ms)
        return key_event(digit, self.offered)

    async def on_complaint(self) -> str:
        self.category = Category.complaint
        return "tagged"

    async def on_order_status(self) -> str:
        outcome = await OrderStatusFlow(self.ctx).run()
        return "status_told" if outcome == "done" else "tries_exhausted"

    async def on_emergency(self) -> str:
        digit = await self.ctx.say(["emergency_menu"], "01239")
        if digit is None:
            digit = await self.ctx.session.wait_for_digit(self.ctx.config.digit_timeout_ms)
        if digit in SERVICE_KEYS:
            self.service = SERVICE_KEYS[digit]
            return "service_chosen"
        return "back_to_agent" if digit == "0" else key_event(digit, {})

    async def on_emergency_confirm(self) -> str:
        assert self.service is not None
        digit = await self.ctx.say([f"emergency_confirm_{self.service.value}"], "0123456789*#")
        if digit is None:
            digit = await self.ctx.session.wait_for_digit(self.ctx.config.digit_timeout_ms)
        if digit is None:
            return "silence"
        return "confirmed" if digit == "1" else "declined"

    async def on_queue(self) -> str:
        if self.category is not None:
            await self.ctx.set("HOTLINE_CATEGORY", self.category.value)
        try:  # the ACD's routing: skill queue, priority, the last agent if free
            routing = await self.ctx.services.route(self.ctx.session.caller_number,
                                                    self.category.value if self.category else None, self.profile)
        except Exception:  # routing data unreadable: the dialplan's default queue still reaches a human
            log.exception("routing failed for call %s: default queue", self.ctx.call_id)
            routing = {}
        for name in ("HOTLINE_QUEUE", "HOTLINE_LAST_AGENT"):
            if routing.get(name):
                await self.ctx.set(name, routing[name])
        await self.ctx.set("HOTLINE_IVR_PATH", self.machine.path_text())
        return ""

    async def on_emergency_transfer(self) -> str:
        assert self.service is not None
        # record first: the transfer must be on record even if the caller hangs up during the next prompt
        await self.ctx.services.record_emergency(call_id=self.ctx.call_id, number=self.ctx.session.caller_number,
                                                 service=self.service)
        await self.ctx.set("HOTLINE_EMERGENCY", self.service.value)
        await self.ctx.set("HOTLINE_IVR_PATH", self.machine.path_text())
        await self.ctx.say(["emergency_connecting"])
        return ""


async def welcome_route(ctx: FlowContext) -> None:
    await WelcomeFlow(ctx).run()
