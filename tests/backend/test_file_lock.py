"""Files an upload has put in place but whose row is not committed yet are never removed: the
start-up sweep and a delete wait for the commit (a sibling worker's start-up sweep once took an
acknowledged photo's file this way under CI load)."""

import threading

from sqlmodel import Session, select

from backend.models import Prediction, Upload
from backend.services import file_lock, history, uploads
from backend.services.maintenance import sweep
from tests.conftest import fashion_png


def _upload_row(sha: str, owner: str = "someone") -> Upload:
    return Upload(owner=owner, sha256=sha, filename="x.png", content_type="image/png", size_bytes=3, width=1, height=1)


def _in_thread(fn) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


def test_sweep_waits_for_files_whose_row_is_about_to_commit(client, settings):
    db = client.app.state.db
    placed = settings.uploads_dir / "ab" / ("ab" + "1" * 62)
    leftover = settings.uploads_dir / "cd" / ("cd" + "2" * 62)  # a crash's file: no row will come
    for path in (placed, leftover):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"img")
    with file_lock.placing(settings):
        thread, removed = _in_thread(lambda: sweep(db, settings, incoming_grace_seconds=0))
        thread.join(0.5)
        assert thread.is_alive(), "the sweep ran while an upload was between its files and its commit"
        with Session(db) as session:
            session.add(_upload_row(placed.name))
            session.commit()
    thread.join(10)
    assert removed == [{"incoming": 0, "orphans": 1}]
    assert placed.is_file() and not leftover.exists()


def test_delete_keeps_a_file_that_an_upload_in_flight_will_use(client, settings, fashion_test):
    r = client.post("/api/v1/predictions", files=[("files", ("0.png", fashion_png(fashion_test, 0), "image/png"))])
    assert r.status_code == 200
    db = client.app.state.db
    with Session(db) as session:
        prediction = session.exec(select(Prediction)).one()
        owner, upload = prediction.owner, session.get(Upload, prediction.upload_id)
    path = uploads.upload_path(settings, upload)
    assert path.is_file()

    def delete():
        with Session(db) as session:
            return history.delete(session, owner, [prediction.id], settings)

    # another user's upload of the same image found the file in place and is about to commit its row
    with file_lock.placing(settings):
        thread, deleted = _in_thread(delete)
        thread.join(0.5)
        assert thread.is_alive(), "the delete removed files while an upload of the same image was in flight"
        with Session(db) as session:
            session.add(_upload_row(upload.sha256, owner="another"))
            session.commit()
    thread.join(10)
    assert deleted == [1]
    assert path.is_file() and uploads.thumb_path(settings, upload).is_file()

    # with nobody else using the image, a delete removes its files
    with Session(db) as session:
        other = session.exec(select(Upload).where(Upload.owner == "another")).one()
        session.delete(other)
        session.commit()
    r = client.post("/api/v1/predictions", files=[("files", ("0.png", fashion_png(fashion_test, 0), "image/png"))])
    new_id = r.json()["results"][0]["id"]
    assert client.delete(f"/api/v1/predictions/{new_id}").status_code == 204
    assert not path.exists() and not uploads.thumb_path(settings, upload).exists()
