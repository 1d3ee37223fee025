"""Shared fixtures: the real shipped model, real data, a fresh data dir and database per test."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image

from ml import Classifier, photos
from ml.data import DatasetMissing, load_split

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier.load()


@pytest.fixture(scope="session")
def fashion_test():
    try:
        return load_split("test")
    except DatasetMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def photos_available():
    if not photos.available():
        pytest.skip(f"shared clothing photos not found at {photos.photos_dir()} (set ${photos.PHOTOS_ENV})")
    return photos.photos_dir()


def database_url_for_test(tmp_path: Path) -> str | None:
    """CLOSETCHAT_TEST_DATABASE_URL runs the suite on PostgreSQL: each test gets its own database."""
    base = os.environ.get("CLOSETCHAT_TEST_DATABASE_URL")
    if not base:
        return None
    from tests.postgres import fresh_database

    return fresh_database(base)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 server (SeaweedFS) for the session, its AWS_* variables set; skips when the
    `weed` binary is missing (tests/seaweed.py)."""
    from tests import seaweed

    seaweed.skip_without_weed()
    yield from seaweed.started(tmp_path_factory.mktemp("seaweed"))


def bucket_url(s3_server) -> str:
    """A storage URL of the test's own: a fresh prefix in the session's bucket."""
    import uuid

    from tests.seaweed import BUCKET

    return f"s3://{BUCKET}/t{uuid.uuid4().hex[:12]}"


def stored_keys(settings, folder: str) -> list[str]:
    """The files kept under folder ("uploads" or "thumbs") in the settings' store, folder or bucket."""
    from backend.services.blobs import store_for

    return sorted(blob.key for blob in store_for(settings).listing(folder))


@pytest.fixture
def settings(tmp_path, request):
    """CLOSETCHAT_TEST_STORAGE=s3 keeps the photos of every test using this in a bucket of a real
    S3 server (a prefix of its own) instead of the data dir."""
    from backend.core.config import Settings

    storage_url = ""
    if os.environ.get("CLOSETCHAT_TEST_STORAGE") == "s3":
        storage_url = bucket_url(request.getfixturevalue("s3_server"))
    return Settings(data_dir=tmp_path / "data", database_url=database_url_for_test(tmp_path),
                    secret_key="test-secret", api_keys=[], storage_url=storage_url)


@pytest.fixture
def make_client(classifier):
    """Build a TestClient over create_app(settings); closed at the end of the test."""
    from fastapi.testclient import TestClient

    from backend.main import create_app

    clients = []

    def factory(settings, **kwargs):
        client = TestClient(create_app(settings, classifier=classifier), **kwargs)
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client, settings):
    return make_client(settings)


def csrf_of(client) -> str:
    page = client.get("/")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def jpeg_bytes(size=(400, 534), colour=(40, 60, 200), background=(245, 245, 245)) -> bytes:
    """A made photo: a dark garment-like block on a light background."""
    img = Image.new("RGB", size, background)
    w, h = size
    img.paste(Image.new("RGB", (w // 2, h // 2), colour), (w // 4, h // 4))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def fashion_png(fashion_test, index: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(fashion_test.images[index], "L").save(buf, "PNG")
    return buf.getvalue()


def wait_ready(base: str, seconds: float) -> bool:
    """Poll /readyz until it answers 200 or the deadline passes (a server still starting refuses)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.2)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(data_dir: Path, env: dict | None = None, command: list[str] | None = None):
    """A real server on loopback over data_dir, ready to answer; yields its base URL.
    command: what to run instead of plain uvicorn (e.g. `closetchat serve`), given the port."""
    port = free_port()
    given = env or {}
    env = {**os.environ, "CLOSETCHAT_DATA_DIR": str(data_dir), "CLOSETCHAT_SECRET_KEY": "browser-test", **given}
    url = None if "CLOSETCHAT_DATABASE_URL" in given else database_url_for_test(data_dir)  # given: one shared
    if url:
        env["CLOSETCHAT_DATABASE_URL"] = url
    cmd = command or [sys.executable, "-m", "uvicorn", "backend.main:app", "--host", "127.0.0.1", "--port", "{port}"]
    # the log goes to a file: a pipe nobody reads fills after some hundreds of access-log lines and
    # then blocks the server mid-request (a long schemathesis run hung that way)
    log = data_dir / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([part.format(port=port) for part in cmd], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    if not wait_ready(base, 30):
        proc.kill()
        pytest.fail("server did not become ready: " + log.read_text(errors="replace")[-2000:])
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("browser-data")) as base:
        yield base


def two_graph_shipment(tmp_path: Path) -> Path:
    """The shipped folder with a second graph in dataset/: the photo graph's own files under another
    version name and temperature, so the answers show which graph gave them."""
    from ml.classifier import DATASET_GRAPH_DIR, WEIGHTS_DIR

    ship = tmp_path / "ship"
    shutil.copytree(WEIGHTS_DIR, ship, ignore=shutil.ignore_patterns(DATASET_GRAPH_DIR))
    shutil.copytree(WEIGHTS_DIR, ship / DATASET_GRAPH_DIR, ignore=shutil.ignore_patterns(DATASET_GRAPH_DIR))
    card = json.loads((ship / DATASET_GRAPH_DIR / "model_card.json").read_text())
    card.update(version="dataset-graph", temperature=card["temperature"] * 2)
    (ship / DATASET_GRAPH_DIR / "model_card.json").write_text(json.dumps(card))
    return ship
