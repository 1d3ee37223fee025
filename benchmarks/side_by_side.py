"""Two trees' servers under the same load at the same time: the ratio of their req/s, round by round.

Runs one after another compare different minutes of this VM, whose speed swings by 10-30% within
minutes; here both servers are up at once and wrk loads both together, so each round's ratio reads one
minute for both. Used to choose each serving change of 2026-11-26 (README, "Serving, latest").

    .venv/bin/python benchmarks/side_by_side.py chat|fashion-mnist ROOT_A[:VAR=value,...] ROOT_B[:...] \
        [--rounds 5] [--duration 10] [--connections 16] [--workers 2]

A root is a checkout of this repository with its own .venv (a `git worktree` with a link to this
.venv will do); VAR=value pairs after a colon go into that server's environment.

Loaded together, the two servers share the CPU as Linux shares it: fairly between threads, not
between servers. A change that moves work from many threads into fewer is read as a loss, however
much CPU it saves: classifying one small chat photo on the event loop instead of in a worker thread
read 0.60 together and 1.15 in turn (eight rounds each). For such a change, --in-turn loads the servers
one after the other within each round (the first of the pair alternating), as benchmarks/serve.py does.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.photo_latency import default_photo  # noqa: E402
from benchmarks.serve import BOUNDARY, Server, chat_target, lua_script, multipart, run_wrk  # noqa: E402


def parse_tree(spec: str) -> tuple[str, dict]:
    root, _, extra = spec.partition(":")
    return root, dict(pair.split("=", 1) for pair in extra.split(",") if pair)


def wrk_together(targets: list[tuple[str, Path]], duration: int, connections: int, b_first: bool) -> list[float]:
    """Both wrk runs at once (b_first: B's is started first); each one's req/s, A's first."""
    order = [1, 0] if b_first else [0, 1]
    runs = {i: subprocess.Popen(["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--timeout", "10s",
                                 "-s", str(targets[i][1]), targets[i][0]], stdout=subprocess.PIPE, text=True)
            for i in order}
    outs = [runs[i].communicate(timeout=duration + 60)[0] for i in (0, 1)]
    return [float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)) for out in outs]


def wrk_in_turn(targets: list[tuple[str, Path]], duration: int, connections: int, b_first: bool) -> list[float]:
    """One wrk run on each server, one after the other (b_first: B's first); each one's req/s, A's first."""
    rps = {i: run_wrk(targets[i][0], targets[i][1], duration, connections, settle_s=2)["rps"]
           for i in ([1, 0] if b_first else [0, 1])}
    return [rps[0], rps[1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("endpoint", choices=["chat", "fashion-mnist"])
    parser.add_argument("tree_a")
    parser.add_argument("tree_b")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--in-turn", action="store_true", help="load the servers one after the other, not together")
    args = parser.parse_args()
    load = wrk_in_turn if args.in_turn else wrk_together
    photo = default_photo()
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    tmp = Path(tempfile.mkdtemp(prefix="closetchat-side-by-side-"))
    servers, targets = [], []
    try:
        for i, spec in enumerate((args.tree_a, args.tree_b)):
            root, env = parse_tree(spec)
            env = {"CLOSETCHAT_DATA_DIR": str(tmp / f"data-{i}"), "CLOSETCHAT_SECRET_KEY": "bench",
                   "CLOSETCHAT_PHOTOS_PER_MINUTE": "0", **env}  # one browser sends all the photos
            servers.append(Server("closetchat", env, workers=args.workers, root=Path(root)))
        for server in servers:
            server.wait_ready("/readyz")
            if args.endpoint == "chat":
                targets.append(chat_target(server, tmp, photo, headers))
            else:
                targets.append((server.url + "/fashion-mnist",
                                lua_script(tmp, "POST", multipart("file", "photo.jpg", photo), headers)))
            assert httpx.post(server.url + "/fashion-mnist", content=multipart("file", "photo.jpg", photo),
                              headers=headers).status_code == 200
        time.sleep(3)
        a_runs, b_runs = [], []
        for i in range(args.rounds):
            a, b = load(targets, args.duration, args.connections, b_first=i % 2 == 1)
            a_runs.append(a)
            b_runs.append(b)
            print(f"round {i + 1}: A {a:.0f}  B {b:.0f}  A/B {a / b:.3f}", flush=True)
            time.sleep(2)
    finally:
        for server in servers:
            server.stop()
    ratios = [a / b for a, b in zip(a_runs, b_runs, strict=True)]
    how = "in turn" if args.in_turn else "together"
    print(f"{args.endpoint}, {args.workers} workers and {args.connections} connections each, {args.duration} s rounds, {how}")
    print(f"A {args.tree_a}: median {statistics.median(a_runs):.0f} req/s")
    print(f"B {args.tree_b}: median {statistics.median(b_runs):.0f} req/s")
    print(f"A/B median {statistics.median(ratios):.3f} (rounds {', '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
