"""Photos in an S3-compatible bucket (CLOSETCHAT_STORAGE_URL=s3://bucket/prefix), against a real
SeaweedFS server started by the tests (tests/seaweed.py): upload, serve, delete, sweep, owner
isolation, the copy command, a bucket that is down, and two app servers sharing one bucket."""

from __future__ import annotations

import io
import re
import uuid
import zipfile

import httpx
import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from backend.cli import app as cli
from backend.core.config import Settings
from backend.models import Prediction, Upload
from backend.services import storage
from tests import seaweed
from tests.conftest import bucket_url, csrf_of, database_url_for_test, fashion_png, jpeg_bytes, running_server

HX = {"HX-Request": "true"}


@pytest.fixture
def s3_settings(tmp_path, s3_server):
    return Settings(data_dir=tmp_path / "data", database_url=database_url_for_test(tmp_path), secret_key="test-secret",
                    api_keys=[], storage_url=bucket_url(s3_server))


def _prefix(settings: Settings) -> str:
    return settings.storage_url.removeprefix(f"s3://{seaweed.BUCKET}/") + "/"


def _post(client, data: bytes, name: str = "0.png", kind: str = "image/png", **kwargs) -> httpx.Response:
    return client.post("/api/v1/predictions", files=[("files", (name, data, kind))], **kwargs)


def _upload(client, prediction_id: str) -> Upload:
    with Session(client.app.state.db) as session:
        return session.get(Upload, session.get(Prediction, prediction_id).upload_id)


def _rows(client) -> tuple[int, int]:
    with Session(client.app.state.db) as session:
        return (session.exec(select(func.count()).select_from(Upload)).one(),
                session.exec(select(func.count()).select_from(Prediction)).one())


def test_upload_serve_and_delete_through_the_bucket(make_client, s3_settings, s3_server, fashion_test):
    client = make_client(s3_settings)
    png, jpeg = fashion_png(fashion_test, 0), jpeg_bytes()
    ids = [_post(client, png).json()["results"][0]["id"], _post(client, jpeg, "p.jpg", "image/jpeg").json()["results"][0]["id"]]
    uploads = [_upload(client, i) for i in ids]
    prefix = _prefix(s3_settings)
    keys = s3_server.keys(prefix)
    for upload, data in zip(uploads, (png, jpeg), strict=True):
        assert keys[f"{prefix}uploads/{upload.id[:2]}/{upload.id}"] == len(data)
        assert f"{prefix}thumbs/{upload.id[:2]}/{upload.id}.jpg" in keys
    assert not (s3_settings.data_dir / "uploads").exists() or not any((s3_settings.data_dir / "uploads").rglob("*"))
    assert not any(s3_settings.incoming_dir.glob("*"))  # part files gone once uploaded
    image = client.get(f"/api/v1/predictions/{ids[1]}/image")
    assert image.status_code == 200 and image.content == jpeg and image.headers["content-type"] == "image/jpeg"
    assert image.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert client.delete(f"/api/v1/predictions/{ids[0]}").status_code == 204
    keys = s3_server.keys(prefix)
    assert not any(uploads[0].id in key for key in keys) and any(uploads[1].id in key for key in keys)
    assert client.get(f"/api/v1/predictions/{ids[0]}/image").status_code == 404


