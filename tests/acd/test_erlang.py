"""Erlang-C closed form against published tables; Erlang-A against Erlang C (infinite patience) and against
the exact case θ = μ (then the number in system is Poisson, so abandonment has a closed form)."""

from __future__ import annotations

import math

import pytest
from scipy.stats import poisson

from acd.erlang import agents_needed, day_plan, erlang_a, erlang_b, erlang_c, erlang_c_service_level


@pytest.mark.parametrize(("servers", "load", "published"), [
    (11, 10.0, 0.6821),   # classic Erlang C table: 10 Erlangs on 11 agents
    (3, 2.0, 0.4444),     # 2 Erlangs on 3 agents: 4/9
    (2, 1.0, 0.3333),     # M/M/2 at ρ = 0.5: 1/3
])
def test_erlang_c_published(servers: int, load: float, published: float) -> None:
    assert erlang_c(servers, load) == pytest.approx(published, abs=5e-5)


def test_erlang_b_published() -> None:
    assert erlang_b(10, 5.0) == pytest.approx(0.01838, abs=1e-5)    # Erlang B table: 5 E on 10 lines


@pytest.mark.parametrize(("agents", "per_hour", "aht"), [(11, 150, 240), (43, 600, 240), (5, 30, 300)])
def test_erlang_a_tends_to_erlang_c(agents: int, per_hour: float, aht: float) -> None:
    lam = per_hour / 3600
    a = erlang_a(agents, lam, aht, patience=1e9)
    assert a.p_wait == pytest.approx(erlang_c(agents, lam * aht), abs=1e-5)
    assert a.service_level == pytest.approx(erlang_c_service_level(agents, lam * aht, aht, 15), abs=1e-5)
    assert a.p_abandon < 1e-5


@pytest.mark.parametrize(("agents", "load"), [(5, 4.0), (10, 12.0), (30, 28.0)])
def test_erlang_a_with_patience_equal_to_handling_time(agents: int, load: float) -> None:
    aht = 200.0
    lam = load / aht
    a = erlang_a(agents, lam, aht, patience=aht)
    ks = range(agents, int(load * 4 + 60))
    expected_queue = sum((k - agents) * poisson.pmf(k, load) for k in ks)
    assert a.mean_queue == pytest.approx(expected_queue, rel=1e-6)
    assert a.p_abandon == pytest.approx(expected_queue / load, rel=1e-6)   # θ·E[Q]/λ with θ = μ


def test_more_agents_never_hurt_and_overload_is_finite() -> None:
    lam, aht, patience = 300 / 3600, 240.0, 90.0
    rates = [erlang_a(n, lam, aht, patience).p_answered for n in range(10, 30)]
    assert rates == sorted(rates)
    overloaded = erlang_a(5, lam, aht, patience)          # 20 Erlangs on 5 agents: stable thanks to patience
    assert 0 < overloaded.p_answered < 0.5 and math.isfinite(overloaded.mean_queue)


def test_advisor_gives_the_fewest_agents() -> None:
    lam, aht, patience = 600 / 3600, 240.0, 90.0
    best = agents_needed(lam, aht, patience, answer_rate=0.95, service_level=0.8)
    assert best.p_answered >= 0.95 and best.service_level >= 0.8
    fewer = erlang_a(best.agents - 1, lam, aht, patience)
    assert fewer.p_answered < 0.95 or fewer.service_level < 0.8
    assert agents_needed(0.0, aht, patience).agents == 0


def test_day_plan_by_half_hour() -> None:
    forecast = [0.0] * 16 + [120.0] * 4 + [400.0] * 8 + [250.0] * 12 + [60.0] * 8
    rows = day_plan(forecast, 240.0, 90.0)
    assert len(rows) == 48 and rows[0].slot == "00:00" and rows[17].slot == "08:30"
    assert rows[0].agents == 0 and rows[20].agents > rows[16].agents > 0
    with pytest.raises(ValueError):
        day_plan([1.0] * 47, 240.0, 90.0)
    with pytest.raises(ValueError):
        erlang_a(3, 0.1, 0, 90)


def test_long_queues_use_the_sparse_truncated_chain_without_changing_the_answer() -> None:
    """Patient callers at a near-critical load: thousands of queue states. The service level computed on the
    truncated sparse chain equals the dense matrix exponential over the whole chain."""
    import numpy as np
    from scipy.linalg import expm

    from acd.erlang import DENSE_UP_TO, _answered_within, _stationary

    n, lam, aht, patience, t = 100, 10.0, 10.0, 300.0, 15.0
    mu, theta = 1 / aht, 1 / patience
    ahead = _stationary(n, lam, mu, theta)[n:]
    assert len(ahead) > 2 * DENSE_UP_TO
    size = len(ahead)
    g = np.zeros((size + 1, size + 1))
    for i in range(size):
        g[i, i] = -(n * mu + i * theta + theta)
        g[i, i - 1 if i else size] = n * mu + i * theta
    dense = float((ahead @ expm(g * t)[:size, :])[size])
    assert _answered_within(n, mu, theta, ahead, t) == pytest.approx(dense, rel=1e-9, abs=1e-12)
    assert erlang_a(n, lam, aht, patience, t).service_level == pytest.approx(
        float(_stationary(n, lam, mu, theta)[:n].sum()) + dense, rel=1e-9)
