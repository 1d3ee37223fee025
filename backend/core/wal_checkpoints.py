"""SQLite WAL checkpoints in a background thread, not inside a request's commit.

By default the connection whose commit takes the write-ahead log past 1,000 pages copies it back
into the database file (and syncs it) before that commit returns, holding SQLite's single write
lock, which every writer waits for, meanwhile. The server's connections turn that off
(`PRAGMA wal_autocheckpoint=0`) and this thread checkpoints instead, PASSIVE (it never waits for,
nor blocks, readers or the writer), on its own connection. Checkpoints of worker processes on
one database exclude each other inside SQLite; a busy one just tries again next time.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("closetchat")


class WalCheckpointer:
    """Checkpoint `database` every `interval` seconds until stop()."""

    def __init__(self, database: Path, interval: float = 0.5) -> None:
        self._database = database
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0  # checkpoints attempted, for tests and curiosity

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="wal-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Let the thread finish its current checkpoint and end; one last checkpoint follows."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def checkpoint(self, connection: sqlite3.Connection) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, pages in the log, pages copied back)."""
        self.runs += 1
        return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def _loop(self) -> None:
        connection = sqlite3.connect(self._database, timeout=30, check_same_thread=False)
        try:
            while not self._stopping.wait(self._interval):
                self._checkpoint_logged(connection)
            self._checkpoint_logged(connection)
        finally:
            connection.close()

    def _checkpoint_logged(self, connection: sqlite3.Connection) -> None:
        try:
            self.checkpoint(connection)
        except sqlite3.Error as exc:  # a full disk, say: the next run tries again; requests go on
            log.warning("WAL checkpoint failed: %s", exc)
