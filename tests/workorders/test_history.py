"""Caller history, repeat-caller detection and 终结件 (Ziyang art. 15)."""

from __future__ import annotations

import datetime as dt

import pytest

from hotline.calls.services import apply_call_event
from hotline.domain import Category, OrderStatus
from hotline.history.matching import same_matter, similarity
from hotline.history.services import caller_history
from hotline.workorders import services
from hotline.workorders.services import NewOrder
from hotline.workorders.state import InvalidTransition

from .conftest import AGENT, MONDAY, SUPERVISOR

NUMBER = "13912345678"
DAY = dt.timedelta(days=1)


def order(session, engine, content, *, category=Category.complaint, when=MONDAY, location="雁江区建设路88号",
          number=NUMBER):  # type: ignore[no-untyped-def]
    o = services.create_order(session, engine, AGENT, NewOrder(category, content, caller_number=number,
                                                               location=location), now=when)
    session.commit()
    return o


def close_as_terminal(session, engine, o, unit_id, reply):  # type: ignore[no-untyped-def]
    t = o.created_at
    for i, (event, note) in enumerate([("dispatch", None), ("sign", None), ("complete", "依法处理"),
                                       ("mark_terminal", reply)], start=1):
        services.transition(session, engine, SUPERVISOR, o.id, event, note,
                            unit_id=unit_id if event == "dispatch" else None, now=t + i * dt.timedelta(hours=1))
    session.commit()


def test_similarity_of_chinese_text() -> None:
    assert similarity("小区楼下餐馆油烟扰民", "楼下餐馆油烟很大扰民") > 0.35
    assert similarity("小区楼下餐馆油烟扰民", "社保卡怎么补办") == 0
    assert same_matter("complaint", "噪音", "建设路88号", "complaint", "施工", "建设路88号")
    assert not same_matter("complaint", "油烟扰民", None, "consult", "油烟扰民", None)


def test_history_newest_first_with_open_deadlines_and_calls(db_session, engine, units) -> None:
    old = order(db_session, engine, "路灯不亮", category=Category.help, when=MONDAY - 3 * DAY)
    services.transition(db_session, engine, SUPERVISOR, old.id, "dispatch", unit_id=units["street"],
                        now=MONDAY - 3 * DAY + dt.timedelta(hours=1))
    db_session.commit()
    new = order(db_session, engine, "小区楼下餐馆油烟扰民")
    order(db_session, engine, "别人的事", number="13700000000")
    apply_call_event(db_session, {"type": "call.ended", "call_id": "1763.1", "ts": MONDAY.timestamp(),
                                  "state": "ended", "call": {"caller_number": NUMBER,
                                                             "started_at": MONDAY.timestamp(),
                                                             "outcome": "answered", "satisfaction": 4}})
    db_session.commit()
    h = caller_history(db_session, NUMBER, MONDAY + DAY)
    assert [o.number for o in h.orders] == [new.number, old.number]
    assert {o.number for o in h.open_orders} == {new.number, old.number}
    old_view = h.orders[1]
    assert {d.kind for d in old_view.deadlines} >= {"sign", "complete"}
    assert any(d.overdue for d in old_view.deadlines if d.kind == "sign")  # 5 office hours long gone
    assert [c.call_id for c in h.calls] == ["1763.1"] and h.last_satisfaction == 4
    assert not h.repeat_caller


def test_repeat_caller_same_matter_within_window(db_session, engine) -> None:
    first = order(db_session, engine, "小区楼下餐馆油烟扰民，晚上营业到很晚", when=MONDAY - 10 * DAY)
    second = order(db_session, engine, "楼下餐馆油烟扰民还是没解决", when=MONDAY - 2 * DAY)
    order(db_session, engine, "公交站台破损", category=Category.report, location="城东公交站", when=MONDAY - DAY)
    assert second.repeat_of_id == first.id
    h = caller_history(db_session, NUMBER, MONDAY)
    assert h.repeat_caller and len(h.repeats) == 1
    assert h.repeats[0].order_numbers == [second.number, first.number]
    # outside the window they are no repeat any more
    assert not caller_history(db_session, NUMBER, MONDAY + 40 * DAY, window=dt.timedelta(days=30)).repeat_caller


def test_terminal_case_flags_reply_and_blocks_dispatch(db_session, engine, units) -> None:
    reply = "经多次依法核查，该餐馆排放达标，按终结件答复"
    first = order(db_session, engine, "楼下餐馆油烟扰民", when=MONDAY - 90 * DAY)
    close_as_terminal(db_session, engine, first, units["housing"], reply)
    again = order(db_session, engine, "楼下餐馆油烟扰民又来了")
    assert again.repeat_of_id == first.id  # a 终结件 counts however old it is
    h = caller_history(db_session, NUMBER, MONDAY)
    assert [t.number for t in h.terminal] == [first.number] and h.terminal[0].terminal_reply == reply
    assert h.repeats[0].terminal_reply == reply
    with pytest.raises(InvalidTransition, match="终结件"):
        services.transition(db_session, engine, AGENT, again.id, "dispatch", unit_id=units["housing"],
                            now=MONDAY + dt.timedelta(hours=1))
    db_session.rollback()
    # 特殊情况除外: with the reasons on record it may go out
    services.transition(db_session, engine, SUPERVISOR, again.id, "dispatch", "出现新的事实：夜间排放超标",
                        unit_id=units["housing"], now=MONDAY + dt.timedelta(hours=1))
    assert again.status == OrderStatus.dispatched


def test_repeated_report_within_handling_time_not_dispatched(db_session, engine, units) -> None:
    first = order(db_session, engine, "某工地夜间违规施工", category=Category.report, when=MONDAY - DAY)
    services.transition(db_session, engine, AGENT, first.id, "dispatch", unit_id=units["housing"],
                        now=MONDAY - DAY + dt.timedelta(hours=1))
    db_session.commit()
    again = order(db_session, engine, "某工地夜间违规施工仍在继续", category=Category.report)
    with pytest.raises(InvalidTransition, match="not dispatched again"):
        services.transition(db_session, engine, AGENT, again.id, "dispatch", unit_id=units["housing"],
                            now=MONDAY + dt.timedelta(hours=1))


def test_batch_intake_detects_repeats_in_one_lookup(db_session, engine) -> None:
    first = order(db_session, engine, "小区楼下餐馆油烟扰民", when=MONDAY - 2 * DAY)
    items = [NewOrder(Category.complaint, "来信：楼下餐馆油烟扰民仍未解决", caller_number=NUMBER, channel="letter"),
             NewOrder(Category.complaint, "来信：路面塌陷", caller_number=NUMBER, channel="letter",
                      location="城南大道"),
             NewOrder(Category.complaint, "来信：楼下餐馆油烟扰民", caller_number="13700000000", channel="letter")]
    ids = services.create_orders(db_session, engine, AGENT, items, now=MONDAY)
    db_session.commit()
    got = [services.get_order(db_session, i).repeat_of_id for i in ids]
    assert got == [first.id, None, None]
