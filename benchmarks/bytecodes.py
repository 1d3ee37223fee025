"""Python bytecodes a request runs, counted: `POST /fashion-mnist` and the chat send, in one process.

This VM's speed swings by 10-30% within minutes, so a change worth 3% of a request's CPU time cannot
be seen in req/s or CPU seconds without many rounds. A count of the bytecodes the interpreter runs
for a request does not depend on the minute: it shows where a request's Python goes, and what a
change removed, in one run of about a minute. It does not count the time spent in C (the JPEG
decode, the forward pass, SQLite), so the loaded benchmarks (serve.py, side_by_side.py) still decide.

The app is called through ASGI (no HTTP server), `--concurrent` requests at a time as under load
(the chat's commits then share a transaction, backend.loop_commits), with sys.settrace counting
every bytecode and charging it to its file and to every named function on the stack.

    .venv/bin/python benchmarks/bytecodes.py [--requests 60] [--concurrent 6] [--functions _send,render,...]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.photo_latency import default_photo  # noqa: E402
from benchmarks.serve import BOUNDARY, multipart  # noqa: E402

FUNCTIONS = "read_form,solve_dependencies,_match,prepare_inline,conversation_for_send,plan,store,render,_flush"


class AsgiCaller:
    """One request through the app's ASGI interface: the body in one message, the response collected.
    Not httpx.ASGITransport: the client's own Python would be counted with the app's."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, method: str, path: str, body: bytes = b"", headers: list[tuple[str, str]] = ()) -> dict:
        sent = False

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect: the response is sent before this matters

        response = {"body": b""}

        async def send(message):
            if message["type"] == "http.response.start":
                response["status"], response["headers"] = message["status"], dict(message["headers"])
            elif message["type"] == "http.response.body":
                response["body"] += message.get("body", b"")

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(k.lower().encode(), v.encode()) for k, v in headers] + [(b"host", b"bench")],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
        await self.app(scope, receive, send)
        return response


class BytecodeCounter:
    """sys.settrace with opcode events: bytecodes by file (self) and by the named functions (inclusive)."""

    def __init__(self, functions: set[str]) -> None:
        self.functions = functions
        self.by_file: collections.Counter = collections.Counter()
        self.by_function: collections.Counter = collections.Counter()

    def trace(self, frame, event, arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            self.by_file[_package(frame.f_code.co_filename)] += 1
            seen = set()
            while frame is not None:
                name = frame.f_code.co_name
                if name in self.functions and name not in seen:
                    self.by_function[name] += 1
                    seen.add(name)
                frame = frame.f_back
        return self.trace


def _package(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/")[-1].split("/")[0]
    return filename.replace(str(ROOT) + "/", "")


async def count(args) -> None:
    from backend.config import Settings
    from backend.main import create_app

    photo = default_photo()
    app = create_app(Settings(data_dir=Path(tempfile.mkdtemp()) / "data", secret_key="bench"))
    call = AsgiCaller(app)
    async with app.router.lifespan_context(app):
        page = await call("GET", "/")
        cookie = page["headers"][b"set-cookie"].decode().split(";")[0]
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page["body"]).group(1).decode()
        form = ("content-type", f"multipart/form-data; boundary={BOUNDARY}")
        chat_body = multipart("files", "photo.jpg", photo, {"csrf_token": token})
        first = await call("POST", "/c", chat_body, [form, ("cookie", cookie)])  # its files are stored now
        messages = first["headers"][b"location"].decode() + "/messages"
        fm_body = multipart("file", "photo.jpg", photo)
        routes = {
            "POST /fashion-mnist": lambda: call("POST", "/fashion-mnist", fm_body, [form]),
            "chat send": lambda: call("POST", messages, chat_body, [form, ("cookie", cookie), ("hx-request", "true")]),
        }
        rounds = max(1, args.requests // args.concurrent)
        for name, request in routes.items():
            for _ in range(2):  # warm: caches filled, statements compiled
                await asyncio.gather(*(request() for _ in range(args.concurrent)))
            counter = BytecodeCounter(set(args.functions.split(",")))
            sys.settrace(counter.trace)
            try:
                for _ in range(rounds):
                    answers = await asyncio.gather(*(request() for _ in range(args.concurrent)))
                    if any(a["status"] != 200 for a in answers):
                        raise SystemExit(f"{name}: {answers[0]['status']} {answers[0]['body'][:200]!r}")
            finally:
                sys.settrace(None)
            n = rounds * args.concurrent
            print(f"{name}: {sum(counter.by_file.values()) / n:,.0f} bytecodes a request ({n} requests, "
                  f"{args.concurrent} at a time)")
            for where, c in counter.by_file.most_common(args.top):
                print(f"  {c / n:9,.0f}  {where}")
            for function, c in counter.by_function.most_common():
                print(f"  {c / n:9,.0f}  in {function}()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrent", type=int, default=6)
    parser.add_argument("--top", type=int, default=15, help="files and packages shown")
    parser.add_argument("--functions", default=FUNCTIONS, help="functions whose bytecodes are shown, callees included")
    asyncio.run(count(parser.parse_args()))


if __name__ == "__main__":
    main()
