"""What the metrics role computes besides folding: the wallboard snapshot and the figures read from the
database (work orders, KB one-time answer rate, satisfaction). No HTTP here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hotline.calls.models import Call
from hotline.kb.models import KbConsultation
from hotline.workorders.models import OrderDeadline, WorkOrder
from metrics.engine import CST, MetricsEngine, QueueFigures, day_of, day_start
from metrics.exporter import ExternalFigures

# 看板 colours for the answer rate (docs/METRICS.md): Ziyang art. 10 sets 95 %; under 90 % is an emergency
TARGET, AMBER_FLOOR = 0.95, 0.90
OPEN_STATUSES = ("accepted", "dispatched", "signed", "handling", "returned", "extended")


def band(rate: float | None) -> str:
    """green ≥ 95 %, amber 90–95 %, red < 90 %; `none` before the first offered call."""
    if rate is None:
        return "none"
    return "green" if rate >= TARGET else "amber" if rate >= AMBER_FLOOR else "red"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _figures(fig: QueueFigures) -> dict[str, Any]:
    return {"offered": fig.offered, "answered": fig.answered, "abandoned": fig.abandoned,
            "short_abandoned": fig.short_abandoned, "unanswered": fig.unanswered,
            "answered_in_sl": fig.answered_in_sl, "answer_rate": _round(fig.answer_rate),
            "service_level": _round(fig.service_level), "band": band(fig.answer_rate),
            "asa": _round(fig.average_speed_of_answer, 1), "average_talk": _round(fig.average_talk, 1)}


def wallboard_snapshot(engine: MetricsEngine, now: float, ami_link_up: float | None = None,
                       seat_names: dict[str, str] | None = None,
                       external: ExternalFigures | None = None) -> dict[str, Any]:
    """Everything the 看板 shows, as JSON."""
    engine.roll(now)
    ext = external or ExternalFigures()
    answers = sum(ext.satisfaction_today.values())
    satisfied = sum(n for score, n in ext.satisfaction_today.items() if score in ("4", "5"))
    seat_names = seat_names or {}
    waiting = engine.waiting_by_queue(now)
    queues = []
    for queue in sorted(set(engine.today) | set(waiting)):
        count, longest = waiting.get(queue, (0, 0.0))
        queues.append({"queue": queue, "skill": engine.skill_of(queue), "waiting": count,
                       "longest_wait": round(longest, 1), **_figures(engine.today.get(queue, QueueFigures()))})
    agents = [{"agent_id": agent_id, "name": seat_names.get(agent_id, agent_id), "group": engine.group_of(agent_id),
               "state": view.state, "reason": view.reason, "since": view.since,
               "seconds": round(max(0.0, now - view.since), 1)}
              for agent_id, view in sorted(engine.agents.items())]
    total = engine.day_totals()
    expert_queues = [q for q in engine.today if engine.skill_of(q) == "expert"]
    return {
        "now": now, "day": engine.day or day_of(now),
        "target": TARGET, "amber_floor": AMBER_FLOOR, "service_level_seconds": engine.service_level_seconds,
        "short_abandon_seconds": engine.short_abandon_seconds,
        "waiting": sum(c for c, _ in waiting.values()),
        "longest_wait": round(max((w for _, w in waiting.values()), default=0.0), 1),
        "total": _figures(total),
        "experts": _figures(engine.day_totals(expert_queues)),
        "queues": queues,
        "agents": agents,
        "agents_by_state": {f"{g}:{s}": n for (g, s), n in sorted(engine.agents_by_state().items())},
        "paused_by_reason": engine.paused_by_reason(),
        "curve": [{"t": t, "offered": o, "answered": a, "rate": round(a / o, 4) if o else None}
                  for t, o, a in engine.answer_rate_curve()],
        "alerts": list(engine.recent_alerts)[::-1],
        "ami_link_up": ami_link_up,
        "orders": {"today": sum(ext.orders_today.values()), "overdue": sum(ext.orders_overdue.values()),
                   "kb_one_time_rate": _round(ext.kb_one_time_rate_today),
                   "satisfied_rate": _round(satisfied / answers) if answers else None,
                   "refreshed_at": ext.refreshed_at or None},
    }


# --- database figures ------------------------------------------------------------------------------------
def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def read_external(session: Session, now: float, into: ExternalFigures | None = None) -> ExternalFigures:
    """Work orders (created today by category, open orders past a deadline), the KB one-time answer rate
    and the satisfaction answers of the day."""
    ext = into or ExternalFigures()
    start = _utc(day_start(day_of(now)))
    moment = _utc(now)
    ext.orders_today = dict(session.execute(
        select(WorkOrder.category, func.count()).where(WorkOrder.created_at >= start)
        .group_by(WorkOrder.category)).all())
    overdue = (select(WorkOrder.category, func.count(func.distinct(WorkOrder.id)))
               .join(OrderDeadline, OrderDeadline.order_id == WorkOrder.id)
               .where(OrderDeadline.met_at.is_(None), OrderDeadline.due_at < moment,
                      WorkOrder.status.in_(OPEN_STATUSES))
               .group_by(WorkOrder.category))
    ext.orders_overdue = dict(session.execute(overdue).all())
    consultations, answered = session.execute(
        select(func.count(KbConsultation.id),
               func.sum(case((KbConsultation.answered_on_call.is_(True), 1), else_=0)))
        .where(KbConsultation.created_at >= start)).one()
    ext.kb_consultations_today = int(consultations or 0)
    ext.kb_one_time_rate_today = (int(answered or 0) / consultations) if consultations else None
    ext.satisfaction_today = {str(score): n for score, n in session.execute(
        select(Call.satisfaction, func.count()).where(Call.started_at >= start, Call.satisfaction.is_not(None))
        .group_by(Call.satisfaction)).all()}
    ext.refreshed_at = now
    return ext


def local_day_bounds(day: str) -> tuple[datetime, datetime]:
    """UTC bounds of a CST calendar day."""
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=CST)
    return start.astimezone(UTC), _utc(start.timestamp() + 86400)
