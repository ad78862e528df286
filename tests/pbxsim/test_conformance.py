"""Each recorded scenario, replayed against the simulator over real AMI and FastAGI sockets, must give the
same key events (per channel / member / device stream), the same action replies and the same FastAGI
exchange as the real Asterisk 22.10.1 gave."""

from __future__ import annotations

import pytest

from hotline.traces import SCENARIOS
from tests.pbxsim.conformance import diff_streams
from tests.pbxsim.replay import replay

SCALE = 25.0   # the 64 s three-way recording takes under 3 s


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


async def test_diff_catches_a_wrong_stream() -> None:
    """The comparison is not vacuous: the recording of one scenario does not pass for another's."""
    basic = await replay("abandon", scale=SCALE)
    other = await replay("noanswer", scale=SCALE)
    assert diff_streams(basic.expected_streams(), other.actual_streams())
