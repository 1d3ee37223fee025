"""Chat sends from many browsers at a person's pace: each browser has its own cookie and
conversation, sends a photo, waits for the reply, reads it for a while (1-3 s), and sends again.

wrk (benchmarks/serve.py) measures a server saturated by connections that send back to back:
its p99 is mostly queueing. This asks what a person waits for when N people use the app at once.
Prints sends/s, p50/p95/p99 of a send, the status codes, and the CPU.

    .venv/bin/python benchmarks/browsers.py [--browsers 64] [--duration 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.cpu import describe  # noqa: E402
from benchmarks.photo_latency import default_photo  # noqa: E402
from benchmarks.serve import Server  # noqa: E402


async def browser(url: str, photo: bytes, until: float, think: tuple[float, float], times: list, codes: Counter,
                  rng: random.Random) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        page = await client.get("/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        first = await client.post("/c", data={"csrf_token": token}, files={"files": ("p.jpg", photo, "image/jpeg")},
                                  follow_redirects=False)
        target = first.headers["location"] + "/messages"
        await asyncio.sleep(rng.uniform(*think))
        while time.perf_counter() < until:
            started = time.perf_counter()
            r = await client.post(target, data={"csrf_token": token}, headers={"HX-Request": "true"},
                                  files={"files": ("photo.jpg", photo, "image/jpeg")})
            times.append((time.perf_counter() - started) * 1000)
            codes[r.status_code] += 1
            await asyncio.sleep(rng.uniform(*think))


async def run(url: str, photo: bytes, browsers: int, duration: float, think: tuple[float, float]) -> tuple[list, Counter]:
    times: list[float] = []
    codes: Counter = Counter()
    rng = random.Random(0)
    until = time.perf_counter() + duration
    await asyncio.gather(*(browser(url, photo, until, think, times, codes, rng) for _ in range(browsers)))
    return times, codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--browsers", type=int, default=64)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN_S", "MAX_S"))
    args = parser.parse_args()
    photo = default_photo()
    tmp = Path(tempfile.mkdtemp(prefix="closetchat-browsers-"))
    server = Server("closetchat", {"CLOSETCHAT_DATA_DIR": str(tmp / "data"), "CLOSETCHAT_SECRET_KEY": "bench"},
                    workers=args.workers)
    try:
        server.wait_ready("/readyz")
        started = time.perf_counter()
        times, codes = asyncio.run(run(server.url, photo, args.browsers, args.duration, tuple(args.think)))
        elapsed = time.perf_counter() - started
    finally:
        server.stop()
    times.sort()
    print(describe())
    print(f"{args.browsers} browsers, {args.workers} workers, think {args.think[0]:g}-{args.think[1]:g} s, "
          f"photo {len(photo) / 1024:.0f} KiB JPEG, {elapsed:.0f} s")
    pct = {q: times[min(len(times) - 1, int(q / 100 * len(times)))] for q in (95, 99)}
    print(f"chat sends {len(times)} ({len(times) / elapsed:.1f}/s): p50 {statistics.median(times):.0f} ms, "
          f"p95 {pct[95]:.0f} ms, p99 {pct[99]:.0f} ms, max {times[-1]:.0f} ms; status {dict(codes)}")


if __name__ == "__main__":
    main()
