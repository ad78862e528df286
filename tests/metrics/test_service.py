"""The metrics role on a real Redis: events from the bus streams, the state persisted with the cursors, a
restart (clean stop, and a crash between two saves) that rebuilds the very figures of an uninterrupted
run, and the exporter scraped over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import generate_latest

from hotline.bus import EventBus
from hotline.redis_server import free_port
from metrics.engine import MetricsEngine
from metrics.exporter import make_registry
from metrics.service import MetricsService, serve_exporter
from tests.metrics.test_engine_traces import SKILLS, T0, call_events, fold

NOW = T0 + 3000


def agent_events() -> list[dict]:
    out = []
    for n, (agent, state, previous, reason) in enumerate([("1001", "ready", "logged_out", ""),
                                                           ("1002", "not_ready", "logged_out", "培训"),
                                                           ("2001", "ready", "logged_out", ""),
                                                           ("1001", "on_call", "ready", ""),
                                                           ("1001", "wrap_up", "on_call", "话后整理"),
                                                           ("1001", "ready", "wrap_up", "")]):
        out.append({"type": "agent.x", "agent_id": agent, "state": state, "previous": previous, "reason": reason,
                    "ts": T0 + 10 * n, "seconds_in_previous": 10.0})
    return out


GUARD = {"type": "guard.alert", "queue": "hotline-general", "rule": "answer-rate-low", "metric": "answer_rate",
         "value": 0.875, "threshold": 0.95, "offered": 8, "answered": 7, "detail": "supervisors alerted",
         "ts": T0 + 900}


@pytest.fixture
async def bus(redis_url: str):  # type: ignore[no-untyped-def]
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield EventBus(client, prefix=f"m{uuid.uuid4().hex[:8]}:")
    await client.aclose()


def new_service(bus: EventBus) -> MetricsService:
    return MetricsService(bus, MetricsEngine(5, 15, SKILLS), persist_interval=0.05, block_ms=50,
                          clock=lambda: NOW)


async def until_folded(service: MetricsService, calls: int, acd: int = 0, supervisors: int = 0) -> None:
    async with asyncio.timeout(10):
        while (service.engine.events["calls"], service.engine.events["acd"],
               service.engine.events["supervisors"]) != (calls, acd, supervisors):
            await asyncio.sleep(0.02)


def expected_engine(calls: list[dict], agents: list[dict], alerts: list[dict]) -> MetricsEngine:
    engine = fold(calls)
    for event in agents:
        engine.apply("acd", event)
    for event in alerts:
        engine.apply("supervisors", event)
    return engine


async def test_clean_restart_rebuilds_the_uninterrupted_figures(bus: EventBus) -> None:
    calls, agents = call_events(), agent_events()
    half = len(calls) // 2
    for event in calls[:half]:
        await bus.publish("calls", event)
    for event in agents[:3]:
        await bus.publish("acd", event)

    first = new_service(bus)
    await first.start()
    await until_folded(first, half, 3)
    await first.stop()                  # saves state + cursors

    for event in calls[half:]:
        await bus.publish("calls", event)
    for event in agents[3:]:
        await bus.publish("acd", event)
    await bus.publish("supervisors", GUARD)

    second = new_service(bus)
    await second.start()
    assert second.engine.events["calls"] == half   # restored, not re-read
    await until_folded(second, len(calls), len(agents), 1)
    await second.stop()

    whole = expected_engine(calls, agents, [GUARD])
    assert second.engine.to_state() == whole.to_state()
    assert second.engine.today["hotline-general"].answered == 7
    snapshot = await second.store.wallboard()
    assert snapshot is not None
    assert (snapshot["total"]["offered"], snapshot["total"]["answered"], snapshot["total"]["band"]) == (8, 7, "red")
    assert snapshot["alerts"][0]["type"] == "guard.alert"
    assert {a["agent_id"]: a["state"] for a in snapshot["agents"]} == {"1001": "ready", "1002": "not_ready",
                                                                       "2001": "ready"}


async def test_crash_between_saves_loses_and_doubles_nothing(bus: EventBus) -> None:
    async with asyncio.timeout(30):
        await crash_and_reborn(bus)


async def crash_and_reborn(bus: EventBus) -> None:
    calls = call_events()
    for event in calls:
        await bus.publish("calls", event)
    crashed = new_service(bus)
    crashed.persist_interval = 3600     # no periodic save after the first fold: the crash loses the memory
    await crashed.start()
    await until_folded(crashed, len(calls))
    await crashed.save()                # one save in the middle of the day...
    for event in calls[:5]:             # ...then more calls, folded but never saved
        await bus.publish("calls", {**event, "call_id": "x" + event["call_id"], "ts": event["ts"] + 1000})
    await until_folded(crashed, len(calls) + 5)
    await crashed.abort()               # killed: no stop(), no final save

    reborn = new_service(bus)
    await reborn.start()
    await until_folded(reborn, len(calls) + 5)
    await reborn.stop()
    extra = [{**e, "call_id": "x" + e["call_id"], "ts": e["ts"] + 1000} for e in calls[:5]]
    assert reborn.engine.to_state() == fold(calls + extra).to_state()


async def test_exporter_serves_the_engine_over_http(bus: EventBus) -> None:
    calls = call_events()
    for event in calls:
        await bus.publish("calls", event)
    service = new_service(bus)
    service.on_link_state(True)
    await service.start()
    await until_folded(service, len(calls))
    port = free_port()
    server = await serve_exporter(service.registry, "127.0.0.1", port)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.02)
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"http://127.0.0.1:{port}/metrics")
            missing = await client.get(f"http://127.0.0.1:{port}/nothing")
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await service.stop()
    assert resp.status_code == 200 and missing.status_code == 404
    assert resp.text.startswith("# HELP")
    assert 'hotline_calls_offered_total{queue="hotline-general",skill="general"} 8.0' in resp.text
    assert 'hotline_answer_rate_today{queue="all",skill="all"} 0.875' in resp.text
    assert "hotline_ami_link_up 1.0" in resp.text
    expected = make_registry(fold(calls), service.external, clock=lambda: NOW)[0]
    events_line = [line for line in resp.text.splitlines() if not line.startswith("hotline_metrics_events")]
    assert events_line == [line for line in generate_latest(expected).decode().splitlines()
                           if not line.startswith("hotline_metrics_events")]


async def test_run_role_serves_the_exporter_on_its_port(bus: EventBus, redis_url: str, db_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from hotline.runtime import RoleContext
    from hotline.settings import Settings
    from metrics.service import run_role

    port = free_port()
    monkeypatch.setenv("HOTLINE_METRICS_PORT", str(port))
    monkeypatch.setenv("HOTLINE_METRICS_HOST", "127.0.0.1")
    monkeypatch.setenv("HOTLINE_METRICS_AMI_PROBE", "0")
    ctx = RoleContext(settings=Settings(database_url=db_url, redis_url=redis_url), redis_url=redis_url)
    ctx._bus = bus
    for event in call_events():
        await bus.publish("calls", event)
    role = asyncio.create_task(run_role(ctx))
    try:
        async with asyncio.timeout(15), httpx.AsyncClient() as client:
            while True:
                try:
                    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
                    continue
                if 'hotline_calls_offered_total{queue="hotline-general",skill="general"} 8.0' in text and \
                        "hotline_metrics_db_refreshed_timestamp_seconds 0.0" not in text:   # the database was read
                    break
                await asyncio.sleep(0.05)
        assert "hotline_ami_link_up NaN" in text          # no probe: unknown, not "down"
    finally:
        role.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await role
    saved = await bus.redis.get(bus.prefix + "metrics:state")
    assert saved and '"hotline-general"' in saved     # the role saved its state on the way out
