"""console users and sessions

Revision ID: 0005_console
Revises: '0004_acd'

Sessions live in Redis (so any number of console processes share them); only users are stored here.
"""

from alembic import op
import sqlalchemy as sa

revision = "0005_console"
down_revision = '0004_acd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(16), nullable=True),
        sa.Column("display_name", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("username", name=op.f("uq_console_users_username")),
        sa.CheckConstraint("role IN ('agent', 'expert', 'supervisor', 'admin')",
                           name=op.f("ck_console_users_role_known")),
    )


def downgrade() -> None:
    op.drop_table("console_users")
