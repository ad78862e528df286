"""The welcome flow over real FastAGI sockets: replay of the recordings, every key path, tagging."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hotline.bus import EventBus
from hotline.traces import load_agi_sessions
from ivr import keys
from ivr.notice import set_notice
from ivr.schemas import NoticeIn
from tests.fastagi.peer import FakeAsterisk, env_for

from .conftest import call

RECORDED = [s for name in ("agi_sessions", "agi_utf8") for s in load_agi_sessions(name)]


@pytest.mark.parametrize("recorded", RECORDED, ids=[s["env"]["agi_uniqueid"] for s in RECORDED])
async def test_replay_of_the_recordings(server, recorded) -> None:  # type: ignore[no-untyped-def]
    """Asterisk's side as recorded: its environment, its replies, the caller's key (GET DATA result=2). The
    flow must only send commands Asterisk accepts and reach the same tagging the recorded script set."""
    replies = {}
    key = None
    recorded_vars = {}
    for step in recorded["exchange"]:
        verb = " ".join(step["cmd"].split()[:2]) if step["cmd"].split()[0] in {"STREAM", "GET", "SET"} else \
            step["cmd"].split()[0]
        replies.setdefault(verb, step["resp"])
        if verb == "GET DATA":
            key = step["resp"].split("=", 1)[1]
        if verb == "SET VARIABLE":
            name, value = step["cmd"].split(" ", 3)[2:]
            recorded_vars[name] = value.strip('"')
    replies.pop("GET DATA", None)
    replies.pop("SET VARIABLE", None)  # the peer keeps the variables we set
    peer = FakeAsterisk(recorded["env"], [key], replies=replies)
    transcript = await peer.run(server.port)
    assert not transcript.rejected
    assert transcript.closed_by_server
    assert transcript.verbs()[0] == "ANSWER"
    assert transcript.variables["HOTLINE_CATEGORY"] == recorded_vars["HOTLINE_CATEGORY"] == "complaint"
    assert transcript.variables["HOTLINE_IVR_PATH"] == "welcome>complaint>queue"
    assert server.stats.completed == 1


async def test_silence_goes_straight_to_the_queue(server) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, keys=[None])
    assert t.variables["HOTLINE_IVR_PATH"] == "welcome>queue"
    assert "HOTLINE_CATEGORY" not in t.variables
    assert t.variables["HOTLINE_PRIORITY"] == "0" and t.variables["HOTLINE_REPEAT"] == "0"
    assert t.played == ["hotline/welcome"]  # no menu after the greeting
    assert t.variables["HOTLINE_QUEUE"] == "hotline-general"  # the ACD's routing (acd.routing)
    assert "HOTLINE_LAST_AGENT" not in t.variables  # nobody answered this number before
    assert t.verbs() == ["ANSWER", "SET VARIABLE", "SET VARIABLE", "SET VARIABLE", "SET VARIABLE", "STREAM FILE",
                         "WAIT FOR DIGIT", "SET VARIABLE", "SET VARIABLE"]


async def test_the_last_agent_is_offered_first_only_while_ready(server, redis_async) -> None:  # type: ignore[no-untyped-def]
    from acd import keys as acd_keys
    from acd.services import AgentStore
    from acd.state import Agent, AgentState

    await redis_async.set(acd_keys.last_agent("13900001"), "1002")
    store = AgentStore(redis_async)
    await store.save(Agent("1002", AgentState.ready, queues=["hotline-general"]))
    t = await call(server, keys=[None])
    assert t.variables["HOTLINE_LAST_AGENT"] == "1002"
    await store.save(Agent("1002", AgentState.on_call, queues=["hotline-general"]))
    busy = await call(server, keys=[None])
    assert "HOTLINE_LAST_AGENT" not in busy.variables and busy.variables["HOTLINE_QUEUE"] == "hotline-general"


@pytest.mark.parametrize("key", ["7", "0", "*", "#"])
async def test_a_key_not_offered_goes_to_a_human(server, key: str) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, keys=[key])
    assert t.variables["HOTLINE_IVR_PATH"] == "welcome>queue"
    assert "HOTLINE_EMERGENCY" not in t.variables


async def test_key_pressed_during_the_greeting(server) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, keys=["2"])
    assert t.verbs().count("WAIT FOR DIGIT") == 0  # the greeting was interrupted by the key
    assert t.variables["HOTLINE_CATEGORY"] == "complaint"


async def test_notice_follows_the_greeting(server, redis_async) -> None:  # type: ignore[no-untyped-def]
    notice = await set_notice(redis_async, NoticeIn(text="今天9时至18时，雁江区城东片区停水检修。"), "zhang")
    t = await call(server, keys=[None])
    assert t.variables["HOTLINE_IVR_PATH"] == "welcome>notice>queue"
    assert t.played == ["hotline/welcome", "hotline/notice_intro", notice.prompt]
    # a key pressed during the notice still counts
    t = await call(server, keys=["9", "0"], missing_sounds=[notice.prompt])
    assert t.variables["HOTLINE_IVR_PATH"] == "welcome>emergency>queue"


async def test_emergency_confirmed(server, redis_async) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, keys=["9", "3", "1"], env={"uniqueid": "77.1"})
    assert t.variables["HOTLINE_EMERGENCY"] == "120"
    assert t.variables["HOTLINE_IVR_PATH"] == "welcome>emergency>emergency_confirm>emergency_transfer"
    assert t.played[-1] == "hotline/emergency_connecting"
    (record,) = [json.loads(r) for r in await redis_async.lrange(keys.EMERGENCIES, 0, -1)]
    assert record["call_id"] == "77.1" and record["service"] == "120" and record["number"] == "13900001"
    supervisors = await EventBus(redis_async).read_since("supervisors")
    assert supervisors[-1][1]["type"] == "emergency.transferred"


@pytest.mark.parametrize("keys_pressed", [["9", "1", "2"], ["9", "1", None], ["9", None], ["9", "0"], ["9", "8"]])
async def test_emergency_not_confirmed_goes_to_a_human(server, redis_async, keys_pressed) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, keys=keys_pressed)
    assert "HOTLINE_EMERGENCY" not in t.variables
    assert t.variables["HOTLINE_IVR_PATH"].endswith(">queue")
    assert await redis_async.llen(keys.EMERGENCIES) == 0


async def test_caller_tagging_from_history(server, make_order) -> None:  # type: ignore[no-untyped-def]
    order = make_order(urgency="special_urgent")
    t = await call(server, keys=[None])
    assert t.variables["HOTLINE_OPEN_ORDER"] == order.number
    assert t.variables["HOTLINE_REPEAT"] == "1"
    assert t.variables["HOTLINE_PRIORITY"] == "10"
    assert t.variables["HOTLINE_TERMINAL"] == "0"
    other = await call(server, keys=[None], env={"callerid": "13900002"})
    assert other.variables["HOTLINE_OPEN_ORDER"] == "" and other.variables["HOTLINE_PRIORITY"] == "0"


async def test_terminal_case_is_tagged(server, make_order, db_session, deadline_engine) -> None:  # type: ignore[no-untyped-def]
    from hotline.units.services import create_unit
    from hotline.workorders import services as orders

    from .conftest import SUPERVISOR
    unit = create_unit(db_session, "zj", "市住建局")
    order = make_order()
    for event, note, kw in [("dispatch", None, {"unit_id": unit.id}), ("sign", None, {}),
                            ("start_handling", None, {}), ("complete", "已依法答复", {}),
                            ("mark_terminal", "认定为终结件", {})]:
        orders.transition(db_session, deadline_engine, SUPERVISOR, order.id, event, note, now=datetime.now(UTC), **kw)
        db_session.commit()
    t = await call(server, keys=[None])
    assert t.variables["HOTLINE_TERMINAL"] == "1"


async def test_callback_owed_raises_priority(server, services) -> None:  # type: ignore[no-untyped-def]
    from ivr.schemas import QueueWait
    await services.request_callback(call_id="1.1", number="13900001", queue="hotline-general",
                                    wait=QueueWait(4, 300, 1000.0))
    t = await call(server, keys=[None])
    assert t.variables["HOTLINE_PRIORITY"] == "8"


async def test_backends_down_still_reach_a_human(config) -> None:  # type: ignore[no-untyped-def]
    """Redis unreachable: no tagging, no notice, but the caller goes to the queue all the same."""
    import redis.asyncio as aioredis

    from hotline.fastagi import FastAgiServer
    from hotline.redis_server import free_port
    from ivr.app import build_routes
    from ivr.services import HotlineIvrServices

    dead = aioredis.from_url(f"redis://127.0.0.1:{free_port()}", decode_responses=True)
    async with FastAgiServer(build_routes(HotlineIvrServices(dead), config), port=0) as server:
        t = await call(server, keys=[None])
    assert t.variables["HOTLINE_IVR_PATH"] == "welcome>queue"
    assert t.variables["HOTLINE_PRIORITY"] == "0"
    await dead.aclose()


async def test_missing_sound_does_not_cut_the_caller_off(server) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, keys=["2"], missing_sounds=["hotline/welcome"])
    assert t.variables["HOTLINE_CATEGORY"] == "complaint"  # the key was still taken by WAIT FOR DIGIT


async def test_path_is_logged_when_the_caller_hangs_up(server, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    caplog.set_level(logging.INFO, logger="ivr")
    t = await call(server, keys=["9"], hangup_at=6, hangup_how="line", env={"uniqueid": "88.1"})
    assert t.verbs()[-1] == "STREAM FILE"  # the emergency menu: the caller left while it played
    line = next(r.getMessage() for r in caplog.records if r.name == "ivr" and "88.1" in r.getMessage())
    assert "path=welcome>emergency" in line and "outcome=hangup" in line


async def test_concurrent_calls_keep_their_own_tagging(server, make_order) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    order = make_order(caller_number="13900009")
    peers = [FakeAsterisk(dict(env_for("ivr", uniqueid=f"9.{i}", callerid="13900009" if i % 2 else f"1380000{i:04d}")),
                          ["2" if i % 3 == 0 else None]) for i in range(60)]
    transcripts = await asyncio.gather(*(p.run(server.port) for p in peers))
    for i, t in enumerate(transcripts):
        assert not t.rejected
        assert t.variables["HOTLINE_OPEN_ORDER"] == (order.number if i % 2 else "")
        assert (t.variables.get("HOTLINE_CATEGORY") == "complaint") is (i % 3 == 0)
