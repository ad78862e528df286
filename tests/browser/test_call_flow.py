"""A working day in Debian's headless Chromium against the whole platform: pbxsim plays Asterisk (AMI and
FastAGI), and the ivr, bridge, pops, acd and console roles run as `hotline run` runs them. An agent logs in,
signs in to the queue, asks for 话后整理 and ends it; a simulated citizen's call goes through the IVR and pops
with the caller's history and KB hits; the agent saves a work order from it; transfers a second call to 110;
and brings an expert into a third call, whose page shows the invitation with the case; the agent leaves the
room, and it closes when the citizen hangs up. Screenshots of each step are saved as test artefacts."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from agent_console.users import NewUser, create_user
from hotline.handoffs.models import Handoff
from hotline.redis_server import free_port
from hotline.runtime import RoleContext, run_roles
from hotline.security import Role
from hotline.settings import Settings
from pbxsim import SeatBehaviour, Simulator
from pbxsim.calls import CitizenCall
from pbxsim.distributions import Constant
from tests.console.server import CHEAP_HASHER, PASSWORD
from tests.pops.harness import NUMBER, seed_history

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ROLES = ["ivr", "bridge", "pops", "acd", "console"]
COMPLAINT_KEY = "2"  # the welcome flow's offered key for a complaint (ivr/config): tags the category

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed at /usr/bin/chromium"),
]


class Platform:
    """pbxsim and the roles in one event loop on a thread of their own (Playwright's sync API holds this one)."""

    def __init__(self, redis_url: str, db_url: str, session_factory: Any) -> None:
        from hotline.demo import sim_config

        self.settings = Settings(demo=True, database_url=db_url, redis_url=redis_url, ami_port=free_port(),
                                 fastagi_host="127.0.0.1", fastagi_port=free_port(), console_host="127.0.0.1",
                                 console_port=free_port())
        self.ctx = RoleContext(settings=self.settings, redis_url=redis_url, _session_factory=session_factory)
        config = sim_config(self.settings)  # the queues and dialplan asterisk_config renders from acd/skills.yaml
        config.default_seat = SeatBehaviour(answer_delay=Constant(1.0))  # the softphones answer after a ring
        self.sim = Simulator(config, scale=1.0)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="platform", daemon=True)
        self._roles: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.console_port}"

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self._thread.start()

        async def start() -> None:
            await self.sim.start()
            self._roles = asyncio.create_task(run_roles(self.settings, ROLES, self.ctx))
            # up when the console answers and the ACD has the seats
            for _ in range(600):
                if self._roles.done():
                    self._roles.result()  # a role failed: say why
                try:
                    _reader, writer = await asyncio.open_connection("127.0.0.1", self.settings.console_port)
                    writer.close()
                    return
                except OSError:
                    await asyncio.sleep(0.05)
            raise RuntimeError("the console did not start")

        self.run(start(), timeout=60)

    def stop(self) -> None:
        async def stop() -> None:
            if self._roles is not None:
                self._roles.cancel()
                await asyncio.gather(self._roles, return_exceptions=True)
            await self.sim.stop()

        try:
            self.run(stop(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    def place_call(self, **citizen: Any) -> CitizenCall:
        async def place() -> CitizenCall:
            return await self.sim.place_call(caller=NUMBER, name="张三", digits=COMPLAINT_KEY, **citizen)
        return self.run(place())

    def hang_up(self, call: CitizenCall) -> None:
        async def hang_up() -> None:
            call.citizen_hangs_up()
        self.run(hang_up())

    def describe(self) -> str:
        """The simulator's calls and queue members, for a failing test's message."""
        async def describe() -> str:
            calls = [(c.channel.uniqueid if c.channel else None, c.outcome, c.queue, c.member,
                      c.channel.context if c.channel else None) for c in self.sim.pbx.calls]
            members = [(q, m.interface, m.paused, m.in_call, m.wrapping_up)
                       for q, queue in self.sim.pbx.queues.queues.items() for m in queue.members.values()]
            bus = self.ctx.bus
            events = [(e.get("type"), e.get("call_id"), e.get("agent")) for _id, e in await bus.read_since("calls")]
            pops = [(e.get("type"), e.get("call_id"), e.get("reason")) for _id, e in await bus.read_since("agent:1001")]
            return f"calls {calls}; members {members}; events {events}; pops {pops}"
        return self.run(describe())

    def wait_for(self, condition: Any, timeout: float = 10.0) -> None:
        """Until `condition()` holds (it asks the simulator through `run`, so it is called from this thread)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {timeout} s: {self.describe()}")
            time.sleep(0.05)

    def room_members(self, call: CitizenCall) -> list[str]:
        """Who is in the call's three-way room now: the citizen, and seats by endpoint."""
        async def members() -> list[str]:
            alive = [c for c in self.sim.pbx.channels.alive() if c.context in ("threeway-citizen", "threeway-member")
                     and c.exten == f"3w-{call.uniqueid}"]
            return sorted("citizen" if c is call.channel else c.name.rsplit("-", 1)[0] for c in alive)
        return self.run(members())

    def channel_of(self, call: CitizenCall) -> tuple[str, str]:
        """Where the citizen's channel is in the simulated dialplan now: (context, exten)."""
        async def where() -> tuple[str, str]:
            assert call.channel is not None
            return call.channel.context, call.channel.exten
        return self.run(where())


@pytest.fixture
def platform(redis_url: str, redis_sync, db_url: str, db_session_factory) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    seed_history(db_session_factory)  # the caller's two orders (a repeat caller) and a complaint KB article
    with db_session_factory() as session:
        create_user(session, NewUser("agent1001", Role.agent, PASSWORD, "1001", display_name="话务员 1001"),
                    CHEAP_HASHER)
        create_user(session, NewUser("expert2001", Role.expert, PASSWORD, "2001", display_name="专家 2001"),
                    CHEAP_HASHER)
    p = Platform(redis_url, db_url, db_session_factory)
    p.start()
    try:
        yield p
    finally:
        p.stop()


def log_in(page: Any, url: str, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(url + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#ws-status")).to_have_text("已连接")
    page.click("#btn-queue-login")  # 签入: the ACD adds the seat to its queues, unpaused
    expect(page.locator("#agent-state")).to_have_text("示闲", timeout=15_000)  # confirmed from Asterisk's events


def test_an_agents_calls_end_to_end(platform: Platform, db_session_factory, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        agent = browser.new_context(viewport={"width": 1500, "height": 1200}, locale="zh-CN").new_page()
        expert = browser.new_context(viewport={"width": 1300, "height": 900}, locale="zh-CN").new_page()
        errors: list[str] = []
        for page in (agent, expert):
            page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(agent, platform.url, "agent1001")
            expect(agent).to_have_url(platform.url + "/agent")
            agent.click("#btn-wrapup")  # 话后整理 on request: the ACD pauses the seat with the wrap-up reason
            expect(agent.locator("#agent-state")).to_have_text("话后整理", timeout=15_000)
            agent.click("#btn-wrapup-done")
            expect(agent.locator("#agent-state")).to_have_text("示闲", timeout=15_000)

            # 1. a citizen calls, presses the complaint key and waits: the pop comes as the seat rings
            first = platform.place_call(talk_time=None)
            expect(agent.locator("#pop-caller")).to_have_text(NUMBER, timeout=20_000)
            expect(agent.locator("#pop-status")).to_have_text("通话中", timeout=10_000)  # answered after 1 s
            expect(agent.locator("#pop-category")).to_have_text("投诉")
            expect(agent.locator("#pop-ivr")).to_have_text("欢迎语 → 按键投诉 → 转人工")  # the IVR's own steps
            history = agent.locator("#pop-history li")
            expect(history.first).to_have_text("重复来电")
            expect(history.nth(1)).to_have_text("同一事项来电 2 次（投诉）")
            orders = [t for t in history.all_text_contents() if t.startswith("工单：")]
            assert len(orders) == 2 and all("小区夜间施工噪音扰民" in t for t in orders), orders  # each once
            assert any("未办结" in t and "时限：" in t for t in orders), orders  # the open one, with its deadline
            expect(agent.locator("#pop-kb li").first).to_contain_text("夜间施工噪音投诉处理流程")
            expect(agent.locator("#wo-caller")).to_have_value(NUMBER)
            expect(agent.locator("#wo-call-id")).to_have_value(first.uniqueid)
            expect(agent.locator("#wo-category")).to_have_value("complaint")
            agent.screenshot(path=str(artifacts_dir / "flow-1-pop.png"), full_page=True)

            # the agent writes the order, sees its deadlines, saves it
            agent.locator("#pop-kb li button").first.click()  # the KB article used
            agent.fill("#wo-content", "反映小区夜间施工噪音扰民，请属地部门核查处理。")
            agent.click("#wo-preview")
            expect(agent.locator("#wo-deadlines dd.deadline").first).to_be_visible()
            agent.click("#wo-save")
            expect(agent.locator("#wo-result")).to_contain_text("工单已保存：")
            saved = agent.locator("#wo-result").text_content().split("：", 1)[1]
            agent.screenshot(path=str(artifacts_dir / "flow-2-order-saved.png"), full_page=True)
            agent.click("button.call-action[data-action=hangup]")  # 挂断
            expect(agent.locator("#pop-status")).to_have_text("已挂机", timeout=10_000)
            expect(agent.locator("#agent-state")).to_have_text("话后整理", timeout=10_000)  # the ACD, by itself
            agent.click("#btn-wrapup-done")
            expect(agent.locator("#agent-state")).to_have_text("示闲", timeout=15_000)
            agent.fill("#history-number", NUMBER)
            agent.click("#history-form button")
            expect(agent.locator("#history-results")).to_contain_text(saved)

            # 2. another call: one key hands the citizen to 110, with the hand-off record
            second = platform.place_call(talk_time=None)
            try:
                expect(agent.locator("#wo-call-id")).to_have_value(second.uniqueid, timeout=20_000)
            except AssertionError:
                raise AssertionError(platform.describe()) from None
            expect(agent.locator("#pop-status")).to_have_text("通话中", timeout=10_000)
            agent.fill("#wo-content", "来电称楼下有人持刀斗殴")  # goes with the hand-off as the 警情摘要
            agent.click("button.call-action[data-action=transfer][data-target='110']")
            expect(agent.locator("#control-status")).to_contain_text("转接（110）：已转出", timeout=10_000)
            expect(agent.locator("#pop-status")).to_have_text("已转接110")
            assert platform.channel_of(second) == ("transfer-emergency", "110")  # the citizen is with 110
            with db_session_factory() as session:
                handoff = session.scalars(select(Handoff).where(Handoff.call_id == second.uniqueid)).one()
                assert (handoff.service, handoff.summary) == ("110", "来电称楼下有人持刀斗殴")
            agent.screenshot(path=str(artifacts_dir / "flow-3-transfer-110.png"), full_page=True)
            expect(agent.locator("#agent-state")).to_have_text("话后整理", timeout=10_000)
            agent.click("#btn-wrapup-done")
            expect(agent.locator("#agent-state")).to_have_text("示闲", timeout=15_000)

            # 3. the expert is at their seat; a third call: the agent brings an expert in
            log_in(expert, platform.url, "expert2001")
            expect(expert).to_have_url(platform.url + "/expert")
            third = platform.place_call(talk_time=None)
            expect(agent.locator("#wo-call-id")).to_have_value(third.uniqueid, timeout=20_000)
            expect(agent.locator("#pop-status")).to_have_text("通话中", timeout=10_000)
            agent.click("button.call-action[data-action=threeway][data-target=expert]")
            expect(agent.locator("#control-status")).to_contain_text("正在邀请专家", timeout=10_000)
            invitation = expert.locator("#invitations li")
            expect(invitation).to_contain_text("座席 1001 邀请：" + NUMBER, timeout=10_000)
            expect(expert.locator("#pop-status")).to_have_text("会商邀请")
            expect(expert.locator("#pop-history")).to_contain_text("小区夜间施工噪音扰民")  # the case
            expect(expert.locator("#pop-kb li").first).to_contain_text("夜间施工噪音投诉处理流程")
            expert.screenshot(path=str(artifacts_dir / "flow-4-expert-invited.png"), full_page=True)
            invitation.locator("button", has_text="接受").click()
            expect(agent.locator("#control-status")).to_contain_text("三方通话（专家 2001）：已接通", timeout=15_000)
            assert platform.channel_of(third)[0] in ("threeway-citizen", "conference")  # in the room
            agent.screenshot(path=str(artifacts_dir / "flow-5-threeway.png"), full_page=True)
            assert platform.room_members(third) == ["PJSIP/1001", "PJSIP/2001", "citizen"]
            agent.click("button.call-action[data-action=hangup]")  # the agent leaves the room
            expect(agent.locator("#event-log")).to_contain_text("挂断：已发出")
            expect(agent.locator("#pop-status")).to_have_text("已挂断")
            platform.wait_for(lambda: platform.room_members(third) == ["PJSIP/2001", "citizen"])  # they go on

            # the citizen hangs up: the room closes, both pages are told
            platform.hang_up(third)
            expect(agent.locator("#control-status")).to_contain_text("三方通话（专家 2001）：已结束", timeout=10_000)
            expect(expert.locator("#pop-status")).to_have_text("已挂机", timeout=10_000)
            expect(expert.locator("#pop-history")).to_contain_text("小区夜间施工噪音扰民")  # the case stays
            expect(expert.locator("#invitations li")).to_have_text("暂无邀请")
            expert.screenshot(path=str(artifacts_dir / "flow-6-room-closed.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
