"""Compare variants of the CPU-budget recipe, several seeds each, chosen on validation accuracy.

Every variant costs about the same CPU time as the recipe: the same width, epochs and batch size
with a setting that is free on a CPU changed, or a narrower network for more epochs (an epoch on
this 2-core CPU: width 24 54-62 s, width 20 46-49 s, width 16 27 s; width 22 is no cheaper than 24,
its channel counts are not multiples of 16). Runs the jobs in parallel processes (a lent GPU fits a dozen
of these small networks at once), seed-major so that a deadline leaves every variant with about
as many seeds, and appends one JSON line per finished run to --out. The mean validation accuracy
picks the variant; test accuracy is printed for the record, never used to choose.

    python benchmarks/recipe_sweep.py --device cuda --procs 12 --deadline-s 420 --seeds 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RECIPE = {"epochs": 16, "width": 24, "erase_p": 0.25, "patience": 16, "validate_from": 14}
VARIANTS = {
    "recipe": {},
    "erase-0": {"erase_p": 0.0},
    "erase-0.1": {"erase_p": 0.1},
    "smoothing-0.05": {"label_smoothing": 0.05},
    "smoothing-0": {"label_smoothing": 0.0},
    "lr-0.1": {"lr": 0.1},
    "lr-0.3": {"lr": 0.3},
    "wd-1e-3": {"weight_decay": 1e-3},
    "wd-2.5e-4": {"weight_decay": 2.5e-4},
    "warmup-0.1": {"warmup_fraction": 0.1},
    "shift-1": {"max_shift": 1},
    "erase-0.1+smoothing-0.05": {"erase_p": 0.1, "label_smoothing": 0.05},
    # narrower for longer, on the settings chosen above
    "w20-e18": {"erase_p": 0.1, "label_smoothing": 0.05, "width": 20, "epochs": 18, "patience": 18, "validate_from": 16},
    "w16-e30": {"erase_p": 0.1, "label_smoothing": 0.05, "width": 16, "epochs": 30, "patience": 30, "validate_from": 28},
    "w16-e30-erase-0.25": {"width": 16, "epochs": 30, "patience": 30, "validate_from": 28},
}


def run_one(name: str, seed: int, device: str, work_dir: str, smoke: dict) -> dict:
    """One training run in this worker process, its output sent to a log beside its run folder."""
    out = Path(work_dir) / f"{name}-s{seed}"
    out.mkdir(parents=True, exist_ok=True)
    log = os.open(out / "log.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    from ml.train import TrainConfig, train

    cfg = TrainConfig(out_dir=str(out), seed=seed, device=device, threads=1, command=f"recipe_sweep {name}",
                      **{**RECIPE, **VARIANTS[name], **smoke})
    result = train(cfg)
    return {"variant": name, "seed": seed, "val_accuracy": result["val_accuracy"],
            "test_accuracy": result["test_accuracy"], "train_seconds": result["train_seconds"],
            "machine": result["machine"]}


def summarize(rows: list[dict]) -> None:
    by_variant: dict[str, list[dict]] = {}
    for row in rows:
        by_variant.setdefault(row["variant"], []).append(row)
    print(f"{'variant':28} {'runs':>4} {'val mean':>9} {'val sd':>7} {'test mean':>9}")
    ranked = sorted(by_variant.items(), key=lambda kv: -statistics.mean(r["val_accuracy"] for r in kv[1]))
    for name, runs in ranked:
        vals = [r["val_accuracy"] * 100 for r in runs]
        tests = [r["test_accuracy"] * 100 for r in runs]
        sd = statistics.stdev(vals) if len(vals) > 1 else float("nan")
        print(f"{name:28} {len(runs):>4} {statistics.mean(vals):>9.2f} {sd:>7.2f} {statistics.mean(tests):>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--deadline-s", type=float, default=0, help="start no run after this many seconds (0: none)")
    parser.add_argument("--work-dir", default="/tmp/recipe_sweep")
    parser.add_argument("--out", default="runs/recipe_sweep.jsonl")
    parser.add_argument("--summarize", action="store_true", help="only print the table of an earlier --out")
    parser.add_argument("--smoke", type=int, default=0, help="check the script: N training images, 2 epochs")
    args = parser.parse_args()
    out = Path(args.out)
    if args.summarize:
        summarize([json.loads(line) for line in out.read_text().splitlines() if line.strip()])
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    smoke = {"train_limit": args.smoke, "epochs": 2, "validate_from": 1} if args.smoke else {}
    jobs = [(name, seed) for seed in range(args.seeds) for name in args.variants]  # seed-major
    start, rows, running = time.monotonic(), [], {}
    with ProcessPoolExecutor(args.procs, mp_context=get_context("spawn")) as pool:
        while jobs or running:
            while jobs and len(running) < args.procs and (not args.deadline_s
                                                          or time.monotonic() - start < args.deadline_s):
                name, seed = jobs.pop(0)
                running[pool.submit(run_one, name, seed, args.device, args.work_dir, smoke)] = (name, seed)
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name, seed = running.pop(future)
                try:
                    row = future.result()
                except Exception as exc:  # report and go on: one failed run must not lose the others
                    print(f"{name} seed {seed} failed: {exc!r}", flush=True)
                    continue
                rows.append(row)
                with out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(f"{time.monotonic() - start:6.0f}s {name:28} seed {seed}: val {row['val_accuracy'] * 100:.2f}% "
                      f"test {row['test_accuracy'] * 100:.2f}% ({row['train_seconds']:.0f}s)", flush=True)
    summarize(rows)


if __name__ == "__main__":
    main()
