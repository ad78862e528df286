"""knowledge base

Revision ID: 0003_kb
Revises: '0002_calendar'
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0003_kb"
down_revision = '0002_calendar'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
