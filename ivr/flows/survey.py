"""回访测评 on the phone (script `survey`), run on the citizen's channel after the agent hangs up
(app_queue option `c`). The citizen rates 1–5; no answer, or hanging up, counts as 基本满意
(Ziyang art. 14(1): 未作出评价的视为基本满意). The rating goes on the call and its work order."""

from __future__ import annotations

from hotline.fastagi import AgiHangup
from ivr.flows.base import FlowContext
from ivr.schemas import SurveyRating
from ivr.state import Machine, check_table, run_machine

TRANSITIONS = {
    "ask": {"rating_keyed": "thanks", "wrong_key": "ask", "silence": "defaulted", "tries_exhausted": "defaulted"},
}
FINALS = frozenset({"thanks", "defaulted"})
check_table(TRANSITIONS, FINALS)
KEYS = "12345"


class SurveyFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.machine = Machine("survey", TRANSITIONS, "ask", FINALS)
        self.tries = 0
        self.rating: SurveyRating | None = None
        self.recorded = False
        self.order_no: str | None = None

    async def _order_no(self) -> str | None:
        """The console sets HOTLINE_ORDER_NO on the citizen's channel; the dialplan may pass it instead."""
        if self.ctx.session.args:
            return self.ctx.session.args[0] or None
        return await self.ctx.session.get_variable("HOTLINE_ORDER_NO") or None

    async def run(self) -> SurveyRating:
        outcome = "error"  # until the machine ends or the caller hangs up
        try:
            await self.ctx.session.answer()
            self.order_no = await self._order_no()
            outcome = await run_machine(self.machine, {"ask": self.on_ask, "thanks": self.on_thanks,
                                                       "defaulted": self.on_defaulted})
        except AgiHangup:
            outcome = "hangup"
            if not self.recorded:  # hung up before rating: still counted, as 基本满意
                await self._record(SurveyRating.basic, "hangup")
            raise
        finally:
            self.ctx.log_path(self.machine, outcome)
        assert self.rating is not None
        return self.rating

    async def _record(self, rating: SurveyRating, source: str) -> None:
        self.rating = rating
        await self.ctx.services.record_survey(self.ctx.call_id, rating, source=source, order_no=self.order_no)
        self.recorded = True

    async def on_ask(self) -> str:
        if self.tries >= self.ctx.config.survey_tries:
            return "tries_exhausted"
        self.tries += 1
        prompts = ["survey_retry", "survey_ask"] if self.tries > 1 else ["survey_ask"]
        digit = await self.ctx.say(prompts, "0123456789*#")
        if digit is None:
            digit = await self.ctx.session.wait_for_digit(self.ctx.config.survey_wait_ms)
        if digit is None:
            return "silence"
        if digit not in KEYS:
            return "wrong_key"
        self.rating = SurveyRating(int(digit))
        return "rating_keyed"

    async def on_thanks(self) -> str:
        assert self.rating is not None
        await self._record(self.rating, "keyed")
        await self.ctx.set("HOTLINE_SURVEY", int(self.rating))
        await self.ctx.say(["survey_thanks"])
        return ""

    async def on_defaulted(self) -> str:
        await self._record(SurveyRating.basic, "no_answer")
        await self.ctx.set("HOTLINE_SURVEY", int(SurveyRating.basic))
        await self.ctx.say(["goodbye"])
        return ""


async def survey_route(ctx: FlowContext) -> None:
    await SurveyFlow(ctx).run()
