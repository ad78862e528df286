"""Every deadline of the Foshan 12345 platform measures, article by article."""

from __future__ import annotations

import pytest

from hotline.domain import Category, Urgency
from hotline.sla import DeadlineEngine, ExtensionRefused
from hotline.sla.timeutil import at

DOC = "佛山市政府12345平台运行管理办法"


def deadlines(engine: DeadlineEngine, category: str, urgency: str = "normal", accepted: str = "2026-11-16 09:30",
              dispatched: str | None = "2026-11-16 10:00", **events: str):
    return engine.compute(category, urgency, accepted_at=at(accepted),
                          dispatched_at=at(dispatched) if dispatched else None,
                          events={k: at(v) for k, v in events.items()})


def test_registration_within_30_minutes(foshan: DeadlineEngine) -> None:
    d = deadlines(foshan, "consult", dispatched=None, received="2026-11-21 23:50")
    assert d["register"].due_at == at("2026-11-22 00:20")
    assert d["register"].rule == f"{DOC} 第十五条"


def test_dispatch_within_one_office_hour(foshan: DeadlineEngine) -> None:
    assert deadlines(foshan, "help", accepted="2026-11-16 11:30")["dispatch"].due_at == at("2026-11-16 14:00")
    friday_evening = deadlines(foshan, "help", accepted="2026-11-20 17:00")["dispatch"]
    assert friday_evening.due_at == at("2026-11-23 09:30")
    assert friday_evening.rule == f"{DOC} 第二十二条"


def test_emergency_dispatch_within_ten_minutes_any_time(foshan: DeadlineEngine) -> None:
    d = deadlines(foshan, "help", "special_urgent", accepted="2026-11-22 03:00", dispatched=None)
    assert d["dispatch"].due_at == at("2026-11-22 03:10") and d["dispatch"].rule == f"{DOC} 第五十七条"


def test_consultation_22_and_24_hours_non_working_days_excluded(foshan: DeadlineEngine) -> None:
    d = deadlines(foshan, "consult", dispatched="2026-11-20 10:00")  # Friday
    assert d["complete"].due_at == at("2026-11-23 08:00")
    assert d["reply"].due_at == at("2026-11-23 10:00")
    assert d["return"].due_at == at("2026-11-23 08:00")
    assert d["complete"].rule == f"{DOC} 第二十八条第（三）项"
    assert d["return"].rule == f"{DOC} 第二十八条第（四）项"
    d = deadlines(foshan, "consult", dispatched="2026-09-30 20:00")  # eve of National Day
    assert d["complete"].due_at == at("2026-10-08 18:00")


def test_suggestions_and_praise_are_consultations_without_reply(foshan: DeadlineEngine) -> None:
    for category in ("suggestion", "praise"):
        d = deadlines(foshan, category, dispatched="2026-11-16 10:00")
        assert d["complete"].due_at == at("2026-11-17 08:00")
        assert d["complete"].rule == f"{DOC} 第三十条"
        assert "reply" not in d and "initial_response" not in d


@pytest.mark.parametrize("category", ["help", "complaint", "report"])
def test_appeals_initial_feedback_and_five_working_days(foshan: DeadlineEngine, category: str) -> None:
    d = deadlines(foshan, category, dispatched="2026-11-20 10:00")
    assert d["initial_response"].due_at == at("2026-11-23 08:00")
    assert d["initial_response"].rule == f"{DOC} 第三十二条第一款"
    assert d["reply"].due_at == at("2026-11-23 10:00")
    assert d["return"].rule == f"{DOC} 第三十二条第二款"
    assert d["complete"].due_at == at("2026-11-27 10:00")
    assert d["complete"].rule == f"{DOC} 第三十三条"
    with pytest.raises(ExtensionRefused, match="not_extendable"):
        foshan.request_extension(d["complete"], category, "normal", at("2026-11-20 11:00"))


def test_consumer_complaint_accept_five_complete_twenty(foshan: DeadlineEngine) -> None:
    d = deadlines(foshan, "consumer_complaint", dispatched="2026-11-16 10:00")
    assert d["accept"].due_at == at("2026-11-23 10:00") and d["accept"].rule == f"{DOC} 第三十七条第一款"
    assert d["initial_response"].due_at == at("2026-11-17 08:00")  # art. 32 covers every 诉求
    # not accepted yet: from the latest acceptance allowed
    assert d["complete"].anchor_at == at("2026-11-23 10:00")
    assert d["complete"].due_at == at("2026-12-21 10:00")
    accepted = deadlines(foshan, "consumer_complaint", dispatched="2026-11-16 10:00",
                         unit_accepted="2026-11-17 15:00")
    assert accepted["complete"].due_at == at("2026-12-15 15:00")


