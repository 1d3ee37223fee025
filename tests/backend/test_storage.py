"""One file and one thumbnail per upload: a delete removes that upload's own files and nothing
another row uses; `closetchat sweep` removes only files no row points at once they are older than
the grace period (a younger one may belong to an upload about to commit)."""

from __future__ import annotations

import os
import time

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from backend.cli import app
from backend.models import Prediction, Upload
from backend.services import storage
from tests.conftest import fashion_png


@pytest.fixture
def settings(settings):
    """These look at DATA_DIR's files and their ages: the local folder, whatever the suite's store
    (test_object_storage.py covers the bucket)."""
    return settings.model_copy(update={"storage_url": ""})


def _post(client, png: bytes) -> str:
    r = client.post("/api/v1/predictions", files=[("files", ("0.png", png, "image/png"))])
    assert r.status_code == 200
    return r.json()["results"][0]["id"]


def _upload(client, prediction_id: str) -> Upload:
    with Session(client.app.state.db) as session:
        return session.get(Upload, session.get(Prediction, prediction_id).upload_id)


def test_a_delete_removes_its_own_files_and_no_other_uploads(client, settings, fashion_test):
    png = fashion_png(fashion_test, 0)
    first, second = _post(client, png), _post(client, png)  # the same image, sent twice
    kept, gone = _upload(client, first), _upload(client, second)
    assert storage.upload_path(settings, kept) != storage.upload_path(settings, gone)
    assert client.delete(f"/api/v1/predictions/{second}").status_code == 204
    assert not storage.upload_path(settings, gone).exists() and not storage.thumb_path(settings, gone).exists()
    assert storage.upload_path(settings, kept).read_bytes() == png and storage.thumb_path(settings, kept).is_file()
    assert client.get(f"/api/v1/predictions/{first}/image").content == png


def _age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_sweep_removes_only_old_files_without_a_row(client, settings, fashion_test):
    upload = _upload(client, _post(client, fashion_png(fashion_test, 0)))
    stored = [storage.upload_path(settings, upload), storage.thumb_path(settings, upload)]
    crashed = settings.uploads_dir / "ab" / ("ab" + "1" * 30)  # a crash's leftover: no row will come
    in_flight = settings.thumbs_dir / "cd" / ("cd" + "2" * 30 + ".jpg")  # its row is about to commit
    part = settings.incoming_dir / "interrupted.part"
    for path in (crashed, in_flight, part):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"img")
    for path in (*stored, crashed, part):
        _age(path, 7200)
    assert storage.sweep(client.app.state.db, settings, grace_seconds=3600) == {"incoming": 1, "orphans": 1}
    assert all(path.is_file() for path in (*stored, in_flight))
    assert not crashed.exists() and not part.exists()


def test_sweep_command(settings, monkeypatch, client):
    orphan = settings.uploads_dir / "ef" / ("ef" + "3" * 30)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"img")
    monkeypatch.setenv("CLOSETCHAT_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("CLOSETCHAT_DATABASE_URL", settings.database_url)
    from backend.core.config import get_settings

    get_settings.cache_clear()
    try:
        spared = CliRunner().invoke(app, ["sweep"])  # an hour's grace by default: the file is new
        assert spared.exit_code == 0 and orphan.exists(), spared.output
        swept = CliRunner().invoke(app, ["sweep", "--grace-seconds", "0"])
        assert swept.exit_code == 0 and "removed 1 orphan files" in swept.output and not orphan.exists()
    finally:
        get_settings.cache_clear()
    with Session(client.app.state.db) as session:
        assert session.exec(select(Upload)).all() == []
