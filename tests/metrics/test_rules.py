"""metrics/alert_rules.yml and the Grafana dashboard: valid files, and every expression names only metrics
the exporter exposes (a renamed metric must break this test, not silently blank a panel or an alert)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from metrics.engine import MetricsEngine
from metrics.exporter import ExternalFigures, exposed_names, make_registry
from tests.metrics.test_engine_traces import SKILLS, T0, call_events, fold

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "metrics" / "alert_rules.yml"
DASHBOARD = ROOT / "metrics" / "grafana" / "hotline-dashboard.json"

PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "by", "without", "and", "or", "unless", "rate", "increase",
                "irate", "histogram_quantile", "on", "ignoring", "group_left", "group_right", "abs", "clamp_min",
                "delta", "deriv", "topk", "bottomk", "offset", "bool", "time", "vector", "scalar"}
PROMETHEUS_OWN = {"up"}   # Prometheus' own series for the scrape target


def promql_metric_names(expr: str) -> set[str]:
    """Identifiers of an expression that are metric names (label matchers, grouping labels, durations,
    strings and numbers removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", r"\1", text)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return {w for w in words if w not in PROMQL_WORDS}


@pytest.fixture(scope="module")
def exposed() -> set[str]:
    engine = fold(call_events(), MetricsEngine(5, 15, SKILLS))
    for n, (agent, state, previous) in enumerate([("1001", "wrap_up", "on_call"), ("1001", "ready", "wrap_up"),
                                                  ("1002", "not_ready", "ready")]):
        engine.apply("acd", {"agent_id": agent, "state": state, "previous": previous, "reason": "培训",
                             "ts": T0 + n, "seconds_in_previous": 5})
    engine.apply("supervisors", {"type": "order.overdue", "ts": T0})
    external = ExternalFigures(1.0, {"complaint": 1}, {"complaint": 2}, 0.9, 10, {"5": 1}, T0)
    return exposed_names(make_registry(engine, external, clock=lambda: T0 + 100)[0])


def test_alert_rules_are_valid_and_name_exposed_metrics(exposed: set[str]) -> None:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert {r["alert"] for r in rules} >= {"HotlineAnswerRateLow", "HotlineLongWait", "HotlineAmiLinkDown",
                                           "HotlineOrdersGoingOverdue"}
    for group in document["groups"]:
        assert set(group) <= {"name", "rules", "interval", "limit"} and group["name"]
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["expr"].count("(") == rule["expr"].count(")")
        names = promql_metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= exposed | PROMETHEUS_OWN, (rule["alert"], names - exposed)


def test_dashboard_is_valid_and_names_exposed_metrics(exposed: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["panels"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    seen: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = promql_metric_names(target["expr"])
            assert names and names <= exposed, (panel["title"], names - exposed)
            seen |= names
    # the wallboard's figures are all on the dashboard too
    assert {"hotline_answer_rate_today", "hotline_service_level_today", "hotline_calls_waiting",
            "hotline_longest_wait_seconds", "hotline_agents", "hotline_ami_link_up", "hotline_orders_overdue"} <= seen


def test_the_name_check_catches_a_wrong_name() -> None:
    assert promql_metric_names('sum by (queue) (increase(hotline_calls_answerd_total{queue="a"}[15m]))') == \
        {"hotline_calls_answerd_total"}
