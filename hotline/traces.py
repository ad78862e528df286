"""The recordings of a real Asterisk 22.10.1 in ../shared/asterisk-traces: loaders used by the tests,
the simulator's conformance checks and the benchmarks."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.ami.frames import Frame, FrameDecoder
from hotline.settings import PROJECT_ROOT

SCENARIOS = ("basic", "abandon", "noanswer", "pausecycle", "redirect110", "blindxfer119", "status",
             "threeway", "utf8")


def traces_dir() -> Path:
    """HOTLINE_TRACES_DIR, else shared/asterisk-traces beside the checkout (or inside it)."""
    env = os.environ.get("HOTLINE_TRACES_DIR")
    candidates = [Path(env)] if env else []
    candidates += [PROJECT_ROOT.parent / "shared" / "asterisk-traces", PROJECT_ROOT / "shared" / "asterisk-traces"]
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError("asterisk-traces not found: set HOTLINE_TRACES_DIR")


@dataclass(frozen=True, slots=True)
class TracedFrame:
    t: float  # seconds since the recorder logged in
    frame: Frame
    raw: str


def load_ami(scenario: str) -> tuple[str, list[TracedFrame]]:
    """The banner and every frame of `<scenario>.ami.jsonl`, parsed from `raw` by our own decoder."""
    banner = ""
    frames: list[TracedFrame] = []
    for line in (traces_dir() / f"{scenario}.ami.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "banner" in record:
            banner = record["banner"]
            continue
        decoder = FrameDecoder(expect_banner=False)
        (frame,) = decoder.feed(record["raw"].encode("utf-8"))
        frames.append(TracedFrame(record["t"], frame, record["raw"]))
    return banner, frames


def load_ami_bytes(scenario: str) -> bytes:
    """The scenario as the byte stream Asterisk sent (banner line, then the frames)."""
    banner, frames = load_ami(scenario)
    return (banner + "\r\n").encode() + b"".join(f.raw.encode("utf-8") for f in frames)


def load_actions(scenario: str) -> list[dict[str, Any]]:
    path = traces_dir() / f"{scenario}.actions.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_agi_sessions(name: str = "agi_sessions") -> list[dict[str, Any]]:
    path = traces_dir() / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
