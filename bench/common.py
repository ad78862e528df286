"""What every benchmark shares: percentiles, the results file and the printed table."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample list."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def write_results(name: str, figures: dict[str, Any]) -> Path:
    """Write a flat object of figures (the baseline's beside them) and print it."""
    flat = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items()}
    flat.setdefault("measured_at", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    flat.setdefault("machine", f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    for key, value in flat.items():
        if isinstance(value, dict | list):
            raise TypeError(f"bench figure {key!r} must be flat, got {type(value).__name__}")
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(flat, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    width = max(len(k) for k in flat)
    print(f"== bench {name} ==")
    for key, value in flat.items():
        print(f"  {key:<{width}}  {value}")
    return path
