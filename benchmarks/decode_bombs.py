"""The decompression-bomb set against a real server (uvicorn subprocess on loopback): prints the
server's resident memory before, at its peak and after, and how long each round took.

Rounds: lossless PNG at the 40 MP cap and lossless WebP at the cap, 16 per request, 4 requests at
once; GIFs of 200k frames, 16 per request. The issue's target (#28): peak RSS at most 1 GB, back to
within 100 MB of the baseline afterwards.

    .venv/bin/python benchmarks/decode_bombs.py [--requests 4]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.cpu import describe  # noqa: E402
from benchmarks.serve import Server  # noqa: E402
from tests.backend.bombs import gif_frames, lossless  # noqa: E402


def rss_mb(pid: int) -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024


def send(url: str, files: list[tuple[str, bytes, str]]) -> list[int]:
    r = httpx.post(url + "/api/v1/predictions", files=[("files", f) for f in files], timeout=300)
    if r.status_code != 200:
        return [r.status_code]
    return [x.get("status", 200) for x in r.json()["results"]]


def round_(server: Server, name: str, files, requests: int) -> None:
    peak, stop = [rss_mb(server.proc.pid)], threading.Event()

    def sample():
        while not stop.is_set():
            peak.append(rss_mb(server.proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(requests) as pool:
        statuses = list(pool.map(lambda _: send(server.url, files), range(requests)))
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    time.sleep(1)
    counts = {s: sum(x.count(s) for x in statuses) for s in sorted({s for x in statuses for s in x})}
    print(f"{name:34s} {elapsed:6.2f} s  peak RSS {max(peak):6.0f} MB  after {rss_mb(server.proc.pid):6.0f} MB  "
          f"answers {counts}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4)
    args = parser.parse_args()
    print(describe())
    tmp = Path(tempfile.mkdtemp(prefix="closetchat-bombs-"))
    server = Server("backend.main:app", {"CLOSETCHAT_DATA_DIR": str(tmp), "CLOSETCHAT_SECRET_KEY": "bombs"})
    try:
        server.wait_ready("/readyz")
        send(server.url, [("warm.png", lossless("PNG", 200), "image/png")])
        print(f"baseline RSS after one small request: {rss_mb(server.proc.pid):.0f} MB")
        png, webp, gif = lossless("PNG"), lossless("WEBP"), gif_frames(200_000)
        print(f"files: PNG {len(png) / 1024:.0f} KB, WebP {len(webp) / 1024:.1f} KB (6324×6324 each), "
              f"GIF {len(gif) / 1e6:.1f} MB (200k frames)")
        for name, files in (("16 PNG bombs per request", [(f"{i}.png", png, "image/png") for i in range(16)]),
                            ("16 WebP bombs per request", [(f"{i}.webp", webp, "image/webp") for i in range(16)]),
                            ("16 GIF frame bombs per request", [(f"{i}.gif", gif, "image/gif") for i in range(16)])):
            round_(server, f"{name}, {args.requests} at once", files, args.requests)
        print(f"server peak RSS (VmHWM): {server.peak_rss_mb():.0f} MB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
