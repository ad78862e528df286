"""The deadline engine: a policy's rules on a working calendar.

`compute` gives every deadline an order has (given what has happened to it so far); `request_extension`
grants or refuses an extension; `hotline.sla.alerts.evaluate` says whether a deadline is near due or overdue.
Everything here is pure computation: no database, no clock reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace

from hotline.domain import Category, Urgency
from hotline.sla.calendar import WorkCalendar
from hotline.sla.policy import Policy, Rule, Span
from hotline.sla.timeutil import local


@dataclass(frozen=True, slots=True)
class Deadline:
    kind: str                 # dispatch sign initial_response accept complete return reply filing_decision ...
    due_at: dt.datetime       # Asia/Shanghai
    provisional: bool         # a day on the way came from rule-based holidays, not an official schedule
    rule: str                 # the article: "资府办函〔2022〕69号 第十三条第（二）项"
    anchor_at: dt.datetime    # the moment the clock started
    label: str = ""           # the step in Chinese (签收, 办结, ...)
    extensions: int = 0       # extensions granted so far
    clock: str = "clock"      # what the span counts: clock | office | working_day


class ExtensionRefused(Exception):
    """`reason`: not_extendable | limit_reached | too_late; `message`: the Chinese text for the console."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class DeadlineEngine:
    def __init__(self, policy: Policy, calendar: WorkCalendar) -> None:
        self.policy = policy
        self.calendar = calendar
        # rule selection depends only on (category, urgency): resolve it once
        self._rules = {(c, u): policy.rules_for(c, u) for c in Category for u in Urgency}

    def add(self, start: dt.datetime, span: Span) -> tuple[dt.datetime, bool]:
        if span.clock == "clock":
            return local(start) + span.length, False
        if span.clock == "office":
            return self.calendar.add_office_time(start, span.length)
        return self.calendar.add_working_day_time(start, span.length)

    def rule(self, kind: str, category: Category | str, urgency: Urgency | str = Urgency.normal) -> Rule | None:
        for rule in self._rules[Category(category), Urgency(urgency)]:
            if rule.kind == kind:
                return rule
        return None

    def compute(self, category: Category | str, urgency: Urgency | str, *, accepted_at: dt.datetime,
                dispatched_at: dt.datetime | None = None,
                events: Mapping[str, dt.datetime] | None = None) -> dict[str, Deadline]:
        """Every deadline whose clock has started: kind → Deadline.

        `events` holds the other moments known so far (received, unit_accepted, handled, temp_closed,
        progress_reported). A rule whose anchor has not happened yet is left out; compute again later.
        """
        known: dict[str, dt.datetime] = {"accepted": accepted_at}
        if dispatched_at is not None:
            known["dispatched"] = dispatched_at
        if events:
            known.update(events)
        out: dict[str, Deadline] = {}
        pending = list(self._rules[Category(category), Urgency(urgency)])
        # anchors like "due:accept" need another deadline first: a second pass resolves them
        for _ in range(2):
            waiting = []
            for rule in pending:
                anchor = self._anchor(rule, known, out)
                if anchor is _WAIT:
                    waiting.append(rule)
                elif anchor is not None:
                    due, provisional = self.add(anchor, rule.within)
                    out[rule.kind] = Deadline(rule.kind, due, provisional, rule.article, local(anchor), rule.label,
                                              clock=rule.within.clock)
            pending = waiting
        return out

    @staticmethod
    def _anchor(rule: Rule, known: Mapping[str, dt.datetime], computed: Mapping[str, Deadline]):  # type: ignore[no-untyped-def]
        for name in rule.anchors:
            if name.startswith("due:"):
                other = computed.get(name[4:])
                return other.due_at if other is not None else _WAIT
            if name in known:
                return known[name]
        return None

    def request_extension(self, deadline: Deadline, category: Category | str, urgency: Urgency | str,
                          requested_at: dt.datetime) -> Deadline:
        """The extended deadline, or `ExtensionRefused` (not extendable, limit reached, too late)."""
        rule = self.rule(deadline.kind, category, urgency)
        if rule is None or rule.extension is None:
            message = (rule.not_extendable if rule and rule.not_extendable
                       else f"{self.policy.document} 未规定{deadline.label or deadline.kind}时限可以延期")
            raise ExtensionRefused("not_extendable", message)
        ext = rule.extension
        if deadline.extensions >= ext.max_count:
            raise ExtensionRefused("limit_reached", f"延期申请最多{ext.max_count}次，已用完（{ext.article}）")
        if local(requested_at) >= deadline.due_at:
            raise ExtensionRefused("too_late", f"时限已到期，不能再申请延期（{ext.article}）")
        if ext.request_before is not None:
            ahead, _ = self.calendar.working_day_time_between(requested_at, deadline.due_at)
            if ahead < ext.request_before.length:
                days = ext.request_before.length / dt.timedelta(days=1)
                raise ExtensionRefused(
                    "too_late", f"延期须在到期{days:g}个工作日前提出（{ext.article}）")
        if ext.add is not None:
            due, provisional = self.add(deadline.due_at, ext.add)
        else:
            assert ext.extend_to is not None
            due, provisional = self.add(deadline.anchor_at, ext.extend_to)
        return replace(deadline, due_at=due, provisional=provisional or deadline.provisional,
                       rule=ext.article, extensions=deadline.extensions + 1)

    def recompute(self, kind: str, category: Category | str, urgency: Urgency | str, anchor_at: dt.datetime,
                  extensions: int = 0) -> Deadline | None:
        """A stored deadline again, from its anchor and the extensions granted, on today's calendar (after a
        year was loaded). None when the policy no longer has the rule. For a deadline anchored on another
        deadline ("due:accept"), recompute that one first and pass its new due as `anchor_at`."""
        rule = self.rule(kind, category, urgency)
        if rule is None:
            return None
        due, provisional = self.add(anchor_at, rule.within)
        deadline = Deadline(kind, due, provisional, rule.article, local(anchor_at), rule.label,
                            clock=rule.within.clock)
        ext = rule.extension
        for _ in range(min(extensions, ext.max_count if ext else 0)):
            assert ext is not None
            due, more = self.add(due, ext.add) if ext.add else self.add(anchor_at, ext.extend_to)  # type: ignore[arg-type]
            deadline = replace(deadline, due_at=due, provisional=deadline.provisional or more, rule=ext.article,
                               extensions=deadline.extensions + 1)
        return deadline

    def next_progress_report(self, category: Category | str, urgency: Urgency | str,
                             reported_at: dt.datetime) -> Deadline | None:
        """After a progress report on a long case, when the next one is due (None: not required)."""
        rule = self.rule("progress_report", category, urgency)
        if rule is None:
            return None
        due, provisional = self.add(reported_at, rule.within)
        return Deadline(rule.kind, due, provisional, rule.article, local(reported_at), rule.label,
                        clock=rule.within.clock)


_WAIT = object()
