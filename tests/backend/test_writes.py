"""Every write goes one way: files first, then the rows in one commit of a plain session, on SQLite
and PostgreSQL alike. What a send stores, that a failed commit leaves nothing, that writers wait for
each other without errors, and that a waiting write never holds up the event loop."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlmodel import Session, col, select

from backend.core.db import sqlite_file
from backend.models import Conversation, Message, OwnerRevision, Prediction, Upload
from backend.services import storage
from tests.conftest import csrf_of, jpeg_bytes, stored_keys

HX = {"HX-Request": "true"}


def _rows(client) -> dict[str, list]:
    with Session(client.app.state.db) as session:
        return {model.__tablename__: session.exec(select(model)).all()
                for model in (Conversation, Upload, Prediction, Message, OwnerRevision)}


def _photo(i: int = 0) -> dict:
    return {"files": (f"p{i}.jpg", jpeg_bytes(colour=(40 + i, 60, 200)), "image/jpeg")}


def test_a_send_stores_its_rows_and_its_files(client, settings):
    token = csrf_of(client)
    r = client.post("/c", data={"csrf_token": token, "text": "what is this?"}, files=_photo(), follow_redirects=False)
    assert r.status_code == 303
    rows = _rows(client)
    assert [len(rows[name]) for name in ("conversation", "upload", "prediction", "message", "owner_revision")] == [1, 1, 1, 4, 1]
    messages = sorted(rows["message"], key=lambda m: m.id)
    assert [m.kind for m in messages] == ["text", "image", "prediction", "text"]
    upload, prediction = rows["upload"][0], rows["prediction"][0]
    assert prediction.upload_id == upload.id and prediction.conversation_id == rows["conversation"][0].id
    assert rows["conversation"][0].title == prediction.label and rows["owner_revision"][0].revision == 1
    with storage.open_upload(settings, upload) as stored:
        assert stored.read() == _photo()["files"][1]
    assert stored_keys(settings, "thumbs") == [f"thumbs/{upload.id[:2]}/{upload.id}.jpg"]


def test_a_failed_commit_stores_nothing_and_removes_its_files(client, settings, monkeypatch):
    token = csrf_of(client)

    def refuse(self):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Session, "commit", refuse)
    with pytest.raises(RuntimeError):
        client.post("/c", data={"csrf_token": token, "text": "hello"}, files=_photo())
    monkeypatch.undo()
    assert all(not rows for rows in _rows(client).values())
    assert stored_keys(settings, "uploads") == stored_keys(settings, "thumbs") == []


def test_concurrent_sends_and_uploads_are_all_stored(client):
    token = csrf_of(client)
    url = client.post("/c", data={"csrf_token": token, "text": "hi"}, follow_redirects=False).headers["location"]

    def send(i):
        if i % 2:
            return client.post("/api/v1/predictions", files=_photo(i)).status_code
        return client.post(url + "/messages", data={"csrf_token": token}, files=_photo(i), headers=HX).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(send, range(16))) == [200] * 16
    rows = _rows(client)
    assert len(rows["prediction"]) == len(rows["upload"]) == 16
    assert len(rows["message"]) == 2 + 8 * 2 and rows["owner_revision"]  # the text and its reply, then 8 photos
    with Session(client.app.state.db) as session:
        api = session.exec(select(Prediction).where(col(Prediction.conversation_id).is_(None))).all()
    assert len(api) == 8


@contextmanager
def _another_writer(engine):
    """Hold what a send's commit needs from another connection: SQLite's one write lock, or on
    PostgreSQL the revision table (every upload's commit raises its owner's revision)."""
    database = sqlite_file(engine)
    if database is not None:
        outsider = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        outsider.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            outsider.execute("ROLLBACK")
            outsider.close()
        return
    with engine.connect() as outsider, outsider.begin():
        outsider.exec_driver_sql("LOCK TABLE owner_revision IN EXCLUSIVE MODE")
        yield


def test_a_write_waits_for_another_writer_while_the_server_keeps_answering(client):
    """While another connection holds what a send's commit needs, the send waits (in a worker
    thread, not on the event loop: health checks are answered meanwhile) and is stored once it
    is let go."""
    token = csrf_of(client)
    url = client.post("/c", data={"csrf_token": token, "text": "hi"}, follow_redirects=False).headers["location"]
    answers = []
    sender = threading.Thread(target=lambda: answers.append(
        client.post(url + "/messages", data={"csrf_token": token}, files=_photo(), headers=HX)))
    try:
        with _another_writer(client.app.state.db):
            sender.start()
            sender.join(1.0)
            assert sender.is_alive(), "the send did not wait for the other writer"
            health = threading.Thread(target=lambda: answers.append(client.get("/healthz").status_code))
            health.start()
            health.join(10)
            assert answers == [200], "the event loop was held up by a waiting write"
    finally:
        sender.join(30)
    assert answers[1].status_code == 200 and 'class="bubble assistant prediction"' in answers[1].text
    assert len(_rows(client)["prediction"]) == 1
