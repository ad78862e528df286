"""HTTP API of the knowledge base, mounted by the console under /api/kb."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from hotline.api_deps import get_db
from hotline.domain import Category
from hotline.kb import services
from hotline.kb.schemas import (
    MAX_ID,
    ArticleCreate,
    ArticleOut,
    ArticleUpdate,
    AutoAcceptOut,
    ConsultationIn,
    ConsultationOut,
    HitsIn,
    RateReportOut,
    RateRowOut,
    RetireIn,
    ReviewIn,
    SearchHitOut,
)
from hotline.kb.search import KnowledgeBase
from hotline.kb.state import ArticleType, TransitionError
from hotline.security import Principal, Role, require_roles

router = APIRouter(prefix="/api/kb", tags=["kb"])

ANYONE = require_roles(Role.agent, Role.expert, Role.supervisor, Role.admin)
EDITORS = require_roles(Role.supervisor, Role.admin)
DB = Annotated[Session, Depends(get_db)]


PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


def get_kb(request: Request) -> KnowledgeBase:
    """The app's live index (`app.state.kb`), created from the session factory on first use."""
    kb = getattr(request.app.state, "kb", None)
    if kb is None:
        kb = request.app.state.kb = KnowledgeBase(request.app.state.session_factory)
    return kb


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except services.ArticleNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except TransitionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except services.InvalidArticle as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc


@router.get("/search", response_model=list[SearchHitOut])
def search(q: Annotated[str, Query(min_length=1, max_length=200)], kb: Annotated[KnowledgeBase, Depends(get_kb)],
           _: Annotated[Principal, Depends(ANYONE)], category: Category | None = None,
           unit: Annotated[str | None, Query(max_length=32)] = None,
           limit: Annotated[int, Query(ge=1, le=50)] = 10) -> list[SearchHitOut]:
    return [SearchHitOut(**h.as_pop()) for h in kb.search(q, category=category, unit=unit, limit=limit)]


@router.get("/articles/{article_id}", response_model=ArticleOut)
def get_article(article_id: PathId, db: DB, _: Annotated[Principal, Depends(ANYONE)]) -> ArticleOut:
    with _errors():
        return ArticleOut.model_validate(services.get_article(db, article_id))


@router.post("/articles", response_model=ArticleOut, status_code=status.HTTP_201_CREATED)
def create_article(body: ArticleCreate, db: DB, who: Annotated[Principal, Depends(ANYONE)]) -> ArticleOut:
    # Agents and experts collect information from calls (收集信息, Foshan art. 51(3)); the other kinds come
    # from the member units through the supervisors and administrators who maintain the KB.
    if who.role in (Role.agent, Role.expert) and body.article_type != ArticleType.collected:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "agents may only create collected information")
    with _errors():
        return ArticleOut.model_validate(services.create_article(db, body.model_dump(), who.username))


@router.patch("/articles/{article_id}", response_model=ArticleOut)
def update_article(article_id: PathId, body: ArticleUpdate, db: DB,
                   who: Annotated[Principal, Depends(EDITORS)]) -> ArticleOut:
    with _errors():
        changes = body.model_dump(exclude_unset=True)
        return ArticleOut.model_validate(services.update_article(db, article_id, changes, who.username))


@router.post("/articles/{article_id}/submit", response_model=ArticleOut)
def submit_article(article_id: PathId, db: DB, who: Annotated[Principal, Depends(ANYONE)]) -> ArticleOut:
    with _errors():
        return ArticleOut.model_validate(services.submit_article(db, article_id, who.username))


@router.post("/articles/{article_id}/review", response_model=ArticleOut)
def review_article(article_id: PathId, body: ReviewIn, db: DB,
                   who: Annotated[Principal, Depends(EDITORS)]) -> ArticleOut:
    with _errors():
        article = services.review_article(db, article_id, body.decision == "approve", who.username, body.note)
        return ArticleOut.model_validate(article)


@router.post("/articles/{article_id}/import", response_model=ArticleOut)
def import_article(article_id: PathId, db: DB, who: Annotated[Principal, Depends(EDITORS)]) -> ArticleOut:
    with _errors():
        return ArticleOut.model_validate(services.import_article(db, article_id, who.username))


@router.post("/articles/{article_id}/retire", response_model=ArticleOut)
def retire_article(article_id: PathId, body: RetireIn, db: DB,
                   who: Annotated[Principal, Depends(EDITORS)]) -> ArticleOut:
    with _errors():
        return ArticleOut.model_validate(services.retire_article(db, article_id, who.username, body.note))


@router.post("/auto-accept", response_model=AutoAcceptOut)
def auto_accept(db: DB, _: Annotated[Principal, Depends(require_roles(Role.admin))]) -> AutoAcceptOut:
    """Runs the periodic 22-hour auto-accept now (the scheduler calls services.auto_accept_due)."""
    return AutoAcceptOut(published=services.auto_accept_due(db))


@router.post("/hits", status_code=status.HTTP_201_CREATED)
def record_hits(body: HitsIn, db: DB, who: Annotated[Principal, Depends(ANYONE)]) -> dict[str, int]:
    with _errors():
        count = services.record_hits(db, body.call_id, body.article_ids, body.kind, body.source, who.agent_id)
    return {"recorded": count}


@router.post("/consultations", response_model=ConsultationOut)
def record_consultation(body: ConsultationIn, db: DB, who: Annotated[Principal, Depends(ANYONE)]) -> ConsultationOut:
    with _errors():
        row = services.record_consultation(db, body.call_id, body.category, body.unit_code, body.dispatched,
                                           who.agent_id)
    return ConsultationOut.model_validate(row)


def _row(row: services.RateRow) -> RateRowOut:
    category = Category(row.category) if row.category else None
    return RateRowOut(category=category, category_label=category.label if category else None,
                      unit_code=row.unit_code, consultations=row.consultations,
                      answered_on_call=row.answered_on_call, rate=round(row.rate, 4), below_target=row.below_target)


@router.get("/reports/one-time-answer-rate", response_model=RateReportOut)
def one_time_answer_rate(db: DB, _: Annotated[Principal, Depends(EDITORS)], since: AwareDatetime | None = None,
                         until: AwareDatetime | None = None) -> RateReportOut:
    report = services.answer_rate_report(db, since, until)
    return RateReportOut(since=report.since, until=report.until, target=services.ONE_TIME_ANSWER_TARGET,
                         by_category=[_row(r) for r in report.by_category],
                         by_unit=[_row(r) for r in report.by_unit],
                         by_category_and_unit=[_row(r) for r in report.by_category_and_unit])
