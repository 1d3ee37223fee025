"""Send a 1 GB multipart body to a running-here ClosetChat (loopback) and print the status and
the server's peak RSS: the body must be refused at the cap without being held in memory.
Two ways: with Content-Length (refused from the header) and chunked (refused while streaming).

    .venv/bin/python benchmarks/big_upload.py [--gigabytes 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.serve import Server  # noqa: E402

CHUNK = b"\xff" * (1024 * 1024)


HEAD = b'--b\r\nContent-Disposition: form-data; name="files"; filename="huge.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
TAIL = b"\r\n--b--\r\n"


def body(total: int):
    yield HEAD
    for _ in range(total // len(CHUNK)):
        yield CHUNK
    yield TAIL


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gigabytes", type=float, default=1.0)
    args = parser.parse_args()
    total = int(args.gigabytes * 1024 ** 3)
    tmp = Path(tempfile.mkdtemp(prefix="closetchat-big-"))
    server = Server("backend.main:app", {"CLOSETCHAT_DATA_DIR": str(tmp), "CLOSETCHAT_SECRET_KEY": "big"})
    try:
        server.wait_ready("/readyz")
        idle = server.peak_rss_mb()
        for label, headers in (("declared length", {"content-length": str(len(HEAD) + total // len(CHUNK) * len(CHUNK) + len(TAIL))}), ("chunked", {})):
            started = time.perf_counter()
            try:
                r = httpx.post(server.url + "/api/v1/predictions", content=body(total), timeout=120,
                               headers={"content-type": "multipart/form-data; boundary=b", **headers})
                status, detail = r.status_code, r.json().get("detail")
            except Exception as exc:  # the server may close the connection after answering
                status, detail = "closed", repr(exc)
            print(f"{label:16s} status {status} in {time.perf_counter() - started:.2f}s: {detail}")
        disk = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        print(f"server peak RSS: {server.peak_rss_mb():.0f} MB (after start-up: {idle:.0f} MB); "
              f"data dir holds {disk / 1024:.0f} KiB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
