"""The work-order lifecycle as a state machine; transitions are named after the events causing them.

Ziyang art. 10: 集中受理、分类处理、限时办理、回访测评.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hotline.domain import OrderStatus as S


class OrderEvent(StrEnum):
    answer_on_call = "answer_on_call"        # 即时办结 from the KB on the call (Ziyang art. 12, Foshan art. 27)
    dispatch = "dispatch"                    # 转办 to the handling unit (Ziyang art. 13(1), Foshan art. 20)
    sign = "sign"                            # 签收 by the unit (Ziyang art. 13(2), Foshan art. 32)
    start_handling = "start_handling"        # 办理
    return_to_hotline = "return_to_hotline"  # 退回: not the unit's remit, with reasons (Ziyang art. 13(2))
    extend = "extend"                        # 延期: once only (Ziyang art. 13(3))
    complete = "complete"                    # 办结
    revisit = "revisit"                      # 回访测评 (Ziyang art. 14)
    redo = "redo"                            # unsatisfied on revisit: back to the unit (Ziyang art. 14(2))
    archive = "archive"                      # 归档 (Ziyang art. 14(1))
    mark_terminal = "mark_terminal"          # 终结件 (Ziyang art. 15)


@dataclass(frozen=True, slots=True)
class Transition:
    event: OrderEvent
    sources: frozenset[S]
    target: S
    needs_note: bool = False  # the regulation asks for reasons or an answer on record


TRANSITIONS: dict[OrderEvent, Transition] = {t.event: t for t in (
    Transition(OrderEvent.answer_on_call, frozenset({S.accepted}), S.completed, needs_note=True),
    Transition(OrderEvent.dispatch, frozenset({S.accepted, S.returned}), S.dispatched),
    Transition(OrderEvent.sign, frozenset({S.dispatched}), S.signed),
    Transition(OrderEvent.start_handling, frozenset({S.signed}), S.handling),
    Transition(OrderEvent.return_to_hotline, frozenset({S.dispatched, S.signed}), S.returned, needs_note=True),
    Transition(OrderEvent.extend, frozenset({S.handling}), S.extended, needs_note=True),
    Transition(OrderEvent.complete, frozenset({S.signed, S.handling, S.extended}), S.completed, needs_note=True),
    Transition(OrderEvent.revisit, frozenset({S.completed}), S.revisited),
    Transition(OrderEvent.redo, frozenset({S.revisited}), S.dispatched, needs_note=True),
    # no evaluation counts as basically satisfied and is archived (Ziyang art. 14(1))
    Transition(OrderEvent.archive, frozenset({S.completed, S.revisited}), S.archived),
    Transition(OrderEvent.mark_terminal, frozenset({S.completed, S.revisited, S.archived}), S.terminal,
               needs_note=True),
)}

OPEN_STATUSES = frozenset({S.accepted, S.dispatched, S.signed, S.handling, S.returned, S.extended})


class InvalidTransition(ValueError):
    def __init__(self, event: str, status: str, reason: str | None = None) -> None:
        self.event, self.status = event, status
        super().__init__(reason or f"event {event!r} is not allowed in status {status!r}")


def next_status(status: str, event: str, note: str | None = None) -> S:
    """The status after `event`, or InvalidTransition with the reason."""
    try:
        transition = TRANSITIONS[OrderEvent(event)]
    except ValueError:
        raise InvalidTransition(event, status, f"unknown event {event!r}") from None
    if S(status) not in transition.sources:
        allowed = ", ".join(sorted(s.value for s in transition.sources))
        raise InvalidTransition(event, status, f"event {event!r} is not allowed in status {status!r} "
                                               f"(only from: {allowed})")
    if transition.needs_note and not (note and note.strip()):
        raise InvalidTransition(event, status, f"event {event!r} needs a note (reasons or answer on record)")
    return transition.target


def allowed_events(status: str) -> list[OrderEvent]:
    return [e for e, t in TRANSITIONS.items() if S(status) in t.sources]
