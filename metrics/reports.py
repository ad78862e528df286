"""Daily and monthly summaries from the database: call volumes and answer rates (the engine's rules,
`metrics.engine.classify`), work orders by category, hot topics (jieba keywords of the orders' content),
missed deadlines, satisfaction and the KB one-time answer rate (hotline.kb.services.answer_rate_report).

Periods are China Standard Time calendar days / months; the database holds UTC.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hotline.calls.models import Call
from hotline.domain import Category
from hotline.kb.services import answer_rate_report
from hotline.workorders.models import OrderDeadline, WorkOrder
from metrics.engine import ABANDONED, ANSWERED, CST, SHORT_ABANDON, UNANSWERED, AnswerCounts, classify, wait_of

# words every order says: not topics
_STOP_TEXT = ("反映 问题 请求 希望 要求 处理 相关 部门 市民 来电 咨询 投诉 情况 进行 没有 什么 如何 怎么 "
              "已经 现在 目前 一直 需要 解决 称其 表示 诉求 帮助 热线 12345 工作人员")
STOPWORDS = frozenset(_STOP_TEXT.split())


@dataclass
class CallFigures(AnswerCounts):
    calls: int = 0          # every citizen call that reached the platform
    ivr_only: int = 0


@dataclass
class Report:
    kind: str                   # daily | monthly
    period: str                 # 2026-11-21 | 2026-11
    since: datetime
    until: datetime
    generated_at: datetime
    calls: CallFigures
    by_queue: dict[str, CallFigures]
    by_day: dict[str, CallFigures]
    orders_by_category: dict[str, int]
    orders_total: int
    hot_topics: list[tuple[str, int]]
    deadlines_missed: dict[str, int]     # deadline kind → deadlines due in the period and not met in time
    satisfaction: dict[int, int]         # score → answers (calls' IVR survey and orders' revisits)
    kb_consultations: int
    kb_answered_on_call: int
    kb_by_category: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def kb_rate(self) -> float | None:
        return self.kb_answered_on_call / self.kb_consultations if self.kb_consultations else None

    @property
    def satisfied_rate(self) -> float | None:
        """Share of 4 and 5 among the answers (满意 + 非常满意)."""
        total = sum(self.satisfaction.values())
        return sum(n for s, n in self.satisfaction.items() if s >= 4) / total if total else None


def period_bounds(kind: str, period: str) -> tuple[datetime, datetime]:
    """UTC bounds of a CST day (`2026-11-21`) or month (`2026-11`); ValueError on anything else."""
    if kind == "daily":
        start = datetime.strptime(period, "%Y-%m-%d")
        end = start + timedelta(days=1)
    elif kind == "monthly":
        start = datetime.strptime(period, "%Y-%m")
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        raise ValueError(f"unknown report kind {kind!r}")
    return start.replace(tzinfo=CST).astimezone(UTC), end.replace(tzinfo=CST).astimezone(UTC)


def _local_day(moment: datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%d")


def call_figures(session: Session, since: datetime, until: datetime, short_abandon_seconds: float,
                 service_level_seconds: float) -> tuple[CallFigures, dict[str, CallFigures], dict[str, CallFigures]]:
    rows = session.execute(select(Call.queue, Call.answered_at, Call.outcome, Call.wait_seconds, Call.queued_at,
                                  Call.ended_at, Call.talk_seconds, Call.started_at)
                           .where(Call.started_at >= since, Call.started_at < until)).all()
    total, by_queue, by_day = CallFigures(), {}, {}
    for queue, answered_at, outcome, wait, queued_at, ended_at, talk, started_at in rows:
        view = {"queue": queue, "answered_at": answered_at, "outcome": outcome, "wait_seconds": wait,
                "queued_at": queued_at.timestamp() if queued_at else None,
                "ended_at": ended_at.timestamp() if ended_at else None}
        if answered_at is not None:
            view["answered_at"] = answered_at.timestamp()
        if outcome is None and answered_at is None:
            continue  # still live: counted once it ends
        kind = classify(view, short_abandon_seconds)
        targets = [total, by_day.setdefault(_local_day(started_at), CallFigures())]
        if queue:
            targets.append(by_queue.setdefault(queue, CallFigures()))
        waited = wait_of(view)
        for fig in targets:
            fig.calls += 1
            if kind is None:
                fig.ivr_only += 1
            elif kind == SHORT_ABANDON:
                fig.short_abandoned += 1
            else:
                fig.offered += 1
                if kind == ANSWERED:
                    fig.answered += 1
                    fig.wait_answered_sum += waited
                    fig.answered_in_sl += waited <= service_level_seconds
                    if talk is not None:
                        fig.talk_sum += talk
                        fig.talk_count += 1
                elif kind == ABANDONED:
                    fig.abandoned += 1
                elif kind == UNANSWERED:
                    fig.unanswered += 1
    return total, dict(sorted(by_queue.items())), dict(sorted(by_day.items()))


def hot_topics(contents: list[str], top: int = 15, per_order: int = 5) -> list[tuple[str, int]]:
    """Keywords by the number of orders whose content has them among its `per_order` TF-IDF keywords."""
    import jieba.analyse

    counts: Counter[str] = Counter()
    for text in contents:
        tags = [t for t in jieba.analyse.extract_tags(text, topK=per_order + 4) if t not in STOPWORDS
                and not t.isdigit() and len(t) > 1][:per_order]
        counts.update(set(tags))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def build_report(session: Session, kind: str, period: str, *, short_abandon_seconds: float = 5,
                 service_level_seconds: float = 15, now: datetime | None = None) -> Report:
    since, until = period_bounds(kind, period)
    now = now or datetime.now(UTC)
    calls, by_queue, by_day = call_figures(session, since, until, short_abandon_seconds, service_level_seconds)
    orders = session.execute(select(WorkOrder.category, WorkOrder.content)
                             .where(WorkOrder.created_at >= since, WorkOrder.created_at < until)).all()
    by_category = Counter(category for category, _ in orders)
    missed = dict(session.execute(
        select(OrderDeadline.kind, func.count())
        .where(OrderDeadline.due_at >= since, OrderDeadline.due_at < until, OrderDeadline.due_at < now,
               or_(OrderDeadline.met_at.is_(None), OrderDeadline.met_at > OrderDeadline.due_at))
        .group_by(OrderDeadline.kind)).all())
    satisfaction: Counter[int] = Counter()
    for table, moment in ((Call, Call.started_at), (WorkOrder, WorkOrder.created_at)):
        for score, n in session.execute(select(table.satisfaction, func.count())
                                        .where(moment >= since, moment < until, table.satisfaction.is_not(None))
                                        .group_by(table.satisfaction)).all():
            satisfaction[int(score)] += n
    kb = answer_rate_report(session, since, until)
    return Report(kind, period, since, until, now, calls, by_queue, by_day,
                  dict(sorted(by_category.items(), key=lambda kv: -kv[1])), len(orders),
                  hot_topics([content for _, content in orders if content]), dict(sorted(missed.items())),
                  dict(sorted(satisfaction.items())),
                  sum(r.consultations for r in kb.by_category), sum(r.answered_on_call for r in kb.by_category),
                  [(r.category or "", r.consultations, r.answered_on_call) for r in kb.by_category])


def category_label(code: str) -> str:
    try:
        return Category(code).label
    except ValueError:
        return code


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _call_row(label: str, fig: CallFigures) -> list[Any]:
    return [label, fig.calls, fig.ivr_only, fig.offered, fig.answered, fig.abandoned, fig.short_abandoned,
            fig.unanswered, _pct(fig.answer_rate), _pct(fig.service_level),
            _seconds(fig.average_speed_of_answer), _seconds(fig.average_talk)]


CALL_HEADER = ["范围", "来电", "仅语音导航", "呼入量(offered)", "接通", "放弃", "短时放弃(不计)", "排队超时",
               "接通率", "15秒接通率", "平均应答(秒)", "平均通话(秒)"]


def report_tables(report: Report) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report as titled tables: the CSV and the HTML page print the same thing."""
    tables = [("话务量", CALL_HEADER, [_call_row("全部", report.calls)]
               + [_call_row(q, f) for q, f in report.by_queue.items()])]
    if report.kind == "monthly":
        tables.append(("逐日", CALL_HEADER, [_call_row(d, f) for d, f in report.by_day.items()]))
    tables.append(("工单分类", ["类别", "代码", "工单数"],
                   [[category_label(c), c, n] for c, n in report.orders_by_category.items()]
                   + [["合计", "", report.orders_total]]))
    tables.append(("热点诉求(关键词)", ["关键词", "工单数"], [[w, n] for w, n in report.hot_topics]))
    tables.append(("超期(黄牌/红牌)", ["时限类型", "未按期办结"],
                   [[k, n] for k, n in report.deadlines_missed.items()]))
    tables.append(("满意度", ["评分", "数量"], [[s, n] for s, n in report.satisfaction.items()]
                   + [["满意率(4-5分)", _pct(report.satisfied_rate)]]))
    tables.append(("知识库一次性答复率", ["类别", "咨询量", "当场答复", "答复率"],
                   [[category_label(c), n, a, _pct(a / n if n else None)] for c, n, a in report.kb_by_category]
                   + [["合计", report.kb_consultations, report.kb_answered_on_call, _pct(report.kb_rate)]]))
    return tables


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    title = "日报" if report.kind == "daily" else "月报"
    writer.writerow([f"12345热线{title}", report.period, "生成于", report.generated_at.astimezone(CST).isoformat()])
    for name, header, rows in report_tables(report):
        writer.writerow([])
        writer.writerow([name])
        writer.writerow(header)
        writer.writerows(rows)
    return out.getvalue()


def month_of(day: date) -> str:
    return day.strftime("%Y-%m")
