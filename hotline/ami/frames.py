"""AMI wire format: frames of `Key: Value` lines ended by a blank line, UTF-8 on the wire.

The decoder cuts the byte stream into frames on `\\r\\n\\r\\n` (one `bytes.split` per read, in C) and keeps
the incomplete tail for the next read. Those bytes never occur inside a UTF-8 sequence, so each frame is
decoded whole: a character split across two network reads arrives whole (unlike panoramisk 1.4, which
decoded each read on its own). Frames are lazy: a frame keeps its text and a header is found in it on
demand (`get`, `event`); the text is split into header pairs only when `pairs`, `headers` or `errors` is
asked for. Bad input never raises out of `feed`: an oversized frame is cut and reported
(`Frame.errors`), a line without a header is reported on its frame when the frame is parsed, and
parsing goes on with the next frame.

The decoder's hot loop has an optional C twin (`_speedups.c`, built at install when a compiler is there):
the same frames and the same filter decisions, and a frame whose text is ASCII and whose every line is a
plain `Key: value` gets a C view of its headers (`_first`), so `get` compares a few bytes instead of
scanning the text from Python (`headers` turns the view into the dict). This file stays the reference: the
C decoder is tested against it (tests/ami/test_speedups.py), and `HOTLINE_AMI_PURE=1` makes it the default.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Protocol, overload

try:
    from hotline.ami import _speedups
except ImportError:  # installed without a compiler: the Python decoder below does the same work
    _speedups = None

EOL = "\r\n"
MAX_FRAME_BYTES = 1 << 20  # a frame larger than this is cut and flagged, never buffered forever

_MISSING, _UNSURE = -1, -2  # what `_value_at` answers besides the index of a value
_UNKNOWN = object()  # a frame's event name not looked up yet
_KEY_CACHE_MAX = 4096


def _value_at(text: str, key: str, at: int) -> int:
    """Where the value of the first `key: value` line starts, exactly as the careful parse reads it.

    `at` is an occurrence of `key` in `text` to start from (every earlier one is known not to be a key).
    Answers `_MISSING` when no line has this key and `_UNSURE` when a line may have it in an odd spelling
    (` key :`, `key:v`): the caller parses the frame instead. `key` must be plain (no whitespace, no colon).
    """
    while at >= 0:
        end = at + len(key)
        if at == 0 or text[at - 2:at] == EOL:  # the key starts a line
            if text.startswith(": ", end):
                return end + 2
            after = text[end:end + 1]
            if after == ":" or after.isspace():  # `Key:v`, `Key :`: the careful parse reads this key
                return _UNSURE
        elif not text[at - 1:at].isalnum():  # after a space: a value, or a key padded with spaces?
            line = text.rfind(EOL, 0, at)
            if not text[0 if line < 0 else line + 2:at].strip():
                return _UNSURE
        at = text.find(key, end)  # an occurrence inside this one would follow key characters: not a key
    return _MISSING


_LINES: dict[str, str] = {}  # plain key -> the start of its line, "\r\nKey: " (keys asked for so far)


def _line_of(key: str) -> str | None:
    """`"\r\nKey: "` for a key the careful parse could produce (not empty, no whitespace, no colon)."""
    line = _LINES.get(key)
    if line is None and ":" not in key and key.split() == [key]:
        line = EOL + key + ": "
        if len(_LINES) < _KEY_CACHE_MAX:
            _LINES[key] = line
    return line


class HeaderView(Protocol):
    """What the C decoder gives a plain frame (`_speedups.Headers`): its headers read from its text."""

    def get(self, key: str, default: str | None = None, /) -> str | None: ...

    def to_dict(self) -> dict[str, str]: ...


class Frame:
    """One AMI frame with its headers in wire order (a header may repeat, e.g. ChanVariable).

    Built from pairs (`Frame(pairs)`, `Frame.of(...)`) or, by the decoder, from the frame's text
    (`Frame.from_text`): then `get`/`event`/`response`/`action_id` read single headers straight from the
    text (what the careful parse would give, or they parse it), and the first read of `pairs`, `headers`
    or `errors` parses the whole frame once. The C decoder also gives a plain frame a view of its headers
    (`_first`, `_speedups.Headers`): single headers are then read through it.
    """

    # A frame from the wire sets only `_text`, `_pairs` (None: not parsed yet), `_on_bad`, `_event` and
    # `_first` (None, or the C decoder's Headers view: `get` and `to_dict`, nothing else); `_errors` is set
    # when it is parsed (creating it is on the decoder's hot path).
    __slots__ = ("_errors", "_event", "_first", "_on_bad", "_pairs", "_text")

    def __init__(self, pairs: list[tuple[str, str]] | None = None, errors: list[str] | None = None) -> None:
        self._text: str | None = None
        self._pairs: list[tuple[str, str]] | None = [] if pairs is None else pairs
        self._errors: list[str] = [] if errors is None else errors
        self._first: dict[str, str] | HeaderView | None = None
        self._on_bad: Callable[[Frame], None] | None = None
        self._event: str | object | None = _UNKNOWN

    @classmethod
    def of(cls, items: Iterable[tuple[str, str]] | dict[str, str]) -> Frame:
        pairs = list(items.items()) if isinstance(items, dict) else list(items)
        return cls([(str(k), str(v)) for k, v in pairs])

    @classmethod
    def from_text(cls, text: str, on_bad: Callable[[Frame], None] | None = None) -> Frame:
        """A frame from its text (lines joined by CRLF), parsed on demand; `on_bad(frame)` is called once
        if parsing finds bad lines."""
        frame = cls.__new__(cls)
        frame._text, frame._pairs, frame._on_bad, frame._event, frame._first = text, None, on_bad, _UNKNOWN, None
        return frame

    # --- the whole frame ----------------------------------------------------------------------------

    def _parse(self) -> list[tuple[str, str]]:
        pairs, errors, first = _parse_text(self._text or "")
        self._pairs, self._errors = pairs, errors
        if self._first is None:  # (the C decoder's view gives the same headers: it stays)
            self._first = first
        if errors and self._on_bad is not None:
            self._on_bad(self)
        return pairs

    @property
    def pairs(self) -> list[tuple[str, str]]:
        pairs = self._pairs
        return self._parse() if pairs is None else pairs

    @property
    def errors(self) -> list[str]:
        if self._pairs is None:
            self._parse()
        return self._errors

    @property
    def text(self) -> str | None:
        """The frame as received (lines joined by CRLF), for frames read from the wire."""
        return self._text

    @property
    def headers(self) -> dict[str, str]:
        """First value of each header (the view the recordings' `frame` field gives)."""
        first = self._first
        if first is None:
            if self._pairs is None:
                self._parse()
                first = self._first
            if first is None:
                first = {}
                for key, value in self.pairs:
                    first.setdefault(key, value)
                self._first = first
        elif first.__class__ is not dict:  # the C decoder's view of a plain frame: its dict, made once
            first = self._first = first.to_dict()  # type: ignore[union-attr]
        return first  # type: ignore[return-value]

    # --- single headers -----------------------------------------------------------------------------

    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: str) -> str: ...

    @overload
    def get(self, key: str, default: None) -> str | None: ...

    def get(self, key: str, default: str | None = None) -> str | None:
        first = self._first
        if first is not None:  # the dict of a parsed frame, or the C decoder's view of a plain one
            return first.get(key, default)
        line = _LINES.get(key) or _line_of(key)
        if self._pairs is None and line is not None:
            text: str = self._text  # type: ignore[assignment]  # a frame not parsed yet has its text
            # The common case inline (this runs for every header a reader asks for): the key's first
            # occurrence starts a `Key: ` line after the first line. Anything else takes `_value_at`'s walk.
            at = text.find(key)
            if at < 0:
                return default
            if at and text.startswith(line, at - 2):  # (at == 1 would start at -1: too short to match)
                at += len(line) - 2
            else:
                at = _value_at(text, key, at)
                if at < 0:
                    return default if at == _MISSING else self.headers.get(key, default)
            stop = text.find(EOL, at)
            return text[at:stop] if stop >= 0 else text[at:]
        return self.headers.get(key, default)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def getall(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key]

    @property
    def event(self) -> str | None:
        name = self._event
        if name is not _UNKNOWN:
            return name  # type: ignore[return-value]
        text = self._text
        if text is None:  # built from pairs, which may still change: not remembered
            return self.headers.get("Event")
        if text.startswith("Event: "):
            stop = text.find(EOL)  # the first line is the first header: no other line can come before it
            name = text[7:stop] if stop >= 0 else text[7:]
        else:
            name = self.get("Event")
        self._event = name
        return name

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def encode(self) -> bytes:
        return encode_frame(self.pairs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return self.pairs == other.pairs and self.errors == other.errors

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return f"Frame(pairs={self.pairs!r}, errors={self.errors!r})"


if _speedups is not None:
    try:  # the C decoder fills Frame's slots: it checks their layout and refuses one it does not know
        _speedups.Splitter(Frame, _UNKNOWN, None)
    except TypeError:
        _speedups = None

# The decoder new FrameDecoders use by default: the C one when it is built, unless HOTLINE_AMI_PURE=1.
PURE = _speedups is None or os.environ.get("HOTLINE_AMI_PURE", "") not in ("", "0")


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


# What the first line of a frame tells the filter (decided once per distinct first line, then cached).
KEEP, SKIP, VARSET, ODD = 0, 1, 2, 3
_BLANK = (b"", b"\r", b"\n")


class EventFilter:
    """Which events a reader wants, decided from the raw frame bytes before anything is decoded or parsed.

    `events`: the event names to keep (`None`: every name). `varsets`: `VarSet` events are kept only when
    their first `Variable` starts with one of these prefixes (`None`: every VarSet). Responses, frames whose
    first line is not `Event: ...` and frames that mention an `ActionID` (list items, OriginateResponse)
    always pass: reply matching must never lose a frame. When the raw bytes leave any doubt (an oddly
    spelt `Variable` line) the frame is kept and its reader decides. Opt-in: nothing is filtered unless a
    reader names what it wants.
    """

    __slots__ = ("_names", "_prefixes", "events", "varsets")

    def __init__(self, events: frozenset[str] | None = None, varsets: tuple[str, ...] | None = None) -> None:
        self.events = events
        self.varsets = varsets
        self._names = None if events is None else frozenset(name.encode() for name in events)
        self._prefixes = None if varsets is None else tuple(prefix.encode() for prefix in varsets)

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

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventFilter):
            return NotImplemented
        return (self.events, self.varsets) == (other.events, other.varsets)

    def __hash__(self) -> int:
        return hash((self.events, self.varsets))

    def __repr__(self) -> str:
        return f"EventFilter(events={self.events!r}, varsets={self.varsets!r})"

    @property
    def passes_all(self) -> bool:
        return self.events is None and self.varsets is None

    def verdict(self, head: bytes) -> int:
        """What a frame's first line (without CRLF) decides: KEEP, SKIP (unless it names an ActionID),
        VARSET (look at its Variable), ODD (blank lines before it: strip them and look again)."""
        if not head.startswith(b"Event: "):
            return ODD if head[:1] in _BLANK else KEEP
        name = head[7:]
        if self._names is not None and name not in self._names:
            return SKIP
        return VARSET if name == b"VarSet" and self._prefixes is not None else KEEP

    def keeps_variable(self, block: bytes) -> bool:
        """A VarSet kept by its first `Variable` (kept when it has none, or one spelt oddly)."""
        at = block.find(b"Variable")
        if at > 0 and block[at - 2:at] == b"\r\n" and block.startswith(b": ", at + 8):
            return block.startswith(self._prefixes or (), at + 10)  # the common spelling, read on the bytes
        text = block.decode("utf-8", "replace")
        at = _value_at(text, "Variable", text.find("Variable"))
        return at < 0 or text.startswith(self.varsets or (), at)

    def keeps(self, block: str | bytes) -> bool:
        """Decide on the raw text of one frame (lines joined by CRLF, no trailing blank line)."""
        raw = block.encode() if isinstance(block, str) else block
        raw = raw.lstrip(b"\r\n")
        stop = raw.find(b"\r\n")
        verdict = self.verdict(raw[:stop] if stop >= 0 else raw)
        if verdict in (KEEP, ODD) or (verdict == VARSET and self.keeps_variable(raw)):
            return True
        return raw.find(b"ActionID") >= 0

    def keeps_frame(self, frame: Frame) -> bool:
        """The same decision on a frame, read exactly (its ActionID looked for only when its name fails)."""
        name = frame.event
        if name is None:
            return True
        if self.events is not None and name not in self.events:
            return frame.get("ActionID") is not None
        if name == "VarSet" and self.varsets is not None:
            variable = frame.get("Variable")
            if variable is not None and not variable.startswith(self.varsets):
                return frame.get("ActionID") is not None
        return True


