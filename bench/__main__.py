"""Runs benchmarks: `python -m bench` (all) or `python -m bench NAME [NAME...]`.

A benchmark is a module `bench/NAME.py` or package `bench/NAME/` with a `main()` that measures, calls
`bench.common.write_results(NAME, figures)` and returns the figures.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

SKIP = {"common", "__main__", "_dbsetup"}
# run only when named: ten minutes of load (make bench BENCH=soak)
NAMED_ONLY = {"soak"}


def available() -> list[str]:
    here = Path(__file__).resolve().parent
    names = (m.name for m in pkgutil.iter_modules([str(here)]))
    return sorted(n for n in names if n not in SKIP and not n.startswith("_"))


def main(argv: list[str]) -> int:
    names = [a for a in argv if a] or [n for n in available() if n not in NAMED_ONLY]
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    failed = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        try:
            # benchmarks with their own options get none here: the command line named benchmarks
            module.main([]) if inspect.signature(module.main).parameters else module.main()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            print(f"bench {name} failed: {exc!r}")
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
