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
    pass


def downgrade() -> None:
    pass
