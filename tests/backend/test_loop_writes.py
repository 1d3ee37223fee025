"""Writes committed on the event loop (backend.loop_writes) store exactly what the group committer
stores, and only when nothing is in the way: with a writer or a remover at work they write nothing
and never wait, and the request's write goes to a worker thread, which waits its turn."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from functools import partial

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from backend import group_commit
from backend.compiled_statements import Writes
from backend.config import Settings
from backend.db import make_engine, sqlite_file, writer_lock
from backend.loop_commits import LoopCommits
from backend.loop_writes import LoopWriter, Outcome
from backend.migrations import upgrade_to_head
from backend.models import Conversation, Message, OwnerRevision, Prediction, Upload
from backend.services import chat, file_lock
from backend.services.multipart import IncomingFile
from backend.services.predictions import files_in_place, place_and_commit, prepare_inline
from tests.conftest import csrf_of, jpeg_bytes

TABLES = (Conversation, Upload, Prediction, Message, OwnerRevision)


def _sqlite_only(settings: Settings) -> None:
    if not settings.sqlalchemy_url.startswith("sqlite"):
        pytest.skip("the event loop writes only to SQLite: PostgreSQL's writes are round trips")


@pytest.fixture
def make_database(settings, tmp_path):
    """A migrated SQLite database of its own, and its loop writer, per call."""
    _sqlite_only(settings)
    made = []

    def factory(name: str):
        own = Settings(data_dir=tmp_path / name, secret_key="test-secret", api_keys=[])
        own.ensure_dirs()
        engine = make_engine(own)
        upgrade_to_head(engine, own)
        writer = LoopWriter.for_engine(engine)
        made.append((engine, writer))
        return own, engine, writer

    yield factory
    for engine, writer in made:
        writer.close()
        engine.dispose()


def _incoming(data: bytes, tmp_path) -> IncomingFile:
    incoming = IncomingFile(field="files", filename="shirt.jpg", path=tmp_path / "incoming.jpg", size=len(data), data=data)
    incoming.sha256 = hashlib.sha256(data).hexdigest()
    return incoming


def _planned_send(settings, engine, classifier_engine, tmp_path) -> chat.PlannedSend:
    """A new conversation's first message: a text and a photo, planned (rows made), nothing written."""
    prepared = prepare_inline([_incoming(jpeg_bytes(), tmp_path)], settings, classifier_engine)
    with Session(engine) as session:
        return chat.plan(session, "b:someone", None, "what is this?", prepared, settings)


def _all_rows(engine) -> dict[str, list[dict]]:
    with engine.connect() as connection:
        return {model.__tablename__: [dict(row._mapping) for row in connection.execute(
            sa.select(model.__table__).order_by(*model.__table__.primary_key.columns))] for model in TABLES}


@pytest.fixture
def inference(classifier):
    from backend.services.inference import InferenceEngine

    engine = InferenceEngine(classifier, max_batch=8, max_wait_ms=1)
    yield engine
    engine.close()


def test_a_send_stores_the_same_rows_on_the_loop_as_through_the_committer(make_database, inference, tmp_path):
    settings_a, on_loop, writer = make_database("a")
    settings_b, committed, _ = make_database("b")
    planned = _planned_send(settings_a, on_loop, inference, tmp_path)
    assert writer.try_write(planned.writes) is Outcome.COMMITTED
    group_commit.start(committed)
    try:
        with Session(committed) as session:
            group_commit.write(session, planned.writes)
    finally:
        group_commit.stop(committed)
    stored = _all_rows(on_loop)
    assert stored == _all_rows(committed)
    assert [len(stored[model.__tablename__]) for model in TABLES] == [1, 1, 1, 4, 1]
    assert [m["kind"] for m in stored["message"]] == ["text", "image", "prediction", "text"]


