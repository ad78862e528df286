"""The 看板 in Debian's headless Chromium (Playwright) during a simulated load: a real console serving the
metrics router, the metrics role (engine, Redis state, exporter on its own port) fed with a pbxsim run
through the real call tracker. The figures on the wall must move as calls arrive and match the exporter."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.bus import EventBus
from hotline.redis_server import free_port
from metrics.service import MetricsService, engine_for, serve_exporter
from tests.console.server import PASSWORD, ConsoleServer
from tests.metrics.test_pbxsim_day import simulated_events
from tests.metrics.test_reports_api import fill

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed at /usr/bin/chromium"),
]


class MetricsRole:
    """The metrics role in a thread of its own (Playwright's sync API owns this thread's event loop)."""

    def __init__(self, redis_url: str, prefix: str, session_factory: Any) -> None:
        self.redis_url, self.prefix, self.session_factory = redis_url, prefix, session_factory
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.now = 0.0
        self.port = free_port()
        self.thread.start()
        self.call(self._start())

    def call(self, coro: Any) -> Any:
        future: Future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=30)

    async def _start(self) -> None:
        from hotline.settings import Settings

        self.bus = EventBus.from_url(self.redis_url, self.prefix)
        self.service = MetricsService(self.bus, engine_for(Settings()), persist_interval=0.1, block_ms=50,
                                      session_factory=self.session_factory, db_interval=0.2, clock=lambda: self.now)
        self.service.on_link_state(True)
        await self.bus.redis.delete(self.prefix + "metrics:state")
        await self.service.start()
        self.server = await serve_exporter(self.service.registry, "127.0.0.1", self.port)
        self.serving = asyncio.ensure_future(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.02)

    def publish(self, stream: str, events: list[dict]) -> None:
        async def go() -> None:
            for event in events:
                self.now = max(self.now, float(event["ts"]))
                await self.bus.publish(stream, event)
        self.call(go())

    def folded(self) -> int:
        return self.service.engine.events["calls"]

    def scrape(self) -> dict[str, float]:
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        out = {}
        for line in text.splitlines():
            match = re.match(r'^(hotline_\w+)\{queue="all",skill="all"\} (\S+)$', line)
            if match:
                out[match.group(1)] = float(match.group(2))
        out["waiting"] = sum(float(v) for v in re.findall(r'^hotline_calls_waiting\{[^}]*\} (\S+)$', text, re.M))
        out["offered"] = sum(float(v) for v in re.findall(r'^hotline_calls_offered_today\{[^}]*\} (\S+)$', text, re.M))
        out["answered"] = sum(float(v) for v in re.findall(r'^hotline_calls_answered_today\{[^}]*\} (\S+)$', text,
                                                           re.M))
        return out

    def stop(self) -> None:
        async def go() -> None:
            self.server.should_exit = True
            await self.serving
            await self.service.stop()
            await self.bus.redis.aclose()
        self.call(go())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def wait_folded(role: MetricsRole, count: int) -> None:
    import time

    deadline = time.monotonic() + 20
    while role.folded() < count:
        assert time.monotonic() < deadline, f"engine folded {role.folded()} of {count}"
        time.sleep(0.05)


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def test_wallboard_moves_with_the_load_and_matches_the_exporter(console: ConsoleServer, redis_url: str,  # type: ignore[no-untyped-def]
                                                                db_session_factory, artifacts_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    console.create_users()
    events, _ = simulated_events()
    waiting_cut = next(i for i, e in enumerate(events) if i > len(events) // 3 and e["type"] == "call.queued") + 1
    fill(db_session_factory)   # orders, deadlines, KB consultations, satisfaction (test_reports_api)
    role = MetricsRole(redis_url, console.prefix, db_session_factory)
    agents = [{"type": "agent.member_added", "agent_id": a, "state": s, "previous": "logged_out", "reason": r,
               "ts": events[0]["ts"]} for a, s, r in (("1001", "ready", ""), ("1002", "not_ready", "培训"),
                                                      ("1003", "on_call", ""), ("2001", "ready", ""))]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            try:
                page.goto(console.url + "/login")
                page.fill("#username", "super1")
                page.fill("#password", PASSWORD)
                page.click("#login-submit")
                page.wait_for_url(re.compile(r".*/supervisor.*"))
                page.goto(console.url + "/supervisor/wallboard")
                expect(page.locator("#wb-status")).to_have_text("已连接")

                # first part of the day, ending with a caller still waiting
                role.publish("acd", agents)
                role.publish("calls", events[:waiting_cut])
                wait_folded(role, waiting_cut)
                first = role.scrape()
                assert first["waiting"] >= 1
                expect(page.locator("#wb-offered")).to_have_text(str(int(first["offered"])))
                expect(page.locator("#wb-answered")).to_have_text(str(int(first["answered"])))
                expect(page.locator("#wb-rate")).to_have_text(pct(first["hotline_answer_rate_today"]))
                expect(page.locator("#wb-sl")).to_have_text(pct(first["hotline_service_level_today"]))
                expect(page.locator("#wb-waiting")).to_have_text(str(int(first["waiting"])))
                expect(page.locator("#wb-queues tbody tr[data-queue='hotline-general']")).to_be_visible()
                expect(page.locator("#wb-agents .agent")).to_have_count(4)
                expect(page.locator("#wb-agents .agent[data-agent='1002'] .reason")).to_have_text("培训")
                expect(page.locator("#wb-agents .agent[data-agent='2001']")).to_have_class(re.compile("expert"))
                expect(page.locator("#wb-link")).to_have_text("AMI 正常")
                # from the database: 3 orders today, KB 3 of 4 answered on the call, satisfaction 5 and 3
                expect(page.locator("#wb-orders-today")).to_have_text("3")
                expect(page.locator("#wb-kb-rate")).to_have_text("75.0%")
                expect(page.locator("#wb-satisfied")).to_have_text("50.0%")

                # the rest of the day: the figures move
                role.publish("calls", events[waiting_cut:])
                wait_folded(role, len(events))
                final = role.scrape()
                assert final["offered"] > first["offered"] and final["waiting"] == 0
                expect(page.locator("#wb-offered")).to_have_text(str(int(final["offered"])))
                expect(page.locator("#wb-answered")).to_have_text(str(int(final["answered"])))
                expect(page.locator("#wb-rate")).to_have_text(pct(final["hotline_answer_rate_today"]))
                expect(page.locator("#wb-waiting")).to_have_text("0")
                band = "green" if final["hotline_answer_rate_today"] >= 0.95 else \
                    "amber" if final["hotline_answer_rate_today"] >= 0.90 else "red"
                expect(page.locator("#wb-rate-tile")).to_have_attribute("data-band", band)
                points = int(page.locator("#wb-chart polyline").get_attribute("data-points") or 0)
                assert points >= 8   # a 2-hour run: one point per quarter hour

                # a guard action appears as it happens
                role.publish("supervisors", [{"type": "guard.overflow", "queue": "hotline-general",
                                              "value": final["hotline_answer_rate_today"], "threshold": 0.95,
                                              "ts": role.now}])
                expect(page.locator("#wb-alerts li").first).to_contain_text("启用溢出座席")
                page.wait_for_timeout(1500)   # the next snapshot carries it too: still shown once
                expect(page.locator("#wb-alerts li[data-type='guard.overflow']")).to_have_count(1)
                page.screenshot(path=str(artifacts_dir / "metrics-wallboard.png"), full_page=True)
                assert not [e for e in errors if "Content Security Policy" in e], errors
            finally:
                browser.close()
    finally:
        role.stop()
