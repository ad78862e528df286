"""The C decoder (hotline/ami/_speedups.c) against the Python reference (hotline/ami/frames.py).

Both decoders are fed the same bytes in the same chunks: recorded frames, mutated ones, junk, blank lines,
CR/LF fragments, invalid UTF-8, 张三 split across reads, oversized frames, ActionID in odd places, with and
without filters. They must give equal frames (text, single headers read before any parse, event,
response, ActionID, headers, pairs, errors, the frames reported bad), the same banner, the same skipped
count and the same leftover bytes. Then the call tracker over every recording, the HOTLINE_AMI_PURE
switch, and reference leaks over a few hundred thousand frames.
"""

from __future__ import annotations

import gc
import itertools
import os
import random
import subprocess
import sys
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.calls.tracker import IVR_VARIABLES, CallTracker
from bridge.replay import replay_bytes
from hotline.ami import frames
from hotline.ami.frames import EventFilter, Frame, FrameDecoder
from hotline.traces import SCENARIOS, load_ami

pytestmark = pytest.mark.skipif(frames._speedups is None, reason="the C decoder is not built")

RECORDED = [tf.raw.encode() for name in SCENARIOS for tf in load_ami(name)[1]]
FIRST_LINES = [*sorted({raw.split(b"\r\n", 1)[0] for raw in RECORDED}),
               b"Event: VarSetX", b"Event: ", b"Event:VarSet", b"Response: Error", b"ActionID: 7", b""]
TRACKED = EventFilter.of(CallTracker().wanted_events, IVR_VARIABLES)  # what the bridge role asks for
FILTERS = [None, TRACKED, EventFilter.of(("Newchannel", "VarSet", "Hangup"), ("HOTLINE_",)),
           EventFilter.of(varsets=("HOTLINE_CATEGORY",)), EventFilter.of(events=()), EventFilter.of(("VarSet",)),
           EventFilter.of(("VarSet",), ()), EventFilter.of(("QueueMemberStatus", "AgentCalled"))]
SMALL_MAX = 4096  # every recorded frame fits (the largest is 1,210 bytes); oversized ones are cheap to make

ODD_LINES = [b"Bad Key: 1", b"no colon at all", b"Key:tight", b": empty key", b" Padded : v", b"Tab\tKey: v",
             b"Lone: a\rb", b"Lf: c\nd", "Name: 张三".encode(), "CJK键: 值".encode(), "张三".encode()[:4] + b": v",
             b"ActionID: 42", b"X: has ActionID inside", b"ActionIDX: 1", b"Variable: HOTLINE_CATEGORY",
             b"Variable: RTPAUDIOQOS", b"Variable:HOTLINE_X", b" Variable: HOTLINE_X", b"Event: VarSet",
             b"Event: Newchannel", b"Response: Success", b"\xff\xfe: x", b"K: \xe4\xb8", b"K: \xc0\xaf\x80",
             b"ChanVariable: A=1", b"ChanVariable: B=2", b"Uniqueid: 1.2", b"Channel: PJSIP/a-1", b"Key: ",
             b"Key:", b"Key", b"\x00: nul", b"Del\x7f: v", b"K\x1c: v", b"Event: X\r\n", b"\r", b"\n", b""]
NASTY = [b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"\r\n\r", b"\n\r\n", b"\x00", b":", b": ", b"Event: ", b"\xff\xfe",
         b"\xc0\xaf", b"\x80", b"\xe4\xb8", "张三".encode(), "张三".encode("gb18030"), b"ActionID", b"Variable: ",
         b"Response: Follows\r\n", b"--END COMMAND--", b" " * 40]

KEYS = ("Event", "Channel", "Uniqueid", "Linkedid", "Variable", "Value", "ActionID", "Response", "Key", "Name",
        "ChanVariable", "DestChannel", "Queue", "Application", "Missing", "Padded", "Tab", "Lone", "Lf", "")


def lines_of(raw: bytes) -> list[bytes]:
    return raw.removesuffix(b"\r\n\r\n").split(b"\r\n")


