"""The AMI frame codec against the recordings: every recorded byte stream decodes to the recorded frames,
however the bytes are split across reads."""

from __future__ import annotations

import json

import pytest

from hotline.ami.frames import Frame, FrameDecoder, encode_frame
from hotline.traces import SCENARIOS, load_ami_bytes, traces_dir
from tests.ami.both import on_both_decoders  # noqa: F401  (every test here runs on both decoders)


def recorded_frames(scenario: str) -> list[dict[str, str]]:
    out = []
    for line in (traces_dir() / f"{scenario}.ami.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "frame" in record:
            out.append(record["frame"])
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_decoder_rebuilds_recorded_frames(scenario: str, chunk: int) -> None:
    stream = load_ami_bytes(scenario)
    decoder = FrameDecoder()
    frames: list[Frame] = []
    for i in range(0, len(stream), chunk):
        frames.extend(decoder.feed(stream[i : i + chunk]))
    assert decoder.banner == "Asterisk Call Manager/11.0.0"
    assert [f.headers for f in frames] == recorded_frames(scenario)
    assert not any(f.errors for f in frames)


def test_chinese_name_split_inside_a_character_arrives_whole() -> None:
    data = encode_frame([("Event", "Newchannel"), ("CallerIDName", "张三")])
    split = data.index("张".encode()) + 1  # cut inside the first UTF-8 sequence
    decoder = FrameDecoder(expect_banner=False)
    assert decoder.feed(data[:split]) == []
    (frame,) = decoder.feed(data[split:])
    assert frame["CallerIDName"] == "张三"


def test_repeated_headers_keep_every_value() -> None:
    decoder = FrameDecoder(expect_banner=False)
    (frame,) = decoder.feed(b"Event: Status\r\nChanVariable: A=1\r\nChanVariable: B=2\r\n\r\n")
    assert frame.getall("ChanVariable") == ["A=1", "B=2"]
    assert frame["ChanVariable"] == "A=1"


def test_malformed_line_is_reported_and_parsing_goes_on() -> None:
    decoder = FrameDecoder(expect_banner=False)
    frames = decoder.feed(b"Event: X\r\ngarbage line\r\n\r\nEvent: Y\r\n\r\n")
    assert [f.event for f in frames] == ["X", "Y"]
    assert frames[0].errors and not frames[1].errors


def test_oversized_frame_is_dropped_once_and_the_next_frame_survives() -> None:
    decoder = FrameDecoder(expect_banner=False, max_frame_bytes=100)
    frames = decoder.feed(b"Event: Big\r\nData: " + b"x" * 500)
    frames += decoder.feed(b"\r\n\r\nEvent: Small\r\n\r\n")
    assert frames[0].errors and "larger" in frames[0].errors[0]
    assert [f.event for f in frames[1:]] == ["Small"]


def test_encode_refuses_line_breaks_in_values() -> None:
    with pytest.raises(ValueError):
        encode_frame({"Action": "Originate", "Channel": "PJSIP/1001\r\nAction: Hangup"})
