"""kill -9 in the middle of concurrent chat sends, then `closetchat sweep` and a restart: every
acknowledged message is in the database with its image file, the database is intact, and no
orphan files remain."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ROOT, database_url_for_test, free_port, jpeg_bytes


def _env(data_dir, db_url) -> dict:
    env = {**os.environ, "CLOSETCHAT_DATA_DIR": str(data_dir), "CLOSETCHAT_SECRET_KEY": "durable"}
    if db_url:
        env["CLOSETCHAT_DATABASE_URL"] = db_url
    return env


def _start(data_dir, port, workers, db_url):
    env = _env(data_dir, db_url)
    cmd = [sys.executable, "-m", "uvicorn", "backend.main:app", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("server did not start")


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_acknowledged_messages_survive_kill_9(tmp_path, workers):
    data_dir = tmp_path / "data"
    db_url = database_url_for_test(tmp_path)
    port = free_port()
    proc, base = _start(data_dir, port, workers, db_url)
    client = httpx.Client(base_url=base, timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    conv = client.post("/c", data={"csrf_token": token}, files={"files": ("0.jpg", jpeg_bytes(), "image/jpeg")},
                       follow_redirects=False).headers["location"]
    cookies = dict(client.cookies)
    acknowledged, stop = [], threading.Event()

    def sender(n):
        with httpx.Client(base_url=base, cookies=cookies, timeout=30) as c:
            i = 0
            while not stop.is_set() and i < 200:
                i += 1
                photo = jpeg_bytes(colour=(n * 40 % 255, i % 255, 90))  # distinct bytes each time
                try:
                    r = c.post(conv + "/messages", data={"csrf_token": token}, headers={"HX-Request": "true"},
                               files={"files": (f"{n}-{i}.jpg", photo, "image/jpeg")})
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    acknowledged.extend(re.findall(r"/media/([0-9a-f]+)/thumb", r.text))

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
    [t.start() for t in threads]
    deadline = time.monotonic() + 120
    while len(acknowledged) < 12 and time.monotonic() < deadline:  # killed while sends are in flight
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: master and workers
    stop.set()
    [t.join(timeout=60) for t in threads]
    proc.wait(timeout=10)
    assert len(acknowledged) >= 12, f"only {len(acknowledged)} sends were answered before the deadline"

    swept = subprocess.run([sys.executable, "-m", "backend.cli", "sweep", "--grace-seconds", "0"], cwd=ROOT,
                           env=_env(data_dir, db_url), capture_output=True, text=True, timeout=120)
    assert swept.returncode == 0, swept.stdout + swept.stderr
    proc, base = _start(data_dir, port, 1, db_url)  # restart: migrations run
    try:
        engine = create_engine(db_url or f"sqlite:///{data_dir / 'closetchat.db'}")
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            rows = dict(conn.execute(text("SELECT id, sha256 FROM upload")).all())
            messages = set(conn.execute(text("SELECT upload_id FROM message WHERE upload_id IS NOT NULL")).scalars())
        engine.dispose()
        missing = [u for u in acknowledged if u not in rows or u not in messages]
        assert not missing, f"{len(missing)} acknowledged uploads lost"
        for upload_id in acknowledged:
            assert (data_dir / "uploads" / upload_id[:2] / upload_id).is_file()
            assert (data_dir / "thumbs" / upload_id[:2] / f"{upload_id}.jpg").is_file()
        on_disk = {p.name for p in (data_dir / "uploads").rglob("*") if p.is_file()}
        assert on_disk <= set(rows), "orphan files after the sweep"
        assert not [p for p in (data_dir / "incoming").rglob("*") if p.is_file()]
        page = httpx.get(base + conv, cookies=cookies)
        assert page.status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
