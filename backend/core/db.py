"""The database engine (SQLite in WAL mode by default, PostgreSQL by URL).

Every request gets a plain SQLModel Session (backend.core.deps.get_db) and every write ends in
session.commit(), on both databases. Sessions are used from FastAPI's thread pool only, never on
the event loop: a commit may wait for another writer (SQLite's busy timeout) or for the network.
The pool (settings.db_pool_size, as many again in overflow: about the thread pool's 40 threads, each
holding at most one connection) makes a request wait at most settings.db_pool_timeout for a
connection; then it is answered 503 with Retry-After (backend.main), never left to hang.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from backend.core.config import Settings
from backend.core.errors import NotFound

BUSY_TIMEOUT_MS = 30_000  # how long a SQLite writer waits for another to commit before it fails


def make_engine(settings: Settings, background_checkpoints: bool = False) -> Engine:
    """background_checkpoints: the caller runs a WalCheckpointer on this database (the server
    does), so no request's commit stops to copy the WAL back into the database file."""
    url = settings.sqlalchemy_url
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=settings.db_pool_size, max_overflow=10,
                             pool_timeout=settings.db_pool_timeout)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
                           pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size,
                           pool_timeout=settings.db_pool_timeout)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives kill -9, not power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if background_checkpoints:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    return engine


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of an SQLite engine; None for PostgreSQL or an in-memory database."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database)


def get_owned(session: Session, model, row_id: str, owner: str, what: str):
    """The row of `model` with this id if `owner` owns it; NotFound otherwise (another owner's row is
    answered exactly like a missing one, so ids leak nothing)."""
    row = session.get(model, row_id)
    if row is None or row.owner != owner:
        raise NotFound(f"no such {what}")
    return row
