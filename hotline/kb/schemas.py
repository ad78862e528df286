"""Pydantic schemas of the KB API. Text is stored as given (no stripping of markup): the console escapes
it when rendering, and no SQL is ever built from it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hotline.domain import Category
from hotline.kb.state import ArticleStatus, ArticleType
from hotline.text import Text

MAX_ID = 2_147_483_647  # INTEGER columns: a larger id is a 422, not a database error (as in hotline.workorders)
ArticleId = Annotated[int, Field(ge=1, le=MAX_ID)]


UNIT_CODE_PATTERN = r"^[A-Za-z0-9_.-]+$"  # the code of hotline.units (units.code, 32 characters)
UnitCode = Field(min_length=1, max_length=32, pattern=UNIT_CODE_PATTERN)


class ArticleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text = Field(min_length=1, max_length=200)
    body: Text = Field(min_length=1, max_length=20_000)
    category: Category = Category.consult
    article_type: ArticleType
    owner_unit: str = UnitCode
    effective_from: AwareDatetime | None = None
    effective_until: AwareDatetime | None = None


class ArticleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(None, min_length=1, max_length=200)
    body: Text | None = Field(None, min_length=1, max_length=20_000)
    category: Category | None = None
    article_type: ArticleType | None = None
    owner_unit: str | None = Field(None, min_length=1, max_length=32, pattern=UNIT_CODE_PATTERN)
    effective_from: AwareDatetime | None = None
    effective_until: AwareDatetime | None = None


class ArticleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    category: Category
    article_type: ArticleType
    owner_unit: str
    status: ArticleStatus
    effective_from: datetime | None
    effective_until: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    review_due_at: datetime | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    review_note: str | None
    use_count: int


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    note: Text | None = Field(None, max_length=500)


class RetireIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = Field(None, max_length=500)


class SearchHitOut(BaseModel):
    article_id: int
    title: str
    snippet: str
    category: Category
    owner_unit: str
    article_type: ArticleType
    score: float


class HitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: Text = Field(min_length=1, max_length=64)
    article_ids: list[ArticleId] = Field(min_length=1, max_length=50)
    kind: Literal["shown", "used"]
    source: Literal["pop", "search", "direct"] = "search"


class ConsultationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: Text = Field(min_length=1, max_length=64)
    category: Category = Category.consult
    unit_code: str | None = Field(None, min_length=1, max_length=32, pattern=UNIT_CODE_PATTERN)
    dispatched: bool = False


class ConsultationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    call_id: str
    category: Category
    unit_code: str | None
    answered_on_call: bool
    article_id: int | None


class RateRowOut(BaseModel):
    category: Category | None
    category_label: str | None
    unit_code: str | None
    consultations: int
    answered_on_call: int
    rate: float
    below_target: bool


class RateReportOut(BaseModel):
    since: datetime | None
    until: datetime | None
    target: float
    by_category: list[RateRowOut]
    by_unit: list[RateRowOut]
    by_category_and_unit: list[RateRowOut]


class AutoAcceptOut(BaseModel):
    published: list[int]
