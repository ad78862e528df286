"""Every deadline of 资府办函〔2022〕69号 (Ziyang), article by article."""

from __future__ import annotations

import pytest

from hotline.domain import Category, Urgency
from hotline.sla import DeadlineEngine, ExtensionRefused, load_policy
from hotline.sla.timeutil import at

DOC = "资府办函〔2022〕69号"


def deadlines(engine: DeadlineEngine, category: str, urgency: str = "normal", accepted: str = "2026-09-30 16:00",
              dispatched: str | None = "2026-09-30 17:00", **events: str):
    return engine.compute(category, urgency, accepted_at=at(accepted),
                          dispatched_at=at(dispatched) if dispatched else None,
                          events={k: at(v) for k, v in events.items()})


def test_dispatch_within_two_clock_hours_even_on_a_holiday(ziyang: DeadlineEngine) -> None:
    d = deadlines(ziyang, "complaint", accepted="2026-10-03 23:30", dispatched=None)
    assert d["dispatch"].due_at == at("2026-10-04 01:30")
    assert d["dispatch"].rule == f"{DOC} 第十三条第（一）项"
    assert set(d) == {"dispatch"}  # nothing else runs before the order is dispatched


def test_sign_within_five_working_hours(ziyang: DeadlineEngine) -> None:
    d = deadlines(ziyang, "help", dispatched="2026-11-16 10:00")
    assert d["sign"].due_at == at("2026-11-16 16:30")  # across the lunch break
    d = deadlines(ziyang, "help", dispatched="2026-09-30 17:00")
    assert d["sign"].due_at == at("2026-10-08 15:00")  # 0.5 h, the National Day week, 4.5 h
    assert d["sign"].rule == f"{DOC} 第十三条第（二）项" and d["sign"].label == "签收"


def test_return_within_one_working_day(ziyang: DeadlineEngine) -> None:
    d = deadlines(ziyang, "consult", dispatched="2026-11-20 15:00")
    assert d["return"].due_at == at("2026-11-23 15:00")


@pytest.mark.parametrize(("category", "dispatched", "due"), [
    ("consult", "2026-09-30 10:00", "2026-10-08 10:00"),       # 1 working day over National Day
    ("help", "2026-02-12 10:00", "2026-02-26 10:00"),          # 5: Sat 14 Feb worked, 15–23 Feb off
    ("suggestion", "2026-11-16 09:00", "2026-11-23 09:00"),
    ("complaint", "2026-09-30 17:00", "2026-10-15 17:00"),     # 7: Sat 10 Oct worked
    ("report", "2026-11-16 09:00", "2026-11-25 09:00"),
])
def test_completion_limits(ziyang: DeadlineEngine, category: str, dispatched: str, due: str) -> None:
    d = deadlines(ziyang, category, dispatched=dispatched)
    assert d["complete"].due_at == at(due)
    assert d["complete"].rule == f"{DOC} 第十三条第（二）项" and not d["complete"].provisional


def test_special_urgent_and_special_matters(ziyang: DeadlineEngine) -> None:
    d = deadlines(ziyang, "help", "special_urgent", dispatched="2026-11-21 20:00")  # a Saturday night
    assert d["initial_response"].due_at == at("2026-11-21 21:00")
    assert d["result"].due_at == at("2026-11-24 00:00")  # all of Monday
    d = deadlines(ziyang, "help", "special", dispatched="2026-11-16 10:00")
    assert d["initial_response"].due_at == at("2026-11-16 12:00")
    assert d["result"].due_at == at("2026-11-18 10:00")
    assert d["result"].rule == f"{DOC} 第十三条第（四）项"
    assert "initial_response" not in deadlines(ziyang, "help", "normal")


