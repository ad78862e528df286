"""Render the prompt catalogue to Asterisk-ready audio: `python -m ivr.prompts.render [--out DIR]`.

espeak-ng speaks each text with the Mandarin voice `cmn`; sox turns it into `<id>.wav` (8 kHz, mono, 16-bit)
and `<id>.sln16` (16 kHz signed linear, raw) so Asterisk can pick the best for the call's codec. A real
recording replaces a synthetic file one by one: any file this script did not write (it keeps a manifest,
`.rendered.json`) is left alone. Without espeak-ng or sox it says so and renders nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hotline.settings import get_settings
from ivr.prompts import catalogue, sound_prefix

VOICE = "cmn"
MANIFEST = ".rendered.json"
TOOLS = ("espeak-ng", "sox")


@dataclass
class RenderReport:
    rendered: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    recordings_kept: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def default_out_dir() -> Path:
    return get_settings().data_dir / "sounds" / sound_prefix()


def _digest(text: str) -> str:
    return hashlib.sha1(f"{VOICE}\0{text}".encode()).hexdigest()


def render_one(text: str, target: Path) -> None:
    """`target` without suffix: writes target.wav and target.sln16."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", VOICE, "-s", "240", "-w", str(raw), text], check=True,
                       capture_output=True, timeout=60)
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                        str(target.with_suffix(".wav"))], check=True, capture_output=True, timeout=60)
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw",
                        str(target.with_suffix(".sln16"))], check=True, capture_output=True, timeout=60)


def render(prompts: dict[str, str], out_dir: Path, force: bool = False) -> RenderReport:
    report = RenderReport()
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST
    manifest: dict[str, str] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for prompt_id, text in sorted(prompts.items()):
        target = out_dir / prompt_id
        exists = target.with_suffix(".wav").exists() or target.with_suffix(".sln16").exists()
        if exists and prompt_id not in manifest:
            report.recordings_kept.append(prompt_id)  # a real recording: never overwritten
            continue
        if exists and manifest.get(prompt_id) == _digest(text) and not force:
            report.unchanged.append(prompt_id)
            continue
        try:
            render_one(text, target)
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            report.failed[prompt_id] = f"{exc} {detail.decode(errors='replace').strip()}".strip()
            continue
        manifest[prompt_id] = _digest(text)
        report.rendered.append(prompt_id)
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True))
    return report


async def _current_notice_prompts() -> dict[str, str]:
    import redis.asyncio as aioredis

    from ivr.notice import get_notice

    url = get_settings().redis_url
    if not url:
        raise SystemExit("--notice needs REDIS_URL")
    client = aioredis.from_url(url, decode_responses=True)
    try:
        notice = await get_notice(client)
    finally:
        await client.aclose()
    if notice is None or notice.sound:
        return {}
    return {notice.prompt.split("/", 1)[1]: notice.text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivr.prompts.render", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: var/sounds/hotline)")
    parser.add_argument("--only", nargs="*", help="prompt ids to render (default: all)")
    parser.add_argument("--notice", action="store_true", help="also render the current notice from Redis")
    parser.add_argument("--force", action="store_true", help="re-render synthetic files even if unchanged")
    args = parser.parse_args(argv)
    missing = missing_tools()
    if missing:
        print(f"prompts not rendered: {', '.join(missing)} not found (Debian: apt-get install espeak-ng sox); "
              "the IVR still runs, Asterisk logs each missing file and the flows skip it", file=sys.stderr)
        return 0
    prompts = catalogue()
    if args.only:
        unknown = sorted(set(args.only) - set(prompts))
        if unknown:
            print(f"unknown prompt ids: {', '.join(unknown)}", file=sys.stderr)
            return 2
        prompts = {k: prompts[k] for k in args.only}
    if args.notice:
        prompts.update(asyncio.run(_current_notice_prompts()))
    out_dir = args.out or default_out_dir()
    report = render(prompts, out_dir, args.force)
    print(f"{out_dir}: {len(report.rendered)} rendered, {len(report.unchanged)} unchanged, "
          f"{len(report.recordings_kept)} real recordings kept, {len(report.failed)} failed")
    for prompt_id, error in report.failed.items():
        print(f"  failed {prompt_id}: {error}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
