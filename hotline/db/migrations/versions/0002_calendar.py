"""official holiday schedules loaded by administrators

Revision ID: 0002_calendar
Revises: '0001_core'
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0002_calendar"
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("example", sa.Boolean(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_sla_calendar_years")),
    )
    op.create_table(
        "sla_calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("workday", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["year"], ["sla_calendar_years.year"], ondelete="CASCADE",
                                name=op.f("fk_sla_calendar_days_year_sla_calendar_years")),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_sla_calendar_days")),
    )
    op.create_index(op.f("ix_sla_calendar_days_year"), "sla_calendar_days", ["year"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sla_calendar_days_year"), table_name="sla_calendar_days")
    op.drop_table("sla_calendar_days")
    op.drop_table("sla_calendar_years")
