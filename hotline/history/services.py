"""Caller history for the screen pop: what this number called about before, and what is still open.

Every query walks an index on (caller_number, time) and reads a bounded number of rows, so the lookup
costs the same with a million orders as with a thousand (bench/history.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hotline.calls.models import Call
from hotline.domain import OrderStatus
from hotline.history.matching import DEFAULT_POLICY, MatchPolicy, same_matter
from hotline.workorders.models import OrderDeadline, WorkOrder
from hotline.workorders.state import OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class DeadlineView:
    kind: str
    due_at: datetime
    provisional: bool
    rule: str
    met_at: datetime | None
    overdue: bool


@dataclass(slots=True)
class OrderView:
    id: int
    number: str
    created_at: datetime
    status: str
    category: str
    urgency: str
    content: str
    location: str | None
    confidential: bool
    satisfaction: int | None
    repeat_of_id: int | None
    terminal_reply: str | None
    open: bool
    deadlines: list[DeadlineView] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CallView:
    call_id: str
    started_at: datetime | None
    ended_at: datetime | None
    queue: str | None
    agent_id: str | None
    outcome: str | None
    ivr_category: str | None
    satisfaction: int | None


@dataclass(frozen=True, slots=True)
class RepeatGroup:
    """Several orders of this caller on one matter within the window (Ziyang art. 15)."""

    category: str
    order_numbers: list[str]
    count: int
    terminal_number: str | None
    terminal_reply: str | None


@dataclass(slots=True)
class CallerHistory:
    number: str
    calls: list[CallView]
    orders: list[OrderView]
    open_orders: list[OrderView]
    repeats: list[RepeatGroup]
    terminal: list[OrderView]  # 终结件: answer with the unit's standard reply, do not dispatch again
    last_satisfaction: int | None
    repeat_caller: bool


# Plain column selects, not ORM entities: no identity map, no relationship loading. The pop has a few
# milliseconds and each order entity would cost four more queries (units, deadlines, calls, articles).
_ORDER_COLUMNS = (WorkOrder.id, WorkOrder.number, WorkOrder.created_at, WorkOrder.status, WorkOrder.category,
                  WorkOrder.urgency, WorkOrder.content, WorkOrder.location, WorkOrder.confidential,
                  WorkOrder.satisfaction, WorkOrder.repeat_of_id, WorkOrder.terminal_reply)


# Built once: the statement cache key is computed on every execution of a freshly built select.
_ORDERS = (select(*_ORDER_COLUMNS).where(WorkOrder.caller_number == bindparam("number"))
           .order_by(WorkOrder.created_at.desc()).limit(bindparam("limit")))  # the index order: no sort
# a 终结件 counts whatever its age: its reply stands for every later repeat (Ziyang art. 15)
_TERMINAL = (select(*_ORDER_COLUMNS)
             .where(WorkOrder.caller_number == bindparam("number"), WorkOrder.status == OrderStatus.terminal.value)
             .order_by(WorkOrder.created_at.desc()).limit(bindparam("limit")))
_DEADLINES = (select(OrderDeadline.order_id, OrderDeadline.kind, OrderDeadline.due_at, OrderDeadline.provisional,
                     OrderDeadline.rule, OrderDeadline.met_at)
              .where(OrderDeadline.order_id.in_(bindparam("ids", expanding=True))).order_by(OrderDeadline.due_at))
_CALLS = (select(Call.call_id, Call.started_at, Call.ended_at, Call.queue, Call.agent_id, Call.outcome,
                 Call.ivr_category, Call.satisfaction)
          .where(Call.caller_number == bindparam("number"))
          .order_by(Call.started_at.desc()).limit(bindparam("limit")))


def _order_view(row, deadlines: list, now: datetime) -> OrderView:  # type: ignore[no-untyped-def]
    return OrderView(row.id, row.number, row.created_at, row.status, row.category, row.urgency, row.content,
                     row.location, row.confidential, row.satisfaction, row.repeat_of_id, row.terminal_reply,
                     row.status in OPEN_STATUSES,
                     [DeadlineView(d.kind, d.due_at, d.provisional, d.rule, d.met_at,
                                   d.met_at is None and d.due_at <= now) for d in deadlines])


def _group_repeats(orders: list[OrderView], since: datetime, policy: MatchPolicy) -> list[RepeatGroup]:
    groups: list[list[OrderView]] = []
    for o in orders:
        if o.created_at < since and o.status != OrderStatus.terminal:
            continue
        for group in groups:
            head = group[0]
            if same_matter(o.category, o.content, o.location, head.category, head.content, head.location, policy):
                group.append(o)
                break
        else:
            groups.append([o])
    out = []
    for group in groups:
        if len(group) < 2:
            continue
        terminal = next((o for o in group if o.status == OrderStatus.terminal), None)
        out.append(RepeatGroup(group[0].category, [o.number for o in group], len(group),
                               terminal.number if terminal else None, terminal.terminal_reply if terminal else None))
    return out


def caller_history(session: Session, number: str, now: datetime | None = None, *,
                   window: timedelta = timedelta(days=30), limit: int = 20,
                   policy: MatchPolicy = DEFAULT_POLICY) -> CallerHistory:
    now = now or datetime.now(UTC)
    conn = session.connection()  # Core results: these are column rows, the ORM layer would only add cost
    orders = conn.execute(_ORDERS, {"number": number, "limit": limit}).all()
    ids = [o.id for o in orders]
    terminal_rows = [t for t in conn.execute(_TERMINAL, {"number": number, "limit": limit + len(ids)})
                     if t.id not in ids][:limit]
    open_ids = [o.id for o in orders if o.status in OPEN_STATUSES]
    by_order: dict[int, list] = {}
    if open_ids:
        for d in conn.execute(_DEADLINES, {"ids": open_ids}):
            by_order.setdefault(d.order_id, []).append(d)
    views = [_order_view(o, by_order.get(o.id, []), now) for o in orders]
    terminal_views = [v for v in views if v.status == OrderStatus.terminal]
    terminal_views += [_order_view(o, [], now) for o in terminal_rows]
    calls = [CallView(*c) for c in conn.execute(_CALLS, {"number": number, "limit": limit})]
    satisfied = [(v.created_at, v.satisfaction) for v in views if v.satisfaction is not None]
    satisfied += [(c.started_at, c.satisfaction) for c in calls if c.satisfaction is not None and c.started_at]
    last_satisfaction = max(satisfied, key=lambda p: p[0])[1] if satisfied else None
    repeats = _group_repeats(views + [v for v in terminal_views if v not in views], now - window, policy)
    return CallerHistory(number=number, calls=calls, orders=views,
                         open_orders=[v for v in views if v.open], repeats=repeats, terminal=terminal_views,
                         last_satisfaction=last_satisfaction, repeat_caller=bool(repeats))