def test_consumer_complaint_two_extensions_of_five_then_refused(foshan: DeadlineEngine) -> None:
    complete = deadlines(foshan, "consumer_complaint", unit_accepted="2026-11-17 15:00")["complete"]
    first = foshan.request_extension(complete, "consumer_complaint", "normal", at("2026-12-01 09:00"))
    assert first.due_at == at("2026-12-22 15:00") and first.rule == f"{DOC} 第三十七条第二款"
    second = foshan.request_extension(first, "consumer_complaint", "normal", at("2026-12-16 09:00"))
    assert second.due_at == at("2026-12-29 15:00") and second.extensions == 2
    with pytest.raises(ExtensionRefused) as refused:
        foshan.request_extension(second, "consumer_complaint", "normal", at("2026-12-17 09:00"))
    assert refused.value.reason == "limit_reached" and "最多2次" in refused.value.message


def test_consumer_complaint_extension_needs_three_working_days_notice(foshan: DeadlineEngine) -> None:
    complete = deadlines(foshan, "consumer_complaint", unit_accepted="2026-11-17 15:00")["complete"]  # 15 Dec 15:00
    with pytest.raises(ExtensionRefused) as refused:
        foshan.request_extension(complete, "consumer_complaint", "normal", at("2026-12-10 16:00"))
    assert refused.value.reason == "too_late" and "3个工作日前" in refused.value.message
    ok = foshan.request_extension(complete, "consumer_complaint", "normal", at("2026-12-10 15:00"))
    assert ok.extensions == 1


def test_economic_violation_accept_filing_and_extension_to_fifteen(foshan: DeadlineEngine) -> None:
    d = deadlines(foshan, "economic_violation", dispatched="2026-11-16 10:00")
    assert d["accept"].due_at == at("2026-11-19 10:00") and d["accept"].rule == f"{DOC} 第四十条"
    filing = d["filing_decision"]
    assert filing.due_at == at("2026-11-25 10:00") and filing.rule == f"{DOC} 第四十一条第一款"
    extended = foshan.request_extension(filing, "economic_violation", "normal", at("2026-11-25 09:00"))
    assert extended.due_at == at("2026-12-07 10:00")  # 15 working days from dispatch
    with pytest.raises(ExtensionRefused, match="limit_reached"):
        foshan.request_extension(extended, "economic_violation", "normal", at("2026-11-26 09:00"))
    done = deadlines(foshan, "economic_violation", handled="2026-11-20 16:00")
    assert done["record_result"].due_at == at("2026-11-25 16:00")


def test_admin_efficiency_fifteen_days_extendable_to_thirty(foshan: DeadlineEngine) -> None:
    d = deadlines(foshan, "admin_efficiency", dispatched="2026-11-16 10:00")
    assert d["accept"].due_at == at("2026-11-19 10:00")
    complete = d["complete"]
    assert complete.due_at == at("2026-12-07 10:00") and complete.rule == f"{DOC} 第四十三条"
    with pytest.raises(ExtensionRefused, match="too_late"):
        foshan.request_extension(complete, "admin_efficiency", "normal", at("2026-12-02 11:00"))
    extended = foshan.request_extension(complete, "admin_efficiency", "normal", at("2026-12-02 10:00"))
    assert extended.due_at == at("2026-12-28 10:00")
    with pytest.raises(ExtensionRefused, match="limit_reached"):
        foshan.request_extension(extended, "admin_efficiency", "normal", at("2026-12-03 10:00"))


def test_major_emergency(foshan: DeadlineEngine) -> None:
    d = deadlines(foshan, "complaint", "special_urgent", accepted="2026-11-21 22:00", dispatched="2026-11-21 22:08")
    assert d["initial_response"].due_at == at("2026-11-21 22:38")
    assert d["initial_response"].rule == f"{DOC} 第五十八条"
    assert "result" not in d  # the result is due one working day after the handling ends
    d = deadlines(foshan, "complaint", "special_urgent", dispatched="2026-11-21 22:08", handled="2026-11-22 06:00")
    assert d["result"].due_at == at("2026-11-24 00:00")


def test_special_is_not_a_foshan_tier(foshan: DeadlineEngine) -> None:
    assert deadlines(foshan, "help", "special") == deadlines(foshan, "help", "normal")


def test_every_category_and_urgency_gets_a_full_set(foshan: DeadlineEngine) -> None:
    for category in Category:
        for urgency in Urgency:
            d = deadlines(foshan, category, urgency, received="2026-11-16 09:20")
            assert {"register", "dispatch", "return", "reply" if category == "consult" else "dispatch"} <= set(d)
            assert "complete" in d or "filing_decision" in d, category
            assert all(x.rule.startswith(DOC + " 第") for x in d.values())
