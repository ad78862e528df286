"""The work-order state machine: valid and invalid transitions, every one recorded, deadlines met."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from hotline.domain import Category, OrderStatus, Urgency
from hotline.outbox.models import OutboxMessage
from hotline.workorders import services
from hotline.workorders.services import ExtensionRefused, NewOrder
from hotline.workorders.state import TRANSITIONS, InvalidTransition, allowed_events, next_status

from .conftest import AGENT, MONDAY, SUPERVISOR

H = dt.timedelta(hours=1)


def new(db_session, engine, category=Category.complaint, **kw):  # type: ignore[no-untyped-def]
    data = NewOrder(category=category, content=kw.pop("content", "小区楼下餐馆油烟扰民，晚上十点后仍在营业"),
                    caller_number=kw.pop("caller_number", "13912345678"), caller_name="张三",
                    location=kw.pop("location", "雁江区建设路88号"), **kw)
    order = services.create_order(db_session, engine, AGENT, data, now=kw.get("now", MONDAY))
    db_session.commit()
    return order


def test_full_lifecycle_is_recorded_with_who_when_from_to_note(db_session, engine, units) -> None:
    order = new(db_session, engine)
    assert order.status == OrderStatus.accepted
    assert {d.kind for d in order.deadlines} == {"dispatch"}  # only the hotline's clock runs before dispatch
    steps = [("dispatch", None, {"unit_id": units["housing"], "co_unit_ids": [units["street"]]}),
             ("sign", None, {}), ("start_handling", None, {}), ("complete", "已责令餐馆加装净化设备", {}),
             ("revisit", None, {"satisfaction": 5}), ("archive", None, {})]
    t = MONDAY
    for event, note, kw in steps:
        t += H
        services.transition(db_session, engine, SUPERVISOR, order.id, event, note, now=t, **kw)
        db_session.commit()
    db_session.expire_all()
    order = services.get_order(db_session, order.number)
    assert order.status == OrderStatus.archived and order.satisfaction == 5
    rows = [(r.event, r.from_status, r.to_status, r.actor) for r in order.transitions]
    assert rows == [("accept", None, "accepted", "li"), ("dispatch", "accepted", "dispatched", "zhang"),
                    ("sign", "dispatched", "signed", "zhang"), ("start_handling", "signed", "handling", "zhang"),
                    ("complete", "handling", "completed", "zhang"), ("revisit", "completed", "revisited", "zhang"),
                    ("archive", "revisited", "archived", "zhang")]
    assert order.transitions[4].note == "已责令餐馆加装净化设备"
    assert [r.at for r in order.transitions] == [MONDAY + i * H for i in range(7)]
    assert {(u.unit_id, u.role) for u in order.units} == {(units["housing"], "lead"), (units["street"], "co")}
    kinds = {d.kind: d for d in order.deadlines}
    assert {"dispatch", "sign", "return", "complete"} <= set(kinds)
    assert kinds["dispatch"].met_at == MONDAY + H and kinds["sign"].met_at == MONDAY + 2 * H
    assert all(d.met_at is not None for d in order.deadlines)
    assert "第十三条" in kinds["complete"].rule
    # the provincial platform hears of every step (Ziyang art. 20)
    topics = db_session.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id)).all()
    assert topics == ["order.accept", "order.dispatch", "order.sign", "order.start_handling", "order.complete",
                      "order.revisit", "order.archive"]


def test_deadlines_come_from_the_sla_engine_and_restart_on_dispatch(db_session, engine, units) -> None:
    order = new(db_session, engine)
    assert order.deadlines[0].due_at == MONDAY + 2 * H  # Ziyang art. 13(1): dispatch within 2 hours
    dispatched = MONDAY + H
    services.transition(db_session, engine, AGENT, order.id, "dispatch", unit_id=units["housing"], now=dispatched)
    kinds = {d.kind: d for d in order.deadlines}
    expected = engine.compute(Category.complaint, Urgency.normal, accepted_at=MONDAY, dispatched_at=dispatched)
    assert kinds["complete"].due_at == expected["complete"].due_at
    assert kinds["sign"].anchor_at == dispatched


@pytest.mark.parametrize(("status", "event"), [
    ("accepted", "sign"), ("accepted", "complete"), ("dispatched", "complete"), ("completed", "dispatch"),
    ("archived", "revisit"), ("terminal", "dispatch"), ("handling", "return_to_hotline"), ("returned", "sign"),
])
def test_state_machine_refuses_events_out_of_order(status: str, event: str) -> None:
    with pytest.raises(InvalidTransition, match="not allowed"):
        next_status(status, event, "note")


def test_every_status_reachable_and_notes_required() -> None:
    targets = {t.target for t in TRANSITIONS.values()} | {OrderStatus.accepted}
    assert targets == set(OrderStatus)
    with pytest.raises(InvalidTransition, match="needs a note"):
        next_status("dispatched", "return_to_hotline", "  ")
    with pytest.raises(InvalidTransition, match="unknown event"):
        next_status("accepted", "teleport")
    assert [e.value for e in allowed_events("accepted")] == ["answer_on_call", "dispatch"]


def test_invalid_transition_changes_nothing(db_session, engine, units) -> None:
    order = new(db_session, engine)
    with pytest.raises(InvalidTransition):
        services.transition(db_session, engine, AGENT, order.id, "complete", "done", now=MONDAY + H)
    db_session.rollback()
    order = services.get_order(db_session, order.id)
    assert order.status == OrderStatus.accepted and len(order.transitions) == 1


def test_dispatch_needs_a_lead_unit_that_exists(db_session, engine, units) -> None:
    order = new(db_session, engine)
    with pytest.raises(InvalidTransition, match="lead handling unit"):
        services.transition(db_session, engine, AGENT, order.id, "dispatch", now=MONDAY + H)
    db_session.rollback()
    with pytest.raises(ValueError, match="unknown handling unit"):
        services.transition(db_session, engine, AGENT, order.id, "dispatch", unit_id=99999, now=MONDAY + H)


def test_return_then_redispatch_to_another_unit_restarts_the_unit_clocks(db_session, engine, units) -> None:
    order = new(db_session, engine)
    services.transition(db_session, engine, AGENT, order.id, "dispatch", unit_id=units["water"], now=MONDAY + H)
    services.transition(db_session, engine, SUPERVISOR, order.id, "return_to_hotline",
                        "不属于本单位职责，依据三定方案，建议转住建局", now=MONDAY + 2 * H)
    assert order.status == OrderStatus.returned
    services.transition(db_session, engine, AGENT, order.id, "dispatch", unit_id=units["housing"],
                        now=MONDAY + 3 * H)
    db_session.commit()
    sign = next(d for d in order.deadlines if d.kind == "sign")
    assert sign.anchor_at == MONDAY + 3 * H and sign.met_at is None
    assert [u.unit_id for u in order.units] == [units["housing"]]


def test_extension_once_only_and_never_for_consultations(db_session, engine, units) -> None:
    order = new(db_session, engine)
    for i, event in enumerate(("dispatch", "sign", "start_handling"), start=1):
        services.transition(db_session, engine, AGENT, order.id, event, unit_id=units["housing"]
                            if event == "dispatch" else None, now=MONDAY + i * H)
    complete = next(d for d in order.deadlines if d.kind == "complete")
    before = complete.due_at
    services.transition(db_session, engine, SUPERVISOR, order.id, "extend", "需现场联合执法", now=MONDAY + 4 * H)
    assert order.status == OrderStatus.extended and complete.due_at > before and complete.extensions == 1
    assert order.extensions == 1
    services.transition(db_session, engine, SUPERVISOR, order.id, "complete", "已处理", now=MONDAY + 5 * H)
    db_session.commit()

    consult = new(db_session, engine, Category.consult, content="社保卡补办需要什么材料")
    for i, event in enumerate(("dispatch", "sign", "start_handling"), start=1):
        services.transition(db_session, engine, AGENT, consult.id, event, unit_id=units["housing"]
                            if event == "dispatch" else None, now=MONDAY + i * H)
    with pytest.raises(ExtensionRefused, match="不予延期"):
        services.transition(db_session, engine, SUPERVISOR, consult.id, "extend", "复杂", now=MONDAY + 4 * H)


def test_second_extension_is_refused(db_session, engine, units) -> None:
    order = new(db_session, engine, Category.help, content="路灯坏了一个月没人修")
    for i, event in enumerate(("dispatch", "sign", "start_handling"), start=1):
        services.transition(db_session, engine, AGENT, order.id, event, unit_id=units["street"]
                            if event == "dispatch" else None, now=MONDAY + i * H)
    services.transition(db_session, engine, SUPERVISOR, order.id, "extend", "等待配件", now=MONDAY + 4 * H)
    order.status = OrderStatus.handling  # even if it were back in handling, a second request fails
    with pytest.raises(ExtensionRefused, match="最多1次"):
        services.transition(db_session, engine, SUPERVISOR, order.id, "extend", "还要等", now=MONDAY + 5 * H)


def test_answered_on_the_call_is_closed_on_the_spot(db_session, engine) -> None:
    data = NewOrder(category=Category.consult, content="公积金提取需要哪些材料", caller_number="13800000001",
                    kb_article_ids=[7, 9], call_ids=["1763280000.42"], answer="按知识库第7条答复：身份证、银行卡…")
    order = services.create_order(db_session, engine, AGENT, data, now=MONDAY)
    db_session.commit()
    assert order.status == OrderStatus.completed and order.closed_at == MONDAY
    assert [(t.event, t.from_status, t.to_status) for t in order.transitions] == [
        ("accept", None, "accepted"), ("answer_on_call", "accepted", "completed")]
    assert order.deadlines == [] and [k.article_id for k in order.kb_articles] == [7, 9]
    assert [c.call_id for c in order.calls] == ["1763280000.42"]


def test_only_consultations_close_on_the_call(db_session, engine) -> None:
    data = NewOrder(category=Category.complaint, content="噪音", answer="已解释")
    with pytest.raises(ValueError, match="即时办结"):
        services.create_order(db_session, engine, AGENT, data, now=MONDAY)


def test_redo_after_unsatisfied_revisit_and_terminal(db_session, engine, units) -> None:
    order = new(db_session, engine)
    for i, (event, note) in enumerate([("dispatch", None), ("sign", None), ("complete", "已处理"),
                                       ("revisit", None)], start=1):
        services.transition(db_session, engine, AGENT, order.id, event, note, unit_id=units["housing"]
                            if event == "dispatch" else None, satisfaction=1 if event == "revisit" else None,
                            now=MONDAY + i * H)
    services.transition(db_session, engine, SUPERVISOR, order.id, "redo", "诉求人不满意：油烟仍未解决",
                        now=MONDAY + 5 * H)
    assert order.status == OrderStatus.dispatched and order.closed_at is None
    complete = next(d for d in order.deadlines if d.kind == "complete")
    assert complete.met_at is None and complete.anchor_at == MONDAY + 5 * H
    for i, (event, note) in enumerate([("sign", None), ("complete", "再次处理"), ("mark_terminal",
                                       "经多次依法处理，事实清楚，按终结件答复：餐馆已达标排放")], start=6):
        services.transition(db_session, engine, SUPERVISOR, order.id, event, note, now=MONDAY + i * H)
    assert order.status == OrderStatus.terminal and order.terminal_reply.startswith("经多次")


def test_stale_version_is_a_conflict(db_session, engine, units) -> None:
    order = new(db_session, engine)
    with pytest.raises(services.OrderConflict):
        services.transition(db_session, engine, AGENT, order.id, "dispatch", unit_id=units["housing"],
                            expected_version=order.version + 1, now=MONDAY + H)


def test_concurrent_transitions_one_wins(db_session_factory, engine, units) -> None:
    with db_session_factory() as s:
        order = new(s, engine)
        order_id = order.id
    a, b = db_session_factory(), db_session_factory()
    try:
        services.get_order(a, order_id), services.get_order(b, order_id)
        services.transition(a, engine, AGENT, order_id, "dispatch", unit_id=units["housing"], now=MONDAY + H)
        a.commit()
        with pytest.raises((services.OrderConflict, InvalidTransition)):
            services.transition(b, engine, AGENT, order_id, "dispatch", unit_id=units["water"], now=MONDAY + H)
            b.commit()
    finally:
        a.close()
        b.close()