def test_a_photo_kept_on_disk_goes_up_from_its_part_file(make_client, tmp_path, s3_server):
    """No upload memory: the form writes the photo to incoming/, the bucket gets it from there
    (streamed), and the part file is gone once the request ends."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url_for_test(tmp_path), secret_key="t",
                        api_keys=[], storage_url=bucket_url(s3_server), upload_memory_mb=0)
    client = make_client(settings)
    photo = jpeg_bytes(size=(1600, 2100))
    answer = _post(client, photo, "big.jpg", "image/jpeg")
    assert answer.status_code == 200, answer.text
    assert client.get(f"/api/v1/predictions/{answer.json()['results'][0]['id']}/image").content == photo
    assert not any(p.is_file() for p in settings.incoming_dir.rglob("*"))


def test_chat_thumbnails_corrections_zip_and_owner_isolation(make_client, s3_settings, fashion_test):
    client = make_client(s3_settings)
    token = csrf_of(client)
    png = fashion_png(fashion_test, 1)
    sent = client.post("/c", data={"csrf_token": token}, files={"files": ("t.png", png, "image/png")}, follow_redirects=False)
    page = client.get(sent.headers["location"]).text
    thumb = re.search(r'src="(/media/[0-9a-f]+/thumb)"', page).group(1)
    answer = client.get(thumb)
    assert answer.status_code == 200 and answer.content[:2] == b"\xff\xd8"
    model_input = client.get(thumb.replace("/thumb", "/model-input"))  # decoded again from the bucket
    assert model_input.status_code == 200 and model_input.content[:4] == b"\x89PNG"
    prediction_id = re.search(r"/predictions/([0-9a-f]+)/feedback", page).group(1)
    assert client.post(f"/predictions/{prediction_id}/again", data={"csrf_token": token}).status_code == 200
    client.post(f"/predictions/{prediction_id}/feedback", data={"csrf_token": token, "label": "Bag"})
    with zipfile.ZipFile(io.BytesIO(client.get("/history/corrections.zip").content)) as archive:
        assert archive.read(f"Bag/{prediction_id}.png") == png
    stranger = make_client(s3_settings)  # another browser: a cookie of its own
    assert stranger.get(thumb).status_code == 404
    assert stranger.get(thumb.replace("/thumb", "/image")).status_code == 404


def test_api_keys_see_only_their_own_images(make_client, tmp_path, s3_server, fashion_test):
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url_for_test(tmp_path), secret_key="t",
                        api_keys=["key-a", "key-b"], storage_url=bucket_url(s3_server))
    client = make_client(settings)
    prediction_id = _post(client, fashion_png(fashion_test, 2), headers={"X-API-Key": "key-a"}).json()["results"][0]["id"]
    assert client.get(f"/api/v1/predictions/{prediction_id}/image", headers={"X-API-Key": "key-a"}).status_code == 200
    assert client.get(f"/api/v1/predictions/{prediction_id}/image", headers={"X-API-Key": "key-b"}).status_code == 404
    assert client.delete(f"/api/v1/predictions/{prediction_id}", headers={"X-API-Key": "key-b"}).status_code == 404


def _with_env(monkeypatch, settings: Settings) -> None:
    monkeypatch.setenv("CLOSETCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CLOSETCHAT_STORAGE_URL", settings.storage_url)
    if settings.database_url:
        monkeypatch.setenv("CLOSETCHAT_DATABASE_URL", settings.database_url)
    from backend.core.config import get_settings

    get_settings.cache_clear()


def test_sweep_removes_only_old_objects_without_a_row(make_client, s3_settings, s3_server, fashion_test, monkeypatch):
    client = make_client(s3_settings)
    kept = _upload(client, _post(client, fashion_png(fashion_test, 3)).json()["results"][0]["id"])
    prefix = _prefix(s3_settings)
    orphan = f"{prefix}uploads/ab/ab{'1' * 30}"
    s3_server.client().put_object(Bucket=seaweed.BUCKET, Key=orphan, Body=b"img")
    assert storage.sweep(client.app.state.db, s3_settings, grace_seconds=3600) == {"incoming": 0, "orphans": 0}
    _with_env(monkeypatch, s3_settings)
    try:
        swept = CliRunner().invoke(cli, ["sweep", "--grace-seconds", "0"])
    finally:
        from backend.core.config import get_settings

        get_settings.cache_clear()
    assert swept.exit_code == 0 and "removed 1 orphan files" in swept.output, swept.output
    keys = s3_server.keys(prefix)
    assert orphan not in keys and sum(kept.id in key for key in keys) == 2


def test_copy_a_local_store_into_the_bucket_twice(make_client, settings, s3_server, fashion_test, monkeypatch):
    """`closetchat storage copy --to s3://...` into a bucket not made yet: everything once; a second
    run copies nothing, and an object cut short (another size) is copied again. The app then serves
    from the bucket."""
    settings = settings.model_copy(update={"storage_url": ""})  # the local folder, whatever the suite's storage
    local = make_client(settings)
    ids = [_post(local, fashion_png(fashion_test, i)).json()["results"][0]["id"] for i in (4, 5)]
    target = f"s3://fresh-{uuid.uuid4().hex[:8]}/photos"
    monkeypatch.setenv("CLOSETCHAT_DATA_DIR", str(settings.data_dir))
    from backend.core.config import get_settings

    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli, ["storage", "copy", "--to", target])
        assert first.exit_code == 0 and "copied 4 files, skipped 0" in first.output, first.output
        second = CliRunner().invoke(cli, ["storage", "copy", "--to", target])
        assert second.exit_code == 0 and "copied 0 files, skipped 4" in second.output, second.output
        upload = _upload(local, ids[0])
        bucket = target.removeprefix("s3://").split("/")[0]
        s3_server.client().put_object(Bucket=bucket, Key=f"photos/uploads/{upload.id[:2]}/{upload.id}", Body=b"cut")
        third = CliRunner().invoke(cli, ["storage", "copy", "--to", target])
        assert third.exit_code == 0 and "copied 1 files, skipped 3" in third.output, third.output
    finally:
        get_settings.cache_clear()
    moved = make_client(settings.model_copy(update={"storage_url": target}))
    assert moved.get(f"/api/v1/predictions/{ids[0]}/image").content == fashion_png(fashion_test, 4)


@pytest.fixture
def own_server(tmp_path, monkeypatch):
    """A SeaweedFS of this test's own (it will be stopped), the app's AWS variables pointing at it."""
    server = seaweed.SeaweedServer(tmp_path / "own-seaweed")
    server.start()
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    yield server
    server.stop()


def test_a_bucket_that_is_down_answers_503_and_leaves_no_row_without_its_object(
        make_client, tmp_path, own_server, fashion_test):
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url_for_test(tmp_path), secret_key="t",
                        api_keys=[], storage_url=f"s3://{seaweed.BUCKET}/down")
    client = make_client(settings)
    token = csrf_of(client)
    conversation = client.post("/c", data={"csrf_token": token}, files={"files": ("a.png", fashion_png(fashion_test, 6), "image/png")},
                               follow_redirects=False).headers["location"]
    first = _upload(client, re.search(r"/predictions/([0-9a-f]+)/feedback", client.get(conversation).text).group(1))
    own_server.stop()
    before = _rows(client)
    api = _post(client, fashion_png(fashion_test, 7))
    assert api.status_code == 503 and api.headers["retry-after"] == "5" and "storage" in api.json()["detail"]
    chat = client.post(conversation + "/messages", data={"csrf_token": token}, headers=HX,
                       files={"files": ("b.png", fashion_png(fashion_test, 8), "image/png")})
    assert chat.status_code == 503 and chat.headers["retry-after"] == "5"
    assert _rows(client) == before  # nothing half-written
    assert client.get(f"/media/{first.id}/thumb").status_code == 503
    # a delete while the bucket is down: the rows go, the objects stay behind for the sweep
    assert client.post("/history/delete", data={"csrf_token": token, "ids": [_prediction_of(client, first)]}).status_code == 200
    assert _rows(client) == (before[0] - 1, before[1] - 1)
    own_server.start()
    left = own_server.keys("down/")
    assert sum(first.id in key for key in left) == 2
    assert storage.sweep(client.app.state.db, settings, grace_seconds=0)["orphans"] >= 2
    assert own_server.keys("down/") == {}  # no object without its row
    assert _post(client, fashion_png(fashion_test, 7)).status_code == 200  # and back in service


def _prediction_of(client, upload: Upload) -> str:
    with Session(client.app.state.db) as session:
        return session.exec(select(Prediction.id).where(Prediction.upload_id == upload.id)).one()


@pytest.mark.slow
def test_two_servers_share_one_database_and_one_bucket(tmp_path, s3_server, fashion_test):
    """Two app servers on different data dirs, one database, one bucket: a photo sent to one is
    shown, corrected, exported and deleted through the other."""
    database = database_url_for_test(tmp_path) or f"sqlite:///{tmp_path / 'shared.db'}"
    env = {"CLOSETCHAT_STORAGE_URL": bucket_url(s3_server), "CLOSETCHAT_DATABASE_URL": database}
    png = fashion_png(fashion_test, 9)
    with running_server(tmp_path / "a", env) as a, running_server(tmp_path / "b", env) as b:
        one, other = httpx.Client(base_url=a), httpx.Client(base_url=b)
        token = csrf_of(one)
        sent = one.post("/c", data={"csrf_token": token}, files={"files": ("x.png", png, "image/png")})
        assert sent.status_code == 303, sent.text
        other.cookies = one.cookies  # the same browser, its next request sent to the other host
        page = other.get(sent.headers["location"]).text
        upload_id = re.search(r"/media/([0-9a-f]+)/thumb", page).group(1)
        prediction_id = re.search(r"/predictions/([0-9a-f]+)/feedback", page).group(1)
        assert other.get(f"/media/{upload_id}/image").content == png
        assert other.get(f"/media/{upload_id}/thumb").content[:2] == b"\xff\xd8"
        assert other.post(f"/predictions/{prediction_id}/feedback", data={"csrf_token": token, "label": "Bag"}).status_code == 303
        with zipfile.ZipFile(io.BytesIO(other.get("/history/corrections.zip").content)) as archive:
            assert archive.read(f"Bag/{prediction_id}.png") == png
        assert other.post("/history/delete", data={"csrf_token": token, "ids": [prediction_id]}).status_code in (200, 303)
        assert one.get(f"/media/{upload_id}/image").status_code == 404
        assert not any(upload_id in key for key in s3_server.keys(env["CLOSETCHAT_STORAGE_URL"].split("/", 3)[3]))


def test_a_mistyped_storage_url_stops_the_start():
    for url in ("s3:/photos", "https://bucket/prefix", "s3://B"):
        with pytest.raises(ValueError, match="s3://bucket/prefix"):
            Settings(storage_url=url)
