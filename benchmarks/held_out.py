"""Compare photo-graph candidates on the train photos their adaptation held out (float weights, flip
averaging on every photo, temperature fitted there, unsure cut flagging 15% of the scored photos):
the figures a candidate is chosen on. Validation photos are printed too, as a check, never to choose.

    .venv/bin/python benchmarks/held_out.py runs/a1 runs/a2 ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ml import photos
from ml.calibrate import fit_temperature
from ml.classifier import softmax
from ml.export import MAX_SCORED_UNSURE, load_torch_model
from ml.photo_eval import choose_unsure_threshold, photo_arrays, score_photos
from ml.train import predict_logits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    torch.set_num_threads(2)
    validation = photos.list_photos("validation")
    converted: dict[tuple[str, int], np.ndarray] = {}  # held-out and validation photos, by input size
    first_held = None
    for run in map(Path, args.runs):
        result = json.loads((run / "result.json").read_text())
        names = result["adaptation"]["held_out"]
        first_held = first_held or sorted(names)
        if sorted(names) != first_held:
            raise SystemExit(f"{run} held out other photos than {args.runs[0]}: the figures would not compare")
        held = [photos.photo_at(n) for n in names]
        size = result.get("input_size", 28)
        model = load_torch_model(run / "model.pt", result["width"], size)
        if ("held", size) not in converted:  # every run holds out the same photos (checked above)
            converted["held", size] = photo_arrays(held, size)
            converted["validation", size] = photo_arrays(validation, size)
        logits = predict_logits(model, converted["held", size], result["normalization"]).numpy()
        scored = np.array([p.scored for p in held])
        temperature = fit_temperature(logits[scored], photos.right_classes([p for p in held if p.scored]))
        probs = softmax(logits / temperature)
        cut = choose_unsure_threshold(held, probs.max(1), MAX_SCORED_UNSURE)
        h = score_photos(held, probs, probs.max(1) < cut)
        val_probs = softmax(predict_logits(model, converted["validation", size], result["normalization"]).numpy()
                            / temperature)
        v = score_photos(validation, val_probs, val_probs.max(1) < cut)
        a = result["adaptation"]
        print(f"\n{run}: {a['command']}")
        print(f"  Fashion-MNIST validation {result['val_accuracy'] * 100:.2f}%, T {temperature:.3f}, unsure below {cut:.3f}")
        for name, s in (("held out", h), ("validation (check)", v)):
            worst, recall = s.worst_class
            print(f"  {name:<19} {s.accuracy * 100:5.1f}% right, worst {worst} {recall * 100:.0f}%, hats unsure "
                  f"{s.unsure_hat * 100:.0f}%, scored unsure {s.unsure_scored * 100:.0f}%, right when not unsure "
                  f"{s.sure_accuracy * 100:.1f}%, ECE {s.ece:.3f}")
            print("    " + ", ".join(f"{k} {r['recall'] * 100:.0f}%" for k, r in s.per_class.items()))


if __name__ == "__main__":
    main()
