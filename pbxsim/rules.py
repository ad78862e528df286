"""app_queue's penalty bounds of one waiting caller and the queue rules (queuerules.conf) that move them.

Asterisk 22 apps/app_queue.c, function by function:

- `queue_exec` reads `${QUEUE_MAX_PENALTY}`, `${QUEUE_MIN_PENALTY}` (sscanf "%30d"; unset or unreadable means
  no bound, INT_MAX) and `${QUEUE_RAISE_PENALTY}` (a leading `r` = respect the minimum) when the caller joins.
- `insert_penaltychange` parses `penaltychange => <seconds>,<max>[,<min>[,<raise>]]` (atoi; a value starting
  with `+`/`-` is relative, an empty max or a missing min/raise means "no change", i.e. relative 0) and keeps
  each rule list sorted by time (a rule goes before the first one with a later time).
- `update_qe_rule` applies one rule: a bound that was never set (INT_MAX) stays unset, so a rule only moves
  QUEUE_MAX_PENALTY if the dialplan set it before Queue(); relative changes stop at 0; the minimum and the
  raise never exceed the new maximum; each bound it changes is written back to the channel variable.
- `calc_metric` decides whether a member may be rung: a penalty under the raise is raised to it (unless
  `r` and it is under the minimum), then a penalty above the maximum or under the minimum excludes the
  member; with `penaltymemberslimit` and no more members than that, penalties are ignored altogether.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_LEADING_INT = re.compile(r"^\s*([+-]?\d+)")


def _atoi(text: str) -> int:
    """C's atoi: the leading integer, 0 when there is none."""
    match = _LEADING_INT.match(text)
    return int(match.group(1)) if match else 0


def _scan_int(text: str) -> int | None:
    """sscanf(text, "%30d"): the leading integer, None when there is none."""
    match = _LEADING_INT.match(text)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class PenaltyChange:
    """One `penaltychange` line of queuerules.conf."""

    time: int
    max_value: int = 0
    max_relative: bool = True
    min_value: int = 0
    min_relative: bool = True
    raise_value: int = 0
    raise_relative: bool = True
    raise_respect_min: bool = False

    @classmethod
    def parse(cls, content: str) -> PenaltyChange:
        """insert_penaltychange: `<seconds>,<max>[,<min>[,<raise>]]`."""
        parts = content.split(",", 3)
        if len(parts) < 2:
            raise ValueError(f"improperly formatted penaltychange rule {content!r}")
        time_text, max_text = parts[0], parts[1]
        min_text = parts[2] if len(parts) > 2 else ""
        raise_text = parts[3] if len(parts) > 3 else ""
        seconds = _atoi(time_text)
        if seconds < 0:
            raise ValueError(f"improper time parameter in penaltychange rule {content!r}")
        respect_min = raise_text.startswith("r")
        if respect_min:
            raise_text = raise_text[1:]
        return cls(time=seconds,
                   max_value=_atoi(max_text), max_relative=max_text[:1] in ("+", "-", ""),
                   min_value=_atoi(min_text), min_relative=min_text == "" or min_text[:1] in ("+", "-"),
                   raise_value=_atoi(raise_text),
                   raise_relative=(raise_text == "" and not respect_min) or raise_text[:1] in ("+", "-"),
                   raise_respect_min=respect_min)


def rule_lists(sections: Iterable[tuple[str, Iterable[tuple[str, str]]]]) -> dict[str, list[PenaltyChange]]:
    """queuerules.conf's sections (name, [(key, value)]) → rule lists by name, each kept in time order the way
    insert_penaltychange inserts (a rule goes before the first one with a strictly later time)."""
    rules: dict[str, list[PenaltyChange]] = {}
    for name, items in sections:
        current = rules.setdefault(name, [])
        for key, value in items:
            if key.strip().lower() != "penaltychange":
                raise ValueError(f"queuerules.conf [{name}]: pbxsim does not know {key!r}")
            rule = PenaltyChange.parse(value.strip())
            position = next((i for i, existing in enumerate(current) if rule.time < existing.time), len(current))
            current.insert(position, rule)
    return rules


@dataclass
class PenaltyBounds:
    """A caller's QUEUE_MAX_PENALTY / QUEUE_MIN_PENALTY / QUEUE_RAISE_PENALTY (None = INT_MAX, no bound)."""

    max_penalty: int | None = None
    min_penalty: int | None = None
    raise_penalty: int | None = None
    raise_respect_min: bool = False

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> PenaltyBounds:
        raise_text = variables.get("QUEUE_RAISE_PENALTY")
        respect_min = False
        if raise_text is not None and raise_text.startswith("r"):
            respect_min, raise_text = True, raise_text[1:]
        return cls(max_penalty=_read(variables.get("QUEUE_MAX_PENALTY")),
                   min_penalty=_read(variables.get("QUEUE_MIN_PENALTY")),
                   raise_penalty=_read(raise_text), raise_respect_min=respect_min)

    def apply(self, rule: PenaltyChange) -> list[tuple[str, str]]:
        """update_qe_rule: move the bounds; returns the channel variables it sets, in app_queue's order."""
        changed: list[tuple[str, str]] = []
        new_max: int | None = None
        if self.max_penalty is not None:
            new_max = self.max_penalty = _moved(self.max_penalty, rule.max_value, rule.max_relative, None)
            changed.append(("QUEUE_MAX_PENALTY", str(new_max)))
        if self.min_penalty is not None:
            self.min_penalty = _moved(self.min_penalty, rule.min_value, rule.min_relative, new_max)
            changed.append(("QUEUE_MIN_PENALTY", str(self.min_penalty)))
        if self.raise_penalty is not None:
            self.raise_respect_min = rule.raise_respect_min
            self.raise_penalty = _moved(self.raise_penalty, rule.raise_value, rule.raise_relative, new_max)
            changed.append(("QUEUE_RAISE_PENALTY", f"{'r' if rule.raise_respect_min else ''}{self.raise_penalty}"))
        return changed

    def effective(self, penalty: int) -> int | None:
        """calc_metric: the penalty the member is ranked by for this caller, or None if it may not be rung."""
        if (self.raise_penalty is not None and penalty < self.raise_penalty
                and not (self.raise_respect_min and self.min_penalty is not None and penalty < self.min_penalty)):
            penalty = self.raise_penalty
        if self.max_penalty is not None and penalty > self.max_penalty:
            return None
        if self.min_penalty is not None and penalty < self.min_penalty:
            return None
        return penalty


def _read(text: str | None) -> int | None:
    return None if text is None else _scan_int(text)


def rules_due(rules: list[PenaltyChange], waited: float) -> list[PenaltyChange]:
    """Take the rules whose time has come off the front of `rules` (wait_our_turn's
    `while (qe->pr && elapsed >= qe->pr->time) update_qe_rule(qe)`)."""
    due = 0
    while due < len(rules) and waited >= rules[due].time:
        due += 1
    taken = rules[:due]
    del rules[:due]
    return taken


def _moved(current: int, value: int, relative: bool, ceiling: int | None) -> int:
    """One bound moved by a rule (`+N`/`-N` relative, else absolute), never below 0 nor above the new maximum."""
    moved = max(0, current + value if relative else value)
    return moved if ceiling is None else min(moved, ceiling)
