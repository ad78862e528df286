"""`python -m bridge`: run the bridge role alone (AMI → call tracker → `calls` stream)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from hotline.heap import install_heap_policy
from hotline.runtime import run_roles
from hotline.settings import get_settings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    if settings.ami_secret is None:
        print("missing secret: set HOTLINE_AMI_SECRET in the environment (or HOTLINE_DEMO=1)", file=sys.stderr)
        return 2
    install_heap_policy()  # a long-running process: full collections walk only what is new (hotline.heap)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_roles(settings, ["bridge"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
