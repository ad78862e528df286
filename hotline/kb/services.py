"""Knowledge-base logic without HTTP: the article life cycle, the 22-hour auto-accept, hit tracking and the
one-time answer rate. Every function takes a Session and commits its own unit of work.

Every change to an article bumps `kb_state.version` and stamps the article with it (`change_seq`) in the
same transaction; each process's in-memory index (hotline.kb.search) compares the stamp and loads only the
changed articles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.domain import Category
from hotline.kb.analyzer import shared_analyzer
from hotline.kb.models import KbArticle, KbConsultation, KbHit, KbState, utcnow
from hotline.kb.state import ArticleEvent, ArticleStatus, ArticleType, next_status
from hotline.settings import get_settings
from hotline.sla.calendar import WorkCalendar
from hotline.sla.engine import DeadlineEngine
from hotline.sla.services import build_calendar, on_year_loaded

COLLECTED_REVIEW_SPAN = timedelta(hours=22)  # Foshan art. 51(3): 22小时内(非工作日除外)
ONE_TIME_ANSWER_TARGET = 0.90  # Ziyang art. 17
AUTO_ACCEPT_REVIEWER = "system:auto-accept"
EDITABLE_FIELDS = ("title", "body", "category", "article_type", "owner_unit", "effective_from", "effective_until")


class KbError(Exception):
    """Base of the errors the API turns into 4xx answers."""


class ArticleNotFound(KbError):
    pass


class InvalidArticle(KbError, ValueError):
    pass


def bump_version(session: Session) -> int:
    """Next version stamp. The UPDATE takes the row lock, so concurrent writers get increasing stamps and
    commit in that order (PostgreSQL); SQLite has a single writer anyway."""
    result = session.execute(update(KbState).where(KbState.id == 1).values(version=KbState.version + 1))
    if result.rowcount == 0:  # the row is missing (tables emptied): start again at 1
        session.add(KbState(id=1, version=1))
        session.flush()
        return 1
    return int(session.scalar(select(KbState.version).where(KbState.id == 1)))


def current_version(session: Session) -> int:
    return int(session.scalar(select(KbState.version).where(KbState.id == 1)) or 0)


def _check(article: KbArticle) -> None:
    Category(article.category)
    ArticleType(article.article_type)
    if not article.title.strip() or not article.body.strip() or not article.owner_unit.strip():
        raise InvalidArticle("title, body and owner_unit must not be empty")
    if article.effective_from and article.effective_until and article.effective_until <= article.effective_from:
        raise InvalidArticle("effective_until must be after effective_from")


def _changed(session: Session, article: KbArticle, now: datetime) -> KbArticle:
    article.updated_at = now
    # Analysed once here, so that every worker loading the KB skips jieba for this article.
    article.index_terms = shared_analyzer().encode(article.title, article.body)
    article.change_seq = bump_version(session)
    session.commit()
    return article


def get_article(session: Session, article_id: int) -> KbArticle:
    article = session.get(KbArticle, article_id)
    if article is None:
        raise ArticleNotFound(f"article {article_id} not found")
    return article


def create_article(session: Session, fields: dict[str, Any], created_by: str,
                   now: datetime | None = None) -> KbArticle:
    now = now or utcnow()
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidArticle(f"unknown fields: {', '.join(sorted(unknown))}")
    article = KbArticle(**fields, status=ArticleStatus.draft.value, created_by=created_by, created_at=now,
                        use_count=0)
    try:
        _check(article)
    except ValueError as exc:
        raise InvalidArticle(str(exc)) from exc
    session.add(article)
    return _changed(session, article, now)


def _apply(session: Session, article: KbArticle, event: ArticleEvent, by: str, now: datetime,
           note: str | None = None) -> KbArticle:
    article.status = next_status(article.status, event).value
    if event in (ArticleEvent.approved, ArticleEvent.rejected, ArticleEvent.auto_accepted,
                 ArticleEvent.imported, ArticleEvent.retired):
        article.reviewed_at, article.reviewed_by, article.review_note = now, by, note
    return _changed(session, article, now)


def update_article(session: Session, article_id: int, changes: dict[str, Any], by: str,
                   now: datetime | None = None) -> KbArticle:
    now = now or utcnow()
    article = get_article(session, article_id)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidArticle(f"unknown fields: {', '.join(sorted(unknown))}")
    next_status(article.status, ArticleEvent.revised)  # retired articles are not edited
    for key, value in changes.items():
        setattr(article, key, value)
    try:
        _check(article)
    except ValueError as exc:
        session.rollback()  # the refused change must not linger in the session's copy of the article
        raise InvalidArticle(str(exc)) from exc
    return _apply(session, article, ArticleEvent.revised, by, now)


def review_deadline(session: Session, submitted_at: datetime, calendar: WorkCalendar | None = None) -> datetime:
    """22 hours of working-day time after submission: the clock stops on non-working days (weekends,
    holidays; make-up workdays count), on the shared SLA calendar with every official year loaded."""
    calendar = calendar or build_calendar(session, get_settings().office_hours)
    due, _provisional = calendar.add_working_day_time(submitted_at, COLLECTED_REVIEW_SPAN)
    return due


def submit_article(session: Session, article_id: int, by: str, now: datetime | None = None,
                   calendar: WorkCalendar | None = None) -> KbArticle:
    """Send a draft to its owner unit for review. Collected information gets the 22-hour deadline after
    which it is accepted without review (Foshan art. 51(3))."""
    now = now or utcnow()
    article = get_article(session, article_id)
    next_status(article.status, ArticleEvent.submitted)
    article.submitted_at = now
    article.review_due_at = (review_deadline(session, now, calendar)
                             if article.article_type == ArticleType.collected else None)
    return _apply(session, article, ArticleEvent.submitted, by, now)


@on_year_loaded
def recompute_review_deadlines(session: Session, engine: DeadlineEngine) -> int:
    """Year-loaded hook of hotline.sla: an official schedule loaded later may move pending deadlines (a
    deadline computed on the rule-based fallback is provisional). Returns how many moved."""
    moved = 0
    pending = session.scalars(select(KbArticle).where(KbArticle.status == ArticleStatus.pending_review.value,
                                                      KbArticle.article_type == ArticleType.collected.value))
    for article in pending:
        if article.submitted_at is None:
            continue
        due = review_deadline(session, article.submitted_at, engine.calendar)
        if due != article.review_due_at:
            article.review_due_at = due
            moved += 1
    session.flush()
    return moved


def review_article(session: Session, article_id: int, approve: bool, by: str, note: str | None = None,
                   now: datetime | None = None) -> KbArticle:
    event = ArticleEvent.approved if approve else ArticleEvent.rejected
    return _apply(session, get_article(session, article_id), event, by, now or utcnow(), note)


def import_article(session: Session, article_id: int, by: str, now: datetime | None = None) -> KbArticle:
    """Publish approval guides that came through the data interface (Foshan art. 51(4))."""
    article = get_article(session, article_id)
    if article.article_type != ArticleType.approval:
        raise InvalidArticle("only approval information (审批信息) is imported without review")
    return _apply(session, article, ArticleEvent.imported, by, now or utcnow())


def retire_article(session: Session, article_id: int, by: str, note: str | None = None,
                   now: datetime | None = None) -> KbArticle:
    return _apply(session, get_article(session, article_id), ArticleEvent.retired, by, now or utcnow(), note)


def auto_accept_due(session: Session, now: datetime | None = None) -> list[int]:
    """The periodic job: collected information whose unit did not review it within 22 working-day hours
    is deemed confirmed and published (Foshan art. 51(3): 超过时限未审核视为成员单位已确认)."""
    now = now or utcnow()
    due = session.scalars(
        select(KbArticle).where(KbArticle.status == ArticleStatus.pending_review.value,
                                KbArticle.article_type == ArticleType.collected.value,
                                KbArticle.review_due_at <= now)
        .order_by(KbArticle.id).with_for_update(skip_locked=True)
    ).all()
    for article in due:
        article.status = next_status(article.status, ArticleEvent.auto_accepted).value
        article.reviewed_at, article.reviewed_by = now, AUTO_ACCEPT_REVIEWER
        article.review_note = "超过22小时未审核，视为已确认，自动入库发布"
        article.updated_at = now
        article.change_seq = bump_version(session)
    session.commit()
    return [a.id for a in due]


# -- hits and the one-time answer rate ---------------------------------------------------------------------

HIT_KINDS = ("shown", "used")
HIT_SOURCES = ("pop", "search", "direct")


def record_hits(session: Session, call_id: str, article_ids: Iterable[int], kind: str, source: str = "search",
                agent_id: str | None = None, now: datetime | None = None) -> int:
    """Record articles shown to the agent on a call, or used to answer it."""
    if kind not in HIT_KINDS or source not in HIT_SOURCES:
        raise InvalidArticle(f"kind must be one of {HIT_KINDS}, source one of {HIT_SOURCES}")
    if not call_id:
        raise InvalidArticle("call_id is required")
    ids = list(dict.fromkeys(article_ids))
    found = set(session.scalars(select(KbArticle.id).where(KbArticle.id.in_(ids)))) if ids else set()
    missing = [i for i in ids if i not in found]
    if missing:
        raise ArticleNotFound(f"articles not found: {missing}")
    now = now or utcnow()
    session.add_all(KbHit(call_id=call_id, article_id=i, kind=kind, source=source, agent_id=agent_id,
                          created_at=now) for i in ids)
    if kind == "used" and ids:
        session.execute(update(KbArticle).where(KbArticle.id.in_(ids)).values(use_count=KbArticle.use_count + 1))
    session.commit()
    return len(ids)


def record_consultation(session: Session, call_id: str, category: Category | str = Category.consult,
                        unit_code: str | None = None, dispatched: bool = False, agent_id: str | None = None,
                        now: datetime | None = None) -> KbConsultation:
    """Close a consultation call. It counts as answered on the call (一次性解答) when an article was used
    to answer it and no work order had to be dispatched (Ziyang art. 12, Foshan art. 27-28). The unit
    is the given one (the unit a work order went to) or else the owner of the article used."""
    try:
        return _record_consultation(session, call_id, Category(category).value, unit_code, dispatched, agent_id, now)
    except IntegrityError:  # the same call recorded at the same moment by another worker: update that row
        session.rollback()
        return _record_consultation(session, call_id, Category(category).value, unit_code, dispatched, agent_id, now)


def _record_consultation(session: Session, call_id: str, category: str, unit_code: str | None, dispatched: bool,
                         agent_id: str | None, now: datetime | None) -> KbConsultation:
    used = session.scalars(
        select(KbHit.article_id).where(KbHit.call_id == call_id, KbHit.kind == "used").order_by(KbHit.id.desc())
    ).first()
    article = session.get(KbArticle, used) if used is not None else None
    existing = session.scalars(select(KbConsultation).where(KbConsultation.call_id == call_id)).first()
    row = existing or KbConsultation(call_id=call_id)
    row.category = category
    row.unit_code = unit_code or (article.owner_unit if article else None)
    row.answered_on_call = article is not None and not dispatched
    row.article_id = article.id if article else None
    row.agent_id = agent_id
    row.created_at = row.created_at or now or utcnow()
    session.add(row)
    session.commit()
    return row


@dataclass(frozen=True, slots=True)
class RateRow:
    category: str | None  # None: all categories of the unit
    unit_code: str | None  # None: all units of the category (or no unit known)
    consultations: int
    answered_on_call: int

    @property
    def rate(self) -> float:
        return self.answered_on_call / self.consultations if self.consultations else 0.0

    @property
    def below_target(self) -> bool:
        return self.consultations > 0 and self.rate < ONE_TIME_ANSWER_TARGET


@dataclass(frozen=True, slots=True)
class RateReport:
    since: datetime | None
    until: datetime | None
    by_category: list[RateRow]
    by_unit: list[RateRow]
    by_category_and_unit: list[RateRow]


def answer_rate_report(session: Session, since: datetime | None = None,
                       until: datetime | None = None) -> RateReport:
    """One-time answer rate = consultations answered on the call / consultations; groups under 90% are
    flagged (Ziyang art. 17: units then send experts for on-site guidance)."""
    answered = func.sum(case((KbConsultation.answered_on_call.is_(True), 1), else_=0))

    def grouped(*keys: Any) -> Sequence[Any]:
        stmt = select(*keys, func.count(KbConsultation.id), answered)
        if since is not None:
            stmt = stmt.where(KbConsultation.created_at >= since)
        if until is not None:
            stmt = stmt.where(KbConsultation.created_at < until)
        return session.execute(stmt.group_by(*keys).order_by(*keys)).all()

    by_category = [RateRow(c, None, n, int(a or 0)) for c, n, a in grouped(KbConsultation.category)]
    by_unit = [RateRow(None, u, n, int(a or 0)) for u, n, a in grouped(KbConsultation.unit_code)]
    both = [RateRow(c, u, n, int(a or 0))
            for c, u, n, a in grouped(KbConsultation.category, KbConsultation.unit_code)]
    return RateReport(since, until, by_category, by_unit, both)
