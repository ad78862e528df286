"""Tables of the knowledge base (migration 0003_kb).

The owner unit is stored as the unit's string code (`owner_unit`), not a foreign key to `units` (0001):
the KB must load and search without the unit registry, and an article keeps its owner's code even if the
unit is later reorganised. Callers validate codes against hotline.units when they need to.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes on both databases (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:  # type: ignore[no-untyped-def]
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class KbArticle(Base):
    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))        # hotline.domain.Category
    article_type: Mapped[str] = mapped_column(String(16))    # state.ArticleType (Foshan art. 51)
    owner_unit: Mapped[str] = mapped_column(String(64))      # unit code: 谁提供、谁负责、谁更新
    status: Mapped[str] = mapped_column(String(16), default="draft")
    effective_from: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    effective_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # exclusive
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    review_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    review_note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    use_count: Mapped[int] = mapped_column(Integer, default=0)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # kb_state.version at the last change
    index_terms: Mapped[str | None] = mapped_column(Text, nullable=True)  # Analyzer.encode at the last change

    __table_args__ = (
        Index("ix_kb_articles_change_seq", "change_seq"),
        Index("ix_kb_articles_status_review_due_at", "status", "review_due_at"),
    )


class KbState(Base):
    """One row: the version stamp every article change bumps. Processes compare it to their index's."""

    __tablename__ = "kb_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class KbHit(Base):
    """An article shown to an agent during a call (pop or search) or used to answer it."""

    __tablename__ = "kb_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))     # shown | used
    source: Mapped[str] = mapped_column(String(8))   # pop | search | direct
    agent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_kb_hits_call_id", "call_id"),
        Index("ix_kb_hits_article_id_kind", "article_id", "kind"),
    )


class KbConsultation(Base):
    """One consultation call and whether it was answered on the call (一次性解答, Ziyang art. 12, 17)."""

    __tablename__ = "kb_consultations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    unit_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answered_on_call: Mapped[bool] = mapped_column(Boolean)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("kb_articles.id", ondelete="SET NULL"), nullable=True)
    agent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_kb_consultations_created_at", "created_at"),)
