"""SQLite writes committed right on the event loop, when nothing stands in their way.

A chat send's writes went to a worker thread, which queued them for the group committer's thread
(backend.group_commit) and waited: two threads woken a send, and the GIL handed between them and the
event loop at every call that releases it (each SQLite step, each lock, each file check). Under load
that cost more than the writes themselves (about 0.3 ms a send, rows made and committed one send after
another on one thread): committed on the event loop instead, a chat send took 2.0-2.3 ms of CPU where
it took 2.4-2.7, and the chat served 1.18× the sends (two workers, 16 connections, four rounds in turn
with the tree before, 1.13-1.26; README).

The loop must never wait, so a write comes here only when it can finish at once: the writer lock
(backend.db.WriterLock) is free in every worker, SQLite's own lock is taken with BEGIN IMMEDIATE on a
connection whose busy timeout is 0, and the caller has checked that no file needs writing. Otherwise
nothing is written and try_write() says so; the caller then goes the usual way (a worker thread, the
group committer), which waits as long as it must and reports errors as before. With synchronous=NORMAL
a WAL commit writes to the page cache and syncs nothing, so what runs here is short and bounded.
"""

from __future__ import annotations

import enum
import sqlite3
from pathlib import Path

from sqlalchemy.engine import Engine

from backend.compiled_statements import Writes
from backend.db import WriterLock, configure_sqlite, sqlite_file, writer_lock


class Outcome(enum.Enum):
    COMMITTED = "committed"
    BUSY = "busy"  # another writer holds the lock: nothing written, worth trying again soon
    REFUSED = "refused"  # the database refused the writes: nothing written


class LoopWriter:
    """One SQLite connection of a worker process's event loop, for writes that need no waiting."""

    def __init__(self, engine: Engine, database: Path, lock: WriterLock, background_checkpoints: bool) -> None:
        self._dialect = engine.dialect
        self._database = database
        self._lock = lock
        self._background_checkpoints = background_checkpoints
        self._connection: sqlite3.Connection | None = None

    @classmethod
    def for_engine(cls, engine: Engine, background_checkpoints: bool = False) -> LoopWriter | None:
        """The loop writer of an SQLite file's engine; None for PostgreSQL (its writes are round trips,
        which go to threads) or an in-memory database."""
        database, lock = sqlite_file(engine), writer_lock(engine)
        if database is None or not isinstance(lock, WriterLock):
            return None
        return cls(engine, database, lock, background_checkpoints)

    def try_write(self, writes: Writes) -> Outcome:
        """Commit the writes now, or write nothing and say why not: another writer holds the lock
        (BUSY: in any worker, or outside the app), or the database refused them (REFUSED: the
        caller's usual way will meet the same refusal and report it)."""
        if not self._lock.acquire_if_free():
            return Outcome.BUSY
        try:
            return self._commit(writes)
        finally:
            self._lock.release()

    def _commit(self, writes: Writes) -> Outcome:
        try:
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")  # busy timeout 0: fails at once if SQLite's lock is taken
        except sqlite3.OperationalError:
            return Outcome.BUSY
        try:
            writes.run_dbapi(connection.cursor(), self._dialect)
            connection.execute("COMMIT")
        except sqlite3.Error:
            self._roll_back(connection)
            return Outcome.REFUSED
        except BaseException:
            self._roll_back(connection)
            raise
        return Outcome.COMMITTED

    @staticmethod
    def _roll_back(connection: sqlite3.Connection) -> None:
        if connection.in_transaction:
            connection.execute("ROLLBACK")

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # isolation_level None: the driver begins nothing by itself; BEGIN and COMMIT are ours.
            # timeout 0: not even its settings wait for a lock
            connection = sqlite3.connect(self._database, timeout=0, isolation_level=None, check_same_thread=False)
            try:
                configure_sqlite(connection, busy_timeout_ms=0, background_checkpoints=self._background_checkpoints)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
