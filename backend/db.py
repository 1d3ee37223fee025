"""The database engine (SQLite in WAL mode by default, PostgreSQL by URL) and sessions."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import nullcontext

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from backend.config import Settings

SQLITE_POOL = 24


def make_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # a pool as large as the requests one worker serves at once: connections (and their
        # PRAGMAs) are made once, not opened and closed by every request past the fifth
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=SQLITE_POOL, max_overflow=SQLITE_POOL)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives kill -9, not power loss
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        _SQLITE_WRITERS[engine] = threading.Lock()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


_SQLITE_WRITERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def writer_turn(session: Session):
    """Hold this around a write transaction (first INSERT to commit).

    SQLite admits one writer at a time, and a writer that finds it taken polls with sleeps of up to
    100 ms, with no queue: with sixteen requests writing at once an unlucky one waited about a second
    (chat send p99 1,020 ms). A lock per engine queues this process's writers instead; they wake as
    soon as the previous one commits. PostgreSQL locks rows, not the file: it needs nothing.
    """
    return _SQLITE_WRITERS.get(session.get_bind(), nullcontext())


def session_scope(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session
