"""`make demo` is one of the two Quick start commands: the whole system in one process on embedded defaults
(simulated PBX, SQLite, embedded Redis). Run it for real, briefly, and read its summary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from hotline.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def figure(summary: str, label: str) -> int:
    match = re.search(rf"^\s*{re.escape(label)}\s+(\d+)", summary, re.MULTILINE)
    assert match, f"{label!r} missing from the demo summary:\n{summary}"
    return int(match.group(1))


def test_the_demo_answers_calls_pops_them_and_files_orders(tmp_path: Path) -> None:
    port = free_port()
    run = subprocess.run([sys.executable, "-m", "hotline.demo", "--duration", "45", "--rate", "0.15",
                          "--port", str(port), "--database", str(tmp_path / "demo.db")],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert f"http://127.0.0.1:{port}" in out and "agent1001 / demo-agent-1001" in out
    summary = out[out.index("demo summary"):]
    offered, answered = figure(summary, "calls offered"), figure(summary, "answered")
    assert offered >= 2 and answered >= 1
    assert figure(summary, "pops delivered") >= answered          # every answered call rang a seat with a pop
    orders = re.search(r"work orders created\s+(\d+) \((\d+) filed by simulated seats", summary)
    assert orders and int(orders.group(2)) >= 1, summary            # the simulated seats filed their orders
    assert "answered" in summary.split("calls seen by the platform:")[1]   # the tracker saw them too
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
