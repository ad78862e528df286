"""Bad input on the AMI link: malformed, truncated, oversized, mis-encoded frames never raise, never
grow memory without bound, and the next good frame still parses (hotline.ami.frames / events)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.ami.events import EVENT_TYPES, parse_event
from hotline.ami.frames import Frame, FrameDecoder, encode_frame

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOOD = {"Event": "Newstate", "Privilege": "call,all", "Channel": "PJSIP/1001-00000001",
        "ChannelState": "6", "ChannelStateDesc": "Up", "CallerIDNum": "13900001", "Uniqueid": "1795263412.1"}
SMALL_MAX = 4096  # a small frame limit so that "oversized" is cheap to produce

# pieces that break framing: bare CR, bare LF, NUL, header lines without ': ', invalid UTF-8, overlong
# UTF-8, a lone continuation byte, the terminator itself in odd places
NASTY = st.sampled_from([b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"\x00", b":", b": ", b"Event: ", b"\xff\xfe",
                         b"\xc0\xaf", b"\x80", b"\xe4\xb8", "张三".encode(), "张三".encode("gb18030"),
                         b"ActionID: ", b"Response: Follows\r\n", b"--END COMMAND--", b" " * 100])
JUNK = st.lists(st.one_of(NASTY, st.binary(max_size=64)), max_size=40).map(b"".join)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def good_frame_after(decoder: FrameDecoder) -> Frame:
    """Terminate whatever half-frame the junk left, then send a good one: it must come out intact."""
    decoder.feed(b"\r\n\r\n")
    frames = decoder.feed(encode_frame(GOOD))
    assert frames, "the good frame came out"
    return frames[-1]


@FUZZ
@given(junk=JUNK, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_junk_in_any_chunking_never_raises_and_the_next_frame_parses(junk: bytes, cuts: list[int]) -> None:
    decoder = FrameDecoder(expect_banner=True, max_frame_chars=SMALL_MAX)
    decoder.feed(b"Asterisk Call Manager/11.0.0\r\n")
    for piece in chunked(junk, cuts):
        for frame in decoder.feed(piece):
            assert isinstance(frame, Frame)
            parse_event(frame)  # every frame, however broken, becomes an event object
        assert len(decoder._buffer) <= SMALL_MAX + 4
    frame = good_frame_after(decoder)
    assert frame.headers == GOOD and not frame.errors
    assert type(parse_event(frame)).__name__ == "Newstate"


@FUZZ
@given(size=st.integers(min_value=SMALL_MAX + 1, max_value=6 * SMALL_MAX), step=st.integers(1, 3000),
       newlines=st.booleans())
def test_oversized_frames_are_dropped_flagged_and_bounded(size: int, step: int, newlines: bool) -> None:
    decoder = FrameDecoder(expect_banner=False, max_frame_chars=SMALL_MAX)
    line = (b"X-Huge: " + b"a" * 50 + b"\r\n") if newlines else b"b" * 58
    data = b"Event: Huge\r\n" + line * (size // len(line) + 1)
    flagged = []
    for start in range(0, len(data), step):
        flagged += [f for f in decoder.feed(data[start:start + step]) if f.errors]
        assert len(decoder._buffer) <= SMALL_MAX + 4
    frame = good_frame_after(decoder)
    assert frame.headers == GOOD
    assert flagged and "dropped" in flagged[0].errors[0]


def test_a_huge_stream_without_a_banner_line_stays_bounded() -> None:
    decoder = FrameDecoder(expect_banner=True, max_frame_chars=SMALL_MAX)
    for _ in range(64):
        decoder.feed(b"x" * 1024)
    assert len(decoder._buffer) <= SMALL_MAX + 4


header_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@FUZZ
@given(name=st.sampled_from(sorted(EVENT_TYPES)), pairs=st.lists(st.tuples(header_text, header_text), max_size=25))
def test_typed_events_take_any_header_values(name: str, pairs: list[tuple[str, str]]) -> None:
    """Every event class the platform knows, with garbage where numbers, flags and times belong."""
    frame = Frame.of([("Event", name), *pairs])
    event = parse_event(frame)
    assert event.name == name
    assert type(event) is EVENT_TYPES[name]
