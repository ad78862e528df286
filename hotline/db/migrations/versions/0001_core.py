"""calls, work orders, units, history, audit, outbox, hand-offs

Revision ID: 0001_core
Revises: None

Hand-written so that SQLite and PostgreSQL get the same schema. Timestamps are timestamptz on
PostgreSQL; on SQLite the models store UTC (hotline.workorders.sqltypes.UtcDateTime).
"""

from alembic import op
import sqlalchemy as sa

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("units.id", name="fk_units_parent_id_units"), nullable=True),
        sa.Column("contact_phone", sa.String(32), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
        sa.UniqueConstraint("code", name="uq_units_code"),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64)),
        sa.Column("caller_number", sa.String(32)),
        sa.Column("caller_name", sa.String(100)),
        sa.Column("channel", sa.String(128)),
        sa.Column("state", sa.String(32)),
        sa.Column("started_at", TS),
        sa.Column("queued_at", TS),
        sa.Column("answered_at", TS),
        sa.Column("ended_at", TS),
        sa.Column("queue", sa.String(64)),
        sa.Column("agent_id", sa.String(32)),
        sa.Column("outcome", sa.String(32)),
        sa.Column("ivr_category", sa.String(32)),
        sa.Column("ivr_priority", sa.String(32)),
        sa.Column("ivr_path", sa.String(255)),
        sa.Column("recording_file", sa.String(255)),
        sa.Column("satisfaction", sa.Integer),
        sa.Column("wait_seconds", sa.Float),
        sa.Column("talk_seconds", sa.Float),
        sa.Column("transfer_to", sa.String(64)),
        sa.Column("hangup_cause", sa.String(32)),
        sa.Column("last_event_ts", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
        sa.UniqueConstraint("call_id", name="uq_calls_call_id"),
    )
    op.create_index("ix_calls_caller_started", "calls", ["caller_number", "started_at"])

    op.create_table(
        "order_sequences",
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("last", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_order_sequences"),
    )
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("caller_name", sa.String(100)),
        sa.Column("caller_number", sa.String(32)),
        sa.Column("caller_personal", sa.JSON),
        sa.Column("confidential", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("location", sa.String(255)),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(32)),
        sa.Column("answer", sa.Text),
        sa.Column("terminal_reply", sa.Text),
        sa.Column("repeat_of_id", sa.Integer,
                  sa.ForeignKey("work_orders.id", name="fk_work_orders_repeat_of_id_work_orders")),
        sa.Column("extensions", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("satisfaction", sa.SmallInteger),
        sa.Column("closed_at", TS),
        sa.Column("dispatched_at", TS),
        sa.Column("signed_at", TS),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_work_orders"),
        sa.UniqueConstraint("number", name="uq_work_orders_number"),
    )
    op.create_index("ix_work_orders_caller_created", "work_orders", ["caller_number", "created_at"])
    op.create_index("ix_work_orders_status_created", "work_orders", ["status", "created_at"])
    op.create_index("ix_work_orders_terminal_caller", "work_orders", ["caller_number"],
                    sqlite_where=sa.text("status = 'terminal'"), postgresql_where=sa.text("status = 'terminal'"))

    op.create_table(
        "order_units",
        sa.Column("order_id", sa.Integer,
                  sa.ForeignKey("work_orders.id", ondelete="CASCADE", name="fk_order_units_order_id_work_orders"),
                  nullable=False),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id", name="fk_order_units_unit_id_units"),
                  nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "unit_id", name="pk_order_units"),
    )
    op.create_index("ix_order_units_unit_id", "order_units", ["unit_id"])
    op.create_table(
        "order_calls",
        sa.Column("order_id", sa.Integer,
                  sa.ForeignKey("work_orders.id", ondelete="CASCADE", name="fk_order_calls_order_id_work_orders"),
                  nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "call_id", name="pk_order_calls"),
    )
    op.create_index("ix_order_calls_call_id", "order_calls", ["call_id"])
    op.create_table(
        "order_kb_articles",
        sa.Column("order_id", sa.Integer,
                  sa.ForeignKey("work_orders.id", ondelete="CASCADE",
                                name="fk_order_kb_articles_order_id_work_orders"), nullable=False),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("order_id", "article_id", name="pk_order_kb_articles"),
    )
    op.create_index("ix_order_kb_articles_article_id", "order_kb_articles", ["article_id"])
    op.create_table(
        "order_transitions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("order_id", sa.Integer,
                  sa.ForeignKey("work_orders.id", ondelete="CASCADE",
                                name="fk_order_transitions_order_id_work_orders"), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id", name="fk_order_transitions_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name="pk_order_transitions"),
    )
    op.create_index("ix_order_transitions_order_at", "order_transitions", ["order_id", "at"])
    op.create_table(
        "order_deadlines",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("order_id", sa.Integer,
                  sa.ForeignKey("work_orders.id", ondelete="CASCADE",
                                name="fk_order_deadlines_order_id_work_orders"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("anchor_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("provisional", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("met_at", TS),
        sa.Column("extensions", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("alert_level", sa.SmallInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_order_deadlines"),
    )
    op.create_index("ix_order_deadlines_order_kind", "order_deadlines", ["order_id", "kind"], unique=True)
    op.create_index("ix_order_deadlines_open_due", "order_deadlines", ["due_at"],
                    sqlite_where=sa.text("met_at IS NULL"), postgresql_where=sa.text("met_at IS NULL"))

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entries"),
    )
    op.create_index("ix_audit_entries_subject", "audit_entries", ["subject_type", "subject_id", "at"])
    op.create_index("ix_audit_entries_actor", "audit_entries", ["actor", "at"])

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("delivered_at", TS),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
        sa.UniqueConstraint("key", name="uq_outbox_messages_key"),
    )
    op.create_index("ix_outbox_messages_pending", "outbox_messages", ["next_attempt_at"],
                    sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("service", sa.String(8), nullable=False),
        sa.Column("call_id", sa.String(64)),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id", name="fk_handoffs_order_id_work_orders")),
        sa.Column("order_number", sa.String(20)),
        sa.Column("caller_number", sa.String(32)),
        sa.Column("caller_name", sa.String(100)),
        sa.Column("location", sa.String(255)),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_handoffs"),
    )
    op.create_index("uq_handoffs_call_service", "handoffs", ["call_id", "service"], unique=True)
    op.create_index("ix_handoffs_order_id", "handoffs", ["order_id"])
    op.create_index("ix_handoffs_caller_number", "handoffs", ["caller_number"])


def downgrade() -> None:
    for table in ("handoffs", "outbox_messages", "audit_entries", "order_deadlines", "order_transitions",
                  "order_kb_articles", "order_calls", "order_units", "work_orders", "order_sequences",
                  "calls", "units"):
        op.drop_table(table)
