"""The agent page in Debian's headless Chromium (Playwright) against a real console server: log in,
press 示闲, receive a screen pop with history and KB hits, preview the deadlines, save an order closed on
the call (即时办结) and find it in the caller's history; screenshot saved."""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hotline.bus import EventBus, agent_stream
from tests.console.server import PASSWORD, running_console

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed at /usr/bin/chromium"),
]

HOSTILE = '<img src=x onerror="window.__pwned=1">'


def publish(redis_url: str, prefix: str, stream: str, event: dict) -> str:
    async def go() -> str:
        bus = EventBus.from_url(redis_url, prefix)
        try:
            return await bus.publish(stream, event)
        finally:
            await bus.redis.aclose()

    # Playwright's sync API keeps an event loop in this thread: publish from another one
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result()


def confirm_state(redis_sync, agent_id: str, state: str) -> None:  # type: ignore[no-untyped-def]
    from acd import keys
    from acd.state import Agent

    agent = Agent.from_redis({"agent_id": agent_id, "state": state, "since": "1732000000.0"})
    redis_sync.hset(keys.AGENT_STATES, agent_id, agent.to_json())


def read_stream(redis_sync, prefix: str, stream: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(fields["data"]) for _, fields in redis_sync.xrange(prefix + "stream:" + stream)]


