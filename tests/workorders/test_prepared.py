"""The hot path's prepared statements (hotline.workorders.prepared) and the entity `create_order` returns
without reading it back: both must give exactly what SQLAlchemy's own execution and a fresh load give."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, event, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from hotline.domain import Category, Urgency
from hotline.outbox.models import OutboxMessage
from hotline.sla.timeutil import TZ
from hotline.workorders import services
from hotline.workorders.models import OrderDeadline, WorkOrder
from hotline.workorders.prepared import Prepared
from hotline.workorders.services import NewOrder

from .conftest import AGENT, MONDAY

AT = dt.datetime(2026, 11, 16, 10, 0, 0, 123456, tzinfo=TZ)  # Beijing time, microseconds: both must survive


def _outbox_row(key: str) -> dict:
    return {"key": key, "topic": "order.accept", "status": "pending", "attempts": 0, "created_at": AT,
            "next_attempt_at": AT + dt.timedelta(minutes=5),
            "payload": {"number": "20261116-000001", "content": "井盖丢失", "units": [{"unit_id": 1}], "ok": True}}


def test_a_prepared_insert_stores_what_core_stores(db_session) -> None:
    conn = db_session.connection()
    Prepared(insert(OutboxMessage.__table__).inline()).execute_many(conn, [_outbox_row("prepared")])
    conn.execute(insert(OutboxMessage.__table__), [_outbox_row("core")])
    rows = {r.key: r for r in conn.execute(select(OutboxMessage.__table__))}
    prepared, core = rows["prepared"], rows["core"]
    for column in ("topic", "status", "attempts", "created_at", "next_attempt_at", "payload"):
        assert getattr(prepared, column) == getattr(core, column), column
    assert prepared.created_at == AT and prepared.created_at.tzinfo == dt.UTC
    assert prepared.payload["content"] == "井盖丢失" and prepared.payload["ok"] is True


def test_many_rows_in_one_call(db_session) -> None:
    conn = db_session.connection()
    Prepared(insert(OutboxMessage.__table__).inline()).execute_many(conn, [_outbox_row(f"k{i}") for i in range(3)])
    assert sorted(conn.execute(select(OutboxMessage.key)).scalars()) == ["k0", "k1", "k2"]


def test_a_prepared_select_converts_results_and_keeps_its_limit(db_session) -> None:
    conn = db_session.connection()
    Prepared(insert(OutboxMessage.__table__).inline()).execute_many(conn, [_outbox_row(f"k{i}") for i in range(4)])
    newest = Prepared(select(OutboxMessage.key, OutboxMessage.created_at)
                      .where(OutboxMessage.created_at <= bindparam("now"))
                      .order_by(OutboxMessage.key.desc()).limit(2))
    rows = newest.rows(conn, {"now": AT})
    assert [r.key for r in rows] == ["k3", "k2"]  # LIMIT 2 is the statement's own value
    assert all(r.created_at == AT and r.created_at.tzinfo == dt.UTC for r in rows)
    assert newest.rows(conn, {"now": AT - dt.timedelta(seconds=1)}) == []


def test_driver_errors_come_out_as_sqlalchemy_errors(db_session) -> None:
    statement = Prepared(insert(OutboxMessage.__table__).inline())
    statement.execute_many(db_session.connection(), [_outbox_row("same")])
    with pytest.raises(IntegrityError):
        statement.execute_many(db_session.connection(), [_outbox_row("same")])
    db_session.rollback()


def test_statements_rendered_per_execution_are_refused(db_session) -> None:
    expanding = Prepared(select(OutboxMessage.id).where(OutboxMessage.id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(ValueError, match=r"Connection\.execute"):
        expanding.rows(db_session.connection(), {"ids": [1, 2]})


def _columns(entity: object) -> dict:
    return {c.key: getattr(entity, c.key) for c in inspect(entity).mapper.column_attrs}


def _everything(order: WorkOrder) -> dict:
    out = {"order": _columns(order), **{name: [_columns(child) for child in getattr(order, name)] for name in
                                        ("units", "calls", "kb_articles", "deadlines", "transitions")}}
    for unordered in ("units", "calls", "kb_articles"):  # the model gives these no order
        out[unordered].sort(key=repr)
    return out


def test_the_created_entity_is_what_a_fresh_load_gives(db_session_factory, db_engine, engine, units) -> None:
    data = NewOrder(Category.complaint, "  小区夜间施工噪音扰民  ", urgency=Urgency.special, caller_name="张三",
                    caller_number="13912345678", caller_personal={"id_number": "513902199001011234"},
                    confidential=True, location="雁江区建设路88号", lead_unit_id=units["housing"],
                    co_unit_ids=[units["water"]], call_ids=["1763280000.42"], kb_article_ids=[7], agent_id="1001")
    with db_session_factory() as session:
        created = services.create_order(session, engine, AGENT, data, now=AT)
        session.commit()
        assert inspect(created).persistent and not session.dirty and not session.new
        assert created.created_at.tzinfo == dt.UTC and created.content == "小区夜间施工噪音扰民"
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
            statements.append(statement)

        event.listen(db_engine, "before_cursor_execute", seen)
        try:
            everything = _everything(created)  # the console's response reads every collection
        finally:
            event.remove(db_engine, "before_cursor_execute", seen)
        assert statements == []  # all of it from the rows just written, nothing read back
    expected = engine.compute(Category.complaint, Urgency.special, accepted_at=AT)
    assert [(d["kind"], d["due_at"]) for d in everything["deadlines"]] == sorted(
        ((k, d.due_at) for k, d in expected.items()), key=lambda kd: kd[1])
    assert [(t["event"], t["to_status"]) for t in everything["transitions"]] == [("accept", "accepted")]
    assert {(u["unit_id"], u["role"]) for u in everything["units"]} == {(units["housing"], "lead"),
                                                                       (units["water"], "co")}
    with db_session_factory() as other:
        assert _everything(other.get_one(WorkOrder, everything["order"]["id"])) == everything


def test_the_created_entity_can_move_on(db_session, engine, units) -> None:
    order = services.create_order(db_session, engine, AGENT, NewOrder(Category.help, "井盖丢失"), now=MONDAY)
    db_session.commit()
    services.transition(db_session, engine, AGENT, order.id, "dispatch", unit_id=units["street"],
                        now=MONDAY + dt.timedelta(hours=1))
    db_session.commit()
    assert order.version == 2 and order.status == "dispatched"
    assert db_session.scalar(select(OrderDeadline.met_at).where(OrderDeadline.order_id == order.id,
                                                                OrderDeadline.kind == "dispatch")) is not None


def test_an_order_rolled_back_and_created_again_in_the_same_session(db_session_factory, engine) -> None:
    with db_session_factory() as session:
        first = services.create_order(session, engine, AGENT, NewOrder(Category.help, "第一次"), now=MONDAY)
        first_id = first.id
        session.rollback()  # SQLite hands the same id out again while `first` still holds it in the session
        again = services.create_order(session, engine, AGENT, NewOrder(Category.consult, "第二次"), now=MONDAY)
        session.commit()
        assert (again.content, again.category, again.number) == ("第二次", "consult", "20261116-000001")
        assert first_id != again.id or first is again  # one entity per row in a session
        again_columns = _columns(again)
    with db_session_factory() as other:
        assert _columns(other.get_one(WorkOrder, again_columns["id"])) == again_columns


def test_a_lost_connection_is_invalidated_like_core_does(db_url, db_session_factory, engine) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("needs a server connection to lose: PostgreSQL only")
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    with db_session_factory() as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(OperationalError) as lost:
            services.create_order(session, engine, AGENT, NewOrder(Category.help, "井盖丢失"), now=MONDAY)
        assert lost.value.connection_invalidated
        session.rollback()
    with db_session_factory() as session:
        assert services.create_order(session, engine, AGENT, NewOrder(Category.help, "井盖丢失"), now=MONDAY).id
        session.commit()
