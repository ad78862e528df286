"""The flows' transition tables: every target exists, every state has a handler, bad events are refused."""

from __future__ import annotations

import pytest

from ivr.flows import callback, order_status, queue_announce, survey, welcome
from ivr.state import InvalidTransition, Machine, check_table

FLOW_MODULES = [welcome, order_status, queue_announce, callback, survey]


@pytest.mark.parametrize("module", FLOW_MODULES, ids=lambda m: m.__name__)
def test_tables_are_closed(module) -> None:  # type: ignore[no-untyped-def]
    check_table(module.TRANSITIONS, module.FINALS)
    reachable = {target for edges in module.TRANSITIONS.values() for target in edges.values()}
    assert reachable >= module.FINALS  # every final state can be reached


def test_machine_records_the_path_and_refuses_unknown_events() -> None:
    machine = Machine("welcome", welcome.TRANSITIONS, "welcome", welcome.FINALS)
    machine.fire("notice_current")
    machine.fire("silence")
    assert machine.done and machine.path_text() == "welcome>notice>queue"
    assert machine.events == ["notice_current", "silence"]
    retry = Machine("order_status", order_status.TRANSITIONS, "ask", order_status.FINALS)
    retry.fire("bad_number")
    retry.fire("number_entered")
    assert retry.path_text() == "ask>lookup"  # a retry is one step of the path
    with pytest.raises(InvalidTransition):
        retry.fire("told")
    with pytest.raises(InvalidTransition):
        check_table({"a": {"go": "nowhere"}}, frozenset({"end"}))
