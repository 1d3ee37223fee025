"""SQLite writers in one process queue on one lock (backend.core.db.WriterQueue) rather than in
SQLite's sleeping busy handler: the lock is taken at the first write and always given back (at
commit, at rollback, at a close without either), and a writer that waits past the busy timeout is
answered 503."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from backend.core import db
from backend.core.config import Settings
from backend.core.errors import ServiceBusy
from backend.models import OwnerRevision


@pytest.fixture
def engine(tmp_path):
    engine = db.make_engine(Settings(data_dir=tmp_path))
    OwnerRevision.__table__.create(engine)
    yield engine
    engine.dispose()


def _write(engine, owner: str, end: str = "commit") -> None:
    session = Session(engine)
    session.add(OwnerRevision(owner=owner, revision=1))
    session.flush()
    if end == "commit":
        session.commit()
    elif end == "rollback":
        session.rollback()
    session.close()


def test_the_lock_is_given_back_however_a_write_ends(engine):
    for i, end in enumerate(["commit", "rollback", "close", "commit"] * 5):
        _write(engine, f"owner-{i}", end)  # a lock kept by any of these would make the next one wait 30 s
    with Session(engine) as session:
        assert len(session.exec(select(OwnerRevision)).all()) == 10
        session.exec(select(OwnerRevision)).all()  # reads take no lock


def test_a_second_writer_waits_on_the_lock_then_writes(engine):
    first = Session(engine)
    first.add(OwnerRevision(owner="first", revision=1))
    first.flush()  # holds the write
    done = threading.Event()
    threading.Thread(target=lambda: (_write(engine, "second"), done.set()), daemon=True).start()
    assert not done.wait(0.5)  # queued behind the first writer
    first.commit()
    first.close()
    assert done.wait(10)
    with Session(engine) as session:
        assert {r.owner for r in session.exec(select(OwnerRevision))} == {"first", "second"}


def test_a_writer_waiting_past_the_busy_timeout_gets_service_busy(engine, monkeypatch):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    first = Session(engine)
    first.add(OwnerRevision(owner="first", revision=1))
    first.flush()
    failures = []

    def second():
        try:
            _write(engine, "second")
        except ServiceBusy as exc:
            failures.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(10)
    first.commit()
    first.close()
    assert len(failures) == 1 and failures[0].status_code == 503
    _write(engine, "third")  # the refused writer left nothing held
