"""The metrics engine: folds call, agent and supervisor events into the figures shift managers watch.

Pure and deterministic: no I/O, no clock of its own (every time comes from an event's `ts` or from the
`now` a reader passes). Its whole state is a JSON-able dict (`to_state` / `from_state`), so the figures of
the day survive a restart: the service persists the state with the bus cursors and folds on from there,
and the rebuilt figures equal the uninterrupted ones (tests/metrics/test_restart.py).

Definitions (docs/METRICS.md):
- a call is *offered* to a queue when it joined it (`call.queued`), except a *short abandon*: hung up in
  the queue after less than `short_abandon_seconds` (not counted as offered at all);
- *answered*: an agent picked it up (`call.answered`); counted at once, not at hang-up;
- *abandoned*: hung up while waiting (not short); *unanswered*: left the queue without an agent (its
  timeout) and was ended by the dialplan (`outcome: failed`);
- answer rate 接通率 = answered / offered; 15-second rate = answered within `service_level_seconds` / offered.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

CST = timezone(timedelta(hours=8), "CST")  # China Standard Time: the hotline's day runs midnight to midnight
STATE_VERSION = 1

WAIT_BUCKETS = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0)
TALK_BUCKETS = (30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1200.0, 1800.0)
ACW_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TIMELINE_SLOT = 900          # seconds: the wallboard's answer-rate curve has one point per quarter hour
RECENT_ALERTS = 30           # supervisor events kept for the wallboard
STALE_WAIT = 3600            # a caller 'waiting' this long lost its end event (app_queue gives up at minutes)

ANSWERED, ABANDONED, SHORT_ABANDON, UNANSWERED = "answered", "abandoned", "short_abandon", "unanswered"
AGENT_STATES = ("ready", "not_ready", "ringing", "on_call", "wrap_up", "three_way", "logged_out")


def day_of(ts: float) -> str:
    """The hotline's calendar day (China Standard Time) of an epoch time, `YYYY-MM-DD`."""
    return datetime.fromtimestamp(ts, UTC).astimezone(CST).strftime("%Y-%m-%d")


def day_start(day: str) -> float:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=CST).timestamp()


def classify(call: dict[str, Any], short_abandon_seconds: float) -> str | None:
    """What an ended call counts as: answered / abandoned / short_abandon / unanswered, or None when it
    never reached a queue (IVR only). One rule for the live engine and for the reports."""
    if not call.get("queue"):
        return None
    if call.get("answered_at") is not None:
        return ANSWERED
    outcome = call.get("outcome")
    if outcome == "abandoned":
        return SHORT_ABANDON if wait_of(call) < short_abandon_seconds else ABANDONED
    return UNANSWERED


def wait_of(call: dict[str, Any]) -> float:
    """Seconds in the queue: app_queue's HoldTime when the tracker has it, else measured."""
    wait = call.get("wait_seconds")
    if wait is not None:
        return float(wait)
    queued, end = call.get("queued_at"), call.get("answered_at") or call.get("ended_at")
    return max(0.0, float(end) - float(queued)) if queued is not None and end is not None else 0.0


def observe(buckets: tuple[float, ...], counts: list[int], value: float) -> None:
    """Histogram bucket counts, not cumulative (the exporter accumulates): counts[len(buckets)] is +Inf."""
    counts[bisect.bisect_left(buckets, value)] += 1


