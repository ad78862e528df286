"""`python -m pbxsim` starts, serves AMI on the port it prints, places Poisson calls, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

from tests.pbxsim.amitool import RawAmi

ROOT = Path(__file__).resolve().parents[2]


async def test_cli_serves_ami_and_generates_traffic() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pbxsim", "--ami-port", "0", "--ami-secret", "hotline-secret", "--agi", "none",
        "--rate", "2", "--scale", "20",
        "--agents", "1001,1002", "--talk", "5", "--patience", "none", "--answer-delay", "1",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        port = int(re.search(r"AMI on [\d.]+:(\d+)", line).group(1))  # type: ignore[union-attr]
        ami = RawAmi()
        reply = await ami.connect(port)
        assert reply["Message"] == "Authentication accepted"
        status = await ami.send({"Action": "QueueStatus", "Queue": "hotline-general"})
        assert sorted(f["Name"] for f in status if f.get("Event") == "QueueMember") == ["agent-1001", "agent-1002"]
        join = await ami.wait_for(lambda f: f.event == "QueueCallerJoin", timeout=10)
        assert join["Queue"] == "hotline-general"
        await ami.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0
    assert b"offered" in out


async def test_cli_rejects_a_bad_distribution() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pbxsim", "--ami-port", "0", "--talk", "weird:1", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2 and b"unknown distribution" in err


def test_config_from_the_platform_settings() -> None:
    from hotline.settings import Settings
    from pbxsim.config import SimConfig

    settings = Settings(demo=True, ami_port=15038, fastagi_port=14573)
    config = SimConfig.from_settings(settings)
    assert (config.ami_port, config.ami_username) == (15038, "hotline")
    assert config.ami_secret == settings.ami_secret.get_secret_value()  # type: ignore[union-attr]
    assert config.agi_url == "agi://127.0.0.1:14573/ivr"
