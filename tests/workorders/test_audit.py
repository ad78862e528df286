"""Audit entries are written in the caller's transaction: committed with it, rolled back with it."""

from __future__ import annotations

import datetime as dt

from hotline.audit.services import entries_for, record
from hotline.sla.timeutil import TZ

from .conftest import AGENT

AT = dt.datetime(2026, 11, 16, 10, 0, 0, 250000, tzinfo=TZ)


def test_an_entry_is_committed_with_the_transaction(db_session_factory) -> None:
    with db_session_factory() as session:
        record(session, AGENT, "read", "work_order", 42, {"number": "20261116-000001", "masked": False}, at=AT)
        session.commit()
    with db_session_factory() as session:
        (entry,) = entries_for(session, "work_order", 42)
    assert (entry.actor, entry.action, entry.subject_id, entry.at) == ("li", "read", "42", AT)
    assert entry.detail == {"number": "20261116-000001", "masked": False}


def test_an_entry_is_rolled_back_with_the_transaction(db_session_factory) -> None:
    with db_session_factory() as session:
        record(session, "system", "create", "unit", 7)
        assert [e.actor for e in entries_for(session, "unit", 7)] == ["system"]  # visible inside at once
        session.rollback()
    with db_session_factory() as session:
        assert entries_for(session, "unit", 7) == []
