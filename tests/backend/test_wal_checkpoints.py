"""The server's commits leave WAL checkpoints to a background thread, which does them."""

from __future__ import annotations

import time

import pytest

from backend.core.db import make_engine, sqlite_file
from backend.core.wal_checkpoints import WalCheckpointer

PAGES = 1500  # past SQLite's default autocheckpoint of 1,000 pages


def _sqlite_only(settings):
    if not settings.sqlalchemy_url.startswith("sqlite"):
        pytest.skip("WAL checkpoints are a SQLite matter")


def _fill(engine, pages: int) -> None:
    """Commit about `pages` pages of WAL, a page per commit, as many small sends would."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (body BLOB)")
    for _ in range(pages):
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO filler VALUES (randomblob(3000))")


def _wal_pages(database) -> int:
    path = database.with_name(database.name + "-wal")
    return path.stat().st_size // 4096 if path.exists() else 0


def test_commits_do_not_checkpoint_when_a_thread_does(settings):
    _sqlite_only(settings)
    settings.ensure_dirs()
    engine = make_engine(settings, background_checkpoints=True)
    database = sqlite_file(engine)
    _fill(engine, PAGES)
    # nothing copied the log back: it holds every page committed
    assert _wal_pages(database) >= PAGES
    busy, logged, copied = WalCheckpointer(database).checkpoint(engine.raw_connection().driver_connection)
    assert (busy, copied) == (0, logged) and logged >= PAGES
    engine.dispose()


def test_by_default_commits_checkpoint_themselves(settings):
    """The contrast that makes the test above mean something: SQLite's own setting restarts the
    log about every 1,000 pages."""
    _sqlite_only(settings)
    settings.ensure_dirs()
    engine = make_engine(settings)
    _fill(engine, PAGES)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        logged = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()[1]
    assert logged < 1100
    engine.dispose()


def _log_after_one_more_commit(engine) -> int:
    """Pages in the log after one more commit: that commit starts the log afresh if, and only if,
    everything in it was already copied back; this one look copies nothing that matters."""
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO filler VALUES (1)")
    with engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()[1]


def _wait_for_runs(checkpointer: WalCheckpointer, runs: int) -> None:
    deadline = time.time() + 10
    while checkpointer.runs < runs and time.time() < deadline:
        time.sleep(0.02)
    assert checkpointer.runs >= runs


def test_the_app_runs_the_checkpointer(make_client, settings):
    _sqlite_only(settings)
    client = make_client(settings)
    engine, checkpointer = client.app.state.db, client.app.state.checkpointer
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    _fill(engine, 200)
    _wait_for_runs(checkpointer, checkpointer.runs + 2)  # one whole run after the last commit
    assert _log_after_one_more_commit(engine) < 10


def test_the_thread_checkpoints_until_stopped(settings):
    _sqlite_only(settings)
    settings.ensure_dirs()
    engine = make_engine(settings, background_checkpoints=True)
    _fill(engine, 200)
    checkpointer = WalCheckpointer(sqlite_file(engine), interval=0.02)
    checkpointer.start()
    _wait_for_runs(checkpointer, 2)
    checkpointer.stop()
    runs = checkpointer.runs
    assert _log_after_one_more_commit(engine) < 10
    time.sleep(0.1)
    assert checkpointer.runs == runs  # stopped means stopped
    engine.dispose()
