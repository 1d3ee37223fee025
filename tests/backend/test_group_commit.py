"""Group commit: writes that wait together share a transaction; each caller gets its own result or
its own error, and only once the write is committed."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend import group_commit
from backend.db import make_engine
from backend.group_commit import GroupCommitter
from tests.conftest import csrf_of, jpeg_bytes


@pytest.fixture
def engine(settings):
    if not settings.sqlalchemy_url.startswith("sqlite"):
        pytest.skip("group commit is for SQLite's one writer")
    settings.ensure_dirs()
    engine = make_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE item (n INTEGER PRIMARY KEY)")
    yield engine
    engine.dispose()


def _insert(n: int):
    def job(connection):
        connection.execute(text("INSERT INTO item (n) VALUES (:n)"), {"n": n})
        return n * 10
    return job


def _stored(engine) -> list[int]:
    with engine.connect() as conn:
        return [n for (n,) in conn.exec_driver_sql("SELECT n FROM item ORDER BY n")]


def _queue_behind_a_running_job(committer, jobs, then=None) -> list:
    """Queue the jobs while the committer is busy with another, so that they wait together; call
    then() (if given) while they wait, let the busy job end, return each job's result or error."""
    started, release = threading.Event(), threading.Event()

    def busy(connection):
        started.set()
        release.wait(10)
        return "busy"

    with ThreadPoolExecutor(len(jobs) + 1) as pool:
        first = pool.submit(committer.run, busy)
        assert started.wait(10)
        futures = [pool.submit(committer.run, job) for job in jobs]
        while committer._queue.qsize() < len(jobs):
            time.sleep(0.005)
        if then:
            then()
        release.set()
        assert first.result() == "busy"
        return [f.exception() or f.result() for f in futures]


def test_writes_waiting_together_share_a_commit(engine):
    committer = GroupCommitter(engine)
    results = _queue_behind_a_running_job(committer, [_insert(n) for n in range(1, 21)])
    committer.close()
    assert results == [n * 10 for n in range(1, 21)]
    assert _stored(engine) == list(range(1, 21))
    assert (committer.batches, committer.jobs) == (2, 21)  # the busy job, then the twenty together


def test_a_failing_write_fails_alone(engine):
    committer = GroupCommitter(engine)
    jobs = [_insert(1), _insert(2), _insert(1), _insert(3)]  # the second 1 breaks the primary key
    results = _queue_behind_a_running_job(committer, jobs)
    with pytest.raises(IntegrityError):  # a write alone in its batch gets its error too
        committer.run(_insert(2))
    committer.close()
    assert results[:2] == [10, 20] and results[3] == 30
    assert isinstance(results[2], IntegrityError)
    assert _stored(engine) == [1, 2, 3]


def test_close_commits_what_is_queued_then_refuses(engine):
    committer = GroupCommitter(engine)
    closing = threading.Thread(target=committer.close)
    results = _queue_behind_a_running_job(committer, [_insert(n) for n in range(1, 5)], then=closing.start)
    closing.join()
    assert results == [10, 20, 30, 40]
    assert _stored(engine) == [1, 2, 3, 4]
    with pytest.raises(RuntimeError):
        committer.run(_insert(5))


def test_write_uses_the_engines_committer_and_else_the_session(engine):
    with Session(engine) as session:  # no committer started: the session commits it
        assert group_commit.write(session, _insert(1)) == 10
    committer = group_commit.start(engine)
    try:
        with Session(engine) as session:
            assert group_commit.write(session, _insert(2)) == 20
            assert group_commit.write(session, _insert(3)) == 30
    finally:
        group_commit.stop(engine)
    assert committer.jobs == 2
    assert _stored(engine) == [1, 2, 3]


def test_the_apps_writes_go_through_its_committer_or_the_event_loop(make_client, settings):
    client = make_client(settings)
    committer = client.app.state.committer
    if not settings.sqlalchemy_url.startswith("sqlite"):
        assert committer is None and client.app.state.loop_commits is None  # PostgreSQL's writers need no queue
        return
    # a new photo: its files are written in a worker thread, and its rows committed by the committer
    response = client.post("/api/v1/predictions", files={"files": ("shirt.jpg", jpeg_bytes(), "image/jpeg")})
    assert response.status_code == 200
    assert committer.jobs == 1
    # the same photo again: no file to write, so the chat's rows are committed on the event loop
    token = csrf_of(client)
    response = client.post("/c", data={"csrf_token": token}, files={"files": ("shirt.jpg", jpeg_bytes(), "image/jpeg")},
                           follow_redirects=False)
    assert response.status_code == 303
    assert committer.jobs == 1
    metrics = client.get("/metrics").text
    assert "closetchat_commit_batch_size_count 2.0" in metrics  # one commit by the thread, one on the loop
    assert 'closetchat_request_writes_total{path="worker thread"} 1.0' in metrics
    assert 'closetchat_request_writes_total{path="event loop"} 1.0' in metrics
    assert client.get(response.headers["location"]).text.count('class="bubble') >= 2
    client.__exit__(None, None, None)  # shutdown stops it
    with pytest.raises(RuntimeError):
        committer.run(_insert(1))
