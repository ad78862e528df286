"""Bad input on the AMI link: malformed, truncated, oversized, mis-encoded frames never raise, never
grow memory without bound, and the next good frame still parses (hotline.ami.frames / events)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.ami.events import EVENT_TYPES, parse_event
from hotline.ami.frames import EventFilter, Frame, FrameDecoder, encode_frame, parse_block
from tests.ami.both import on_both_decoders  # noqa: F401  (every test here runs on both decoders)

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
    decoder = FrameDecoder(expect_banner=True, max_frame_bytes=SMALL_MAX)
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
    decoder = FrameDecoder(expect_banner=False, max_frame_bytes=SMALL_MAX)
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
    decoder = FrameDecoder(expect_banner=True, max_frame_bytes=SMALL_MAX)
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


# Lines built to confuse a reader that looks headers up in the raw text: keys inside longer keys and
# inside values, padded and tight spellings, odd whitespace, lone CR/LF, repeated keys.
KEYS = ("Event", "Channel", "DestChannel", "Variable", "ActionID", "Uniqueid", "Value", "Response")
SPACE = st.sampled_from(["", " ", "\t", "\xa0", "\u3000", "\x1c", "\r", "\n"])
LINE = st.one_of(
    st.tuples(SPACE, st.sampled_from(KEYS), SPACE, st.sampled_from([": ", ":", " : ", ":  "]),
              st.lists(st.sampled_from([*"ab: \r\n张", *KEYS, "HOTLINE_X", "VarSet"]), max_size=6).map("".join)
              ).map("".join),
    st.lists(st.sampled_from([*"ab: \r\n\t张", *KEYS]), max_size=10).map("".join),
)
BLOCK = st.tuples(st.sampled_from(["Event: VarSet", "Event: Newchannel", "Event: RTCPSent", "Response: Success", ""]),
                  st.lists(LINE, max_size=8)).map(lambda t: "\r\n".join([t[0], *t[1]]).strip("\r\n"))
WANTS = [EventFilter.of(("VarSet", "Newchannel"), ("HOTLINE_",)), EventFilter.of(("Newchannel",)),
         EventFilter.of(varsets=("HOTLINE_",))]


@FUZZ
@given(block=BLOCK)
def test_single_headers_read_from_the_text_equal_a_full_parse(block: str) -> None:
    """`Frame.get` on an unparsed frame answers exactly what the parsed headers say, whatever the text."""
    reference = parse_block(block)
    for key in KEYS:
        lazy = Frame.from_text(block)
        assert lazy.get(key) == reference.headers.get(key), key
    assert Frame.from_text(block).event == reference.headers.get("Event")


@FUZZ
@given(blocks=st.lists(BLOCK.filter(bool), min_size=1, max_size=6), cuts=st.lists(st.integers(0, 2000), max_size=4))
def test_the_raw_filter_never_drops_a_frame_its_readers_want(blocks: list[str], cuts: list[int]) -> None:
    data = "".join(block + "\r\n\r\n" for block in blocks).encode()
    for wanted in WANTS:
        decoder = FrameDecoder(expect_banner=False, event_filter=wanted)
        kept = [frame.pairs for piece in chunked(data, cuts) for frame in decoder.feed(piece)]
        everything = FrameDecoder(expect_banner=False).feed(data)
        assert decoder.skipped + len(kept) == len(everything)
        rest = iter(kept)  # what the readers want comes out, in order, among what the decoder kept
        assert all(any(pairs == k for k in rest) for pairs in [f.pairs for f in everything if wanted.keeps_frame(f)])
        for frame in everything:
            if wanted.keeps_frame(frame):
                assert wanted.keeps(frame.text or ""), frame.text
