"""Work-order logic without HTTP: creation, transitions, deadlines, the overdue scan."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from hotline.audit.services import actor_name
from hotline.domain import Category, Channel, OrderStatus, Urgency
from hotline.history.matching import DEFAULT_POLICY, MatchPolicy, same_matter
from hotline.outbox.models import OutboxMessage
from hotline.outbox.services import enqueue
from hotline.security import Principal
from hotline.sla import AlertLevel, DeadlineEngine, evaluate
from hotline.sla import ExtensionRefused as SlaExtensionRefused
from hotline.units.models import Unit
from hotline.workorders.deadlines import as_sla, compute_for, thresholds
from hotline.workorders.models import (
    ALERT_NONE,
    ALERT_RED,
    OrderCall,
    OrderDeadline,
    OrderKbArticle,
    OrderTransition,
    OrderUnit,
    WorkOrder,
)
from hotline.workorders.numbering import allocate_numbers
from hotline.workorders.prepared import Prepared
from hotline.workorders.state import InvalidTransition, OrderEvent, next_status
from hotline.workorders.written import attach, loaded

ACCEPT = "accept"  # the first history row (None → accepted)
CLOSED = frozenset({OrderStatus.completed, OrderStatus.revisited, OrderStatus.archived, OrderStatus.terminal})
# Which events meet which deadline kinds (kinds of hotline/sla/policies/*.yaml); the rest (complete, result,
# reply, ...) are met when the order is closed.
MET_BY: dict[str, frozenset[str]] = {
    "register": frozenset({ACCEPT}),
    "dispatch": frozenset({OrderEvent.dispatch, OrderEvent.answer_on_call}),
    "sign": frozenset({OrderEvent.sign, OrderEvent.return_to_hotline}),
    "return": frozenset({OrderEvent.sign, OrderEvent.start_handling, OrderEvent.return_to_hotline}),
    "accept": frozenset({OrderEvent.start_handling, OrderEvent.return_to_hotline}),
    "initial_response": frozenset({OrderEvent.sign, OrderEvent.start_handling, OrderEvent.return_to_hotline,
                                   OrderEvent.complete}),
    "filing_decision": frozenset({OrderEvent.start_handling, OrderEvent.complete}),
}
REPEAT_WINDOW = timedelta(days=30)


class OrderNotFound(LookupError):
    pass


class OrderConflict(RuntimeError):
    """Someone else changed the order in between (optimistic locking on `version`)."""


class ExtensionRefused(InvalidTransition):
    pass


@dataclass
class NewOrder:
    category: Category
    content: str
    channel: Channel = Channel.phone
    urgency: Urgency = Urgency.normal
    caller_name: str | None = None
    caller_number: str | None = None
    caller_personal: dict[str, Any] | None = None
    confidential: bool = False
    location: str | None = None
    lead_unit_id: int | None = None
    co_unit_ids: Sequence[int] = ()
    call_ids: Sequence[str] = ()
    kb_article_ids: Sequence[int] = ()
    answer: str | None = None  # set: answered from the KB on the call, closed on the spot (即时办结)
    agent_id: str | None = None


def _record(session: Session, order: WorkOrder, event: str, from_status: str | None, to_status: str,
            actor: str, at: datetime, note: str | None, unit_id: int | None = None) -> OrderTransition:
    row = OrderTransition(event=event, from_status=from_status, to_status=to_status, actor=actor, at=at,
                          note=note, unit_id=unit_id)
    order.transitions.append(row)
    session.add(row)
    return row


def _province_payload_from(row: dict[str, Any], units: list[tuple[int, str]], event: str,
                           at: datetime) -> dict[str, Any]:
    """What the provincial platform receives (Ziyang art. 20); confidential callers stay here
    (Foshan art. 60(2): confidential matters travel only through the designated channel)."""
    payload: dict[str, Any] = {
        "number": row["number"], "event": event, "at": at.isoformat(), "status": row["status"],
        "channel": row["channel"], "category": row["category"], "urgency": row["urgency"],
        "content": row["content"], "location": row["location"], "confidential": row["confidential"],
        "units": [{"unit_id": u, "role": r} for u, r in units],
    }
    if not row["confidential"]:
        payload.update(caller_name=row["caller_name"], caller_number=row["caller_number"])
    return payload


def _province_payload(order: WorkOrder, event: str, at: datetime) -> dict[str, Any]:
    row = {c: getattr(order, c) for c in ("number", "status", "channel", "category", "urgency", "content",
                                          "location", "confidential", "caller_name", "caller_number")}
    return _province_payload_from(row, [(u.unit_id, u.role) for u in order.units], event, at)


def _outbox(session: Session, order: WorkOrder, event: str, at: datetime) -> None:
    enqueue(session, f"order.{event}", f"{order.number}:{event}:{uuid.uuid4().hex[:12]}",
            _province_payload(order, event, at), now=at)


def _refresh_deadlines(engine: DeadlineEngine, order: WorkOrder, *, met_kinds: frozenset[str] = frozenset()) -> None:
    """Store what the engine says now. A clock that restarted (new anchor: re-dispatch, redo) replaces the
    old row; a clock already running keeps its row, so an extension or a met deadline stays as it was."""
    existing = {d.kind: d for d in order.deadlines}
    for kind, d in compute_for(engine, order).items():
        row = existing.get(kind)
        if row is None:
            order.deadlines.append(OrderDeadline(kind=kind, anchor_at=d.anchor_at, due_at=d.due_at,
                                                 provisional=d.provisional, rule=d.rule, extensions=0,
                                                 alert_level=ALERT_NONE, met_at=None))
        elif row.anchor_at != d.anchor_at and kind not in met_kinds:
            row.anchor_at, row.due_at, row.provisional, row.rule = d.anchor_at, d.due_at, d.provisional, d.rule
            row.met_at, row.extensions, row.alert_level = None, 0, ALERT_NONE


_REPEAT_CANDIDATES = (
    select(WorkOrder.id, WorkOrder.status, WorkOrder.created_at, WorkOrder.category, WorkOrder.content,
           WorkOrder.location)
    .where(WorkOrder.caller_number == bindparam("number"), WorkOrder.category == bindparam("category"),
           WorkOrder.created_at <= bindparam("now"))
    .order_by(WorkOrder.created_at.desc()).limit(200))


def _match_repeat(candidates: Iterable[Any], category: str, content: str, location: str | None, now: datetime,
                  window: timedelta, policy: MatchPolicy) -> int | None:
    for old in candidates:  # newest first
        if old.category != category or old.created_at > now:
            continue
        recent = old.created_at >= now - window
        if (recent or old.status == OrderStatus.terminal) and same_matter(
                category, content, location, old.category, old.content, old.location, policy):
            return old.id
    return None


def find_repeat_of(session: Session, number: str | None, category: str, content: str, location: str | None,
                   now: datetime, window: timedelta = REPEAT_WINDOW,
                   policy: MatchPolicy = DEFAULT_POLICY) -> int | None:
    """Id of the newest earlier order of the same caller on the same matter; a 终结件 always counts,
    whatever its age (Ziyang art. 15: the unit's standard reply stands)."""
    if not number:
        return None
    rows = session.execute(_REPEAT_CANDIDATES, {"number": number, "category": str(category), "now": now})
    return _match_repeat(rows, str(category), content, location, now, window, policy)


_BATCH_CANDIDATES = (
    select(WorkOrder.id, WorkOrder.caller_number, WorkOrder.status, WorkOrder.created_at, WorkOrder.category,
           WorkOrder.content, WorkOrder.location)
    .where(WorkOrder.caller_number.in_(bindparam("numbers", expanding=True)), WorkOrder.created_at <= bindparam("now"))
    .order_by(WorkOrder.created_at.desc()))


def _repeat_candidates(session: Session, numbers: set[str], now: datetime) -> dict[str, list[Any]]:
    """Earlier orders of every caller in a batch, newest first, in one round trip."""
    out: dict[str, list[Any]] = {n: [] for n in numbers}
    if numbers:
        for row in session.execute(_BATCH_CANDIDATES, {"numbers": sorted(numbers), "now": now}):
            out[row.caller_number].append(row)
    return out


def _check(data: NewOrder, index: int) -> tuple[Category, Urgency, Channel]:
    where = f"order {index}: " if index else ""
    category, urgency, channel = Category(data.category), Urgency(data.urgency), Channel(data.channel)
    if not data.content or not data.content.strip():
        raise ValueError(f"{where}content must not be empty")
    if data.answer is not None and category != Category.consult:
        raise ValueError(f"{where}only a consultation can be closed on the call (即时办结, Ziyang art. 12)")
    if data.answer is not None and not data.answer.strip():
        raise ValueError(f"{where}an order closed on the call needs the answer given")
    return category, urgency, channel


# Built once and run on the driver's cursor (hotline.workorders.prepared): the console creates one order per
# call, and SQLAlchemy's per-statement bookkeeping cost more than the statements themselves.
_EARLIER_ORDERS = Prepared(_REPEAT_CANDIDATES)
_UNIT_EXISTS = Prepared(select(Unit.id).where(Unit.id == bindparam("id")))
_UNITS_EXIST = select(Unit.id).where(Unit.id.in_(bindparam("ids", expanding=True)))  # expanding: Core only
_INSERT_ORDER = Prepared(insert(WorkOrder.__table__).returning(WorkOrder.id))
_INSERT_ORDERS = insert(WorkOrder.__table__).returning(WorkOrder.id, sort_by_parameter_order=True)
_INSERT_UNITS, _INSERT_CALLS, _INSERT_ARTICLES, _INSERT_HISTORY, _INSERT_DEADLINES, _INSERT_OUTBOX = (
    Prepared(insert(model.__table__).inline())  # inline: no id fetched back
    for model in (OrderUnit, OrderCall, OrderKbArticle, OrderTransition, OrderDeadline, OutboxMessage))
# one row at a time with its id, for the entities create_order hands back
_INSERT_HISTORY_ID = Prepared(insert(OrderTransition.__table__).returning(OrderTransition.id))
_INSERT_DEADLINE_ID = Prepared(insert(OrderDeadline.__table__).returning(OrderDeadline.id))


@dataclass
class _Written:
    """One order's rows as written (the order's, history's and deadlines' with their ids when asked for)."""

    order: dict[str, Any]
    units: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    articles: list[dict[str, Any]]
    history: list[dict[str, Any]]
    deadlines: list[dict[str, Any]]


def _check_units(conn: Connection, unit_ids: set[int]) -> None:
    if len(unit_ids) == 1:
        found = set(_UNIT_EXISTS.scalars(conn, {"id": next(iter(unit_ids))}))
    else:
        found = set(conn.execute(_UNITS_EXIST, {"ids": sorted(unit_ids)}).scalars())
    if missing := sorted(unit_ids - found):
        raise ValueError(f"unknown handling unit(s): {missing}")


def _insert_order_rows(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    if len(rows) == 1:
        return [_INSERT_ORDER.scalar_one(conn, rows[0])]
    # several rows with their ids in order: SQLAlchemy's "insertmanyvalues" batches them into few statements
    return list(conn.execute(_INSERT_ORDERS, rows).scalars())


def create_orders(session: Session, engine: DeadlineEngine, actor: Principal | str, items: Sequence[NewOrder],
                  now: datetime | None = None) -> list[int]:
    """Accept (受理) orders; with `answer` an order is closed on the spot (Ziyang art. 12, Foshan art. 27).

    Core inserts, one statement per table for the whole batch (the console sends one order, letter and
    web intake send many), on the session's connection: creation is on the hot path of every call.
    Returns the new ids in order.
    """
    return [written.order["id"] for written in _insert_orders(session, engine, actor, items, now)]


def _insert_orders(session: Session, engine: DeadlineEngine, actor: Principal | str, items: Sequence[NewOrder],
                   now: datetime | None, *, with_ids: bool = False) -> list[_Written]:
    """Write the orders with every row they come with. `with_ids`: history and deadline rows one by one,
    each getting its id (for entities), rather than one statement per table."""
    if not items:
        return []
    now = now or datetime.now(UTC)
    who = actor_name(actor)
    checked = [_check(d, i if len(items) > 1 else 0) for i, d in enumerate(items)]
    session.flush()  # what the caller added before is visible to the statements below, as with session.execute
    conn = session.connection()
    numbers = allocate_numbers(session, now, len(items))  # first statement: SQLite's write lock before reads
    unit_ids = {u for d in items for u in [d.lead_unit_id, *d.co_unit_ids] if u is not None}
    if unit_ids:
        _check_units(conn, unit_ids)
    order_rows, plans = [], []
    if len(items) > 1:
        earlier = _repeat_candidates(session, {d.caller_number for d in items if d.caller_number}, now)
    for data, number, (category, urgency, channel) in zip(items, numbers, checked, strict=True):
        if len(items) == 1:
            candidates = _EARLIER_ORDERS.rows(conn, {"number": data.caller_number, "category": category.value,
                                                     "now": now}) if data.caller_number else []
        else:  # orders of the same batch are not each other's repeats: they arrive together
            candidates = earlier.get(data.caller_number or "", ())
        repeat_id = _match_repeat(candidates, category.value, data.content, data.location, now, REPEAT_WINDOW,
                                  DEFAULT_POLICY)
        closed = data.answer is not None
        order_rows.append({
            "number": number, "created_at": now, "updated_at": now, "channel": channel.value,
            "category": category.value, "urgency": urgency.value,
            "status": (OrderStatus.completed if closed else OrderStatus.accepted).value,
            "caller_name": data.caller_name, "caller_number": data.caller_number,
            "caller_personal": data.caller_personal, "confidential": bool(data.confidential),
            "content": data.content.strip(), "location": data.location, "created_by": who,
            "agent_id": data.agent_id, "answer": data.answer, "repeat_of_id": repeat_id, "extensions": 0,
            "closed_at": now if closed else None, "version": 1})
        deadlines = [] if closed else list(engine.compute(category, urgency, accepted_at=now).values())
        plans.append((data, deadlines))
    written, outbox = [], []
    for order_id, row, (data, deadlines) in zip(_insert_order_rows(conn, order_rows), order_rows, plans,
                                                 strict=True):
        row["id"] = order_id
        units = ([{"order_id": order_id, "unit_id": data.lead_unit_id, "role": "lead"}]
                 if data.lead_unit_id is not None else [])
        units += [{"order_id": order_id, "unit_id": u, "role": "co"}
                  for u in dict.fromkeys(data.co_unit_ids) if u != data.lead_unit_id]
        history = [{"order_id": order_id, "event": ACCEPT, "from_status": None,
                    "to_status": OrderStatus.accepted.value, "actor": who, "at": now, "note": None, "unit_id": None}]
        if data.answer is not None:
            history.append({"order_id": order_id, "event": OrderEvent.answer_on_call.value,
                            "from_status": OrderStatus.accepted.value, "to_status": row["status"], "actor": who,
                            "at": now, "note": data.answer, "unit_id": None})
        written.append(_Written(
            row, units, [{"order_id": order_id, "call_id": c} for c in dict.fromkeys(data.call_ids)],
            [{"order_id": order_id, "article_id": a} for a in dict.fromkeys(data.kb_article_ids)], history,
            [{"order_id": order_id, "kind": d.kind, "anchor_at": d.anchor_at, "due_at": d.due_at,
              "provisional": d.provisional, "rule": d.rule, "extensions": 0, "alert_level": ALERT_NONE,
              "met_at": now if ACCEPT in MET_BY.get(d.kind, ()) else None} for d in deadlines]))
        event = OrderEvent.answer_on_call.value if data.answer is not None else ACCEPT
        payload = _province_payload_from(row, [(u["unit_id"], u["role"]) for u in units], event, now)
        outbox.append({"key": f"{row['number']}:{event}:{uuid.uuid4().hex[:12]}", "topic": f"order.{event}",
                       "payload": payload, "status": "pending", "attempts": 0, "created_at": now,
                       "next_attempt_at": now})
    _INSERT_UNITS.execute_many(conn, [r for w in written for r in w.units])
    _INSERT_CALLS.execute_many(conn, [r for w in written for r in w.calls])
    _INSERT_ARTICLES.execute_many(conn, [r for w in written for r in w.articles])
    if with_ids:
        for w in written:
            for history_row in w.history:
                history_row["id"] = _INSERT_HISTORY_ID.scalar_one(conn, history_row)
            for deadline_row in w.deadlines:
                deadline_row["id"] = _INSERT_DEADLINE_ID.scalar_one(conn, deadline_row)
    else:
        _INSERT_HISTORY.execute_many(conn, [r for w in written for r in w.history])
        _INSERT_DEADLINES.execute_many(conn, [r for w in written for r in w.deadlines])
    _INSERT_OUTBOX.execute_many(conn, outbox)
    return written


def create_order(session: Session, engine: DeadlineEngine, actor: Principal | str, data: NewOrder,
                 now: datetime | None = None) -> WorkOrder:
    """One order (see `create_orders`), as an entity of the session for the caller: built from the rows just
    written (what a fresh load would give), its units, calls, KB articles, deadlines and history included."""
    (rows,) = _insert_orders(session, engine, actor, [data], now, with_ids=True)
    order = loaded(WorkOrder, rows.order)
    children = {"units": [loaded(OrderUnit, r) for r in rows.units],
                "calls": [loaded(OrderCall, r) for r in rows.calls],
                "kb_articles": [loaded(OrderKbArticle, r) for r in rows.articles],
                "transitions": [loaded(OrderTransition, r) for r in rows.history],  # in id order
                "deadlines": sorted((loaded(OrderDeadline, r) for r in rows.deadlines), key=lambda d: d.due_at)}
    if not attach(session, order, children):
        # the session still holds entities of a rolled-back transaction under these ids: refresh from the rows
        return session.get_one(WorkOrder, rows.order["id"], populate_existing=True)
    return order


def get_order(session: Session, order_id: int | str) -> WorkOrder:
    if isinstance(order_id, str) and not (order_id.isascii() and order_id.isdigit()):
        order = session.scalars(select(WorkOrder).where(WorkOrder.number == order_id)).one_or_none()
    elif int(order_id) > 2_147_483_647:  # beyond any INTEGER id: not found, not a database error
        order = None
    else:
        order = session.get(WorkOrder, int(order_id))
    if order is None:
        raise OrderNotFound(f"no work order {order_id}")
    return order


def _dispatch_guard(session: Session, order: WorkOrder, note: str | None) -> None:
    """Ziyang art. 15: a repeat of a 终结件 is answered with the unit's reply, not dispatched, 特殊情况除外;
    a repeated report within its handling time is not dispatched again."""
    if order.repeat_of_id is None or (note and note.strip()):
        return
    previous = session.get(WorkOrder, order.repeat_of_id)
    if previous is None:
        return
    if previous.status == OrderStatus.terminal:
        raise InvalidTransition(OrderEvent.dispatch, order.status,
                                f"repeat of 终结件 {previous.number}: answer with the unit's reply; dispatching "
                                "anyway needs a note giving the special circumstances (Ziyang art. 15)")
    if order.category == Category.report and previous.status not in CLOSED:
        raise InvalidTransition(OrderEvent.dispatch, order.status,
                                f"repeated report of open order {previous.number} is not dispatched again "
                                "(Ziyang art. 15); a note is needed to override")


def transition(session: Session, engine: DeadlineEngine, actor: Principal | str, order_id: int | str,
               event: str, note: str | None = None, *, unit_id: int | None = None,
               co_unit_ids: Sequence[int] = (), satisfaction: int | None = None,
               expected_version: int | None = None, now: datetime | None = None) -> WorkOrder:
    now = now or datetime.now(UTC)
    order = get_order(session, order_id)
    if expected_version is not None and order.version != expected_version:
        raise OrderConflict(f"order {order.number} is at version {order.version}, not {expected_version}")
    before = order.status
    after = next_status(before, event, note)
    ev = OrderEvent(event)
    if ev == OrderEvent.dispatch:
        _dispatch_guard(session, order, note)
        _assign_units(session, order, unit_id, co_unit_ids)
        # the unit's clocks start when the order reaches it (Ziyang art. 13(2), Foshan art. 32)
        order.dispatched_at, order.signed_at = now, None
    elif ev == OrderEvent.redo:
        # unsatisfied: the unit handles it again within the time limits (Ziyang art. 14(2))
        order.dispatched_at, order.signed_at, order.closed_at = now, None, None
    elif ev == OrderEvent.sign:
        order.signed_at = now
    elif ev == OrderEvent.extend:
        _extend(engine, order, now)
    elif ev == OrderEvent.revisit:
        if satisfaction is not None and not 1 <= satisfaction <= 5:
            raise ValueError("satisfaction is 1 (very dissatisfied) to 5 (very satisfied)")
        order.satisfaction = satisfaction
    elif ev == OrderEvent.mark_terminal:
        order.terminal_reply = note
    if ev in (OrderEvent.complete, OrderEvent.answer_on_call):
        order.answer = note
    order.status = after
    order.updated_at = now
    if after in CLOSED and order.closed_at is None:
        order.closed_at = now
    if ev in (OrderEvent.dispatch, OrderEvent.redo, OrderEvent.sign):
        _refresh_deadlines(engine, order, met_kinds=frozenset({"dispatch"}))
    _meet_deadlines(order, ev, after, now)
    lead = next((u.unit_id for u in order.units if u.role == "lead"), None)
    _record(session, order, ev, before, after, actor_name(actor), now, note, unit_id or lead)
    _outbox(session, order, ev, now)
    try:
        session.flush()
    except StaleDataError as exc:
        raise OrderConflict(f"order {order.number} was changed by someone else") from exc
    return order


def _assign_units(session: Session, order: WorkOrder, unit_id: int | None, co_unit_ids: Sequence[int]) -> None:
    wanted = [u for u in [unit_id, *co_unit_ids] if u is not None]
    if wanted:
        found = set(session.scalars(select(Unit.id).where(Unit.id.in_(wanted))))
        if missing := sorted(set(wanted) - found):
            raise ValueError(f"unknown handling unit(s): {missing}")
    if unit_id is not None:
        order.units.clear()
        session.flush()  # a unit may move from lead to co: delete before re-insert
        order.units.append(OrderUnit(unit_id=unit_id, role="lead"))
        for co in dict.fromkeys(co_unit_ids):
            if co != unit_id:
                order.units.append(OrderUnit(unit_id=co, role="co"))
    if not any(u.role == "lead" for u in order.units):
        raise InvalidTransition(OrderEvent.dispatch, order.status, "dispatch needs a lead handling unit")


EXTENDABLE_KINDS = ("complete", "filing_decision", "accept")  # the first one the order has


def _extend(engine: DeadlineEngine, order: WorkOrder, now: datetime) -> None:
    """Ziyang art. 13(3) / Foshan art. 37, 41, 43: the engine decides (once only, not too late, ...)."""
    rows = {d.kind: d for d in order.deadlines if d.met_at is None}
    row = next((rows[k] for k in EXTENDABLE_KINDS if k in rows), None)
    if row is None:
        raise ExtensionRefused(OrderEvent.extend, order.status, "order has no open deadline to extend")
    try:
        extended = engine.request_extension(as_sla(row), Category(order.category), Urgency(order.urgency), now)
    except SlaExtensionRefused as exc:
        raise ExtensionRefused(OrderEvent.extend, order.status, exc.message) from exc
    row.due_at, row.rule, row.provisional = extended.due_at, extended.rule, extended.provisional
    row.extensions, row.alert_level = extended.extensions, ALERT_NONE
    order.extensions += 1


def _meet_deadlines(order: WorkOrder, event: str, after: str, now: datetime) -> None:
    for d in order.deadlines:
        if d.met_at is not None:
            continue
        if event in MET_BY.get(d.kind, ()) or after in CLOSED:
            d.met_at = now


# --- provisional deadlines ---------------------------------------------------------------------------------

def recompute_provisional(session: Session, engine: DeadlineEngine) -> int:
    """Recompute every open provisional deadline (hook run by hotline.sla.services.load_year once an
    official calendar year is loaded: days that were rule-based guesses are now known). Extensions
    granted are granted again on the new due. Returns how many orders changed."""
    stmt = (select(OrderDeadline).where(OrderDeadline.provisional.is_(True), OrderDeadline.met_at.is_(None))
            .order_by(OrderDeadline.order_id))
    changed: set[int] = set()
    fresh_by_order: dict[int, dict] = {}
    for row in session.scalars(stmt):
        order = row.order
        if order.id not in fresh_by_order:
            fresh_by_order[order.id] = compute_for(engine, order)
        new = fresh_by_order[order.id].get(row.kind)
        if new is None or new.anchor_at != as_sla(row).anchor_at:
            continue
        for _ in range(row.extensions):
            new = engine.request_extension(new, Category(order.category), Urgency(order.urgency), new.anchor_at)
        if (new.due_at, new.provisional, new.rule) != (row.due_at, row.provisional, row.rule):
            if new.due_at > row.due_at:
                row.alert_level = ALERT_NONE  # more time: a card already shown may be due again later
            row.due_at, row.provisional, row.rule = new.due_at, new.provisional, new.rule
            changed.add(order.id)
    session.flush()
    return len(changed)


# --- the overdue scan (yellow and red cards, Foshan art. 47(1)3) -------------------------------------------

@dataclass(frozen=True, slots=True)
class DeadlineAlert:
    type: str  # order.near_due | order.overdue
    label: str | None
    deadline_id: int
    level: int
    order_id: int
    number: str
    kind: str
    due_at: datetime
    rule: str
    status: str
    category: str
    urgency: str
    lead_unit_id: int | None

    def event(self) -> dict[str, Any]:
        card = "yellow" if self.type == "order.near_due" else "red"
        return {"type": self.type, "card": card, "label": self.label, "order_id": self.order_id,
                "number": self.number, "kind": self.kind, "due_at": self.due_at.isoformat(), "rule": self.rule,
                "status": self.status, "category": self.category, "urgency": self.urgency,
                "lead_unit_id": self.lead_unit_id}


def scan_deadlines(session: Session, engine: DeadlineEngine, now: datetime | None = None,
                   lookahead: timedelta = timedelta(days=15), limit: int = 1000) -> list[DeadlineAlert]:
    """Open deadlines that just became near due or overdue (hotline.sla.evaluate decides which).

    Each deadline raises each card once: `alert_level` remembers what was sent. The caller commits after
    publishing, so a crash in between re-sends rather than loses a card. `lookahead` bounds the index
    range scanned: a near-due threshold further away than that is not reached yet anyway.
    """
    now = now or datetime.now(UTC)
    limits = thresholds(engine)
    stmt = (select(OrderDeadline).where(OrderDeadline.met_at.is_(None), OrderDeadline.due_at <= now + lookahead,
                                        OrderDeadline.alert_level < ALERT_RED)
            .order_by(OrderDeadline.due_at).limit(limit))
    alerts = []
    for row in session.scalars(stmt):
        verdict = evaluate(as_sla(row), now, limits)
        level = int(verdict.level)
        if verdict.level == AlertLevel.ok or row.alert_level >= level:
            continue
        row.alert_level = level
        order = row.order
        lead = next((u.unit_id for u in order.units if u.role == "lead"), None)
        kind = "order.overdue" if level == ALERT_RED else "order.near_due"
        alerts.append(DeadlineAlert(kind, verdict.label, row.id, level, order.id, order.number, row.kind,
                                    row.due_at, row.rule, order.status, order.category, order.urgency, lead))
    session.flush()
    return alerts


def mark_alerted(session: Session, alerts: Iterable[DeadlineAlert]) -> None:
    """Remember cards already published (a short write, after publishing: never a lock held across I/O)."""
    for alert in alerts:
        session.execute(update(OrderDeadline)
                        .where(OrderDeadline.id == alert.deadline_id, OrderDeadline.alert_level < alert.level)
                        .values(alert_level=alert.level), execution_options={"synchronize_session": False})
