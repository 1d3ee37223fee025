"""The seed's normalisation question, asked again on the same budget for our 1-channel model:
train the same small recipe with each input normalisation and print validation and test accuracy.
Writes runs/normalization_study.json, which `closetchat export` copies into the model card.

    .venv/bin/python benchmarks/normalization_study.py [--epochs 6] [--width 16]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ml.normalization import NORMALIZATIONS
from ml.train import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--out", default="runs/normalization_study.json")
    args = parser.parse_args()
    rows = []
    for name, (mean, std) in NORMALIZATIONS.items():
        result = train(TrainConfig(out_dir=f"runs/norm-{name}", epochs=args.epochs, width=args.width,
                                   normalization=name, patience=args.epochs))
        rows.append({"normalization": name, "mean_std": f"{mean}, {std}", "epochs": args.epochs,
                     "width": args.width, "val_accuracy": result["val_accuracy"],
                     "test_accuracy": result["test_accuracy"], "train_seconds": result["train_seconds"]})
        print(json.dumps(rows[-1]), flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))
    print(f"{'normalisation':<16}{'mean, std':<16}{'val':>8}{'test':>8}")
    for r in rows:
        print(f"{r['normalization']:<16}{r['mean_std']:<16}{r['val_accuracy'] * 100:7.2f}%{r['test_accuracy'] * 100:7.2f}%")


if __name__ == "__main__":
    main()
