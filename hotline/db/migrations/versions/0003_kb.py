"""knowledge base

Revision ID: 0003_kb
Revises: '0002_calendar'

Articles, the version stamp, hits and consultations (hotline/kb/models.py). The owner unit is a string
code, not a foreign key to 0001's units table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_kb"
down_revision = '0002_calendar'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("article_type", sa.String(16), nullable=False),
        sa.Column("owner_unit", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("effective_from", TS, nullable=True),
        sa.Column("effective_until", TS, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("review_due_at", TS, nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        sa.Column("review_note", sa.String(500), nullable=True),
        sa.Column("use_count", sa.Integer, nullable=False),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.Column("index_terms", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_kb_articles"),
    )
    op.create_index("ix_kb_articles_change_seq", "kb_articles", ["change_seq"])
    op.create_index("ix_kb_articles_status_review_due_at", "kb_articles", ["status", "review_due_at"])

    kb_state = op.create_table(
        "kb_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_state"),
    )
    op.bulk_insert(kb_state, [{"id": 1, "version": 0}])

    op.create_table(
        "kb_hits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("article_id", sa.Integer,
                  sa.ForeignKey("kb_articles.id", ondelete="CASCADE", name="fk_kb_hits_article_id_kb_articles"),
                  nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_hits"),
    )
    op.create_index("ix_kb_hits_call_id", "kb_hits", ["call_id"])
    op.create_index("ix_kb_hits_article_id_kind", "kb_hits", ["article_id", "kind"])

    op.create_table(
        "kb_consultations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("unit_code", sa.String(64), nullable=True),
        sa.Column("answered_on_call", sa.Boolean, nullable=False),
        sa.Column("article_id", sa.Integer,
                  sa.ForeignKey("kb_articles.id", ondelete="SET NULL",
                                name="fk_kb_consultations_article_id_kb_articles"),
                  nullable=True),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_consultations"),
        sa.UniqueConstraint("call_id", name="uq_kb_consultations_call_id"),
    )
    op.create_index("ix_kb_consultations_created_at", "kb_consultations", ["created_at"])


def downgrade() -> None:
    op.drop_table("kb_consultations")
    op.drop_table("kb_hits")
    op.drop_table("kb_state")
    op.drop_table("kb_articles")
