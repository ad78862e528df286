"""AMI wire format: frames of `Key: Value` lines ended by a blank line, UTF-8 on the wire.

The decoder is incremental on both levels: bytes are decoded with an incremental UTF-8 decoder (so a
character split across two network reads arrives whole, unlike panoramisk 1.4), and lines are gathered
into frames across reads. Bad input never raises out of `feed`: an oversized frame or a line without a
colon is reported on the frame (`Frame.errors`) and parsing goes on with the next frame.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

EOL = "\r\n"
MAX_FRAME_CHARS = 1 << 20  # a frame larger than this is cut and flagged, never buffered forever


@dataclass(slots=True)
class Frame:
    """One AMI frame with its headers in wire order (a header may repeat, e.g. ChanVariable)."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _first: dict[str, str] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, items: Iterable[tuple[str, str]] | dict[str, str]) -> Frame:
        pairs = list(items.items()) if isinstance(items, dict) else list(items)
        return cls(pairs=[(str(k), str(v)) for k, v in pairs])

    @property
    def headers(self) -> dict[str, str]:
        """First value of each header (the view the recordings' `frame` field gives)."""
        if self._first is None:
            first: dict[str, str] = {}
            for key, value in self.pairs:
                first.setdefault(key, value)
            self._first = first
        return self._first

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.headers[key]

    def __contains__(self, key: object) -> bool:
        return key in self.headers

    def getall(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key]

    @property
    def event(self) -> str | None:
        return self.headers.get("Event")

    @property
    def response(self) -> str | None:
        return self.headers.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.headers.get("ActionID")

    def encode(self) -> bytes:
        return encode_frame(self.pairs)


