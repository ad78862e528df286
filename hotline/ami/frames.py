"""AMI wire format: frames of `Key: Value` lines ended by a blank line, UTF-8 on the wire.

The decoder is incremental on both levels: bytes are decoded with an incremental UTF-8 decoder (so a
character split across two network reads arrives whole, unlike panoramisk 1.4), and lines are gathered
into frames across reads. Bad input never raises out of `feed`: an oversized frame or a line without a
colon is reported on the frame (`Frame.errors`) and parsing goes on with the next frame.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
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


class FrameDecoder:
    """Feed it bytes as they arrive; it yields complete frames.

    The first line of a connection is the banner (`Asterisk Call Manager/x.y.z`) without a blank line
    after it; it is exposed as `banner` and not turned into a frame.
    """

    def __init__(self, expect_banner: bool = True, max_frame_chars: int = MAX_FRAME_CHARS) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._expect_banner = expect_banner
        self._max = max_frame_chars
        self._discarding = False
        self.banner: str | None = None

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += self._text.decode(data)
        return list(self._drain())

    def _drain(self) -> Iterator[Frame]:
        # Walk the buffer with an index and cut it once at the end: slicing off each frame as it is found
        # copied the rest of the buffer every time, quadratic in the size of a read (a burst of events
        # arriving in one 256 KiB read was decoded 3x slower than in 64 KiB reads, and it got worse the
        # further the reader fell behind).
        buffer, pos = self._buffer, 0
        try:
            if self._expect_banner and self.banner is None:
                end = buffer.find(EOL)
                if end < 0:
                    return
                self.banner = buffer[:end]
                pos = end + 2
            while True:
                end = buffer.find(EOL + EOL, pos)
                if end < 0:
                    if len(buffer) - pos > self._max:
                        # Oversized: drop what we hold and skip to the next frame boundary.
                        pos = len(buffer) - 3
                        if not self._discarding:
                            self._discarding = True
                            yield Frame(errors=[f"frame larger than {self._max} characters dropped"])
                    return
                block, pos = buffer[pos:end], end + 4
                if self._discarding:
                    self._discarding = False
                    continue
                block = block.lstrip(EOL)
                if not block:
                    continue
                yield parse_block(block)
        finally:
            self._buffer = buffer[pos:]


def parse_block(block: str) -> Frame:
    frame = Frame()
    for line in block.split(EOL):
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key.strip():
            frame.errors.append(f"line without a header: {line[:80]!r}")
            continue
        frame.pairs.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return frame