def test_agent_logs_in_goes_idle_and_sees_a_pop(redis_url: str, redis_sync, db_engine, db_session_factory,  # type: ignore[no-untyped-def]
                                                artifacts_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with running_console(redis_url, db_engine) as console, sync_playwright() as pw:
        console.create_users()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
        console_errors: list[str] = []
        page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        try:
            page.goto(console.url + "/agent")
            expect(page).to_have_url(console.url + "/login")  # no session: sent to the login page
            page.fill("#username", "agent1")
            page.fill("#password", "wrong password")
            page.click("#login-submit")
            expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            expect(page).to_have_url(console.url + "/agent")
            expect(page.locator("#ws-status")).to_have_text("已连接")

            expect(page.locator("#agent-state")).to_have_text("未登录")  # the ACD has not seen the seat yet
            page.click("#btn-idle")  # ACD route; this console has no PBX link: a clear refusal, no state change
            expect(page.locator("#toast")).to_have_text("示闲失败：PBX link unavailable")
            expect(page.locator("#agent-state")).to_have_text("未登录")
            confirm_state(redis_sync, "1001", "ready")  # what the ACD writes once Asterisk confirmed
            expect(page.locator("#agent-state")).to_have_text("示闲")  # via the websocket heartbeat
            expect(page.locator("#btn-wrapup-done")).to_be_disabled()
            page.click("#btn-wrapup")  # 话后整理 on request goes to the ACD on stream acd:requests
            expect(page.locator("#state-request")).to_contain_text("话后整理")
            [requested] = read_stream(redis_sync, console.prefix, "acd:requests")
            assert (requested["agent_id"], requested["state"]) == ("1001", "wrapup")
            confirm_state(redis_sync, "1001", "wrap_up")
            expect(page.locator("#agent-state")).to_have_text("话后整理")
            expect(page.locator("#state-request")).to_have_text("")  # the request is no longer pending
            expect(page.locator("#btn-wrapup-done")).to_be_enabled()
            confirm_state(redis_sync, "1001", "ready")
            expect(page.locator("#agent-state")).to_have_text("示闲")

            pop = {"type": "pop.ringing", "call_id": "1732000000.42", "caller_number": "13912345678",
                   "ivr": {"category": "consult", "priority": 0, "path": ["欢迎", "按1 咨询"]}, "wait_seconds": 75,
                   "history": {"number": "13912345678", "orders": [
                       {"number": "ZY202611210001", "created_at": "2026-11-20T09:30:00+08:00", "status": "completed",
                        "category": "consult", "content": "社保卡补办 " + HOSTILE}], "calls": []},
                   "kb_hits": [{"article_id": 7, "title": "社保卡补办流程", "snippet": "携带身份证到社保窗口…"}]}
            publish(redis_url, console.prefix, agent_stream("1002"), {**pop, "caller_number": "13800000000"})
            publish(redis_url, console.prefix, agent_stream("1001"), pop)

            expect(page.locator("#pop-caller")).to_have_text("13912345678")
            expect(page.locator("#pop-status")).to_have_text("振铃中")
            expect(page.locator("#pop-ivr")).to_have_text("欢迎 → 按1 咨询")
            expect(page.locator("#pop-wait")).to_have_text("1 分 15 秒")
            expect(page.locator("#pop-history li")).to_contain_text("ZY202611210001")
            expect(page.locator("#pop-history li")).to_contain_text(HOSTILE)  # shown as text, not markup
            expect(page.locator("#pop-kb li")).to_contain_text("社保卡补办流程")
            assert page.locator("#pop-history img").count() == 0
            assert page.locator("#event-log li", has_text="13800000000").count() == 0  # seat 1002's pop
            assert page.evaluate("window.__pwned === undefined")
            # the work-order form is pre-filled from the pop
            expect(page.locator("#wo-caller")).to_have_value("13912345678")
            expect(page.locator("#wo-call-id")).to_have_value("1732000000.42")
            expect(page.locator("#wo-category")).to_have_value("consult")
            page.click("text=转110")  # bridge.controls route; this console has no PBX link: a clear refusal
            expect(page.locator("#toast")).to_contain_text("转110失败：未连接交换机")
            page.locator("#pop-kb li button").click()
            expect(page.locator("#wo-kb-used li")).to_contain_text("社保卡补办流程")
            # deadlines come from the work-order preview API before the order can be saved
            expect(page.locator("#wo-save")).to_be_disabled()
            page.fill("#wo-content", "咨询社保卡补办需要的材料")
            page.click("#wo-preview")
            expect(page.locator("#wo-deadlines dd.deadline").first).to_be_visible()
            expect(page.locator("#wo-save")).to_be_enabled()
            page.check("#wo-resolved")
            expect(page.locator("#wo-answer")).to_be_visible()
            page.fill("#wo-answer", "携带身份证到就近社保窗口办理")
            expect(page.locator("#wo-save")).to_be_enabled()  # 即时办结 does not change the deadlines

            page.click("#wo-save")
            expect(page.locator("#wo-result")).to_contain_text("工单已保存：")
            saved = page.locator("#wo-result").text_content().split("：", 1)[1]

            # the history and KB panels reach the real APIs (empty database: nothing found, no error)
            page.fill("#history-number", "13912345678")
            page.click("#history-form button")
            expect(page.locator("#history-results li").first).to_contain_text(saved)  # the order just saved
            expect(page.locator("#history-results li").first).to_contain_text("状态：办结")  # 即时办结
            page.fill("#kb-query", "社保卡补办")
            page.click("#kb-form button")
            expect(page.locator("#kb-results li")).to_have_text("未找到相关知识")

            page.screenshot(path=str(artifacts_dir / "console-agent-pop.png"), full_page=True)
            assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
        finally:
            browser.close()


def test_expert_sees_an_invitation_with_the_case(redis_url: str, redis_sync, db_engine, db_session_factory,  # type: ignore[no-untyped-def]
                                                 artifacts_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with running_console(redis_url, db_engine) as console, sync_playwright() as pw:
        console.create_users()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1300, "height": 800}, locale="zh-CN")
        try:
            page.goto(console.url + "/login")
            page.fill("#username", "expert1")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            expect(page).to_have_url(console.url + "/expert")
            expect(page.locator("#ws-status")).to_have_text("已连接")
            invite = {"type": "invite.threeway", "call_id": "1732000000.77", "caller_number": "13700001111",
                      "from_agent": "1001", "ivr": {"category": "complaint", "path": ["欢迎", "按3 投诉"]},
                      "wait_seconds": 8, "history": {"orders": [], "calls": []},
                      "kb_hits": [{"article_id": 3, "title": "噪音扰民投诉处理"}]}
            publish(redis_url, console.prefix, agent_stream("2001"), invite)
            expect(page.locator("#invitations li")).to_contain_text("座席 1001 邀请：13700001111")
            expect(page.locator("#pop-status")).to_have_text("会商邀请")
            expect(page.locator("#pop-category")).to_have_text("投诉")
            expect(page.locator("#pop-kb li")).to_contain_text("噪音扰民投诉处理")
            page.reload()  # a reloaded page rebuilds its panels from the replayed window: nothing lost
            expect(page.locator("#ws-status")).to_have_text("已连接")
            expect(page.locator("#invitations li")).to_have_count(1)
            expect(page.locator("#invitations li")).to_contain_text("13700001111")
            publish(redis_url, console.prefix, agent_stream("2001"), {**invite, "type": "pop.hangup"})
            expect(page.locator("#pop-status")).to_have_text("已挂机")
            page.screenshot(path=str(artifacts_dir / "console-expert-invite.png"), full_page=True)
        finally:
            browser.close()