def encode_frame(pairs: Iterable[tuple[str, str]] | dict[str, str]) -> bytes:
    items = pairs.items() if isinstance(pairs, dict) else pairs
    lines = []
    for key, value in items:
        text = str(value)
        if "\r" in text or "\n" in text:
            # A newline inside a value would end the header (or the frame) early: refuse it.
            raise ValueError(f"AMI header {key!r} contains a line break")
        lines.append(f"{key}: {text}")
    return (EOL.join(lines) + EOL + EOL).encode("utf-8")


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a reader wants, decided from the raw frame text before it is parsed.

    `events`: the event names to keep (`None`: every name). `varsets`: `VarSet` events are kept only when
    their `Variable` starts with one of these prefixes (`None`: every VarSet). Responses, frames whose first
    line is not `Event: ...` and events carrying an `ActionID` (list items, OriginateResponse) always pass:
    reply matching must never lose a frame. Opt-in: nothing is filtered unless a reader names what it wants.
    """

    events: frozenset[str] | None = None
    varsets: tuple[str, ...] | None = None
    _skip: Callable[[str], re.Match[str] | None] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One regular expression decides at C speed whether a frame's text names an unwanted event.
        alternatives = []
        if self.events is not None:
            names = "|".join(re.escape(name) for name in sorted(self.events, key=len, reverse=True))
            alternatives.append(f"Event: (?!(?:{names})(?:\r\n|\\Z))")
        if self.varsets is not None and (self.events is None or "VarSet" in self.events):
            prefixes = "|".join(re.escape(prefix) for prefix in self.varsets)
            # Line by line (each step up to the next LF: no backtracking blow-up) to the first Variable line.
            alternatives.append(f"Event: VarSet\r\n(?:[^\n]*\n)*?(?<=\r\n)Variable: (?!{prefixes or '(?!)'})")
        if alternatives:
            object.__setattr__(self, "_skip", re.compile("|".join(alternatives)).match)

    @classmethod
    def of(cls, events: Iterable[str] | None = None, varsets: Iterable[str] | None = None) -> EventFilter:
        return cls(None if events is None else frozenset(events), None if varsets is None else tuple(varsets))

    @classmethod
    def union(cls, filters: Iterable[EventFilter | None]) -> EventFilter | None:
        """What several readers want together; `None` (keep everything) if any of them wants everything."""
        filters = list(filters)
        if not filters or any(f is None or f.passes_all for f in filters):
            return None
        kept = [f for f in filters if f is not None]
        events = None if any(f.events is None for f in kept) else frozenset().union(*(f.events or () for f in kept))
        wanting = [f for f in kept if f.events is None or "VarSet" in f.events]
        varsets = None if not wanting or any(f.varsets is None for f in wanting) else tuple(
            sorted({prefix for f in wanting for prefix in f.varsets or ()}))
        return cls(events, varsets)

    @property
    def passes_all(self) -> bool:
        return self.events is None and self.varsets is None

    def keeps(self, block: str) -> bool:
        """Decide on the raw text of one frame (lines joined by CRLF, no trailing blank line)."""
        skip = self._skip
        return skip is None or skip(block) is None or "\r\nActionID: " in block

    def keeps_frame(self, frame: Frame) -> bool:
        """The same decision on a parsed frame."""
        headers = frame.headers
        name = headers.get("Event")
        if name is None or "ActionID" in headers:
            return True
        if self.events is not None and name not in self.events:
            return False
        if name == "VarSet" and self.varsets is not None:
            variable = headers.get("Variable")
            return variable is None or variable.startswith(self.varsets)
        return True


class FrameDecoder:
    """Feed it bytes as they arrive; it yields complete frames.

    The first line of a connection is the banner (`Asterisk Call Manager/x.y.z`) without a blank line
    after it; it is exposed as `banner` and not turned into a frame. With an `event_filter`, events it does
    not keep are skipped on their first lines, never parsed, and counted in `skipped`.
    """

    def __init__(self, expect_banner: bool = True, max_frame_chars: int = MAX_FRAME_CHARS,
                 event_filter: EventFilter | None = None) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._expect_banner = expect_banner
        self._max = max_frame_chars
        self._discarding = False
        self.banner: str | None = None
        self.event_filter = event_filter
        self.skipped = 0

    @property
    def event_filter(self) -> EventFilter | None:
        return self._filter

    @event_filter.setter
    def event_filter(self, value: EventFilter | None) -> None:
        self._filter = None if value is None or value.passes_all else value

    def feed(self, data: bytes) -> list[Frame]:
        text = self._text.decode(data)
        buffer = self._buffer + text if self._buffer else text
        frames: list[Frame] = []
        if self._expect_banner and self.banner is None:
            end = buffer.find(EOL)
            if end < 0:
                # a peer that never ends its first line is not Asterisk: hold no more than a frame's worth
                self._buffer = buffer[-self._max:] if len(buffer) > self._max else buffer
                return frames
            self.banner, buffer = buffer[:end], buffer[end + 2:]
        # One split per read, in C: finding and slicing frame by frame cost more than the frames' parsing
        # (and re-slicing the buffer after each frame was quadratic in the size of a read).
        blocks = buffer.split("\r\n\r\n")
        tail = blocks.pop()
        if self._discarding and blocks:
            del blocks[0]  # the end of an oversized frame
            self._discarding = False
        keeps = self._filter.keeps if self._filter is not None else None
        append = frames.append
        for block in blocks:
            if block[:1] in ("\r", "\n"):
                block = block.lstrip(EOL)
                if not block:
                    continue
            if keeps is not None and not keeps(block):
                self.skipped += 1
                continue
            append(parse_block(block))
        if len(tail) > self._max:
            # Oversized: drop what we hold (but a possible partial terminator) and skip to the next frame.
            tail = tail[-3:]
            if not self._discarding:
                self._discarding = True
                append(Frame(errors=[f"frame larger than {self._max} characters dropped"]))
        self._buffer = tail
        return frames


def parse_block(block: str) -> Frame:
    """One frame from its text (lines joined by CRLF)."""
    # Fast path, C-speed string operations: every line `Key: value` with a plain key. Anything else (a line
    # without ": ", a key with spaces, tabs or a colon, an empty key) takes the careful path below, which
    # gives the same result for good lines and reports the bad ones (tests/ami/test_ingest.py checks both
    # agree on every recorded frame).
    lines = block.split(EOL)
    pairs = [(key, value) for key, sep, value in [line.partition(": ") for line in lines] if sep]
    first = dict(pairs)
    keys = "".join(first)
    # Plain keys: no colon, no space, and no other whitespace (isprintable() is False for every whitespace
    # character but the space), so the careful path would read them the same way.
    if len(pairs) == len(lines) and "" not in first and ":" not in keys and " " not in keys and keys.isprintable():
        if len(first) != len(pairs):  # a repeated header (ChanVariable): the first value counts
            first = {}
            for key, value in pairs:
                first.setdefault(key, value)
        return Frame(pairs, [], first)
    frame = Frame()
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key.strip():
            frame.errors.append(f"line without a header: {line[:80]!r}")
            continue
        frame.pairs.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return frame