def test_nothing_is_written_and_nothing_waits_while_another_writer_holds_the_lock(make_database, inference, tmp_path):
    settings, engine, writer = make_database("a")
    planned = _planned_send(settings, engine, inference, tmp_path)
    # a writer of this app, in this process or another: the writer lock is taken
    with _held_in_a_thread(lambda: writer_lock(engine)):
        assert writer.try_write(planned.writes) is Outcome.BUSY
    # a writer outside the app holds SQLite's own lock: refused at once, not after the 30 s busy timeout
    outsider = sqlite3.connect(sqlite_file(engine), isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    assert writer.try_write(planned.writes) is Outcome.BUSY
    assert time.monotonic() - started < 5
    assert all(not rows for rows in _all_rows(engine).values())
    outsider.execute("ROLLBACK")
    outsider.close()
    assert writer.try_write(planned.writes) is Outcome.COMMITTED
    assert len(_all_rows(engine)["prediction"]) == 1


def test_a_refused_write_leaves_nothing_behind(make_database, inference, tmp_path):
    settings, engine, writer = make_database("a")
    planned = _planned_send(settings, engine, inference, tmp_path)
    assert writer.try_write(planned.writes) is Outcome.COMMITTED
    messages = _all_rows(engine)["message"]
    # the same rows again: the conversation's and upload's ids are taken, so the first statement fails
    assert writer.try_write(planned.writes) is Outcome.REFUSED
    # a conversation that was deleted meanwhile: the messages' foreign key refuses the last statement,
    # and the statements before it are rolled back with it
    fresh = _planned_send(settings, engine, inference, tmp_path)
    _, *without_their_conversation = fresh.writes.steps  # the uploads, predictions, revision and messages
    with engine.begin() as connection:
        connection.execute(sa.delete(Message.__table__))
        connection.execute(sa.delete(Conversation.__table__))
    assert writer.try_write(Writes(tuple(without_their_conversation))) is Outcome.REFUSED
    stored = _all_rows(engine)
    assert stored["conversation"] == [] and stored["message"] == [] and len(messages) == 4
    assert len(stored["prediction"]) == 1  # the first send's, committed before


def test_files_that_need_writing_or_a_remover_at_work_keep_the_write_off_the_loop(make_database, inference, tmp_path):
    settings, engine, _ = make_database("a")
    planned = _planned_send(settings, engine, inference, tmp_path)
    assert not files_in_place(planned.prepared, settings)  # a new photo: its files are written in a thread
    with Session(engine) as session:
        place_and_commit(session, planned.prepared, planned.writes, settings)
    again = _planned_send(settings, engine, inference, tmp_path)  # the same bytes, sent again
    assert files_in_place(again.prepared, settings)
    with file_lock.placing_if_free(settings) as free:
        assert free
    with _held_in_a_thread(lambda: file_lock.removing(settings)), file_lock.placing_if_free(settings) as free:
        assert not free


def _write_paths(client) -> dict[str, float]:
    metrics = client.get("/metrics").text
    return {path: float(n) for path, n in re.findall(r'closetchat_request_writes_total\{path="([^"]+)"\} (\S+)', metrics)}


@pytest.mark.parametrize("in_the_way", ["writer", "remover"])
def test_a_send_that_finds_something_in_the_way_is_stored_by_a_thread(make_client, settings, in_the_way):
    _sqlite_only(settings)
    client = make_client(settings)
    token = csrf_of(client)
    photo = {"files": ("shirt.jpg", jpeg_bytes(), "image/jpeg")}
    first = client.post("/c", data={"csrf_token": token}, files=photo, follow_redirects=False)
    assert first.status_code == 303 and _write_paths(client) == {"worker thread": 1.0}  # its files were new
    url = first.headers["location"] + "/messages"
    assert client.post(url, data={"csrf_token": token}, files=photo, headers={"HX-Request": "true"}).status_code == 200
    assert _write_paths(client) == {"worker thread": 1.0, "event loop": 1.0}

    holds = (lambda: writer_lock(client.app.state.db)) if in_the_way == "writer" else (lambda: file_lock.removing(settings))
    with _held_in_a_thread(holds, release_after_s=0.5):
        started = time.monotonic()
        response = client.post(url, data={"csrf_token": token}, files=photo, headers={"HX-Request": "true"})
        waited = time.monotonic() - started
    assert response.status_code == 200 and 'class="bubble assistant prediction"' in response.text
    assert waited >= 0.3  # it waited, in a thread, for the holder to let go
    assert _write_paths(client) == {"worker thread": 2.0, "event loop": 1.0}
    with Session(client.app.state.db) as session:
        assert len(session.exec(sa.select(Prediction.id)).all()) == 3
        assert len(session.exec(sa.select(Message.id)).all()) == 6


@contextmanager
def _held_in_a_thread(make_context, release_after_s: float | None = None):
    """Hold a lock from another thread (as another request or worker would) until the block ends, or
    until release_after_s while the block goes on."""
    taken, release = threading.Event(), threading.Event()

    def hold():
        with make_context():
            taken.set()
            release.wait(30)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(10)
    timer = threading.Timer(release_after_s, release.set) if release_after_s is not None else None
    if timer:
        timer.start()
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def test_the_api_stores_a_photo_sent_again_on_the_loop(make_client, settings):
    _sqlite_only(settings)
    client = make_client(settings)
    photo = {"files": ("shirt.jpg", jpeg_bytes(), "image/jpeg")}
    answers = [client.post("/api/v1/predictions", files=photo).json()["results"][0] for _ in range(2)]
    assert _write_paths(client) == {"worker thread": 1.0, "event loop": 1.0}
    assert answers[0]["id"] != answers[1]["id"] and answers[0]["label"] == answers[1]["label"]
    listed = client.get("/api/v1/predictions").json()
    assert listed["total"] == 2 and {item["id"] for item in listed["items"]} == {a["id"] for a in answers}


def _commit_together(commits: LoopCommits, writes: list[Writes], still_valid=lambda: True, cancel: int | None = None):
    """Each write sent to the loop's commit queue by a request of its own, all in the same turn of the
    loop (as requests taken from one poll of the sockets are); cancel: the index of one whose request
    is gone before the turn ends. What each request heard: True, False, or the exception raised."""
    async def together():
        tasks = [asyncio.ensure_future(commits.commit(w, still_valid)) for w in writes]
        await asyncio.sleep(0)  # every request reaches its commit before the queue is flushed
        if cancel is not None:
            tasks[cancel].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)
    return asyncio.run(together())