@st.composite
def pieces(draw: st.DrawFn) -> bytes:
    """One piece of a stream: mostly frames (recorded, mutated or made up), some junk or an oversized frame."""
    kind = draw(st.sampled_from(["recorded", "recorded", "mutated", "made", "junk", "huge"]))
    blank = draw(st.sampled_from([b"", b"", b"", b"\r\n", b"\n", b"\r", b"\r\n\r\n\r\n", b"\n\r"]))
    if kind == "recorded":
        return blank + draw(st.sampled_from(RECORDED))
    if kind == "mutated":
        lines = lines_of(draw(st.sampled_from(RECORDED)))
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(lines)))
            odd = draw(st.sampled_from(ODD_LINES))
            if draw(st.booleans()) and at < len(lines):
                lines[at] = odd
            else:
                lines.insert(at, odd)
        if draw(st.booleans()):  # another event name, so that other filter verdicts apply
            lines[0] = draw(st.sampled_from(FIRST_LINES))
        return blank + b"\r\n".join(lines) + b"\r\n\r\n"
    if kind == "made":
        head = draw(st.sampled_from(FIRST_LINES))
        body = draw(st.lists(st.sampled_from(ODD_LINES + [line for raw in RECORDED[:40] for line in lines_of(raw)]),
                             max_size=8))
        return blank + b"\r\n".join([head, *body]) + draw(st.sampled_from([b"\r\n\r\n", b"\r\n\r\n", b"\r\n"]))
    if kind == "junk":
        return b"".join(draw(st.lists(st.one_of(st.sampled_from(NASTY), st.binary(max_size=24)), max_size=6)))
    size = draw(st.integers(SMALL_MAX - 20, 3 * SMALL_MAX))
    line = draw(st.sampled_from([b"X-Huge: " + b"a" * 50 + b"\r\n", b"b" * 58, b"ActionID: 1\r\n"]))
    return b"Event: Huge\r\n" + line * (size // len(line) + 1) + draw(st.sampled_from([b"\r\n\r\n", b""]))


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in itertools.pairwise([0, *points, len(data)])]


def describe(frame: Frame) -> tuple:
    """Everything a reader can ask of a frame, single headers first (before anything parses it)."""
    text = frame.text or ""
    present = [line.partition(":")[0].strip() for line in text.split("\r\n")]
    single = [(key, frame.get(key), frame.get(key, "-"), key in frame) for key in (*KEYS, *present)]
    named = (frame.event, frame.response, frame.action_id)
    headers = dict(frame.headers)
    after = [frame.get(key) for key in (*KEYS, *present)]
    return frame.text, single, named, headers, frame.pairs, frame.errors, after, [frame.get(k) for k in headers]


class Decoded:
    """One decoder over a chunked stream: what each feed gave, described, and the frames reported bad."""

    def __init__(self, pure: bool, wanted: EventFilter | None, banner: bool) -> None:
        self.bad: list[int] = []
        self.seen: list[Frame] = []
        self.decoder = FrameDecoder(expect_banner=banner, max_frame_bytes=SMALL_MAX, event_filter=wanted,
                                    on_bad=self.on_bad, pure=pure)
        self.batches: list[list[tuple]] = []

    def on_bad(self, frame: Frame) -> None:
        self.bad.append(next((i for i, seen in enumerate(self.seen) if seen is frame), -1))

    def feed(self, chunk: bytes) -> None:
        batch = self.decoder.feed(chunk)
        described = []
        for frame in batch:
            self.seen.append(frame)
            described.append(describe(frame))
        self.batches.append(described)

    def state(self) -> tuple:
        d = self.decoder
        return self.batches, self.bad, d.banner, d.skipped, d._buffer, d._discarding


def assert_same(data: bytes, cuts: list[int], wanted: EventFilter | None, banner: bool = True) -> None:
    pure, c = Decoded(True, wanted, banner), Decoded(False, wanted, banner)
    assert pure.decoder._splitter is None and c.decoder._splitter is not None
    for chunk in chunked(data, cuts):
        pure.feed(chunk)
        c.feed(chunk)
    assert c.state() == pure.state()


DIFF = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])


@DIFF
@given(parts=st.lists(pieces(), min_size=1, max_size=12), cuts=st.lists(st.integers(0, 40_000), max_size=10),
       wanted=st.sampled_from(FILTERS), banner=st.sampled_from([b"Asterisk Call Manager/11.0.0\r\n", b"", None]))
