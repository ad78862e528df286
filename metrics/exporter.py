"""The Prometheus exporter: a custom collector that reads the engine at scrape time.

Why a collector and not prometheus_client Counter/Histogram objects updated per event: the engine's
state is what is persisted and rebuilt after a restart; a collector exposes exactly that state, so the
`_total` counters and histograms continue across restarts instead of starting again from zero (and there
is one copy of every figure, not two to keep in step).

Conventions: `_total` counters and `_seconds` histograms are all-time (persisted); `_today` gauges are
the hotline's calendar day (China Standard Time) and start again at midnight.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics.engine import ACW_BUCKETS, AGENT_STATES, TALK_BUCKETS, WAIT_BUCKETS, MetricsEngine, QueueFigures

# every metric name the exporter exposes (tests check alert rules and the dashboard against this list)
COUNTERS = {
    "hotline_calls_offered": "Calls offered to a queue (short abandons excluded)",
    "hotline_calls_answered": "Calls answered by an agent",
    "hotline_calls_answered_within_sl": "Calls answered within service_level_seconds (GB/T 33358)",
    "hotline_calls_abandoned": "Calls abandoned in the queue after short_abandon_seconds or more",
    "hotline_calls_short_abandoned": "Calls abandoned within short_abandon_seconds (not offered)",
    "hotline_calls_unanswered": "Calls that left the queue unanswered (queue timeout)",
    "hotline_calls_transferred": "Answered calls handed to 110/119/120 or another number",
}
TODAY_GAUGES = {
    "hotline_calls_offered_today": ("offered", "Calls offered today"),
    "hotline_calls_answered_today": ("answered", "Calls answered today"),
    "hotline_calls_abandoned_today": ("abandoned", "Calls abandoned today (not short)"),
    "hotline_calls_unanswered_today": ("unanswered", "Calls that timed out in the queue today"),
}


def _rate(value: float | None) -> float:
    return float("nan") if value is None else value


@dataclass
class ExternalFigures:
    """Figures the service reads from elsewhere (database, AMI link) and hands to the collector."""

    ami_link_up: float | None = None
    orders_overdue: dict[str, int] = field(default_factory=dict)     # category → open orders past a deadline
    orders_today: dict[str, int] = field(default_factory=dict)       # category → orders created today
    kb_one_time_rate_today: float | None = None
    kb_consultations_today: int = 0
    satisfaction_today: dict[str, int] = field(default_factory=dict)  # score "1".."5" → answers today
    refreshed_at: float = 0.0


class EngineCollector(Collector):
    def __init__(self, engine: MetricsEngine, external: ExternalFigures | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.external = external or ExternalFigures()
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        engine, now = self.engine, self.clock()
        engine.roll(now)
        labels = ["queue", "skill"]
        fields = {"hotline_calls_offered": "offered", "hotline_calls_answered": "answered",
                  "hotline_calls_answered_within_sl": "answered_in_sl", "hotline_calls_abandoned": "abandoned",
                  "hotline_calls_short_abandoned": "short_abandoned", "hotline_calls_unanswered": "unanswered",
                  "hotline_calls_transferred": "transferred"}
        for name, attr in fields.items():
            family = CounterMetricFamily(name, COUNTERS[name], labels=labels)
            for queue, fig in sorted(engine.totals.items()):
                family.add_metric([queue, engine.skill_of(queue)], getattr(fig, attr))
            yield family
        yield from self._histograms(labels)

        for name, (attr, doc) in TODAY_GAUGES.items():
            family = GaugeMetricFamily(name, doc, labels=labels)
            for queue, fig in sorted(engine.today.items()):
                family.add_metric([queue, engine.skill_of(queue)], getattr(fig, attr))
            yield family
        yield from self._rates(labels)
        yield from self._live(labels, now)
        yield from self._external()
        events = CounterMetricFamily("hotline_metrics_events", "Bus events folded by the metrics engine",
                                     labels=["stream"])
        for stream, count in sorted(engine.events.items()):
            events.add_metric([stream], count)
        yield events

    def _histograms(self, labels: list[str]) -> Iterator[Metric]:
        engine = self.engine
        specs = (("hotline_call_wait_seconds", "Wait of answered calls in the queue", WAIT_BUCKETS, "wait_hist",
                  "wait_answered_sum"),
                 ("hotline_call_abandon_wait_seconds", "Wait of abandoned calls before hanging up", WAIT_BUCKETS,
                  "abandon_hist", "abandon_wait_sum"),
                 ("hotline_call_talk_seconds", "Talk time of answered calls", TALK_BUCKETS, "talk_hist", "talk_sum"))
        for name, doc, bounds, hist_attr, sum_attr in specs:
            family = HistogramMetricFamily(name, doc, labels=labels)
            for queue, fig in sorted(engine.totals.items()):
                family.add_metric([queue, engine.skill_of(queue)], _cumulative(bounds, getattr(fig, hist_attr)),
                                  getattr(fig, sum_attr))
            yield family
        acw = HistogramMetricFamily("hotline_after_call_work_seconds", "After-call work (话后整理) per wrap-up",
                                    labels=["group"])
        for group, hist in sorted(engine.acw_hist.items()):
            acw.add_metric([group], _cumulative(ACW_BUCKETS, hist), engine.acw_sum.get(group, 0.0))
        yield acw

    def _rates(self, labels: list[str]) -> Iterator[Metric]:
        engine = self.engine
        answer = GaugeMetricFamily("hotline_answer_rate_today", "Answered / offered today (接通率)", labels=labels)
        level = GaugeMetricFamily("hotline_service_level_today", "Answered within the service level / offered today",
                                  labels=labels)
        asa = GaugeMetricFamily("hotline_average_speed_of_answer_seconds_today", "Mean wait of calls answered today",
                                labels=labels)
        talk = GaugeMetricFamily("hotline_average_talk_seconds_today", "Mean talk time of calls ended today",
                                 labels=labels)
        rows: list[tuple[str, str, QueueFigures]] = [(q, engine.skill_of(q), f)
                                                     for q, f in sorted(engine.today.items())]
        rows += [("all", skill, fig) for skill, fig in sorted(engine.skill_totals().items())]
        rows.append(("all", "all", engine.day_totals()))
        for queue, skill, fig in rows:
            answer.add_metric([queue, skill], _rate(fig.answer_rate))
            level.add_metric([queue, skill], _rate(fig.service_level))
            asa.add_metric([queue, skill], _rate(fig.average_speed_of_answer))
            talk.add_metric([queue, skill], _rate(fig.average_talk))
        yield from (answer, level, asa, talk)
        acw = GaugeMetricFamily("hotline_average_after_call_work_seconds_today", "Mean 话后整理 today",
                                labels=["group"])
        for group, (count, seconds) in sorted(engine.acw_today.items()):
            acw.add_metric([group], seconds / count if count else float("nan"))
        yield acw

    def _live(self, labels: list[str], now: float) -> Iterator[Metric]:
        engine = self.engine
        waiting = GaugeMetricFamily("hotline_calls_waiting", "Calls waiting in the queue now", labels=labels)
        longest = GaugeMetricFamily("hotline_longest_wait_seconds", "Longest current wait in the queue",
                                    labels=labels)
        by_queue = engine.waiting_by_queue(now)
        for queue in sorted(set(engine.today) | set(engine.totals) | set(by_queue)):
            count, wait = by_queue.get(queue, (0, 0.0))
            waiting.add_metric([queue, engine.skill_of(queue)], count)
            longest.add_metric([queue, engine.skill_of(queue)], wait)
        yield waiting
        yield longest
        agents = GaugeMetricFamily("hotline_agents", "Seats by state (experts separately)", labels=["group", "state"])
        counts = engine.agents_by_state()
        for group in ("agent", "expert"):
            for state in AGENT_STATES:
                agents.add_metric([group, state], counts.get((group, state), 0))
        yield agents
        paused = GaugeMetricFamily("hotline_agents_paused", "Seats 示忙 by pause reason", labels=["reason"])
        for reason, count in sorted(engine.paused_by_reason().items()):
            paused.add_metric([reason], count)
        yield paused
        alerts = CounterMetricFamily("hotline_supervisor_events", "Alerts and guard actions for shift managers",
                                     labels=["type"])
        for kind, count in sorted(engine.alerts_total.items()):
            alerts.add_metric([kind], count)
        yield alerts

    def _external(self) -> Iterator[Metric]:
        ext = self.external
        link = GaugeMetricFamily("hotline_ami_link_up", "1 while the AMI link to Asterisk is logged in")
        link.add_metric([], float("nan") if ext.ami_link_up is None else ext.ami_link_up)
        yield link
        overdue = GaugeMetricFamily("hotline_orders_overdue", "Open work orders past a deadline (红牌)",
                                    labels=["category"])
        for category, count in sorted(ext.orders_overdue.items()):
            overdue.add_metric([category], count)
        yield overdue
        created = GaugeMetricFamily("hotline_orders_created_today", "Work orders created today", labels=["category"])
        for category, count in sorted(ext.orders_today.items()):
            created.add_metric([category], count)
        yield created
        kb = GaugeMetricFamily("hotline_kb_one_time_answer_rate_today", "Consultations answered on the call today")
        kb.add_metric([], _rate(ext.kb_one_time_rate_today))
        yield kb
        sat = GaugeMetricFamily("hotline_satisfaction_today", "Satisfaction answers today by score", labels=["score"])
        for score, count in sorted(ext.satisfaction_today.items()):
            sat.add_metric([score], count)
        yield sat
        fresh = GaugeMetricFamily("hotline_metrics_db_refreshed_timestamp_seconds",
                                  "When the database figures were last read")
        fresh.add_metric([], ext.refreshed_at)
        yield fresh


def _cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    out, running = [], 0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), running))
    return out


def make_registry(engine: MetricsEngine, external: ExternalFigures | None = None,
                  clock: Callable[[], float] = time.time) -> tuple[CollectorRegistry, EngineCollector]:
    registry = CollectorRegistry(auto_describe=False)
    collector = EngineCollector(engine, external, clock)
    registry.register(collector)
    return registry, collector


def exposed_names(registry: CollectorRegistry) -> set[str]:
    """Metric family names and their sample names (`_bucket`, `_count`, `_sum`, `_total`) as exposed."""
    names: set[str] = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def metrics_asgi(registry: CollectorRegistry) -> Any:
    """A tiny ASGI app: GET /metrics → the exposition text (served in the service's own event loop, so a
    scrape never reads the engine from another thread)."""
    from prometheus_client import CONTENT_TYPE_LATEST

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] not in ("/metrics", "/"):
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"not found\n"})
            return
        body = generate_latest(registry)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode())]})
        await send({"type": "http.response.body", "body": body})

    return app
