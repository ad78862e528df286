"""Each recorded scenario, replayed against the simulator over real AMI and FastAGI sockets, must give the
same key events (per channel / member / device stream), the same action replies and the same FastAGI
exchange as the real Asterisk 22.10.1 gave."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest

from hotline.traces import SCENARIOS
from tests.pbxsim.conformance import diff_streams
from tests.pbxsim.replay import replay

SCALE = 20.0   # the 64 s three-way recording takes about 3 s
# Durations match the recording to the whole second, give or take the replay's wall-clock scheduling
# jitter (at most 0.25 s on a loaded 2-core CI machine) multiplied by the replay speed.
TIME_TOLERANCE = 1.0 + 0.25 * SCALE


HAS_TRACKER = importlib.util.find_spec("bridge.calls.tracker") is not None
VOLATILE_CALL_KEYS = {"call_id", "linkedid", "channel", "started_at", "queued_at", "answered_at", "ended_at",
                      "wait_seconds", "talk_seconds", "conference"}


def _calls(frames: list[Any], times: list[float]) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    from bridge.calls.tracker import CallTracker

    tracker = CallTracker()
    events = []
    for frame, ts in zip(frames, times, strict=True):
        events += tracker.feed(frame, ts)
    transitions = [(e["type"], e["state"]) for e in events]
    finals = []
    for e in events:
        if e["type"] == "call.ended":
            call = {k: v for k, v in e["call"].items() if k not in VOLATILE_CALL_KEYS}
            if call.get("ivr"):
                call["ivr"] = {**call["ivr"], "path": [re.sub(r"agi://[^/]+/", "agi://<ivr>/", p)
                                                       for p in call["ivr"]["path"]]}
            call["times"] = (e["call"]["wait_seconds"], e["call"]["talk_seconds"])
            finals.append(call)
    return transitions, finals


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_scenario_replays_like_asterisk(scenario: str) -> None:
    result = await replay(scenario, scale=SCALE)
    expected, actual = result.expected_streams(), result.actual_streams()
    assert expected, "the recording has key events"
    problems = diff_streams(expected, actual)
    assert not problems, "\n".join(problems)
    assert not result.reply_problems, "\n".join(result.reply_problems)
    if result.recorded_agi is not None:
        assert result.ivr is not None and len(result.ivr.sessions) == 1
        session = result.ivr.sessions[0]
        recorded_env = result.recorded_agi["env"]
        assert list(session.env) == list(recorded_env), "agi_* keys in Asterisk's order"
        for key in ("agi_network", "agi_network_script", "agi_language", "agi_type", "agi_version",
                    "agi_callerid", "agi_calleridname", "agi_dnid", "agi_rdnis", "agi_context", "agi_extension",
                    "agi_priority", "agi_enhanced", "agi_accountcode"):
            assert session.env[key] == recorded_env[key], key
        assert session.env["agi_channel"].startswith("PJSIP/carrier-")
        assert session.exchange == [(x["cmd"], x["resp"]) for x in result.recorded_agi["exchange"]]
    if HAS_TRACKER:
        # the platform's call tracker builds the same calls from the simulator as from the real Asterisk
        exp_transitions, exp_calls = _calls(result.recorded, result.recorded_times)
        act_transitions, act_calls = _calls(result.simulated, result.simulated_times)
        assert act_transitions == exp_transitions
        for expected_call, actual_call in zip(exp_calls, act_calls, strict=True):
            exp_times, act_times = expected_call.pop("times"), actual_call.pop("times")
            assert actual_call == expected_call
            for e, a in zip(exp_times, act_times, strict=True):
                assert (e is None) == (a is None) and (e is None or abs(e - a) <= TIME_TOLERANCE)


async def test_diff_catches_a_wrong_stream() -> None:
    """The comparison is not vacuous: the recording of one scenario does not pass for another's."""
    basic = await replay("abandon", scale=SCALE)
    other = await replay("noanswer", scale=SCALE)
    assert diff_streams(basic.expected_streams(), other.actual_streams())
