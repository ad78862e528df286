"""Caller tagging before the queue: the history of the calling number becomes channel variables the
dialplan and app_queue route on (HOTLINE_REPEAT, HOTLINE_OPEN_ORDER, HOTLINE_TERMINAL, HOTLINE_PRIORITY).

The priority rule (特殊紧急 open order > a callback we owe > a repeat caller > everyone else) is the ACD's,
`acd.routing.priority_for`, with the values of acd/skills.yaml; the queue is chosen when the IVR hands the
call over (`IvrServices.route`). A history lookup that fails must not keep the citizen from a human: they
are tagged as unknown.
"""

from __future__ import annotations

import logging

from acd.routing import priority_for
from ivr.flows.base import FlowContext
from ivr.schemas import CallerProfile

log = logging.getLogger(__name__)


async def tag_caller(ctx: FlowContext) -> CallerProfile:
    number = ctx.session.caller_number
    try:
        profile = await ctx.services.caller_profile(number)
    except Exception:  # the database or Redis is down: route the call untagged rather than drop it
        log.exception("caller history lookup failed for call %s: routing untagged", ctx.call_id)
        profile = CallerProfile(number)
    await ctx.set("HOTLINE_REPEAT", int(profile.repeat))
    await ctx.set("HOTLINE_OPEN_ORDER", profile.open_order or "")
    await ctx.set("HOTLINE_TERMINAL", int(profile.terminal))
    await ctx.set("HOTLINE_PRIORITY", priority_for(profile))
    return profile
