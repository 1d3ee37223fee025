"""Serving benchmark, one run, loopback only, bounded: three servers under Debian `wrk`
(multipart POST of a real 400×534 photo to /fashion-mnist, 16 connections, 10 s each, the same
worker count for all three):
(a) the published design rebuilt, (b) a bare FastAPI upload echo (the ceiling), (c) our app.
Our chat send (database write + thumbnail) runs after each turn of ours, and then the history page of
a browser with 10,000 predictions.
Prints req/s, p50, p99, peak RSS, ready time and the ratios.

    .venv/bin/python benchmarks/serve.py [--duration 10] [--connections 16] [--workers 1] [--rounds 1]

With --rounds N the three servers stay up together and take N turns each at POST /fashion-mnist, our
chat send after each of ours (seed, echo, ours, chat send, seed, ...): the VM's speed swings by 10-30%
within minutes, and runs one after another compared different minutes of it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.photo_latency import default_photo  # noqa: E402

BOUNDARY = "closetchatbench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def multipart(field: str, filename: str, data: bytes, extra: dict | None = None) -> bytes:
    parts = []
    for name, value in (extra or {}).items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                 f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def lua_script(tmp: Path, method: str, body: bytes | None, headers: dict) -> Path:
    body_path = tmp / f"body-{uuid.uuid4().hex}.bin"
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        body_path.write_bytes(body)
        lines.append(f'local f = io.open("{body_path}", "rb"); wrk.body = f:read("*all"); f:close()')
    for k, v in headers.items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    script = tmp / f"script-{uuid.uuid4().hex}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


SETTLE_S = 15.0  # idle before each run (see run_wrk)


def run_wrk(url: str, script: Path, duration: int, connections: int, settle_s: float | None = None) -> dict:
    """One bounded wrk run. It starts after SETTLE_S idle seconds (or settle_s): on this VM, loopback
    load leaves the next few seconds slow (measured: our server right after the echo run 273-286 req/s,
    after 15 s idle 438-456), so every server, ours and the references alike, starts from rest."""
    time.sleep(SETTLE_S if settle_s is None else settle_s)
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--timeout", "10s",
                          "--latency", "-s", str(script), url], capture_output=True, text=True,
                         timeout=duration + 60).stdout

    def ms(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1) if errors else ""}


class Server:
    def __init__(self, app: str, env: dict | None = None, workers: int = 1, root: Path | None = None) -> None:
        """root: another checkout to serve from, with its own .venv (default: this one, this Python)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        python = sys.executable if root is None else str(Path(root) / ".venv" / "bin" / "python")
        if app == "closetchat":  # as users run it: `closetchat serve` (one SO_REUSEPORT socket a worker)
            cmd = [python, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
        else:
            cmd = [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=root or ROOT, env={**os.environ, **(env or {})})

    def wait_ready(self, path: str) -> float:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.url + path, timeout=1).status_code < 500:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.url} not ready")

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the server and its worker processes (VmHWM), in MB."""
        pids = [self.proc.pid] + [int(p) for p in subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()]
        total = 0
        for pid in pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
            except (FileNotFoundError, AttributeError):
                pass
        return total / 1024

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def seed_history(engine, owner: str, n: int) -> None:
    """Insert n predictions for one browser straight into the app's database (fast)."""
    from sqlmodel import Session

    from backend.models import Prediction, Upload
    from backend.services import revisions

    labels = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    now = datetime.now(UTC)
    with Session(engine) as session:
        upload = Upload(owner=owner, sha256="f" * 64, filename="seed.jpg", content_type="image/jpeg",
                        size_bytes=1, width=1, height=1)
        session.add(upload)
        session.flush()
        for i in range(n):
            session.add(Prediction(owner=owner, upload_id=upload.id, filename=f"photo-{i}.jpg",
                                   label=labels[i % 10], label_index=i % 10, confidence=0.3 + (i % 70) / 100,
                                   probs_json=json.dumps([0.1] * 10), unsure=i % 9 == 0, model_version="bench",
                                   created_at=now - timedelta(minutes=i)))
        revisions.touch(session, owner)  # as the app's own writes do, so cached charts see the rows
        session.commit()


