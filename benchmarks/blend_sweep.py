"""Choosing the WiSE-FT blend between a Fashion-MNIST run and its photo-adapted run, on data that
is not the test set: Fashion-MNIST validation accuracy and the train-split photos the adaptation
held out (right over fitting folders, hats flagged at a threshold that flags 15% of fitting photos).

    .venv/bin/python benchmarks/blend_sweep.py runs/base runs/adapted --alphas 0.3 0.4 0.5 0.6

The rule: images already in Fashion-MNIST form are answered by the shipment's dataset graph (the
base run itself), so the photo graph's blend is chosen for photos alone: the alpha with the most
held-out photos right (marked). Before the dataset graph, the photo graph answered the test set
too, and the rule was the largest alpha whose validation accuracy stayed at the seed's 94.36%.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ml import data, photos
from ml.adapt import mix_weights
from ml.calibrate import fit_temperature
from ml.classifier import familiarity, softmax
from ml.model import build_model
from ml.photo_eval import choose_unsure_threshold, photo_arrays, score_photos
from ml.train import predict_logits


def blended_model(base: dict, adapted: dict, alpha: float, width: int) -> torch.nn.Module:
    model = build_model(width)
    model.load_state_dict(mix_weights(base, adapted, alpha))
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_run", type=Path)
    parser.add_argument("adapted_run", type=Path)
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.6, 0.7, 0.8, 0.9, 1.0])
    parser.add_argument("--unsure-score", default="energy", help="energy | max_probability")
    args = parser.parse_args()
    torch.set_num_threads(2)
    result = json.loads((args.adapted_run / "result.json").read_text())
    width, normalization = result["width"], result["normalization"]
    base = torch.load(args.base_run / "model.pt", weights_only=True)
    adapted = torch.load(args.adapted_run / "model.pt", weights_only=True)
    _, val = data.train_validation_split(data.load_split("train"))
    root = photos.photos_dir()
    held_out = [photos.Photo(root / rel, Path(rel).parent.name) for rel in result["adaptation"]["calibration_photos"]]
    held_x = photo_arrays(held_out)
    print(f"{len(held_out)} held-out photos, {sum(p.folder == 'hat' for p in held_out)} hats")
    print(f"{'alpha':>6}{'FMNIST val':>12}{'photos':>9}{'min folder':>12}{'hats unsure':>13}")
    rows = []
    for alpha in args.alphas:
        model = blended_model(base, adapted, alpha, width)
        val_logits = predict_logits(model, val.images, normalization).numpy()
        val_acc = float((val_logits.argmax(1) == val.labels).mean())
        temperature = fit_temperature(val_logits, val.labels)
        logits = predict_logits(model, held_x, normalization).numpy()
        familiar = familiarity(logits, temperature, args.unsure_score)
        score = score_photos(held_out, softmax(logits / temperature), familiar,
                             choose_unsure_threshold(held_out, familiar))
        rows.append((alpha, val_acc, score))
        print(f"{alpha:>6.2f}{val_acc * 100:>11.2f}%{score.accuracy * 100:>8.1f}%"
              f"{min(score.per_folder.values()) * 100:>11.1f}%{score.unsure_hat * 100:>12.0f}%", flush=True)
    best = max(rows, key=lambda row: (row[2].accuracy, row[0]))
    print(f"most held-out photos right: alpha {best[0]:.2f} ({best[2].accuracy * 100:.1f}%)")


if __name__ == "__main__":
    main()
