"""ACD: agent state log, callbacks, guard actions

Revision ID: 0004_acd
Revises: '0003_kb'

Tables of acd/models.py. Live agent state and the callback queue are in Redis; these are the record.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_acd"
down_revision = '0003_kb'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "acd_agent_state_log",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("agent_id", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("new_state", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acd_agent_state_log"),
    )
    op.create_index("ix_acd_agent_state_log_agent_started", "acd_agent_state_log", ["agent_id", "started_at"])
    op.create_table(
        "acd_callbacks",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("callback_id", sa.String(64), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("queued_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acd_callbacks"),
        sa.UniqueConstraint("callback_id", name="uq_acd_callbacks_callback_id"),
    )
    op.create_table(
        "acd_guard_actions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acd_guard_actions"),
    )
    op.create_index("ix_acd_guard_actions_at", "acd_guard_actions", ["at"])


def downgrade() -> None:
    op.drop_index("ix_acd_guard_actions_at", table_name="acd_guard_actions")
    op.drop_table("acd_guard_actions")
    op.drop_table("acd_callbacks")
    op.drop_index("ix_acd_agent_state_log_agent_started", table_name="acd_agent_state_log")
    op.drop_table("acd_agent_state_log")