class FrameDecoder:
    """Feed it bytes as they arrive; it yields complete frames.

    The first line of a connection is the banner (`Asterisk Call Manager/x.y.z`) without a blank line
    after it; it is exposed as `banner` and not turned into a frame. With an `event_filter`, events it does
    not keep are skipped on their first line, never decoded, and counted in `skipped`. `on_bad(frame)` is
    called for every frame found bad: cut for size (at once) or with bad lines (when it is parsed).
    `pure`: True for this file's decoder, False for the C one when it is built (default: `PURE`).
    """

    def __init__(self, expect_banner: bool = True, max_frame_bytes: int = MAX_FRAME_BYTES,
                 event_filter: EventFilter | None = None, on_bad: Callable[[Frame], None] | None = None,
                 pure: bool | None = None) -> None:
        self.pure = PURE if pure is None else pure or _speedups is None
        self._buffer = b""
        self._expect_banner = expect_banner
        self._max = max_frame_bytes
        self._discarding = False
        self._verdicts: dict[bytes, int] = {}
        self._names: dict[bytes, str] = {}  # first line -> event name, for the frames it keeps
        self.banner: str | None = None
        self.event_filter = event_filter
        self.on_bad = on_bad
        self.skipped = 0

    @property
    def event_filter(self) -> EventFilter | None:
        return self._filter

    @event_filter.setter
    def event_filter(self, value: EventFilter | None) -> None:
        self._filter = None if value is None or value.passes_all else value
        self._verdicts, self._names = {}, {}
        # the C frame loop, with its own cache of first lines (so a new one for a new filter)
        self._splitter = None if self.pure else _speedups.Splitter(Frame, _UNKNOWN, self._filter)

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer + data if self._buffer else bytes(data)
        frames: list[Frame] = []
        if self._expect_banner and self.banner is None:
            end = buffer.find(b"\r\n")
            if end < 0:
                # a peer that never ends its first line is not Asterisk: hold no more than a frame's worth
                self._buffer = buffer[-self._max:] if len(buffer) > self._max else buffer
                return frames
            self.banner, buffer = buffer[:end].decode("utf-8", "replace"), buffer[end + 2:]
        if self._splitter is not None:
            start = 0
            if self._discarding:  # the end of an oversized frame
                end = buffer.find(b"\r\n\r\n")
                if end >= 0:
                    start, self._discarding = end + 4, False
            end, skipped = self._splitter.feed(buffer, start, frames, self.on_bad)
            self.skipped += skipped
            tail = buffer[end:]
        else:
            # One split per read, in C: finding and slicing frame by frame cost more than the frames' parsing
            # (and re-slicing the buffer after each frame was quadratic in the size of a read).
            blocks = buffer.split(b"\r\n\r\n")
            tail = blocks.pop()
            if self._discarding and blocks:
                del blocks[0]  # the end of an oversized frame
                self._discarding = False
            if blocks:
                if self._filter is None:
                    self._keep_all(blocks, frames)
                else:
                    self._keep_wanted(blocks, frames)
        if len(tail) > self._max:
            # Oversized: drop what we hold (but a possible partial terminator) and skip to the next frame.
            tail = tail[-3:]
            if not self._discarding:
                self._discarding = True
                cut = Frame(errors=[f"frame larger than {self._max} bytes dropped"])
                frames.append(cut)
                if self.on_bad is not None:
                    self.on_bad(cut)
        self._buffer = tail
        return frames

    def _keep_all(self, blocks: list[bytes], frames: list[Frame]) -> None:
        new, wire, on_bad, append = object.__new__, Frame, self.on_bad, frames.append
        for block in blocks:
            if block[:1] in _BLANK:
                block = block.lstrip(b"\r\n")
                if not block:
                    continue
            # Frame.from_text inline: a method call here costs more than the rest of the frame's trip
            frame = new(wire)
            frame._text, frame._pairs = block.decode("utf-8", "replace"), None
            frame._on_bad, frame._event, frame._first = on_bad, _UNKNOWN, None
            append(frame)

    def _keep_wanted(self, blocks: list[bytes], frames: list[Frame]) -> None:
        wanted = self._filter
        assert wanted is not None
        verdicts, names, append = self._verdicts, self._names, frames.append
        new, wire, on_bad = object.__new__, Frame, self.on_bad
        skipped = 0
        for block in blocks:
            stop = block.find(b"\r\n")
            head = block[:stop] if stop >= 0 else block
            verdict = verdicts.get(head)
            if verdict is None:
                verdict = self._judge(head)
            if verdict is not KEEP:
                if verdict is VARSET:
                    if not wanted.keeps_variable(block) and block.find(b"ActionID") < 0:
                        skipped += 1
                        continue
                elif verdict is SKIP:
                    if block.find(b"ActionID") < 0:  # (`bytes in bytes` is slower: it tries an int first)
                        skipped += 1
                        continue
                else:  # blank lines before the frame (or an empty block): strip them and judge again
                    block = block.lstrip(b"\r\n")
                    if not block:
                        continue
                    if not wanted.keeps(block):
                        skipped += 1
                        continue
                    head = b""  # its name is looked up on demand
            frame = new(wire)  # Frame.from_text inline, with the event name its first line gave
            frame._text, frame._pairs = block.decode("utf-8", "replace"), None
            frame._on_bad, frame._event, frame._first = on_bad, names.get(head, _UNKNOWN), None
            append(frame)
        self.skipped += skipped

    def _judge(self, head: bytes) -> int:
        """The filter's verdict on a first line, remembered (with the event name) for the next frames."""
        assert self._filter is not None
        verdict = self._filter.verdict(head)
        if len(self._verdicts) < _KEY_CACHE_MAX:
            self._verdicts[head] = verdict
            if verdict is not ODD and head.startswith(b"Event: "):
                self._names[head] = head[7:].decode("utf-8", "replace")
        return verdict


def _parse_text(block: str) -> tuple[list[tuple[str, str]], list[str], dict[str, str] | None]:
    """Pairs, errors and (when it comes for free) the first-value dict of one frame's text."""
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
        return pairs, [], first if len(first) == len(pairs) else None  # repeated header: the first value counts
    careful: list[tuple[str, str]] = []
    errors: list[str] = []
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key.strip():
            errors.append(f"line without a header: {line[:80]!r}")
            continue
        careful.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return careful, errors, None


def parse_block(block: str) -> Frame:
    """One frame from its text (lines joined by CRLF), parsed now."""
    frame = Frame.from_text(block)
    frame._parse()
    return frame
