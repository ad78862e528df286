"""ACD: agent state log, callbacks, guard actions

Revision ID: 0004_acd
Revises: '0003_kb'
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0004_acd"
down_revision = '0003_kb'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