def test_progress_report_every_15_working_days(ziyang: DeadlineEngine) -> None:
    d = deadlines(ziyang, "complaint", dispatched="2026-10-12 10:00", temp_closed="2026-11-02 10:00")
    assert d["progress_report"].due_at == at("2026-11-23 10:00")
    d = deadlines(ziyang, "complaint", dispatched="2026-10-12 10:00", temp_closed="2026-11-02 10:00",
                  progress_reported="2026-11-20 10:00")
    assert d["progress_report"].anchor_at == at("2026-11-20 10:00")  # the last report restarts the clock
    following = ziyang.next_progress_report("complaint", "normal", at("2026-11-20 10:00"))
    assert following is not None and following.due_at == d["progress_report"].due_at
    assert "progress_report" not in deadlines(ziyang, "complaint")


def test_one_extension_of_five_days_for_complaints(ziyang: DeadlineEngine) -> None:
    complete = deadlines(ziyang, "complaint")["complete"]  # due Thu 15 Oct 17:00
    extended = ziyang.request_extension(complete, "complaint", "normal", at("2026-10-14 17:00"))  # exactly 1 day
    assert extended.due_at == at("2026-10-22 17:00") and extended.extensions == 1
    assert extended.rule == f"{DOC} 第十三条第（三）项"
    with pytest.raises(ExtensionRefused) as refused:
        ziyang.request_extension(extended, "complaint", "normal", at("2026-10-15 09:00"))
    assert refused.value.reason == "limit_reached"


def test_extension_for_help_adds_two_days(ziyang: DeadlineEngine) -> None:
    complete = deadlines(ziyang, "help", dispatched="2026-11-16 09:00")["complete"]  # Mon 23 Nov 09:00
    extended = ziyang.request_extension(complete, "help", "normal", at("2026-11-19 09:00"))
    assert extended.due_at == at("2026-11-25 09:00")


def test_extension_requested_too_late(ziyang: DeadlineEngine) -> None:
    complete = deadlines(ziyang, "complaint")["complete"]  # due Thu 15 Oct 17:00
    with pytest.raises(ExtensionRefused) as refused:
        ziyang.request_extension(complete, "complaint", "normal", at("2026-10-14 18:00"))
    assert refused.value.reason == "too_late" and "1个工作日前" in refused.value.message
    with pytest.raises(ExtensionRefused, match="too_late"):
        ziyang.request_extension(complete, "complaint", "normal", at("2026-10-16 09:00"))  # already overdue


def test_consultations_are_not_extended(ziyang: DeadlineEngine) -> None:
    complete = deadlines(ziyang, "consult", dispatched="2026-11-16 09:00")["complete"]
    with pytest.raises(ExtensionRefused) as refused:
        ziyang.request_extension(complete, "consult", "normal", at("2026-11-16 09:05"))
    assert refused.value.reason == "not_extendable" and "咨询类工单原则性不予延期" in refused.value.message
    sign = deadlines(ziyang, "help")["sign"]
    with pytest.raises(ExtensionRefused, match="not_extendable"):
        ziyang.request_extension(sign, "help", "normal", at("2026-09-30 17:05"))


def test_recompute_reapplies_granted_extensions(ziyang: DeadlineEngine) -> None:
    complete = deadlines(ziyang, "complaint")["complete"]
    extended = ziyang.request_extension(complete, "complaint", "normal", at("2026-10-13 09:00"))
    again = ziyang.recompute("complete", "complaint", "normal", complete.anchor_at, extensions=1)
    assert again == extended


def test_repeat_rules_for_the_history_module() -> None:
    rules = load_policy("ziyang").repeat_rules
    assert rules["article"] == f"{DOC} 第十五条"
    assert rules["terminal_case"] == {"dispatch": False, "answer_with": "unit_standard_reply"}
    assert rules["repeated_report_within_period"]["dispatch"] is False
    assert "report" in rules["repeated_report_within_period"]["categories"]


def test_every_category_and_urgency_gets_a_full_set(ziyang: DeadlineEngine) -> None:
    for category in Category:
        for urgency in Urgency:
            d = deadlines(ziyang, category, urgency)
            assert {"dispatch", "sign", "return", "complete"} <= set(d), (category, urgency)
            assert all(x.rule.startswith(DOC + " 第") for x in d.values())
            assert all(x.due_at > x.anchor_at for x in d.values())
