"""A migrated, empty database for the storage benchmarks: DATABASE_URL (PostgreSQL) or a temp SQLite file."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import Engine

from hotline.db import drop_everything, make_engine, normalise_url, upgrade_to_head


def fresh_database(name: str) -> tuple[str, Engine]:
    url = os.environ.get("DATABASE_URL")
    if url:
        url = normalise_url(url)
        engine = make_engine(url)
        drop_everything(engine)  # a dedicated database is expected: the bench starts from nothing
        engine.dispose()
    else:
        path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-")) / "hotline.db"
        url = f"sqlite:///{path}"
    upgrade_to_head(url)
    return url, make_engine(url)


def drop_database(url: str) -> None:
    """Remove the temp SQLite file a bench made (half a gigabyte for the history bench)."""
    if url.startswith("sqlite:///") and Path(url[len("sqlite:///"):]).parent.name.startswith("bench-"):
        shutil.rmtree(Path(url[len("sqlite:///"):]).parent, ignore_errors=True)
