"""Alembic is the only way the schema is made or changed; the app upgrades to head on start.

Several processes may start at once (uvicorn --workers 2), so the upgrade runs under a lock:
a file lock for SQLite, an advisory lock for PostgreSQL.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

from backend.core.assets import MIGRATIONS_DIR
from backend.core.config import Settings

ADVISORY_KEY = 0x636C6F73  # "clos"


def alembic_config(url: str | None = None) -> Config:
    """The app's Alembic config. No alembic.ini is read (an installed wheel has none): the script
    location is all the app needs; alembic.ini in the repo serves the `alembic` command line."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.attributes["url"] = url
    return cfg


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade_to_head(engine: Engine, settings: Settings) -> None:
    cfg = alembic_config()
    if engine.dialect.name == "sqlite":
        with _file_lock(settings.data_dir / ".migrate.lock"), engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_KEY})
        conn.commit()
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            conn.commit()
