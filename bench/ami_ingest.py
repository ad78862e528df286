"""AMI ingest: events/s through FrameDecoder + CallTracker, read from a real loopback TCP socket.

Every recording of the real Asterisk is replayed `COPIES` times (uniqueids and channel names renumbered
so each copy is a distinct call) and sent over 127.0.0.1 by a sender thread. The recorder had no event
filter, so the stream carries the VarSet/RTCPSent noise. In the same run, and over the same bytes, we time:
- `raw`: a reader that only splits the stream into frames on `\\r\\n\\r\\n` (the baseline);
- `tracker`: `FrameDecoder` + `CallTracker.feed` for every frame;
- `filtered`: `FrameDecoder(event_filter=...)` with the tracker's events (and HOTLINE_* VarSets): frames
  nobody wants are skipped on their first line, the rest decoded and tracked;
- `client_typed`: `AmiClient` → typed events → `CallTracker`, a listener that takes everything (the
  bridge's path before the listener options), against a minimal AMI server on loopback that answers the
  login and the resync, then sends the same bytes;
- `client`: the same with the bridge role's listener (`events=`/`varsets=` of the tracker, `typed=False`).
These use the default decoder, the C one (hotline/ami/_speedups.c) when it is built; `pure_tracker`,
`pure_filtered`, `pure_client_typed` and `pure_client` are the same readers on hotline/ami/frames.py's
Python decoder, alternated with them in the same rounds. Labelled separately, `asterisk_*`: the default
decoder's readers on the stream as Asterisk sends it under our manager.conf eventfilters
(asterisk_config.ami_privileges EXCLUDED_EVENTS / EXCLUDED_VARSETS dropped).
Every rate counts the frames of the stream that was sent (skipped ones included) per second of wall time.
Each reader runs `ROUNDS` times, alternating; the best round counts (the machine is shared, so the load
average before and after is recorded). Then `cpu_*`: where the time goes, each step alone in process and
in CPU microseconds per frame (the raw reader's split, decoding with and without the filter, a full parse,
the tracker on every frame and on the frames the filter keeps), for the C decoder and (`cpu_pure_*`) the
Python one; `tracker_only_events_per_s` and `parse_block_frames_per_s` are the same figures as rates.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable

from asterisk_config.ami_privileges import EXCLUDED_EVENTS, EXCLUDED_VARSETS
from bench.common import write_results
from bridge.calls.tracker import IVR_VARIABLES, CallTracker
from bridge.replay import renumber, replay_bytes, scenario_frames
from hotline.ami import frames as frames_module
from hotline.ami.client import AmiClient, Resync
from hotline.ami.frames import EventFilter, Frame, FrameDecoder, encode_frame, parse_block
from hotline.traces import SCENARIOS

COPIES = 60
ROUNDS = 5
RECV = 16384
CALLS_PER_PASS = 8  # every scenario but pausecycle holds one citizen call


def _serve(data: bytes) -> tuple[int, threading.Thread]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def send() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(data)
        listener.close()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def _timed(data: bytes, consume: Callable[[socket.socket], int]) -> tuple[float, int]:
    port, thread = _serve(data)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        start = time.perf_counter()
        frames = consume(sock)
        elapsed = time.perf_counter() - start
    thread.join()
    return elapsed, frames


def raw_reader(sock: socket.socket) -> int:
    frames, buffer = 0, b""
    while chunk := sock.recv(RECV):
        parts = (buffer + chunk).split(b"\r\n\r\n")
        buffer = parts.pop()
        frames += len(parts)
    return frames


# What the bridge role listens to (bridge/service.py): the tracker's events, VarSet of its IVR variables.
TRACKED = EventFilter.of(CallTracker().wanted_events, IVR_VARIABLES)


class TrackerReader:
    event_filter: EventFilter | None = None
    pure: bool | None = None  # None: the default decoder (the C one when it is built)

    def __init__(self) -> None:
        self.tracker = CallTracker()
        self.events = 0

    def __call__(self, sock: socket.socket) -> int:
        decoder = FrameDecoder(event_filter=self.event_filter, pure=self.pure)
        feed, frames, events = self.tracker.feed, 0, 0
        while chunk := sock.recv(RECV):
            now = time.time()
            batch = decoder.feed(chunk)
            frames += len(batch)
            for frame in batch:
                events += len(feed(frame, now))
        self.events = events
        return frames + decoder.skipped


class FilteredReader(TrackerReader):
    event_filter = TRACKED


class PureTrackerReader(TrackerReader):
    pure = True


class PureFilteredReader(FilteredReader):
    pure = True


def _reply(request: dict[str, str]) -> list[dict[str, str]]:
    action, action_id = request.get("Action", "").lower(), request.get("ActionID", "")
    if action in ("queuestatus", "coreshowchannels"):
        complete = "QueueStatusComplete" if action == "queuestatus" else "CoreShowChannelsComplete"
        return [{"Response": "Success", "ActionID": action_id, "EventList": "start", "Message": "follows"},
                {"Event": complete, "ActionID": action_id, "EventList": "Complete", "ListItems": "0"}]
    extra = {"Ping": "Pong"} if action == "ping" else {}
    return [{"Response": "Success", "ActionID": action_id, **extra}]


async def _client_round(data: bytes, expected: int, bridge_listener: bool, pure: bool) -> tuple[float, CallTracker]:
    """Seconds from the first event byte sent to the last expected event through AmiClient + tracker
    (`pure`: the client's decoder is the Python one)."""
    body = data.partition(b"\r\n")[2]  # the client's own login/resync come first; then the recorded stream
    started: list[float] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        decoder = FrameDecoder(expect_banner=False)
        while chunk := await reader.read(RECV):
            for request in decoder.feed(chunk):
                for frame in _reply(request.headers):
                    writer.write(encode_frame(frame))
                if request.get("Action", "").lower() == "coreshowchannels":
                    started.append(time.perf_counter())
                    writer.write(body)
            await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tracker, seen, done = CallTracker(), [0], asyncio.Event()

    def listener(item: object) -> None:
        if isinstance(item, Resync):
            tracker.resync([], item.at)
            return
        seen[0] += 1
        tracker.feed(item if isinstance(item, Frame) else item.frame, time.time())  # type: ignore[attr-defined]
        if seen[0] >= expected:
            done.set()

    default, frames_module.PURE = frames_module.PURE, pure or frames_module.PURE  # what the client's decoder takes
    client = AmiClient("127.0.0.1", port, "bench", "bench", action_timeout=30.0, ping_interval=300.0)
    if bridge_listener:  # what bridge/service.py's role registers
        client.add_listener(listener, events=TRACKED.events, varsets=TRACKED.varsets, typed=False)
    else:
        client.add_listener(listener)
    try:
        await client.connect()
        await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - started[0]
    finally:
        frames_module.PURE = default
        await client.close()
        server.close()
        await server.wait_closed()
    return elapsed, tracker


def asterisk_filtered_bytes(copies: int) -> bytes:
    """The replay as Asterisk sends it under our manager.conf eventfilters (excluded events never sent)."""
    kept = []
    for raw in scenario_frames(SCENARIOS):
        (frame,) = FrameDecoder(expect_banner=False).feed(raw.encode())
        variable = frame.get("Variable") or ""
        if frame.event in EXCLUDED_EVENTS or (frame.event == "VarSet" and variable.startswith(EXCLUDED_VARSETS)):
            continue
        kept.append(raw)
    block = "".join(kept)
    return ("Asterisk Call Manager/11.0.0\r\n" + "".join(renumber(block, n) for n in range(copies))).encode()


def _check(name: str, tracker: CallTracker) -> None:
    calls = len(tracker.completed)
    if calls != COPIES * CALLS_PER_PASS or tracker.active:
        raise RuntimeError(f"{name}: {calls} calls completed, {len(tracker.active)} left")


def _counts(data: bytes) -> tuple[int, int, int]:
    """Frames in `data`, and the events each client path must deliver (everything / the bridge's filter)."""
    decoded = FrameDecoder().feed(data)
    events = [f for f in decoded if f.event is not None]
    return len(decoded), len(events), sum(1 for f in events if TRACKED.keeps_frame(f))


def _run(data: bytes, counts: tuple[int, int, int], prefix: str, best: dict[str, tuple[float, int]],
         check: dict[str, TrackerReader], pure: bool) -> None:
    """One round of every reader over `data` (only counts are held meanwhile: no frames alive for the GC);
    `pure`: also the readers on the Python decoder."""
    total, events, tracked = counts
    readers: list[tuple[str, Callable[[], Callable[[socket.socket], int]]]] = [
        ("raw", lambda: raw_reader), ("tracker", TrackerReader), ("filtered", FilteredReader)]
    if pure:
        readers += [("pure_tracker", PureTrackerReader), ("pure_filtered", PureFilteredReader)]
    for name, make in readers:
        reader = make()
        elapsed, frames = _timed(data, reader)
        if frames != total:
            raise RuntimeError(f"{prefix}{name} reader saw {frames} frames, expected {total}")
        if isinstance(reader, TrackerReader):
            _check(prefix + name, reader.tracker)
            check[prefix + name] = reader
        _keep(best, prefix + name, elapsed, frames)
    # the bridge's real path: the recordings' own login replies go to the client's action matching
    clients = [("client_typed", False, False), ("client", True, False)]
    if pure:
        clients += [("pure_client_typed", False, True), ("pure_client", True, True)]
    for name, bridge_listener, pure_decoder in clients:
        elapsed, tracker = asyncio.run(
            _client_round(data, tracked if bridge_listener else events, bridge_listener, pure_decoder))
        _check(prefix + name, tracker)
        _keep(best, prefix + name, elapsed, total)


def _keep(best: dict[str, tuple[float, int]], name: str, elapsed: float, frames: int) -> None:
    if name not in best or elapsed < best[name][0]:
        best[name] = (elapsed, frames)


def _cpu_us(work: Callable[[], object], per: int) -> float:
    """Microseconds of CPU per item, best of ROUNDS (CPU time: other processes' load counts less)."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best / per * 1e6


def where_the_time_goes(data: bytes) -> dict[str, float]:
    """Each step of the ingest path on its own, in process (no socket), in CPU microseconds per frame.

    As in the readers, frames live only while their read is handled (a heap of kept frames would make the
    garbage collector, not the code, the cost being measured).
    """
    chunks = [data[i:i + RECV] for i in range(0, len(data), RECV)]
    total = len(FrameDecoder().feed(data))

    def split() -> None:  # what the raw reader does with each read
        buffer = b""
        for chunk in chunks:
            parts = (buffer + chunk).split(b"\r\n\r\n")
            buffer = parts.pop()

    def decode(wanted: EventFilter | None, pure: bool | None) -> None:
        feed = FrameDecoder(event_filter=wanted, pure=pure).feed
        for chunk in chunks:
            feed(chunk)

    def parse(texts: list[str]) -> None:
        for text in texts:
            parse_block(text)

    def track(wanted: EventFilter | None, pure: bool | None) -> tuple[float, int]:
        """CPU seconds in `CallTracker.feed` alone (the decoding of each read is not counted), and frames fed."""
        decoder, feed, spent, fed = FrameDecoder(event_filter=wanted, pure=pure), CallTracker().feed, 0.0, 0
        for chunk in chunks:
            batch = decoder.feed(chunk)
            start = time.process_time()
            for frame in batch:
                feed(frame, 0.0)
            spent += time.process_time() - start
            fed += len(batch)
        return spent, fed

    texts = data.decode().split("\r\n\r\n")[1:-1]
    figures = {"cpu_raw_split_us_per_frame": _cpu_us(split, total)}
    for label, pure in (("", None), ("pure_", True)):
        figures[f"cpu_{label}decode_us_per_frame"] = _cpu_us(lambda pure=pure: decode(None, pure), total)
        figures[f"cpu_{label}decode_filtered_us_per_frame"] = _cpu_us(lambda pure=pure: decode(TRACKED, pure), total)
    figures["cpu_parse_block_us_per_frame"] = _cpu_us(lambda: parse(texts), len(texts))
    for label, pure in (("", None), ("pure_", True)):
        for name, wanted in (("all", None), ("kept", TRACKED)):
            spent, fed = min(track(wanted, pure) for _ in range(ROUNDS))
            figures[f"cpu_{label}tracker_{name}_us_per_frame"] = spent / fed * 1e6
            if wanted is not None:
                figures["filtered_kept_frames"] = fed
    return figures


def main() -> dict:
    load_before = os.getloadavg()
    data = replay_bytes(SCENARIOS, COPIES)
    sent_by_asterisk = asterisk_filtered_bytes(COPIES)
    counts, asterisk_counts = _counts(data), _counts(sent_by_asterisk)
    best: dict[str, tuple[float, int]] = {}
    check: dict[str, TrackerReader] = {}
    for _ in range(ROUNDS):
        _run(data, counts, "", best, check, pure=True)
        _run(sent_by_asterisk, asterisk_counts, "asterisk_", best, check, pure=False)
    breakdown = where_the_time_goes(data)

    rate = {name: frames / elapsed for name, (elapsed, frames) in best.items()}
    figures: dict[str, object] = {
        "frames": counts[0],
        "bytes": len(data),
        "calls": COPIES * CALLS_PER_PASS,
        "call_events": check["tracker"].events,
        "tracker_only_events_per_s": 1e6 / breakdown["cpu_tracker_all_us_per_frame"],
        "parse_block_frames_per_s": 1e6 / breakdown["cpu_parse_block_us_per_frame"],
        "decoder": "python" if frames_module.PURE else "c",  # what the rows without `pure_` used
    }
    for name in ("raw", "tracker", "filtered", "client_typed", "client",
                 "pure_tracker", "pure_filtered", "pure_client_typed", "pure_client"):
        figures[f"{name}_events_per_s"] = rate[name]
        if name != "raw":
            figures[f"{name}_vs_raw"] = rate[name] / rate["raw"]
    figures["asterisk_frames"] = asterisk_counts[0]
    figures["asterisk_bytes"] = len(sent_by_asterisk)
    for name in ("raw", "tracker", "filtered", "client_typed", "client"):
        figures[f"asterisk_{name}_events_per_s"] = rate[f"asterisk_{name}"]
        if name != "raw":
            figures[f"asterisk_{name}_vs_raw"] = rate[f"asterisk_{name}"] / rate["asterisk_raw"]
    figures.update(breakdown)
    figures.update({"target_events_per_s": 30_000, "target_vs_raw": 0.5, "recv_bytes": RECV, "rounds": ROUNDS,
                    "load_average_1m_before": load_before[0], "load_average_1m_after": os.getloadavg()[0]})
    if len({check[name].events for name in ("tracker", "filtered", "pure_tracker", "pure_filtered")}) != 1:
        raise RuntimeError("the readers produced different call events")
    write_results("ami_ingest", figures)
    return figures


if __name__ == "__main__":
    main()