def test_c_decoder_equals_the_python_decoder_on_any_stream(parts: list[bytes], cuts: list[int],
                                                         wanted: EventFilter | None, banner: bytes | None) -> None:
    data = (banner or b"") + b"".join(parts)
    assert_same(data, cuts, wanted, banner is not None)


@pytest.mark.parametrize("wanted", FILTERS)
@pytest.mark.parametrize("chunk", [7, 400, 16384])
def test_c_decoder_equals_the_python_decoder_on_the_recordings(wanted: EventFilter | None, chunk: int) -> None:
    data = b"Asterisk Call Manager/11.0.0\r\n" + b"".join(RECORDED)
    assert_same(data, list(range(chunk, len(data), chunk)), wanted)


def test_zhang_san_split_at_every_byte() -> None:
    frame = "Event: Newchannel\r\nCallerIDName: 张三\r\nUniqueid: 1.1\r\n\r\n".encode()
    noise = b"Event: RTCPSent\r\nTo: 10.0.0.1\r\n\r\n"
    data = noise + frame + b"\r\n" + frame.replace(b"\xe4", b"\xff") + noise
    for cut in range(1, len(data)):
        for wanted in (None, TRACKED):
            assert_same(data, [cut], wanted, banner=False)


def test_the_verdict_cache_full_and_past_it() -> None:
    """More distinct first lines than either decoder remembers: judged every time, the same way."""
    names = [f"Event: Noise{i}\r\nUniqueid: {i}\r\n\r\n".encode() for i in range(frames._KEY_CACHE_MAX + 50)]
    wanted = EventFilter.of(("Noise7", "Noise4100", "Hangup"))
    data = b"".join(names) + b"Event: Noise7\r\nX: 1\r\n\r\nEvent: Noise4140\r\nActionID: 3\r\n\r\n"
    assert_same(data, [len(data) // 3, len(data) // 2], wanted, banner=False)


def test_c_frames_read_their_headers_through_the_view() -> None:
    (plain, odd, chinese) = FrameDecoder(expect_banner=False, pure=False).feed(
        b"Event: Hangup\r\nChannel: PJSIP/a-1\r\nChannel: PJSIP/b-2\r\n\r\n"
        b"Event: Hangup\r\nChannel :padded\r\n\r\n" + "Event: Hangup\r\nName: 张三\r\n\r\n".encode())
    assert type(plain._first).__name__ == "Headers" and plain.event == "Hangup"
    assert plain.get("Channel") == "PJSIP/a-1" and plain.get("channel") is None and plain._pairs is None
    assert plain.headers == {"Event": "Hangup", "Channel": "PJSIP/a-1"} and type(plain._first) is dict
    assert plain.getall("Channel") == ["PJSIP/a-1", "PJSIP/b-2"]
    assert odd._first is None and chinese._first is None  # left lazy, exactly as the Python decoder leaves them
    assert odd.get("Channel") == "padded" and chinese.get("Name") == "张三"
    with pytest.raises(TypeError):
        frames._speedups.Headers()  # only the decoder makes them


def test_verdicts_agree_with_the_python_constants() -> None:
    c = frames._speedups
    assert (c.KEEP, c.SKIP, c.VARSET, c.ODD) == (frames.KEEP, frames.SKIP, frames.VARSET, frames.ODD)
    assert c.CACHE_MAX == frames._KEY_CACHE_MAX


class Broken(EventFilter):
    def verdict(self, head: bytes) -> int:
        if head.startswith(b"Event: Boom"):
            raise RuntimeError("broken filter")
        return super().verdict(head)


@pytest.mark.parametrize("pure", [True, False])
def test_an_error_in_the_filter_comes_out_of_feed(pure: bool) -> None:
    decoder = FrameDecoder(expect_banner=False, event_filter=Broken(frozenset({"Hangup"})), pure=pure)
    with pytest.raises(RuntimeError, match="broken filter"):
        decoder.feed(b"Event: Hangup\r\nX: 1\r\n\r\nEvent: Boom\r\n\r\n")


# --- the call tracker on both decoders ----------------------------------------------------------------------


def track(data: bytes, chunk: int, pure: bool, wanted: EventFilter | None) -> tuple[list, list, int]:
    decoder, tracker, events = FrameDecoder(event_filter=wanted, pure=pure), CallTracker(), []
    for n, start in enumerate(range(0, len(data), chunk)):
        for frame in decoder.feed(data[start:start + chunk]):
            events += tracker.feed(frame, float(n))
    return events, [call.snapshot() for call in tracker.completed], tracker.errors


@pytest.mark.parametrize("wanted", [None, TRACKED])
@pytest.mark.parametrize("chunk", [333, 16384])
def test_the_tracker_gives_the_same_calls_on_both_decoders(wanted: EventFilter | None, chunk: int) -> None:
    data = replay_bytes(SCENARIOS, 3)
    reference = track(data, chunk, True, wanted)
    assert len(reference[1]) == 3 * 8 and reference[2] == 0 and len(reference[0]) > 100
    assert track(data, chunk, False, wanted) == reference
    assert track(data, chunk, False, None) == reference  # and the filter changes nothing the tracker sees


# --- the switch ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "pure"), [("1", True), ("", False), ("0", False)])
def test_hotline_ami_pure_selects_the_python_decoder(value: str, pure: bool) -> None:
    code = ("from hotline.ami import frames; d = frames.FrameDecoder(expect_banner=False); "
            "print(frames.PURE, d.pure, d._splitter is None, type(d.feed(b'A: 1\\r\\n\\r\\n')[0]._first).__name__)")
    env = {**os.environ, "HOTLINE_AMI_PURE": value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ([str(pure)] * 3 + ["NoneType" if pure else "Headers"])


# --- reference counting -------------------------------------------------------------------------------------


def odd_stream(copies: int) -> bytes:
    """Recorded frames with odd lines, blank lines and ActionIDs in odd places: every path of the C loop,
    including the ones that call back into the Python filter."""
    rng = random.Random(12345)
    out = []
    for _ in range(copies):
        for raw in RECORDED:
            lines = lines_of(raw)
            roll = rng.random()
            if roll < 0.2:
                lines.insert(rng.randrange(1, len(lines) + 1), rng.choice(ODD_LINES))
            elif roll < 0.3:
                lines[0] = b"\r\n" + lines[0]
            out.append(b"\r\n".join(lines) + b"\r\n\r\n")
    return b"".join(out)


def test_no_reference_leaks_over_hundreds_of_thousands_of_frames() -> None:
    chunks = [data[i:i + 16384] for data in (replay_bytes(SCENARIOS, 30), odd_stream(10))
              for i in range(0, len(data), 16384)]
    bad: list[Frame] = []

    def on_bad(frame: Frame) -> None:
        bad.append(frame)
        bad.clear()

    def run() -> int:
        count = 0
        for wanted in (None, TRACKED, FILTERS[2], "a new decoder for every read"):
            decoder = FrameDecoder(event_filter=TRACKED, on_bad=on_bad, pure=False)
            if not isinstance(wanted, str):
                decoder = FrameDecoder(event_filter=wanted, on_bad=on_bad, pure=False)
            for chunk in chunks:
                if isinstance(wanted, str):  # (what a decoder owns is released with it)
                    count += decoder.skipped
                    decoder = FrameDecoder(expect_banner=False, event_filter=TRACKED, on_bad=on_bad, pure=False)
                for frame in decoder.feed(chunk):
                    count += 1
                    read = [frame.get("Uniqueid"), frame.get("Nope", ""), frame.event, frame.get(""), "X" in frame]
                    if count % 5 == 0:
                        read.append(frame.headers)
                    if count % 11 == 0:
                        read.append(frame.errors)
            count += decoder.skipped
        return count

    watched = (on_bad, frames._UNKNOWN, Frame, TRACKED, FILTERS[2])
    run()  # fills the key and value caches, interns the keys
    gc.collect()
    refs = [sys.getrefcount(obj) for obj in watched]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        frames_seen = run() + run()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert frames_seen > 200_000
    assert grown < 64 * 1024, f"{grown} bytes kept after {frames_seen} frames"
    assert [sys.getrefcount(obj) for obj in watched] == refs
