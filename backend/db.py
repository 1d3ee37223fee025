"""The database engine (SQLite in WAL mode by default, PostgreSQL by URL) and sessions."""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from backend.config import Settings

SQLITE_POOL = 24
BUSY_TIMEOUT_MS = 30_000


def configure_sqlite(dbapi_connection, busy_timeout_ms: int, background_checkpoints: bool) -> None:
    """The settings every connection to the app's SQLite database gets (the engine's, and the event
    loop's own in backend.loop_writes)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives kill -9, not power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    if background_checkpoints:
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def make_engine(settings: Settings, background_checkpoints: bool = False) -> Engine:
    """background_checkpoints: the caller runs a WalCheckpointer on this database (the server
    does), so no commit of these connections checkpoints the WAL itself."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # a pool as large as the requests one worker serves at once: connections (and their
        # PRAGMAs) are made once, not opened and closed by every request past the fifth
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=SQLITE_POOL, max_overflow=SQLITE_POOL)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            configure_sqlite(dbapi_connection, BUSY_TIMEOUT_MS, background_checkpoints)

        database = sqlite_file(engine)
        _SQLITE_WRITERS[engine] = WriterLock(Path(f"{database}.writer-lock") if database else None)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of an SQLite engine; None for PostgreSQL or an in-memory database."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database)


def calls_are_local(engine: Engine) -> bool:
    """Whether a short call into the database may run on the event loop: on SQLite it is a call into a
    local file, which a writer never blocks in WAL mode (a chat send's conversation read under load: 0.16
    ms of the loop's CPU, where a worker thread spent 0.43; closing a session, a rollback); on PostgreSQL
    it is a round trip, which goes to a thread."""
    return engine.dialect.name == "sqlite"


_SQLITE_WRITERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class WriterLock:
    """One SQLite writer at a time, queued: threads of this process on a lock, worker processes on
    an flock() of a file beside the database. Both wake the next writer the moment the previous one
    lets go, where SQLite's own busy handler makes a waiting writer sleep and poll."""

    def __init__(self, path: Path | None) -> None:
        self._threads = threading.Lock()
        self._path = path
        self._fd: int | None = None
        if path is not None:
            path.touch(exist_ok=True)  # made with the database, not by the first upload

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._path is not None:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def acquire_if_free(self) -> bool:
        """Take the lock only if no writer holds it, in this process or another; never waits.
        True: it is held, and the caller lets go with release()."""
        if not self._threads.acquire(blocking=False):
            return False
        try:
            if self._path is not None:
                fcntl.flock(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._threads.release()
            return False
        except BaseException:
            self._threads.release()
            raise
        return True

    def _file(self) -> int:
        if self._fd is None:  # opened on first use, in the worker process that uses it
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def writer_turn(session: Session):
    """Hold this around a write transaction (first INSERT to commit).

    SQLite admits one writer at a time, and a writer that finds it taken polls with sleeps of up to
    100 ms, with no queue: with sixteen requests writing at once an unlucky one waited about a second
    (chat send p99 1,020 ms). A WriterLock per engine queues the writers of every worker instead;
    they wake as soon as the previous one commits. PostgreSQL locks rows, not the file: it needs
    nothing.
    """
    return writer_lock(session.get_bind())


def writer_lock(engine: Engine):
    """The engine's WriterLock (SQLite), or a context that does nothing (PostgreSQL)."""
    return _SQLITE_WRITERS.get(engine, nullcontext())


def session_scope(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session
