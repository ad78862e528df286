"""The metrics exporter's cost per call event.

Events: a simulated day (pbxsim, virtual time) through the real call tracker, folded in one process:
1. bare fold: `MetricsEngine.apply` only (the figures, no prometheus_client at all);
2. the exporter as built: the same fold, plus a scrape (`generate_latest` of the collector) every
   SCRAPE_EVERY events, i.e. what Prometheus' 15 s scrape costs at the given event rate, amortised;
3. for comparison, the usual way: prometheus_client Counter/Histogram/Gauge objects updated on every event
   beside the fold (what the collector design avoids).
Best of ROUNDS, process CPU time.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bench.common import write_results
from metrics.engine import WAIT_BUCKETS, MetricsEngine, classify, wait_of
from metrics.exporter import make_registry

ROUNDS = 5
SCRAPE_EVERY = 1000   # ~15 s of a busy centre's call events (≈ 60 events/s)


def day_of_events() -> list[dict[str, Any]]:
    from bridge.calls.tracker import CallTracker
    from hotline.ami.frames import Frame
    from pbxsim import SimConfig, Simulator, TrafficModel
    from pbxsim.distributions import Exponential, LogNormal

    sim = Simulator(SimConfig(agi_url=None), virtual=True, start_time=1_795_222_800.0)
    tracker = CallTracker()
    events: list[dict[str, Any]] = []
    sim.pbx.hub.subscribe(lambda pairs: events.extend(tracker.feed(Frame(list(pairs)), sim.clock.now())))
    for n in range(12):
        sim.add_member(f"PJSIP/{1001 + n}", f"agent-{1001 + n}")
    sim.run_day(TrafficModel(rate=1 / 15, talk_time=LogNormal(150, 60), patience=Exponential(60), seed=3),
                hours=8, drain=900)
    return events


def bare(events: list[dict[str, Any]]) -> float:
    engine = MetricsEngine()
    start = time.process_time()
    for event in events:
        engine.apply("calls", event)
    return time.process_time() - start


def with_collector(events: list[dict[str, Any]]) -> tuple[float, int]:
    engine = MetricsEngine()
    registry, _ = make_registry(engine, clock=lambda: events[-1]["ts"])
    size = 0
    start = time.process_time()
    for n, event in enumerate(events, 1):
        engine.apply("calls", event)
        if n % SCRAPE_EVERY == 0:
            size = len(generate_latest(registry))
    return time.process_time() - start, size


def with_client_objects(events: list[dict[str, Any]]) -> float:
    engine = MetricsEngine()
    registry = CollectorRegistry()
    labels = ["queue"]
    offered = Counter("x_calls_offered", "", labels, registry=registry)
    answered = Counter("x_calls_answered", "", labels, registry=registry)
    abandoned = Counter("x_calls_abandoned", "", labels, registry=registry)
    wait = Histogram("x_wait_seconds", "", labels, buckets=WAIT_BUCKETS, registry=registry)
    talk = Histogram("x_talk_seconds", "", labels, registry=registry)
    waiting = Gauge("x_calls_waiting", "", labels, registry=registry)
    start = time.process_time()
    for event in events:
        engine.apply("calls", event)
        call, kind = event["call"], event["type"]
        queue = call.get("queue") or ""
        if kind == "call.queued":
            waiting.labels(queue).inc()
        elif kind == "call.answered":
            waiting.labels(queue).dec()
            offered.labels(queue).inc()
            answered.labels(queue).inc()
            wait.labels(queue).observe(wait_of(call))
        elif kind == "call.ended":
            outcome = classify(call, engine.short_abandon_seconds)
            if outcome == "abandoned":
                waiting.labels(queue).dec()
                offered.labels(queue).inc()
                abandoned.labels(queue).inc()
            elif outcome == "answered" and call.get("talk_seconds") is not None:
                talk.labels(queue).observe(call["talk_seconds"])
    return time.process_time() - start


def main() -> dict[str, Any]:
    events = day_of_events()
    n = len(events)
    bare_s = min(bare(events) for _ in range(ROUNDS))
    collector_runs = [with_collector(events) for _ in range(ROUNDS)]
    collector_s = min(s for s, _ in collector_runs)
    objects_s = min(with_client_objects(events) for _ in range(ROUNDS))
    engine = MetricsEngine()
    for event in events:
        engine.apply("calls", event)
    registry, _ = make_registry(engine, clock=lambda: events[-1]["ts"])
    start = time.process_time()
    for _ in range(50):
        generate_latest(registry)
    scrape_ms = (time.process_time() - start) / 50 * 1000
    figures = {
        "call_events": n,
        "calls_offered": engine.day_totals().offered,
        "bare_fold_us_per_event": bare_s / n * 1e6,
        "exporter_us_per_event": collector_s / n * 1e6,
        "exporter_overhead_us_per_event": (collector_s - bare_s) / n * 1e6,
        "scrape_every_events": SCRAPE_EVERY,
        "scrape_ms": scrape_ms,
        "scrape_bytes": collector_runs[0][1],
        "client_objects_us_per_event": objects_s / n * 1e6,
        "client_objects_overhead_us_per_event": (objects_s - bare_s) / n * 1e6,
        "events_per_s_exporter": n / collector_s,
        "rounds": ROUNDS,
    }
    write_results("metrics_exporter", figures)
    return figures


if __name__ == "__main__":
    main()