@dataclass
class AnswerCounts:
    """The counters behind the answer rate, the 15-second answer rate and the average speed of answer
    (docs/METRICS.md); the live figures and the reports both compute their rates here."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    unanswered: int = 0
    answered_in_sl: int = 0
    wait_answered_sum: float = 0.0
    talk_sum: float = 0.0
    talk_count: int = 0

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.offered if self.offered else None

    @property
    def service_level(self) -> float | None:
        return self.answered_in_sl / self.offered if self.offered else None

    @property
    def average_speed_of_answer(self) -> float | None:
        return self.wait_answered_sum / self.answered if self.answered else None

    @property
    def average_talk(self) -> float | None:
        return self.talk_sum / self.talk_count if self.talk_count else None


@dataclass
class QueueFigures(AnswerCounts):
    """Counters of one queue over one period (the day, or all time)."""

    transferred: int = 0
    abandon_wait_sum: float = 0.0
    wait_hist: list[int] = field(default_factory=lambda: [0] * (len(WAIT_BUCKETS) + 1))
    abandon_hist: list[int] = field(default_factory=lambda: [0] * (len(WAIT_BUCKETS) + 1))
    talk_hist: list[int] = field(default_factory=lambda: [0] * (len(TALK_BUCKETS) + 1))

    def add(self, other: QueueFigures) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(value, list):
                setattr(self, name, [a + b for a, b in zip(mine, value, strict=True)])
            else:
                setattr(self, name, mine + value)

    def to_state(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> QueueFigures:
        return cls(**data)


@dataclass
class AgentView:
    state: str
    since: float
    reason: str = ""
    call_id: str = ""


class MetricsEngine:
    """`apply(stream, event)` folds one bus event; readers take figures with `now` for the live ones."""

    def __init__(self, short_abandon_seconds: float = 5, service_level_seconds: float = 15,
                 skills: dict[str, str] | None = None, experts: frozenset[str] | None = None) -> None:
        self.short_abandon_seconds = float(short_abandon_seconds)
        self.service_level_seconds = float(service_level_seconds)
        self.skills = dict(skills or {})          # queue → skill group
        self.experts = experts                    # seat ids of expert seats (None: seats 2xxx)
        self.day: str | None = None
        self.today: dict[str, QueueFigures] = {}
        self.totals: dict[str, QueueFigures] = {}
        self.timeline: dict[int, list[int]] = {}  # slot start (epoch) → [offered, answered] within the slot
        self.waiting: dict[str, tuple[str, float]] = {}  # call_id → (queue, queued_at)
        self.answered_ids: dict[str, str] = {}    # calls counted as answered and still live → day counted
        self.agents: dict[str, AgentView] = {}
        self.acw_hist: dict[str, list[int]] = {}  # seat group → after-call-work histogram (all time)
        self.acw_sum: dict[str, float] = {}
        self.acw_today: dict[str, list[float]] = {}  # seat group → [count, seconds] today
        self.alerts_total: dict[str, int] = {}    # supervisor event type → count (all time)
        self.recent_alerts: deque[dict[str, Any]] = deque(maxlen=RECENT_ALERTS)
        self.events = {"calls": 0, "acd": 0, "supervisors": 0, "ignored": 0}
        self.last_ts = 0.0

    # --- lookup ------------------------------------------------------------------------------------------
    def skill_of(self, queue: str) -> str:
        return self.skills.get(queue, "unknown")

    def group_of(self, agent_id: str) -> str:
        """Seat group: `expert` seats are reported separately (Ziyang art. 25(1)), the rest are `agent`."""
        if self.experts is not None:
            return "expert" if agent_id in self.experts else "agent"
        return "expert" if agent_id.startswith("2") else "agent"

    # --- folding -----------------------------------------------------------------------------------------
    def apply(self, stream: str, event: dict[str, Any]) -> None:
        if stream == "calls":
            self.apply_call(event)
        elif stream == "acd":
            self.apply_agent(event)
        elif stream == "supervisors":
            self.apply_supervisor(event)
        else:
            self.events["ignored"] += 1

    def _clock(self, event: dict[str, Any]) -> float | None:
        try:
            ts = float(event["ts"])
        except (KeyError, TypeError, ValueError):
            self.events["ignored"] += 1
            return None
        self.roll(ts)
        self.last_ts = max(self.last_ts, ts)
        return ts

    def roll(self, ts: float) -> None:
        """A new day starts the day's figures afresh (live calls and agents carry over)."""
        day = day_of(ts)
        if self.day is None or day > self.day:
            if self.day is not None:
                self.today.clear()
                self.timeline.clear()
                self.acw_today.clear()
                # answered calls whose end never came: kept over one midnight, then forgotten
                yesterday = day_of(day_start(day) - 1)
                self.answered_ids = {c: d for c, d in self.answered_ids.items() if d >= yesterday}
            self.day = day

    def _figures(self, queue: str) -> tuple[QueueFigures, QueueFigures]:
        today = self.today.get(queue)
        if today is None:
            today = self.today[queue] = QueueFigures()
        total = self.totals.get(queue)
        if total is None:
            total = self.totals[queue] = QueueFigures()
        return today, total

    def _slot(self, ts: float) -> list[int]:
        key = int(ts // TIMELINE_SLOT * TIMELINE_SLOT)
        slot = self.timeline.get(key)
        if slot is None:
            slot = self.timeline[key] = [0, 0]
        return slot

    def apply_call(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        call = event.get("call")
        call_id = event.get("call_id")
        if not isinstance(call, dict) or not call_id or not isinstance(kind, str):
            self.events["ignored"] += 1
            return
        ts = self._clock(event)
        if ts is None:
            return
        self.events["calls"] += 1
        queue = call.get("queue")
        if kind in ("call.queued", "call.ringing", "call.ring_noanswer") and queue:
            if kind == "call.queued":
                self._prune(ts)
            if call_id not in self.answered_ids:
                self.waiting[call_id] = (queue, float(call.get("queued_at") or ts))
        elif kind == "call.answered" and queue:
            self.waiting.pop(call_id, None)
            if call_id not in self.answered_ids:
                self.answered_ids[call_id] = self.day or ""
                self._count_answered(queue, call, ts)
        elif kind == "call.ended":
            self.waiting.pop(call_id, None)
            self._count_end(queue, call, call_id, ts)

    def _prune(self, ts: float) -> None:
        """Forget callers whose end never came (a lost event): they would hold the longest wait forever.
        Done while folding, from event times only, so that a rebuilt engine prunes the same."""
        stale = [cid for cid, (_, queued_at) in self.waiting.items() if ts - queued_at > STALE_WAIT]
        for cid in stale:
            del self.waiting[cid]

    def _count_answered(self, queue: str, call: dict[str, Any], ts: float) -> None:
        wait = wait_of(call)
        in_sl = wait <= self.service_level_seconds
        for fig in self._figures(queue):
            fig.offered += 1
            fig.answered += 1
            fig.answered_in_sl += in_sl
            fig.wait_answered_sum += wait
            observe(WAIT_BUCKETS, fig.wait_hist, wait)
        slot = self._slot(ts)
        slot[0] += 1
        slot[1] += 1

    def _count_end(self, queue: str | None, call: dict[str, Any], call_id: str, ts: float) -> None:
        counted = self.answered_ids.pop(call_id, None)
        kind = classify(call, self.short_abandon_seconds)
        if kind is None or queue is None:
            return
        if kind == ANSWERED:
            if counted is None:   # answered before we were listening (resync): count it now
                self._count_answered(queue, call, ts)
            talk = call.get("talk_seconds")
            for fig in self._figures(queue):
                if talk is not None:
                    fig.talk_sum += float(talk)
                    fig.talk_count += 1
                    observe(TALK_BUCKETS, fig.talk_hist, float(talk))
                if call.get("outcome") == "transferred":
                    fig.transferred += 1
            return
        wait = wait_of(call)
        for fig in self._figures(queue):
            if kind == SHORT_ABANDON:
                fig.short_abandoned += 1
                continue
            fig.offered += 1
            if kind == ABANDONED:
                fig.abandoned += 1
                fig.abandon_wait_sum += wait
                observe(WAIT_BUCKETS, fig.abandon_hist, wait)
            else:
                fig.unanswered += 1
        if kind != SHORT_ABANDON:
            self._slot(ts)[0] += 1

    def apply_agent(self, event: dict[str, Any]) -> None:
        agent_id, state = event.get("agent_id"), event.get("state")
        if not agent_id or state not in AGENT_STATES:
            self.events["ignored"] += 1
            return
        ts = self._clock(event)
        if ts is None:
            return
        self.events["acd"] += 1
        previous = self.agents.get(agent_id)
        if event.get("previous") == "wrap_up" and state != "wrap_up":
            spent = event.get("seconds_in_previous")
            if spent is None and previous is not None:
                spent = ts - previous.since
            group = self.group_of(agent_id)
            hist = self.acw_hist.setdefault(group, [0] * (len(ACW_BUCKETS) + 1))
            observe(ACW_BUCKETS, hist, float(spent or 0))
            self.acw_sum[group] = self.acw_sum.get(group, 0.0) + float(spent or 0)
            today = self.acw_today.setdefault(group, [0, 0.0])
            today[0] += 1
            today[1] += float(spent or 0)
        if previous is not None and previous.state == state and event.get("reason", "") == previous.reason:
            return  # same state confirmed again: time in state keeps running
        self.agents[agent_id] = AgentView(state, ts, str(event.get("reason") or ""), str(event.get("call_id") or ""))

    def apply_supervisor(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if not isinstance(kind, str):
            self.events["ignored"] += 1
            return
        ts = self._clock(event)
        if ts is None:
            return
        self.events["supervisors"] += 1
        self.alerts_total[kind] = self.alerts_total.get(kind, 0) + 1
        self.recent_alerts.append({k: event[k] for k in list(event)[:16]})  # bounded copy for the wallboard

    # --- reading -----------------------------------------------------------------------------------------
    def day_totals(self, queues: list[str] | None = None) -> QueueFigures:
        total = QueueFigures()
        for queue, fig in self.today.items():
            if queues is None or queue in queues:
                total.add(fig)
        return total

    def skill_totals(self) -> dict[str, QueueFigures]:
        out: dict[str, QueueFigures] = {}
        for queue, fig in self.today.items():
            out.setdefault(self.skill_of(queue), QueueFigures()).add(fig)
        return out

    def waiting_by_queue(self, now: float) -> dict[str, tuple[int, float]]:
        """queue → (calls waiting, longest wait in seconds)."""
        out: dict[str, tuple[int, float]] = {}
        for queue, queued_at in self.waiting.values():
            if now - queued_at > STALE_WAIT:
                continue  # lost its end event (pruned at the next join)
            count, longest = out.get(queue, (0, 0.0))
            out[queue] = (count + 1, max(longest, now - queued_at))
        return out

    def agents_by_state(self) -> dict[tuple[str, str], int]:
        """(group, state) → agents."""
        out: dict[tuple[str, str], int] = {}
        for agent_id, view in self.agents.items():
            key = (self.group_of(agent_id), view.state)
            out[key] = out.get(key, 0) + 1
        return out

    def paused_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for view in self.agents.values():
            if view.state == "not_ready":
                out[view.reason or "未说明"] = out.get(view.reason or "未说明", 0) + 1
        return out

    def answer_rate_curve(self) -> list[tuple[float, int, int]]:
        """Cumulative (slot end, offered, answered) over the day, one point per quarter hour."""
        points, offered, answered = [], 0, 0
        for start in sorted(self.timeline):
            o, a = self.timeline[start]
            offered += o
            answered += a
            points.append((float(start + TIMELINE_SLOT), offered, answered))
        return points

    # --- persistence -------------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION, "day": self.day, "last_ts": self.last_ts,
            "today": {q: f.to_state() for q, f in self.today.items()},
            "totals": {q: f.to_state() for q, f in self.totals.items()},
            "timeline": {str(k): v for k, v in self.timeline.items()},
            "waiting": {k: list(v) for k, v in self.waiting.items()},
            "answered_ids": dict(self.answered_ids),
            "agents": {k: [v.state, v.since, v.reason, v.call_id] for k, v in self.agents.items()},
            "acw_hist": self.acw_hist, "acw_sum": self.acw_sum, "acw_today": self.acw_today,
            "alerts_total": self.alerts_total, "recent_alerts": list(self.recent_alerts),
            "events": self.events,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"metrics state version {state.get('version')!r} is not {STATE_VERSION}")
        self.day, self.last_ts = state["day"], float(state["last_ts"])
        self.today = {q: QueueFigures.from_state(f) for q, f in state["today"].items()}
        self.totals = {q: QueueFigures.from_state(f) for q, f in state["totals"].items()}
        self.timeline = {int(k): list(v) for k, v in state["timeline"].items()}
        self.waiting = {k: (v[0], float(v[1])) for k, v in state["waiting"].items()}
        self.answered_ids = dict(state["answered_ids"])
        self.agents = {k: AgentView(v[0], float(v[1]), v[2], v[3]) for k, v in state["agents"].items()}
        self.acw_hist = {k: list(v) for k, v in state["acw_hist"].items()}
        self.acw_sum = dict(state["acw_sum"])
        self.acw_today = {k: list(v) for k, v in state["acw_today"].items()}
        self.alerts_total = dict(state["alerts_total"])
        self.recent_alerts = deque(state["recent_alerts"], maxlen=RECENT_ALERTS)
        self.events = dict(state["events"])