def chat_target(server: Server, tmp: Path, photo: bytes, headers: dict) -> tuple[str, Path]:
    """The URL and wrk script of our chat send (a write and a fragment per request): one browser
    sending the photo to one conversation, over and over."""
    client = httpx.Client(base_url=server.url)
    page = client.get("/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    cookie = f"closetchat_id={client.cookies['closetchat_id']}"
    first = client.post("/c", data={"csrf_token": token},
                        files={"files": ("p.jpg", photo, "image/jpeg")}, follow_redirects=False)
    chat_body = multipart("files", "photo.jpg", photo, {"csrf_token": token})
    chat_headers = {**headers, "Cookie": cookie, "HX-Request": "true"}
    return server.url + first.headers["location"] + "/messages", lua_script(tmp, "POST", chat_body, chat_headers)


def history_page(server: Server, tmp: Path, args) -> tuple[str, dict]:
    """The history page of a browser with 10,000 predictions (and nothing else: the chat's rows belong
    to another browser), seeded straight into the database."""
    from backend.core.config import Settings
    from backend.core.db import make_engine
    from backend.core.identity import BrowserIdentity, browser_owner

    client = httpx.Client(base_url=server.url)
    client.get("/")
    cookie = f"closetchat_id={client.cookies['closetchat_id']}"
    browser_id = BrowserIdentity("bench").verify(client.cookies["closetchat_id"])
    engine = make_engine(Settings(data_dir=tmp / "data"))
    seed_history(engine, browser_owner(browser_id), 10_000)
    engine.dispose()
    total = re.search(r"([\d,]+) predictions", client.get("/history").text).group(1)
    return f"ClosetChat history page ({total} rows)", run_wrk(
        server.url + "/history", lua_script(tmp, "GET", None, {"Cookie": cookie}), args.duration, args.connections)


def median_run(runs: list[dict]) -> dict:
    """The run with the median req/s (the lower middle one of an even count), all its figures."""
    return sorted(runs, key=lambda r: r["rps"])[(len(runs) - 1) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1,
                        help="POST /fashion-mnist runs per server, taken in turn with our chat send (seed, echo, ours, "
                             "chat send, seed...); each one's median run is reported, and the ratios of every round")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")
    photo = default_photo()
    tmp = Path(tempfile.mkdtemp(prefix="closetchat-bench-"))
    body = multipart("file", "photo.jpg", photo)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    seed_name, echo_name, ours_name = "published design (MobileNetV2 224)", "bare FastAPI echo (ceiling)", "ClosetChat"
    chat_name = "ClosetChat chat send"
    servers: dict[str, Server] = {}
    ready_s: dict[str, float] = {}
    try:
        # started one at a time, so each ready time is its own; all stay up for the rounds
        for name, app, env, ready in (
            (seed_name, "benchmarks.seed_server:app", {}, "/docs"),
            (echo_name, "benchmarks.echo_server:app", {}, "/docs"),
            (ours_name, "closetchat", {"CLOSETCHAT_DATA_DIR": str(tmp / "data"), "CLOSETCHAT_SECRET_KEY": "bench",
                                       "CLOSETCHAT_PHOTOS_PER_MINUTE": "0"},  # one browser sends all the photos
             "/readyz"),
        ):
            servers[name] = Server(app, env, workers=args.workers)  # the same count for every server
            ready_s[name] = servers[name].wait_ready(ready)
            assert httpx.post(servers[name].url + "/fashion-mnist", content=body, headers=headers).status_code == 200
        script = lua_script(tmp, "POST", body, headers)
        chat_url, chat_script = chat_target(servers[ours_name], tmp, photo, headers)
        runs: dict[str, list[dict]] = {name: [] for name in servers}
        runs[chat_name] = []
        for _ in range(args.rounds):
            for name, server in servers.items():
                runs[name].append(run_wrk(server.url + "/fashion-mnist", script, args.duration, args.connections))
            runs[chat_name].append(run_wrk(chat_url, chat_script, args.duration, args.connections))
        rows = {name: {**median_run(runs[name]), "ready_s": ready_s[name]} for name in servers}
        rows[chat_name] = median_run(runs[chat_name])
        history_name, rows[history_name] = history_page(servers[ours_name], tmp, args)
        for name, server in servers.items():
            rows[name]["rss"] = server.peak_rss_mb()
    finally:
        for server in servers.values():
            server.stop()

    print(f"wrk: {args.connections} connections, {args.duration} s each, loopback; photo {len(photo) / 1024:.0f} KiB JPEG"
          + (f"; POST /fashion-mnist: median of {args.rounds} rounds taken in turn" if args.rounds > 1 else ""))
    print(f"{'server':<42}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'ready s':>9}{'peak RSS MB':>12}")
    for name, r in rows.items():
        ready = f"{r['ready_s']:.2f}" if "ready_s" in r else ""
        rss = f"{r['rss']:.0f}" if "rss" in r else ""
        print(f"{name:<42}{r['rps']:>9.1f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['non2xx']:>9}{ready:>9}{rss:>12}")
    ours, seed, echo = rows[ours_name], rows[seed_name], rows[echo_name]
    if args.rounds > 1:
        for i in range(args.rounds):
            o, s_, e = runs[ours_name][i]["rps"], runs[seed_name][i]["rps"], runs[echo_name][i]["rps"]
            c = runs[chat_name][i]["rps"]
            print(f"round {i + 1}: published design {s_:.1f}, echo {e:.0f}, ClosetChat {o:.0f}, chat send {c:.0f} "
                  f"req/s: {o / s_:.1f}× the published design, {o / e:.2f} of the echo, chat send {c / o:.2f}")
    print(f"ClosetChat / published design: {ours['rps'] / seed['rps']:.1f}×   "
          f"ClosetChat / echo ceiling: {ours['rps'] / echo['rps']:.2f}   "
          f"chat send / POST /fashion-mnist: {rows[chat_name]['rps'] / ours['rps']:.2f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
