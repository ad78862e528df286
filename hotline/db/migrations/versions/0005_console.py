"""console users and sessions

Revision ID: 0005_console
Revises: '0004_acd'
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0005_console"
down_revision = '0004_acd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