def _loop_commits(settings, writer, batches: list, retry_s: float = 0.0005) -> LoopCommits:
    return LoopCommits(writer, partial(file_lock.placing_if_free, settings), on_batch=batches.append, retry_s=retry_s)


def test_sends_that_reach_the_loop_in_one_turn_share_one_commit(make_database, inference, tmp_path):
    settings, engine, writer = make_database("a")
    batches = []
    sends = [_planned_send(settings, engine, inference, tmp_path) for _ in range(3)]
    assert _commit_together(_loop_commits(settings, writer, batches), [s.writes for s in sends]) == [True] * 3
    assert batches == [3]
    stored = _all_rows(engine)
    assert [len(stored[model.__tablename__]) for model in TABLES] == [3, 3, 3, 12, 1]
    assert stored["owner_revision"][0]["revision"] == 3
    assert {c["id"] for c in stored["conversation"]} == {s.result.conversation.id for s in sends}


def test_a_refused_send_in_a_shared_commit_is_the_only_one_refused(make_database, inference, tmp_path):
    settings, engine, writer = make_database("a")
    batches = []
    first = _planned_send(settings, engine, inference, tmp_path)
    assert writer.try_write(first.writes) is Outcome.COMMITTED
    fresh = [_planned_send(settings, engine, inference, tmp_path) for _ in range(2)]
    # the first send again (its ids are taken) between two new ones: the shared commit is refused and
    # rolled back whole, then each is tried alone
    heard = _commit_together(_loop_commits(settings, writer, batches), [fresh[0].writes, first.writes, fresh[1].writes])
    assert heard == [True, False, True] and batches == [1, 1]
    assert {c["id"] for c in _all_rows(engine)["conversation"]} == {s.result.conversation.id for s in [first, *fresh]}
    # rows that break the code, not the database (a value missing): only their request hears of it
    broken = Writes(((fresh[0].writes.steps[0][0], [{}]),))
    again = _planned_send(settings, engine, inference, tmp_path)
    heard = _commit_together(_loop_commits(settings, writer, batches), [broken, again.writes])
    assert isinstance(heard[0], KeyError) and heard[1] is True
    assert len(_all_rows(engine)["conversation"]) == 4


def test_a_shared_commit_tries_again_while_a_writer_is_in_the_way_then_gives_up(make_database, inference, tmp_path):
    settings, engine, writer = make_database("a")
    batches = []
    sends = [_planned_send(settings, engine, inference, tmp_path) for _ in range(2)]
    # held for good: four tries, 0.1 s apart, and then each request goes the usual way; nothing written
    with _held_in_a_thread(lambda: writer_lock(engine)):
        commits = _loop_commits(settings, writer, batches, retry_s=0.1)
        started = time.monotonic()
        assert _commit_together(commits, [s.writes for s in sends]) == [False, False]
        assert 0.25 <= time.monotonic() - started < 5
    assert all(not rows for rows in _all_rows(engine).values()) and batches == []
    # let go after 0.05 s: a later try commits both together
    with _held_in_a_thread(lambda: writer_lock(engine), release_after_s=0.05):
        assert _commit_together(commits, [s.writes for s in sends]) == [True, True]
    assert batches == [2] and len(_all_rows(engine)["conversation"]) == 2


def test_a_remover_at_work_or_a_file_gone_keeps_a_send_off_the_loop(make_database, inference, tmp_path):
    settings, engine, writer = make_database("a")
    batches = []
    send = _planned_send(settings, engine, inference, tmp_path)
    commits = _loop_commits(settings, writer, batches, retry_s=0.01)
    with _held_in_a_thread(lambda: file_lock.removing(settings)):
        assert _commit_together(commits, [send.writes]) == [False]
    assert _commit_together(commits, [send.writes], still_valid=lambda: False) == [False]
    assert all(not rows for rows in _all_rows(engine).values()) and batches == []


def test_a_request_gone_before_the_commit_writes_nothing(make_database, inference, tmp_path):
    settings, engine, writer = make_database("a")
    batches = []
    sends = [_planned_send(settings, engine, inference, tmp_path) for _ in range(3)]
    heard = _commit_together(_loop_commits(settings, writer, batches), [s.writes for s in sends], cancel=1)
    assert heard[0] is True and isinstance(heard[1], asyncio.CancelledError) and heard[2] is True
    assert {c["id"] for c in _all_rows(engine)["conversation"]} == {sends[0].result.conversation.id,
                                                                     sends[2].result.conversation.id}
    assert batches == [2]
