"""A migrated, empty database for the storage benchmarks: DATABASE_URL (PostgreSQL) or a temp SQLite file."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from hotline.db import make_engine, normalise_url, upgrade_to_head


def fresh_database(name: str) -> tuple[str, Engine]:
    url = os.environ.get("DATABASE_URL")
    if url:
        url = normalise_url(url)
        engine = make_engine(url)
        with engine.begin() as conn:  # a dedicated database is expected: the bench starts from nothing
            if engine.dialect.name == "postgresql":
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            else:
                for table in inspect(conn).get_table_names():
                    conn.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
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
