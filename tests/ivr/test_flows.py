"""Order status, queue announcements with the callback offer, and the satisfaction survey, over real sockets."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from hotline.bus import EventBus
from hotline.calls.models import Call
from hotline.workorders.models import WorkOrder
from ivr import keys

from .conftest import call


def keyed(number: str) -> str:
    return number.replace("-", "")


async def test_order_status_told(server, make_order) -> None:  # type: ignore[no-untyped-def]
    order = make_order()
    t = await call(server, "order-status", keys=[keyed(order.number)])
    assert t.variables["HOTLINE_IVR_PATH"] == "ask>lookup>tell>done"
    assert "hotline/status/accepted" in t.played
    digits = [p.rsplit("/", 1)[1] for p in t.played if p.startswith("hotline/digits/")]
    assert "".join(digits).startswith(keyed(order.number))  # the number is read back digit by digit
    assert "hotline/unit/year" not in t.played  # no completion deadline before dispatch


async def test_order_status_with_due_date(server, make_order, db_session, deadline_engine) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from hotline.units.services import create_unit
    from hotline.workorders import services as orders

    from .conftest import SUPERVISOR
    unit = create_unit(db_session, "sw", "市水务局")
    order = make_order()
    orders.transition(db_session, deadline_engine, SUPERVISOR, order.id, "dispatch", None, now=datetime.now(UTC),
                      unit_id=unit.id)
    db_session.commit()
    t = await call(server, "order-status", keys=[keyed(order.number)])
    assert "hotline/status/dispatched" in t.played
    tail = t.played[t.played.index("hotline/order_due_is"):]
    assert tail[-1] == "hotline/order_end" and "hotline/unit/month" in tail and tail[-2] == "hotline/unit/day"


async def test_order_status_from_the_welcome_menu(server, make_order) -> None:  # type: ignore[no-untyped-def]
    order = make_order()
    t = await call(server, keys=["3", keyed(order.number)])
    assert t.variables["HOTLINE_IVR_PATH"] == "welcome>order_status>queue"
    assert "hotline/status/accepted" in t.played


@pytest.mark.parametrize("attempts", [
    ["12", "abc", "2026112199999999999999"],       # too short, not digits, too long
    [None, None, None],                            # silence three times
    ["20261121999999", "2026*1121", "20991231000001"],  # unknown, garbage, unknown
])
async def test_three_bad_tries_then_a_human(server, attempts) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, keys=["3", *attempts])
    assert t.verbs().count("GET DATA") == 3
    assert t.played[-1] == "hotline/order_give_up"
    assert t.variables["HOTLINE_IVR_PATH"] == "welcome>order_status>queue"


async def test_second_try_succeeds(server, make_order) -> None:  # type: ignore[no-untyped-def]
    order = make_order()
    t = await call(server, "order-status", keys=["123", keyed(order.number)])
    assert "hotline/order_invalid" in t.played and "hotline/status/accepted" in t.played
    assert t.verbs().count("GET DATA") == 2


async def set_queue(redis, queue: str, waiting: list[str], per_position: float | None, ewt: float = 30) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    await redis.zadd(keys.queue_waiting(queue), {cid: now - 100 + i for i, cid in enumerate(waiting)})
    stats = {"ewt": ewt, "updated_at": now}
    if per_position is not None:
        stats["per_position"] = per_position
    await redis.hset(keys.queue_stats(queue), mapping=stats)


async def test_queue_announcement_short_wait(server, redis_async) -> None:  # type: ignore[no-untyped-def]
    await set_queue(redis_async, "hotline-general", ["a", "b", "me"], per_position=20)
    t = await call(server, "queue-announce", env={"uniqueid": "me"})
    assert t.variables["HOTLINE_QUEUE_POSITION"] == "3"
    assert t.variables["HOTLINE_ANNOUNCE_INTERVAL"] == "45"
    assert "HOTLINE_CALLBACK" not in t.variables
    assert t.played[:4] == ["hotline/queue_ahead", "hotline/digits/2", "hotline/queue_people",
                            "hotline/queue_expected"]
    assert "hotline/callback_offer" not in t.played


async def test_the_answer_rate_guard_makes_even_a_short_wait_offer_callbacks(server, redis_async) -> None:  # type: ignore[no-untyped-def]
    await set_queue(redis_async, "hotline-general", ["a", "b", "me"], per_position=20)
    await redis_async.hset(keys.CALLBACK_OFFER, "hotline-general", "1")   # what acd/guard.py sets
    t = await call(server, "queue-announce", keys=["1"], env={"uniqueid": "me"})
    assert "hotline/callback_offer" in t.played and t.variables["HOTLINE_CALLBACK"] == "1"
    await redis_async.hdel(keys.CALLBACK_OFFER, "hotline-general")        # the guard's rule recovered
    t = await call(server, "queue-announce", env={"uniqueid": "me"})
    assert "hotline/callback_offer" not in t.played and "HOTLINE_CALLBACK" not in t.variables


async def test_long_wait_offers_a_callback_that_keeps_the_turn(server, redis_async) -> None:  # type: ignore[no-untyped-def]
    waiting = [f"c{i}" for i in range(11)] + ["me"]
    await set_queue(redis_async, "q2", waiting, per_position=30)
    t = await call(server, "queue-announce", keys=["1"], env={"uniqueid": "me", "agi_arg_1": "q2"})
    assert t.variables["HOTLINE_CALLBACK"] == "1" and t.variables["HOTLINE_CALLBACK_ID"] == "me"
    assert t.played[-1] == "hotline/callback_booked"
    record = await redis_async.hgetall(keys.callback("me"))
    queued_at = await redis_async.zscore(keys.queue_waiting("q2"), "me")
    assert record["number"] == "13900001" and record["queue"] == "q2" and record["position"] == "12"
    assert await redis_async.zscore(keys.CALLBACKS, "me") == pytest.approx(queued_at)  # the original turn
    events = await EventBus(redis_async).read_since(keys.IVR_STREAM)
    assert events[-1][1]["type"] == "callback.requested"


@pytest.mark.parametrize("answer", [None, "2", "#"])
async def test_callback_declined_keeps_waiting(server, redis_async, answer) -> None:  # type: ignore[no-untyped-def]
    await set_queue(redis_async, "hotline-general", [f"c{i}" for i in range(9)] + ["me"], per_position=30)
    t = await call(server, "queue-announce", keys=[answer], env={"uniqueid": "me"})
    assert "hotline/callback_offer" in t.played and "HOTLINE_CALLBACK" not in t.variables
    assert await redis_async.zcard(keys.CALLBACKS) == 0


async def test_position_unknown(server) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, "queue-announce", env={"uniqueid": "nobody"})
    assert t.played == ["hotline/queue_hold"] and "HOTLINE_QUEUE_POSITION" not in t.variables


async def test_survey_rating_stored_on_call_and_order(server, make_order, redis_async, db_session_factory) -> None:  # type: ignore[no-untyped-def]
    order = make_order(call_ids=["55.1"])
    t = await call(server, "survey", keys=["1"], env={"uniqueid": "55.1"})
    assert t.variables["HOTLINE_SURVEY"] == "1" and t.played[-1] == "hotline/survey_thanks"
    record = await redis_async.hgetall(keys.survey("55.1"))
    assert record["label"] == "非常满意" and record["score"] == "5" and record["source"] == "keyed"
    with db_session_factory() as s:
        assert s.scalars(select(WorkOrder.satisfaction).where(WorkOrder.id == order.id)).one() == 5
        assert s.scalars(select(Call.satisfaction).where(Call.call_id == "55.1")).one() == 5


async def test_survey_order_from_channel_variable(server, make_order, db_session_factory) -> None:  # type: ignore[no-untyped-def]
    order = make_order()
    await call(server, "survey", keys=["5"], env={"uniqueid": "55.2"},
               variables={"HOTLINE_ORDER_NO": order.number})
    with db_session_factory() as s:
        assert s.scalars(select(WorkOrder.satisfaction).where(WorkOrder.id == order.id)).one() == 1


@pytest.mark.parametrize(("answers", "source"), [([None], "no_answer"), (["9", "0"], "no_answer"),
                                                  (["*", None], "no_answer")])
async def test_no_answer_counts_as_basically_satisfied(server, redis_async, answers, source) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, "survey", keys=answers, env={"uniqueid": "55.3"})
    record = await redis_async.hgetall(keys.survey("55.3"))
    assert record["label"] == "基本满意" and record["score"] == "3" and record["source"] == source
    assert t.variables["HOTLINE_SURVEY"] == "3"


async def test_survey_wrong_key_then_a_rating(server, redis_async) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, "survey", keys=["7", "4"], env={"uniqueid": "55.4"})
    assert "hotline/survey_retry" in t.played
    assert (await redis_async.hgetall(keys.survey("55.4")))["label"] == "不满意"


async def test_callback_asked_from_the_queue_is_booked_at_once(server, redis_async) -> None:  # type: ignore[no-untyped-def]
    """Key 1 while queued leaves app_queue into hotline-queue-exit, extension 1: the caller has asked."""
    await set_queue(redis_async, "hotline-consumer", ["a", "me"], per_position=40)
    t = await call(server, "callback", env={"uniqueid": "me", "agi_extension": "1"},
                   variables={"HOTLINE_QUEUE": "hotline-consumer"})
    assert "hotline/callback_offer" not in t.played and t.played[-1] == "hotline/callback_booked"
    assert t.variables["HOTLINE_CALLBACK"] == "1"
    assert t.variables["HOTLINE_IVR_PATH"] == "asked>callback_booked"
    assert (await redis_async.hgetall(keys.callback("me")))["queue"] == "hotline-consumer"
    assert await redis_async.hget(keys.CALLBACK_NUMBERS, "13900001") == "me"


@pytest.mark.parametrize(("answer", "booked"), [("1", True), (None, False), ("3", False)])
async def test_callback_offered_when_the_wait_ran_out(server, redis_async, answer, booked) -> None:  # type: ignore[no-untyped-def]
    t = await call(server, "callback", keys=[answer], env={"uniqueid": "me", "agi_extension": "TIMEOUT"})
    assert t.played[0] == "hotline/callback_offer"
    assert ("HOTLINE_CALLBACK" in t.variables) is booked
    assert (await redis_async.zcard(keys.CALLBACKS)) == int(booked)
    assert t.played[-1] == ("hotline/callback_booked" if booked else "hotline/goodbye")


def test_every_agi_script_of_the_rendered_dialplan_is_served(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The dialplan asterisk_config renders from acd/skills.yaml calls only scripts the IVR serves."""
    from acd.config import load_acd_config
    from asterisk_config.render import Deployment, render
    from hotline.fastagi.dialplan import agi_calls, missing_routes
    from ivr.app import FLOWS

    config = load_acd_config()
    env = {"HOTLINE_AMI_SECRET": "s", **{f"HOTLINE_SEAT_PASSWORD_{seat.id}": "p" for seat in config.seats}}
    conf = tmp_path / "extensions.conf"
    conf.write_text(render(config, Deployment(), env)["extensions.conf"], encoding="utf-8")
    assert {c.script for c in agi_calls(conf)} >= {"ivr", "survey", "callback"}
    assert missing_routes(conf, FLOWS) == []


@pytest.mark.parametrize(("keyed", "number"), [("20261121000123", "20261121-000123"),
                                               ("2026112100012", "20261121-00012"), ("20261321000123", None),
                                               ("12345678", None), ("2026-11-21", None),
                                               ("1", None), ("", None)])
def test_keyed_digits_to_readable_number(keyed: str, number: str | None) -> None:
    from ivr.records import readable_number

    assert readable_number(keyed) == number
